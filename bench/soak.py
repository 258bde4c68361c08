"""A long meeting: does anything grow or slow down over an hour of conversation?

    DEBUG=1 DATABASE_URL=postgres://.../bench REDIS_URL=redis://.../9 \\
        python manage.py migrate && python bench/soak.py --minutes 30

One simulated Google Meet call (the same stack as `bench/latency.py --meetings`: a real Daphne
serving the simulator, a bot worker with its shared Chromium, a transcription worker) plays
`--minutes` of espeak-ng conversation, while a WebSocket client follows the transcript the
whole time. Every `--sample-s` seconds it records the memory (PSS) and CPU of the bot's
Chromium, of each Python process, Redis's memory, the session's audio stream and event log
lengths, the stored segments and the size of the transcription checkpoint. At the end it
prints them per stretch of the call with the word latencies of that stretch (draft and final,
as `bench/latency.py` measures them) and the transcript's WER against the script, and draws
bench/out/soak.png. A leak shows as a column that keeps climbing; a slow-down as latencies
that do.

`--at SECONDS COMMAND` runs a shell command that far into the call, to see what a fault costs
the meeting (the README's restarts of PostgreSQL and Redis):

    python bench/soak.py --minutes 3 --stretches 6 \
        --at 60 'pg_ctlcluster --skip-systemctl-redirect 15 main restart' \
        --at 100 'redis-cli shutdown save; sleep 3; redis-server --daemonize yes ...'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import cast

from bot_join import chromium_pids, cpu_seconds, descendants, pss_mb
from latency import (
    ADMIN_KEY,
    OUT,
    PLATFORM_IDS,
    published,
    recorded_pcm,
    scenario_participants,
    spoken_origin,
    start_worker,
    stop_worker,
    word_latencies,
)
from speech import conversation, word_error_rate

from accounts.models import User
from bots import services as bot_services
from meetings import lifecycle
from meetings.models import LIVE_STATUSES, Meeting, MeetingSession, MeetingStatus
from meetings.stream import SessionStream
from tests import processes
from transcripts import realtime
from transcripts.models import Segment
from vexa_site.db import db_retry
from vexa_site.redis import get_job_redis

TURN_S = 4.1  # a sentence and its pause, on average (bench/speech.py)
ALIGN_S = 120  # seconds of the call that align the spoken and the captured audio


def process_pids(cmd_part: str) -> list[int]:
    """This run's processes whose command line holds `cmd_part` (Daphne, the workers)."""
    found = []
    for pid in descendants(os.getpid()):
        try:
            if cmd_part.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


class Sampler(threading.Thread):
    """Samples the call's resources every `every_s` until stopped."""

    def __init__(self, meeting: Meeting, bot_worker: int, every_s: float) -> None:
        super().__init__(daemon=True)
        self.meeting, self.bot_worker, self.every_s = meeting, bot_worker, every_s
        self.rows: list[dict[str, float]] = []
        # (wall time the bot wrote a chunk, the chunk's `t`): the capture's audio clock against
        # the wall clock (headless Chromium's runs a little slow: seconds over an hour).
        self.clock: list[tuple[float, float]] = []
        self.stopped = threading.Event()

    def groups(self) -> dict[str, list[int]]:
        browser = chromium_pids(self.bot_worker)
        return {
            "chromium": browser,
            "bot_worker": [p for p in [self.bot_worker, *descendants(self.bot_worker)]
                           if p not in browser],
            "tx_worker": process_pids("-Q\0transcription"),
            "daphne": process_pids("vexa_site.asgi"),
        }  # fmt: skip

    def run(self) -> None:
        from django.db import connection

        client = get_job_redis()  # waits out a Redis restart under the call
        event_log = realtime.meeting_event_log_key(self.meeting)
        t0 = time.time()
        cpu_before = {name: cpu_seconds(pids) for name, pids in self.groups().items()}
        while not self.stopped.wait(self.every_s):
            groups = self.groups()
            row: dict[str, float] = {"t": time.time() - t0}
            for name, pids in groups.items():
                row[f"{name}_mb"] = pss_mb(pids)
                cpu = cpu_seconds(pids)
                row[f"{name}_cpu"] = (cpu - cpu_before.get(name, cpu)) / self.every_s * 100
                cpu_before[name] = cpu
            row["redis_mb"] = int(client.info("memory")["used_memory"]) / 2**20
            row["event_log"] = int(client.xlen(event_log))
            session = db_retry(
                MeetingSession.objects.filter(meeting=self.meeting).first, what="sample"
            )
            if session is not None:
                key = SessionStream(session.session_uid).key
                newest = cast(
                    list[tuple[bytes, dict[bytes, bytes]]], client.xrevrange(key, count=1)
                )
                if newest and newest[0][1].get(b"type") == b"audio":
                    written_ms = int(newest[0][0].decode().split("-")[0])
                    self.clock.append((written_ms / 1000, float(newest[0][1][b"t"])))
                row["stream"] = int(client.xlen(key))
                row["segments"] = db_retry(
                    Segment.objects.filter(session_uid=session.session_uid).count, what="sample"
                )
                row["checkpoint_kb"] = len(json.dumps(session.transcriber_state)) / 1024
            self.rows.append(row)
            connection.close()  # this thread's own connection; reopened on the next sample


