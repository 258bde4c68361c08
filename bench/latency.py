"""Per-word live latency: N stream-fed sessions at real-time pace through a real transcription
worker; when does each word first appear (draft) and become final on the WebSocket path?

    DEBUG=1 DATABASE_URL=postgres://.../bench REDIS_URL=redis://.../9 \\
        python manage.py migrate && python bench/latency.py --sessions 1 2 4 8 --turns 8

Each session is a conversation of espeak-ng sentences in alternating voices with pauses,
written to its stream at capture pace (0.1 s chunks, speaker events) like a bot. One worker
(`celery worker -Q transcription -P threads -c 8`, one model copy) transcribes them all. The
events the engine publishes (B's event log, the same messages WebSocket and SSE clients get)
are read back with their Redis publication times. A word's latency is that time minus the
moment the word ended in the audio (session start + the word's end in its final segment);
"draft" is the first event that shows the word, "final" the `transcript.finalized` one, and
"after the sentence" the final latency of each stored sentence's last word (the issue's "final
after the utterance ends").
Prints p50/p95 per N and the lag trend, and draws bench/out/latency.png. Each run also scores
what a loaded worker writes: the stored transcripts' WER against the scripts, over the WER of
an offline `transcribe()` of the same conversations (the ratio `bench/wer.py` measures without
load; a worker serving many sessions decodes more cheaply and skips ahead when behind).
Session i plays conversation i, so a run of N sessions is scored on N conversations.

`--meetings 1 4` measures full simulated meetings instead: a real Daphne serving the simulator,
a bot worker (`-Q bots -P threads -c N`, one shared Chromium) whose bots join, capture the
WebRTC audio and write the streams, and the transcription worker, all on this machine. Each
meeting plays a conversation (one participant per voice); a word's spoken moment is the
moment the simulator played it (its scenario clock, aligned to the capture clock by
cross-correlating the bot's recording with the conversation), so the capture and WebRTC delays
count. Draws bench/out/latency_meetings.png.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vexa_site.settings")

import django  # noqa: E402

django.setup()

import json  # noqa: E402

import numpy as np  # noqa: E402
from speech import conversation, offline_text, word_error_rate  # noqa: E402

from accounts.models import User  # noqa: E402
from bots import services as bot_services  # noqa: E402
from meetings import lifecycle  # noqa: E402
from meetings.models import Meeting, MeetingSession  # noqa: E402
from meetings.stream import BYTES_PER_SAMPLE, SAMPLE_RATE, SessionStream  # noqa: E402
from transcripts import realtime, tasks  # noqa: E402
from transcripts.engine.filters import normalize  # noqa: E402
from transcripts.models import Segment  # noqa: E402

ADMIN_KEY = "bench-admin-key-0123456789abcdef"

OUT = ROOT / "bench" / "out"
# Meeting ids unique to this run: a meeting an earlier run left active would refuse a new bot.
RUN_ID = secrets.token_hex(3)


def start_worker(
    concurrency: int, index: int = 0, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    cmd = [
        str(Path(sys.executable).parent / "celery"),
        "-A", "vexa_site", "worker", "-Q", "transcription", "-P", "threads",
        "-c", str(concurrency), "-n", f"bench{index}-{os.getpid()}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    OUT.mkdir(exist_ok=True)
    log = (OUT / f"worker{index}.log").open("w")  # what the pass budget decided, errors
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        log.write(line)
        if "ready" in line:
            threading.Thread(target=log.writelines, args=(proc.stdout,), daemon=True).start()
            return proc
        if proc.poll() is not None:
            raise RuntimeError("worker exited")
    os.killpg(proc.pid, signal.SIGKILL)
    raise TimeoutError("worker not ready")


def rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def stop_worker(worker: subprocess.Popen[str]) -> None:
    """Stop a worker for good: one left behind keeps taking the next run's sessions."""
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:  # a warm shutdown waits for sessions still running
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)


