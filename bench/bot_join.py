"""Bot join time and browser memory, against the product's own simulated Google Meet.

    DEBUG=1 DATABASE_URL=postgres://.../bench REDIS_URL=redis://.../9 \\
        python manage.py migrate && python bench/bot_join.py [--joins 10] [--concurrent 1 4]

Starts a real Daphne (serving the simulator) and a real bot worker (`celery worker -Q bots -P
threads -c N`, the production command, one shared headless Chromium). Then:

1. `--joins` bots one after another, each requested through `bots.services.bot_create` (what
   `POST /bots` calls): requested → active from the status history (the simulated meeting lets
   the bot in at once: "Join now"). The first join includes the browser's cold start.
2. For each N in `--concurrent`: N bots capturing speech at once; PSS (proportional set size,
   shared pages split fairly) of every Chromium process of the worker, divided by N, and the
   Chromium CPU use per bot over 5 s; then how long a stop request takes to complete.
   Targets: requested → active p50 <= 5 s; <= 250 MB per bot; stop reaches the bot in <= 2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vexa_site.settings")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402

from accounts.models import User  # noqa: E402
from bots import services as bot_services  # noqa: E402
from meetings.models import Meeting, MeetingStatus  # noqa: E402
from tests import processes  # noqa: E402
from tests.speech import VOICES, make_speech_wav  # noqa: E402

ADMIN_KEY = "bench-admin-key-0123456789abcdef"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def meet_id() -> str:
    part = lambda n: "".join(random.choices(string.ascii_lowercase, k=n))  # noqa: E731
    return f"{part(3)}-{part(4)}-{part(3)}"


def load(base: str, **scenario: Any) -> None:
    response = httpx.post(
        f"{base}/simulator/api/scenarios",
        json={"platform": "google_meet", **scenario},
        headers={"X-Admin-API-Key": ADMIN_KEY},
        timeout=10,
    )
    response.raise_for_status()


def wait(meeting_id: int, statuses: tuple[str, ...], timeout_s: float = 60) -> Meeting:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        meeting = Meeting.objects.get(pk=meeting_id)
        if meeting.status in statuses:
            return meeting
        time.sleep(0.05)
    raise TimeoutError(f"meeting {meeting_id} not in {statuses} after {timeout_s}s")


def at(meeting: Meeting, status: str) -> datetime:
    for entry in meeting.data["status_transition"]:
        if entry["to"] == status:
            return datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
    raise KeyError(status)


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            found.append(child)
            todo.append(child)
    return found


def chromium_pids(worker_pid: int) -> list[int]:
    pids = []
    for pid in descendants(worker_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if b"chrom" in cmdline:
            pids.append(pid)
    return pids


def pss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return ticks / CLOCK_TICKS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--joins", type=int, default=10)
    parser.add_argument("--concurrent", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    user, _ = User.objects.get_or_create(
        email="bench-bots@example.com", defaults={"name": "Bench", "max_concurrent_bots": 0}
    )
    folder = Path(tempfile.mkdtemp(prefix="bot-bench-"))
    speech = make_speech_wav(
        "This is a benchmark of the meeting bot. It keeps talking so that the bot captures "
        "real speech while its memory is measured.",
        folder / "speech.wav",
        voice=VOICES[0],
    )
    env = {"ADMIN_API_TOKEN": ADMIN_KEY, "RECORDINGS_DIR": str(folder / "recordings")}
    slots = max(args.concurrent)
    with processes.daphne_server(env=env) as base:
        worker_env = {**env, "PLATFORM_URLS": "simulator", "PUBLIC_BASE_URL": base}
        with processes.celery_worker(
            "bots", pool="threads", concurrency=slots, name="bench-bots", env=worker_env
        ) as worker:
            joins = []
            for index in range(args.joins):
                native = meet_id()
                load(base, native_meeting_id=native, variant="join_now", end_after_s=0.5)
                meeting = bot_services.bot_create(
                    user=user,
                    platform="google_meet",
                    native_meeting_id=native,
                    transcribe_enabled=False,
                    recording_enabled=False,
                )
                done = wait(meeting.pk, (MeetingStatus.COMPLETED, MeetingStatus.FAILED))
                seconds = (at(done, "active") - at(done, "requested")).total_seconds()
                joins.append(seconds)
                print(f"join {index + 1}: requested -> active {seconds:.2f} s", flush=True)
            if joins:  # --joins 0: only the concurrent capture and stop measurements
                warm = joins[1:] or joins
                print(
                    f"requested -> active over {len(joins)} joins: p50 "
                    f"{statistics.median(joins):.2f} s (cold first {joins[0]:.2f} s, warm p50 "
                    f"{statistics.median(warm):.2f} s, max {max(joins):.2f} s)"
                )
            for n in args.concurrent:
                meetings = []
                for _ in range(n):
                    native = meet_id()
                    turns = [round(0.5 + k * 6.0, 1) for k in range(5)]
                    load(
                        base,
                        native_meeting_id=native,
                        variant="join_now",
                        participants=[{"name": "Alice", "audio": str(speech), "at_s": turns}],
                        end_after_s=32,
                    )
                    meetings.append(
                        bot_services.bot_create(
                            user=user,
                            platform="google_meet",
                            native_meeting_id=native,
                            transcribe_enabled=False,
                        )
                    )
                for meeting in meetings:
                    wait(meeting.pk, (MeetingStatus.ACTIVE,))
                time.sleep(4)  # measure while capturing, past the join's transient
                pids = chromium_pids(worker.pid)
                before = cpu_seconds(pids)
                time.sleep(5)
                cpu = (cpu_seconds(pids) - before) / 5 * 100
                pss = pss_mb(chromium_pids(worker.pid))
                worker_pss = pss_mb([worker.pid, *descendants(worker.pid)]) - pss
                print(
                    f"{n} capturing bot(s): Chromium {len(pids)} processes, PSS {pss:.0f} MB "
                    f"({pss / n:.0f} MB per bot), CPU {cpu / n:.0f} % of a core per bot; "
                    f"worker Python + Playwright driver {worker_pss:.0f} MB",
                    flush=True,
                )
                for meeting in meetings:
                    bot_services.bot_stop(meeting_id=meeting.pk)
                stops = []
                for meeting in meetings:
                    done = wait(meeting.pk, (MeetingStatus.COMPLETED, MeetingStatus.FAILED))
                    stops.append((at(done, "completed") - at(done, "stopping")).total_seconds())
                print(
                    f"{n} bot(s): stop request -> completed (left the call, stream and recording "
                    f"closed) p50 {statistics.median(stops):.2f} s, max {max(stops):.2f} s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