def follow(base: str, api_key: str, meeting: Meeting, counts: dict[str, int]) -> None:
    """A WebSocket client subscribed for the whole call: counts what it receives."""
    from websockets.asyncio.client import connect

    url = base.replace("http", "ws") + f"/ws?api_key={api_key}"

    async def main() -> None:
        async with connect(url, max_size=None) as ws:
            target = {"platform": meeting.platform, "native_id": meeting.native_meeting_id}
            await ws.send(json.dumps({"action": "subscribe", "meetings": [target]}))
            async for raw in ws:
                kind = json.loads(raw).get("type", "?")
                counts[kind] = counts.get(kind, 0) + 1
                if kind == "meeting.status" and json.loads(raw)["payload"]["status"] in (
                    "completed", "failed"
                ):  # fmt: skip
                    return

    asyncio.run(main())


def audio_clock_rate(pairs: list[tuple[float, float]]) -> float:
    """Wall seconds per capture second: the least-squares slope of wall time against `t`."""
    import numpy as np

    if len(pairs) < 3:
        return 1.0
    wall, t = (np.array(values) for values in zip(*pairs, strict=True))
    return float(np.polyfit(t, wall, 1)[0])


def windows(points: list[tuple[float, float]], width_s: float, end_s: float) -> list[float]:
    import numpy as np

    out = []
    for k in range(math.ceil(end_s / width_s)):
        inside = [lat for t, lat in points if k * width_s <= t < (k + 1) * width_s]
        out.append(float(np.median(inside)) if inside else float("nan"))
    return out