def feed(stream: SessionStream, pcm: bytes, script: list[dict[str, Any]], t0: float) -> None:
    """Write audio and speaker events at capture pace; `t0` is the wall time of t=0."""
    chunk = int(SAMPLE_RATE * 0.1) * BYTES_PER_SAMPLE
    events = sorted(
        [(turn["start"], "start", turn["speaker"]) for turn in script]
        + [(turn["end"], "stop", turn["speaker"]) for turn in script]
    )
    for offset in range(0, len(pcm), chunk):
        t = offset / (SAMPLE_RATE * BYTES_PER_SAMPLE)
        end = t + len(pcm[offset : offset + chunk]) / (SAMPLE_RATE * BYTES_PER_SAMPLE)
        while events and events[0][0] <= end:
            at, state, name = events.pop(0)
            stream.append_speaker(name=name, participant_id=name, state=state, t=at)
        delay = t0 + end - time.time()
        if delay > 0:
            time.sleep(delay)
        stream.append_audio(pcm[offset : offset + chunk], t=t)
    stream.append_end(reason="bench")


def published(meeting: Meeting) -> list[tuple[float, dict[str, Any]]]:
    key = realtime.meeting_event_log_key(meeting)
    out = []
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], realtime.redis_client().xrange(key))
    for entry_id, fields in entries:
        ms = int(entry_id.decode().split("-")[0])
        out.append((ms / 1000, json.loads(fields[b"data"])))
    return out


Latencies = tuple[
    list[float], list[float], list[tuple[float, float]], list[float], list[tuple[float, float]]
]


def word_latencies(
    session: MeetingSession,
    t0: float,
    events: list[tuple[float, dict[str, Any]]],
    clock_rate: float = 1.0,
) -> Latencies:
    """(draft latencies, final latencies, [(word end t, final latency)], final latencies of
    each stored sentence's last word: after the utterance ends, [(word end t, draft latency)]).
    A word ending at session `t` was spoken at wall time `t0 + t * clock_rate` (`clock_rate`:
    wall seconds per second of the capture's audio clock, which drifts over a long call)."""
    finals = Segment.objects.filter(session_uid=session.session_uid, completed=True)
    # (published at, kind, start, end, normalized words): normalized once, an hour-long call
    # publishes thousands of events.
    seg_events = [
        (at, m["type"], s["start"], s["end"], set(normalize(s["text"]).split()))
        for at, m in events
        if m["type"].startswith("transcript.")
        for s in m["payload"]["segments"]
    ]
    final_events = [
        (at, start, end, words)
        for at, kind, start, end, words in seg_events
        if kind == "transcript.finalized"
    ]
    drafts: list[float] = []
    finals_lat: list[float] = []
    trend: list[tuple[float, float]] = []
    draft_trend: list[tuple[float, float]] = []
    utterances: list[float] = []
    for segment in finals:
        last_final: float | None = None
        for word in segment.words:
            token = normalize(word["word"])
            if not token:
                continue
            spoken = t0 + word["end"] * clock_rate
            middle = (word["start"] + word["end"]) / 2
            first = min(
                (at for at, _kind, start, end, words in seg_events
                 if start - 0.5 <= middle <= end + 0.5 and token in words),
                default=None,
            )  # fmt: skip
            # A word's final is the first finalized segment holding it: the stored segments
            # are the session's fragments joined into sentences, republished at its end.
            final_at = min(
                (at for at, start, end, words in final_events
                 if start - 0.05 <= middle <= end + 0.05 and token in words),
                default=None,
            )  # fmt: skip
            if first is not None:
                drafts.append(max(0.0, first - spoken))
                draft_trend.append((word["end"], first - spoken))
            if final_at is not None:
                finals_lat.append(max(0.0, final_at - spoken))
                trend.append((word["end"], final_at - spoken))
            last_final = None if final_at is None else max(0.0, final_at - spoken)
        if last_final is not None:
            utterances.append(last_final)
    return drafts, finals_lat, trend, utterances, draft_trend


