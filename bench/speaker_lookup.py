"""What naming speakers costs the post-meeting pass: each new word asks who spoke then in the
live transcript (`transcripts.engine.offline.LiveSpeakers`).

    DEBUG=1 python bench/speaker_lookup.py [--minutes 10 30 120]

A synthetic meeting of that many minutes (a word every 0.2-0.8 s, three speakers, pauses) is
looked up once per word, with the pass's index and with a scan of every live word per lookup
(what the pass did before 2026-12-07; skipped past 30 minutes, where it takes minutes). Prints
the seconds each took and whether they named the same speakers.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vexa_site.settings")

import django

django.setup()

from transcripts.engine.offline import LiveSpeakers, Span, speaker_among  # noqa: E402


def meeting(minutes: float, rng: random.Random) -> list[Span]:
    spans: list[Span] = []
    t = 0.0
    while t < minutes * 60:
        if rng.random() < 0.05:
            t += rng.uniform(1.0, 6.0)  # a pause
        length = rng.uniform(0.15, 0.6)
        spans.append((t, t + length, rng.choice(["Alice", "Bob", "Carol"])))
        t += length + rng.uniform(0.0, 0.2)
    return spans


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 30, 120])
    args = parser.parse_args()
    rng = random.Random(1)
    for minutes in args.minutes:
        spans = meeting(minutes, rng)
        # The new pass's words fall about where the live ones did.
        words = [(s + rng.uniform(-0.3, 0.3), e + rng.uniform(-0.3, 0.3)) for s, e, _ in spans]
        began = time.perf_counter()
        live = LiveSpeakers(spans)
        indexed = [live.at(start, end) for start, end in words]
        indexed_s = time.perf_counter() - began
        line = f"{minutes:.0f} min, {len(words)} words: index {indexed_s:.3f} s"
        if minutes <= 30:
            began = time.perf_counter()
            scanned = [speaker_among(spans, start, end) for start, end in words]
            line += f", scan {time.perf_counter() - began:.2f} s, same: {scanned == indexed}"
        print(line)


if __name__ == "__main__":
    main()