def absolute_time_errors(
    session: MeetingSession, t0: float, clock_rate: float
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(t, seconds) of each final segment's `absolute_start_time` after the wall time its start
    was spoken, and the same for the capture clock alone (session start + `t`): the first
    stays level over the call where the capture clock drifts."""
    stamped, uncorrected = [], []
    for segment in Segment.objects.filter(session_uid=session.session_uid, completed=True):
        spoken = t0 + segment.start * clock_rate
        stamped.append((segment.start, segment.absolute_start_time.timestamp() - spoken))
        by_capture = session.started_at.timestamp() + segment.start
        uncorrected.append((segment.start, by_capture - spoken))
    return stamped, uncorrected


def inject(faults: list[tuple[float, str]], meeting: Meeting) -> None:
    """Run each fault's command its seconds after the call started (the bot went active)."""
    while db_retry(lambda: Meeting.objects.get(pk=meeting.pk).start_time, what="start") is None:
        time.sleep(0.5)
    started = time.monotonic()
    for at_s, command in faults:
        time.sleep(max(0.0, started + at_s - time.monotonic()))
        began = time.monotonic()
        done = subprocess.run(command, shell=True, check=False)  # noqa: S602 (the operator's own)
        print(f"at {at_s:.0f} s: {command!r} exited {done.returncode} after "
              f"{time.monotonic() - began:.1f} s", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--sample-s", type=float, default=10)
    parser.add_argument("--stretches", type=int, default=6, help="rows in the printed table")
    parser.add_argument(
        "--at", nargs=2, action="append", default=[], metavar=("SECONDS", "COMMAND"),
        help="run a shell COMMAND that many seconds into the call (a fault: restart PostgreSQL "
        "or Redis); repeatable",
    )  # fmt: skip
    args = parser.parse_args()
    faults = sorted((float(at_s), command) for at_s, command in args.at)
    # A SIGTERM (`timeout`, Ctrl-C in a runner) must still stop the processes in `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from accounts import services as account_services

    user, _ = User.objects.update_or_create(
        email="bench-soak@example.com", defaults={"name": "Soak", "max_concurrent_bots": 0}
    )
    api_key = account_services.token_issue(user=user, scopes=["bot", "tx"], name="soak").plain
    folder = Path(tempfile.mkdtemp(prefix="soak-"))
    turns = math.ceil(args.minutes * 60 / TURN_S)
    pcm, script = conversation(folder / "speech", seed=0, turns=turns)
    audio_s = script[-1]["end"]
    print(f"{turns} turns, {audio_s / 60:.1f} min of conversation", flush=True)

    new_id, _passcode = PLATFORM_IDS["google_meet"]
    native = new_id(1, 0)
    lead_s = 1.0
    participants = scenario_participants(pcm, script, folder / "turns", lead_s)
    env = {"ADMIN_API_TOKEN": ADMIN_KEY, "RECORDINGS_DIR": str(folder / "recordings")}
    counts: dict[str, int] = {}
    with processes.daphne_server(env=env) as base:
        import httpx

        httpx.post(
            f"{base}/simulator/api/scenarios",
            json={"platform": "google_meet", "native_meeting_id": native, "variant": "join_now",
                  "participants": participants, "end_after_s": lead_s + audio_s + 3.0},
            headers={"X-Admin-API-Key": ADMIN_KEY}, timeout=30,
        ).raise_for_status()  # fmt: skip
        bot_env = {**env, "PLATFORM_URLS": "simulator", "PUBLIC_BASE_URL": base}
        with processes.celery_worker(
            "bots", pool="threads", concurrency=1, name="soak-bots", env=bot_env
        ) as bot_worker:
            worker = start_worker(1, env=env)
            try:
                meeting = bot_services.bot_create(
                    user=user, platform="google_meet", native_meeting_id=native, language="en",
                    automatic_leave={"max_duration": int(audio_s) + 600},
                )  # fmt: skip
                client = threading.Thread(
                    target=follow, args=(base, api_key, meeting, counts), daemon=True
                )
                client.start()
                sampler = Sampler(meeting, bot_worker.pid, args.sample_s)
                sampler.start()
                threading.Thread(target=inject, args=(faults, meeting), daemon=True).start()
                deadline = time.time() + audio_s + 600
                while time.time() < deadline:
                    # A server restarted under the call must not end the run.
                    db_retry(meeting.refresh_from_db, what="the meeting")
                    if meeting.status in ("completed", "failed"):
                        break
                    time.sleep(2)
                sampler.stopped.set()
                session = MeetingSession.objects.get(meeting=meeting)
                while time.time() < deadline and not session.transcriber_state.get("finished"):
                    time.sleep(0.5)
                    db_retry(session.refresh_from_db, what="the session")
                client.join(30)
            finally:
                stop_worker(worker)
                # A run cut short must not leave its meeting holding the bot slot.
                if "meeting" in locals():
                    meeting.refresh_from_db()
                    if meeting.status in LIVE_STATUSES:
                        lifecycle.transition(
                            meeting_id=meeting.pk, to=MeetingStatus.FAILED, source="bench",
                            reason="bench run cut short",
                        )  # fmt: skip
    print(f"meeting ended {meeting.status}: {meeting.data.get('completion_reason')}")
    recording = recorded_pcm(session)
    # Aligned on the first two minutes: over the whole call the drifting clock would align the
    # middle (the clock rate then corrects from there, not from the start).
    head = ALIGN_S * 32000
    t0 = spoken_origin(session, pcm[:head], recording[:head], lead_s)
    clock_rate = audio_clock_rate(sampler.clock)
    print(
        f"wall seconds per second of the capture's audio clock: {clock_rate:.5f} (the capture's "
        f"t falls {(clock_rate - 1) * 3600:+.1f} s an hour behind the wall clock)"
    )
    drafts, _finals, final_trend, _utterances, draft_trend = word_latencies(
        session, t0, published(meeting), clock_rate
    )
    stored = Segment.objects.filter(session_uid=session.session_uid, completed=True)
    wer = word_error_rate(
        " ".join(turn["text"] for turn in script), " ".join(stored.values_list("text", flat=True))
    )
    report(sampler.rows, draft_trend, final_trend, audio_s, args.stretches)
    width = audio_s / args.stretches
    for label, errors in zip(
        ("absolute_start_time", "session start + t alone"),
        absolute_time_errors(session, t0, clock_rate),
        strict=True,
    ):
        medians = windows(errors, width, audio_s)
        cells = ", ".join(f"{(m - medians[0]) * 1000:+.0f}" for m in medians)
        print(f"{label} against the wall clock, ms from the first stretch's, per stretch: {cells}")
    print(
        f"{len(drafts)} words; WER {wer:.3f} over the whole call; the WebSocket client got {counts}"
    )
    plot(sampler.rows, draft_trend, final_trend, audio_s)


COLUMNS = [
    ("chromium_mb", "Chromium MB"), ("bot_worker_mb", "bot worker MB"),
    ("tx_worker_mb", "tx worker MB"), ("daphne_mb", "Daphne MB"), ("redis_mb", "Redis MB"),
    ("chromium_cpu", "Chromium %"), ("tx_worker_cpu", "tx worker %"), ("stream", "stream"),
    ("event_log", "event log"), ("segments", "segments"), ("checkpoint_kb", "checkpoint KB"),
]  # fmt: skip


def report(
    rows: list[dict[str, float]],
    draft_trend: list[tuple[float, float]],
    final_trend: list[tuple[float, float]],
    audio_s: float,
    stretches: int,
) -> None:
    import numpy as np

    width = audio_s / stretches
    drafts = windows(draft_trend, width, audio_s)
    finals = windows(final_trend, width, audio_s)
    header = ["minutes", *(label for _key, label in COLUMNS), "draft p50", "final p50"]
    print(" | ".join(header))
    for k in range(stretches):
        inside = [r for r in rows if k * width <= r["t"] < (k + 1) * width]
        cells = [f"{k * width / 60:.0f}-{(k + 1) * width / 60:.0f}"]
        for key, _label in COLUMNS:
            values = [r[key] for r in inside if key in r]
            cells.append(f"{np.median(values):.0f}" if values else "-")
        cells += [f"{drafts[k]:.2f}", f"{finals[k]:.2f}"]
        print(" | ".join(cells), flush=True)


def plot(
    rows: list[dict[str, float]],
    draft_trend: list[tuple[float, float]],
    final_trend: list[tuple[float, float]],
    audio_s: float,
) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    OUT.mkdir(exist_ok=True)
    fig, (mem, lat) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    minutes = [r["t"] / 60 for r in rows]
    for key, label in COLUMNS[:5]:
        mem.plot(minutes, [r.get(key, math.nan) for r in rows], label=label)
    mem.set_ylabel("MB (PSS; Redis used)")
    mem.legend(fontsize=8)
    mem.grid(alpha=0.3)
    width = 60.0
    for points, label in ((draft_trend, "draft p50"), (final_trend, "final p50")):
        lat.plot(
            [(k + 0.5) for k in range(math.ceil(audio_s / width))],
            windows(points, width, audio_s), "o-", label=label,
        )  # fmt: skip
    lat.set_xlabel("minutes into the call")
    lat.set_ylabel("s after the word ends (per minute)")
    lat.legend(fontsize=8)
    lat.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT / "soak.png", dpi=120)
    print(f"plot: {OUT / 'soak.png'}")


if __name__ == "__main__":
    main()