def run(n: int, clips: list[tuple[bytes, list[dict[str, Any]]]], user: User) -> dict[str, Any]:
    sessions = []
    for i in range(n):
        native_id = f"ben-{n:02d}{i:02d}-{RUN_ID}"
        meeting = Meeting.objects.create(
            user=user, platform="google_meet", native_meeting_id=native_id,
            bot_config={"language": "en", "task": "transcribe"},
        )  # fmt: skip
        lifecycle.record_created(meeting)
        sessions.append(MeetingSession.objects.create(meeting=meeting))
    threads = []
    t0 = time.time() + 1.0
    for i, session in enumerate(sessions):
        tasks.transcribe_session.delay(session.session_uid)
        pcm, script = clips[i % len(clips)]
        stream = SessionStream(session.session_uid)
        thread = threading.Thread(target=feed, args=(stream, pcm, script, t0), daemon=True)
        threads.append(thread)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.time() + 120
    for session in sessions:
        while time.time() < deadline:
            session.refresh_from_db()
            if session.transcriber_state.get("finished"):
                break
            time.sleep(0.2)
    # No bot ever ran these meetings: ended now, they hold no bot slot in later runs against
    # this database (POST /bots counts live meetings against the slots).
    for session in sessions:
        bot_services.bot_stop(meeting_id=session.meeting_id)
    per_session = [word_latencies(s, t0, published(s.meeting)) for s in sessions]
    audio_s = max(len(c[0]) for c in clips) / (SAMPLE_RATE * BYTES_PER_SAMPLE)
    return {**summary(n, per_session, audio_s), **transcript_wer(sessions, clips)}


_offline: dict[bytes, str] = {}


def transcript_wer(
    sessions: list[MeetingSession],
    clips: list[tuple[bytes, list[dict[str, Any]]]],
    heard: list[bytes] | None = None,
) -> dict[str, float]:
    """Mean WER of the sessions' stored transcripts (session i played clip i) and of an
    offline `transcribe()` of the same audio (the clip, or what the bot `heard`), both against
    the scripts."""
    live, offline = [], []
    # What was said and what was stored, turn by turn, to read where the scores come from.
    side_by_side: list[str] = []
    for i, session in enumerate(sessions):
        pcm, script = clips[i % len(clips)]
        pcm = heard[i] if heard else pcm
        reference = " ".join(turn["text"] for turn in script)
        stored = Segment.objects.filter(session_uid=session.session_uid, completed=True)
        live.append(word_error_rate(reference, " ".join(stored.values_list("text", flat=True))))
        side_by_side.append(f"== session {i}: said")
        side_by_side += [f"  {turn['speaker']}: {turn['text']}" for turn in script]
        side_by_side.append("   stored")
        side_by_side += [
            f"  {s.start:6.2f} {s.speaker}: {s.text}" for s in stored.order_by("start")
        ]
        if pcm not in _offline:
            _offline[pcm] = offline_text(pcm)
        offline.append(word_error_rate(reference, _offline[pcm]))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "transcripts.txt").write_text("\n".join(side_by_side) + "\n")
    live_wer, offline_wer = float(np.mean(live)), float(np.mean(offline))
    return {
        "wer_live": live_wer,
        "wer_offline": offline_wer,
        "wer_ratio": live_wer / max(offline_wer, 1e-9),
    }


