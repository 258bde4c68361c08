"""Live (streaming engine) WER against an offline `transcribe()` of the same audio and model.

    DEBUG=1 python bench/wer.py [--conversations 12] [--interval 0.3] [--left-context 5]
                                [--pipeline 2]

The engine is run in-process on the stream entries a bot would write (0.1 s chunks, speaker
events), so the result does not depend on machine load (with `--pipeline 2`, what a lone
session does in a worker: two passes at once, each started before the other was applied,
so which passes agree depends a little on timing); the offline pass is faster-whisper's
stock `transcribe()` (beam 5, VAD off). Both are scored after Whisper's English text
normaliser (numbers, spellings). Prints WER of each against the script and their ratio
(target: live ≤ 1.10 x offline; the ratio of the mean WERs), and draws bench/out/wer.png.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vexa_site.settings")

import django

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from speech import conversation, offline_text  # noqa: E402
from speech import word_error_rate as wer  # noqa: E402

from meetings.stream import StreamEntry  # noqa: E402
from transcripts.engine.model import PassRequest, PassResult, run_passes  # noqa: E402
from transcripts.engine.streaming import StreamingTranscriber  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


def entries_for(pcm: bytes, script: list[dict]) -> list[StreamEntry]:
    events: list[tuple[float, int, StreamEntry]] = []
    step = 3200
    for i in range(0, len(pcm), step):
        t = i / 32000
        events.append((t, 1, StreamEntry(id="", type="audio", t=t, pcm=pcm[i : i + step])))
    for turn in script:
        for state, t in (("start", turn["start"]), ("stop", turn["end"])):
            entry = StreamEntry(
                id="",
                type="speaker",
                t=t,
                name=turn["speaker"],
                participant_id=turn["speaker"],
                state=state,
            )
            events.append((t, 0, entry))
    events.sort(key=lambda e: (e[0], e[1]))
    out = []
    for n, (_t, _k, e) in enumerate(events, start=1):
        out.append(StreamEntry(**{**e.__dict__, "id": f"{n}-0"}))
    out.append(StreamEntry(id=f"{len(out) + 1}-0", type="end", reason="bench"))
    return out


def live_text(
    entries: list[StreamEntry],
    interval: float,
    left_context_s: float | None = None,
    pipeline: int = 1,
    confirming: bool = False,
) -> tuple[str, int, float]:
    def run_one(request: PassRequest) -> PassResult:
        return run_passes([request])[0]

    pool = ThreadPoolExecutor(pipeline)
    engine = StreamingTranscriber(
        "bench",
        run_pass=run_one,
        pass_interval_s=interval,
        left_context_s=left_context_s,
        submit_pass=(lambda r: pool.submit(run_one, r)) if pipeline > 1 else None,
        pipeline_depth=pipeline,
        confirming_passes=confirming,
    )
    began = time.monotonic()
    finals = []
    for entry in entries:
        emissions = engine.feed([entry])
        if len(engine.in_flight) >= pipeline > 1:
            # Both passes running, as in a worker during speech: wait for the older one.
            engine.wait(60.0)
            emissions += engine.feed([])
        for emission in emissions:
            finals.extend(emission.finals)
    pool.shutdown()
    return " ".join(f.text for f in finals), engine.passes, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    # A few words decide the ratio on 3 conversations; 12 are about 10 minutes of speech.
    parser.add_argument("--conversations", type=int, default=12)
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--interval", type=float, default=0.3)
    # 0: what a worker serving more than WHISPER_CONTEXT_MAX_SESSIONS sessions does.
    parser.add_argument("--left-context", type=float, default=settings.WHISPER_CONTEXT_S)
    # Passes of the session running at once (a lone session in a worker: 2).
    parser.add_argument("--pipeline", type=int, default=1)
    # What a worker serving more than WHISPER_CONTEXT_MAX_SESSIONS sessions does: greedy
    # draft-only passes, finals from a pass with left context and beam search at pauses.
    parser.add_argument("--confirming-passes", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(args.conversations):
            pcm, script = conversation(Path(folder) / str(seed), seed=seed, turns=args.turns)
            reference = " ".join(t["text"] for t in script)
            live, passes, seconds = live_text(
                entries_for(pcm, script),
                args.interval,
                args.left_context,
                args.pipeline,
                args.confirming_passes,
            )
            offline = offline_text(pcm)
            row = (seed, len(pcm) / 32000, wer(reference, live), wer(reference, offline))
            rows.append(row)
            print(
                f"conversation {seed}: {row[1]:.0f}s audio, {passes} passes in {seconds:.1f}s; "
                f"WER live {row[2]:.3f}, offline {row[3]:.3f}"
            )
            if args.verbose:
                print("  live:   ", live)
                print("  offline:", offline)
    live_wer = float(np.mean([r[2] for r in rows]))
    offline_wer = float(np.mean([r[3] for r in rows]))
    ratio = live_wer / max(offline_wer, 1e-9)
    print(
        f"mean WER: live {live_wer:.3f}, offline {offline_wer:.3f}, ratio {ratio:.2f} "
        f"(target <= 1.10)"
    )
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        OUT.mkdir(exist_ok=True)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        xs = np.arange(len(rows))
        ax.bar(xs - 0.2, [r[2] for r in rows], 0.4, label="live (streaming)")
        ax.bar(xs + 0.2, [r[3] for r in rows], 0.4, label="offline transcribe()")
        ax.set_xticks(xs, [f"conv {r[0]}" for r in rows])
        ax.set_ylabel("WER vs script")
        ax.set_title(f"live/offline WER ratio {ratio:.2f}")
        ax.legend()
        fig.tight_layout()
        fig.savefig(OUT / "wer.png", dpi=120)
        print(f"plot: {OUT / 'wer.png'}")
    except ImportError:
        print("matplotlib not installed: no plot")


if __name__ == "__main__":
    main()