def summary(
    n: int, per_session: list[Latencies],
    audio_s: float,
) -> dict[str, Any]:  # fmt: skip
    drafts = [lat for d, _f, _t, _u, _dt in per_session for lat in d]
    finals = [lat for _d, f, _t, _u, _dt in per_session for lat in f]
    trend = [point for _d, _f, t, _u, _dt in per_session for point in t]
    utterances = [lat for _d, _f, _t, u, _dt in per_session for lat in u]
    early = [lat for t, lat in trend if t < audio_s / 4]
    late = [lat for t, lat in trend if t > audio_s * 3 / 4]
    draft_trend = [point for _d, _f, _t, _u, dt in per_session for point in dt]
    draft_early = [max(0.0, lat) for t, lat in draft_trend if t < audio_s / 4]
    draft_late = [max(0.0, lat) for t, lat in draft_trend if t > audio_s * 3 / 4]
    return {
        "n": n,
        "words": len(finals),
        "draft_p50": float(np.percentile(drafts, 50)),
        "draft_p95": float(np.percentile(drafts, 95)),
        "final_p50": float(np.percentile(finals, 50)),
        "final_p95": float(np.percentile(finals, 95)),
        "utterance_final_p50": float(np.percentile(utterances, 50)),
        "utterance_final_p95": float(np.percentile(utterances, 95)),
        "final_first_quarter_p50": float(np.median(early)) if early else float("nan"),
        "final_last_quarter_p50": float(np.median(late)) if late else float("nan"),
        "draft_first_quarter_p50": float(np.median(draft_early)) if draft_early else float("nan"),
        "draft_last_quarter_p50": float(np.median(draft_late)) if draft_late else float("nan"),
    }


# A platform's meeting ids and passcode in the simulator: Meet delivers audio over WebRTC on
# three re-used tracks, Teams and Zoom as one mixed stream (PLATFORMS.md).
PLATFORM_IDS: dict[str, tuple[Callable[[int, int], str], str | None]] = {
    "google_meet": (lambda n, i: f"ben-{n:02d}{i:02d}-{RUN_ID}", None),
    "teams": (lambda n, i: f"{n:02d}{i:02d}{int(RUN_ID, 16) % 10**9:09d}", "RBZCWdxyp85T"),
    "zoom": (lambda n, i: f"{n:01d}{i:01d}{int(RUN_ID, 16) % 10**9:09d}", "AbC9xYz.1"),
}


def run_meetings(
    n: int,
    clips: list[tuple[bytes, list[dict[str, Any]]]],
    folder: Path,
    base: str,
    user: User,
    platform: str = "google_meet",
) -> dict[str, Any]:
    """N simulated calls at once on `platform`, each with a bot that transcribes it."""
    import httpx

    new_id, passcode = PLATFORM_IDS[platform]

    lead_s = 1.0  # the scenario clock starts once the bot's media connection is up
    meetings = []
    for i in range(n):
        pcm, script = clips[i % len(clips)]
        participants = scenario_participants(pcm, script, folder / f"m{n}_{i}", lead_s)
        native = new_id(n, i)
        response = httpx.post(
            f"{base}/simulator/api/scenarios",
            json={
                "platform": platform, "native_meeting_id": native, "variant": "join_now",
                "participants": participants, "end_after_s": lead_s + script[-1]["end"] + 3.0,
            },
            headers={"X-Admin-API-Key": ADMIN_KEY}, timeout=10,
        )  # fmt: skip
        response.raise_for_status()
        meetings.append(
            bot_services.bot_create(
                user=user, platform=platform, native_meeting_id=native, passcode=passcode,
                language="en",
            )
        )  # fmt: skip
    # A host too slow for N meetings still finishes their transcripts, late: wait for them.
    deadline = time.time() + 300 + 3 * max(s[-1]["end"] for _p, s in clips)
    sessions: list[MeetingSession] = []
    for meeting in meetings:
        meeting.refresh_from_db()
        while time.time() < deadline and meeting.status not in ("completed", "failed"):
            time.sleep(0.5)
            meeting.refresh_from_db()
        if meeting.status != "completed":
            raise RuntimeError(f"meeting {meeting.pk} ended {meeting.status}: {meeting.data}")
        session = MeetingSession.objects.get(meeting=meeting)
        while time.time() < deadline and not session.transcriber_state.get("finished"):
            time.sleep(0.2)
            session.refresh_from_db()
        if not session.transcriber_state.get("finished"):
            raise RuntimeError(f"meeting {meeting.pk}: transcription not finished in time")
        sessions.append(session)
    per_session = []
    recordings = [recorded_pcm(session) for session in sessions]
    for i, session in enumerate(sessions):
        t0 = spoken_origin(session, clips[i % len(clips)][0], recordings[i], lead_s)
        print(
            f"  meeting {i}: capture t=0 is {t0 - session.started_at.timestamp():+.3f} s from "
            "the session's started_at",
            flush=True,
        )
        latencies = word_latencies(session, t0, published(session.meeting))
        per_session.append(latencies)
        # Each meeting's own medians: whether a slow run is every meeting or one starved one.
        drafts, finals = latencies[0], latencies[1]
        if drafts and finals:
            print(
                f"  meeting {i}: draft p50 {np.median(drafts):.2f} s, final p50 "
                f"{np.median(finals):.2f} s over {len(finals)} words",
                flush=True,
            )
    audio_s = max(len(c[0]) for c in clips) / (SAMPLE_RATE * BYTES_PER_SAMPLE)
    # Scored against an offline pass over the bot's recording: the same (Opus-coded) audio.
    return {**summary(n, per_session, audio_s), **transcript_wer(sessions, clips, recordings)}


def recorded_pcm(session: MeetingSession) -> bytes:
    from bots.runtime.recording import decode_pcm16k
    from meetings.models import Recording

    return decode_pcm16k(Recording.objects.get(session=session).file_path)


def spoken_origin(session: MeetingSession, pcm: bytes, recorded_pcm: bytes, lead_s: float) -> float:
    """The wall time at which the speakers were at session t = 0.

    The simulator plays the conversation from `started_at + lead_s` (its scenario clock, wall
    time); the recording holds the captured audio at its session `t`. Their cross-correlation
    (10 ms loudness envelopes) gives the `t` at which the conversation started, so a word's
    spoken moment is exact whatever the capture start and the WebRTC path added.
    """
    from bots.simulator.scenarios import state_get

    state = state_get(session.meeting.platform, session.meeting.native_meeting_id)
    if state is None or state.started_at is None:
        raise RuntimeError(f"no simulator clock for {session.meeting.native_meeting_id}")
    recorded = np.frombuffer(recorded_pcm, np.int16)

    def envelope(samples: np.ndarray) -> np.ndarray:
        frames = len(samples) // 160
        env = np.abs(samples[: frames * 160].astype(np.float32)).reshape(frames, 160).mean(axis=1)
        return env - env.mean()

    played = envelope(np.frombuffer(pcm, np.int16))
    heard = envelope(recorded)
    lag = int(np.argmax(np.correlate(heard, played, "full"))) - (len(played) - 1)
    return float(state.started_at) + lead_s - lag / 100


def scenario_participants(
    pcm: bytes, script: list[dict[str, Any]], folder: Path, lead_s: float
) -> list[dict[str, Any]]:
    """The simulator's participants playing a conversation: one clip per turn, `lead_s` after
    the scenario clock starts."""
    folder.mkdir(parents=True, exist_ok=True)
    participants = []
    for k, turn in enumerate(script):
        clip = folder / f"turn{k}.wav"
        write_wav(clip, pcm, turn["start"], turn["end"])
        participants.append(
            {"name": turn["speaker"], "audio": str(clip), "at_s": lead_s + turn["start"]}
        )
    return participants


def write_wav(path: Path, pcm: bytes, start: float, end: float) -> None:
    import wave

    a, b = (round(x * SAMPLE_RATE) * BYTES_PER_SAMPLE for x in (start, end))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(BYTES_PER_SAMPLE)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm[a:b])


def main_meetings(
    counts: list[int], turns: int, user: User, platform: str = "google_meet"
) -> list[dict[str, Any]]:
    from tests import processes

    folder = Path(tempfile.mkdtemp(prefix="latency-meetings-"))
    clips = [conversation(folder / str(seed), seed=seed, turns=turns) for seed in range(4)]
    env = {"ADMIN_API_TOKEN": ADMIN_KEY, "RECORDINGS_DIR": str(folder / "recordings")}
    rows = []
    with processes.daphne_server(env=env) as base:
        bot_env = {**env, "PLATFORM_URLS": "simulator", "PUBLIC_BASE_URL": base}
        with processes.celery_worker(
            "bots", pool="threads", concurrency=max(counts), name="bench-bots", env=bot_env
        ):
            worker = start_worker(max(counts), env=env)
            try:
                for n in counts:
                    row = run_meetings(n, clips, folder, base, user, platform)
                    rows.append(row)
                    print_row(row, "meeting(s)")
            finally:
                stop_worker(worker)
    return rows


def print_row(row: dict[str, Any], what: str) -> None:
    print(
        f"{row['n']} {what}: {row['words']} words; draft p50 {row['draft_p50']:.2f}s "
        f"p95 {row['draft_p95']:.2f}s; final p50 {row['final_p50']:.2f}s "
        f"p95 {row['final_p95']:.2f}s; after the sentence p50 {row['utterance_final_p50']:.2f}s "
        f"p95 {row['utterance_final_p95']:.2f}s; final p50 first/last quarter "
        f"{row['final_first_quarter_p50']:.2f}/{row['final_last_quarter_p50']:.2f}s, draft "
        f"{row['draft_first_quarter_p50']:.2f}/{row['draft_last_quarter_p50']:.2f}s; "
        f"WER live {row['wer_live']:.3f}, offline {row['wer_offline']:.3f}, "
        f"ratio {row['wer_ratio']:.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (threads split between them)"
    )
    parser.add_argument(
        "--meetings", type=int, nargs="+", help="full simulated meetings (bots) instead"
    )
    parser.add_argument("--platform", choices=sorted(PLATFORM_IDS), default="google_meet")
    args = parser.parse_args()
    # A SIGTERM (`timeout`, Ctrl-C in a runner) must still stop the workers in `finally`: an
    # orphaned worker keeps consuming the queue and skews the next run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    user, _ = User.objects.update_or_create(
        email="bench@example.com", defaults={"name": "Bench", "max_concurrent_bots": 0}
    )
    if args.meetings:
        rows = main_meetings(args.meetings, args.turns, user, args.platform)
        plot(
            rows,
            "concurrent simulated meetings (bots + transcription + server, 2 cores)",
            "latency_meetings.png",
        )
        return
    with tempfile.TemporaryDirectory() as folder:
        clips = [
            conversation(Path(folder) / str(seed), seed=seed, turns=args.turns)
            for seed in range(max(4, *args.sessions))
        ]
    per_worker = -(-max(args.sessions) // args.workers)
    workers: list[subprocess.Popen[str]] = []
    rows = []
    try:
        workers.extend(start_worker(per_worker, i) for i in range(args.workers))
        for n in args.sessions:
            row = run(n, clips, user)
            rows.append(row)
            print_row(row, "session(s)")
            # Grows with every new encoder input shape CTranslate2 compiles (model.FRAME_STEP).
            print(f"  worker RSS after it: {[rss_mb(w.pid) for w in workers]} MB", flush=True)
    finally:
        for worker in workers:
            stop_worker(worker)
    plot(rows, "concurrent stream-fed sessions (one 2-core machine)", "latency.png")


def plot(rows: list[dict[str, Any]], xlabel: str, name: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        OUT.mkdir(exist_ok=True)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ns = [r["n"] for r in rows]
        for key, style in (("draft_p50", "o-"), ("draft_p95", "o--"),
                           ("final_p50", "s-"), ("final_p95", "s--")):  # fmt: skip
            ax.plot(ns, [r[key] for r in rows], style, label=key.replace("_", " "))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("seconds after the word ends")
        ax.set_xticks(ns)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(OUT / name, dpi=120)
        print(f"plot: {OUT / name}")
    except ImportError:
        print("matplotlib not installed: no plot")


if __name__ == "__main__":
    main()
