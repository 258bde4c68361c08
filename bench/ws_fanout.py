"""WebSocket fan-out latency: N subscribers on one meeting, segments published at R per second.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vexa_b REDIS_URL=redis://127.0.0.1:6379/3 \
        DEBUG=1 .venv/bin/python bench/ws_fanout.py --subscribers 500 --rate 10 --seconds 20

What is measured: from just before `transcripts.realtime.publish_segments` (the call the
transcription engine makes after its commit) to the moment a client has parsed the message, for
every (event, subscriber) pair. The path is the product's: one Redis MULTI (event log + pub/sub),
the channel layer in a real Daphne, the `/ws` consumer, a real TCP WebSocket, and `websockets`
clients in a separate process (so the publisher keeps its rate). Everything shares this
machine's cores, so client-side parsing is part of the figure.

Prints p50/p90/p99/max, lost messages and the server's CPU time per delivery (independent of
what else runs on the machine); draws `bench/out/ws_fanout.png`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))


# --- client process (no Django) ---------------------------------------------------------------
async def _one_client(
    url: str,
    subscribe: str,
    expect: int,
    gate: asyncio.Semaphore,
    ready: asyncio.Event,
    connected: list[int],
    out: list[float],
) -> None:
    from websockets.asyncio.client import connect

    async with gate:  # a bounded connect ramp, like clients arriving over time
        ws = await connect(url, max_size=None, open_timeout=60, ping_interval=None)
        await ws.send(subscribe)
        reply = json.loads(await ws.recv())
        if reply.get("type") != "subscribed":
            raise RuntimeError(f"subscribe failed: {reply}")
        connected[0] += 1
    try:
        await ready.wait()
        got = 0
        # No per-message wait_for (a task each) and no full JSON parse: the client's own cost
        # shares these cores with the server, so it is kept to reading the frame and the
        # publish time at the start of the segment text.
        async for raw in ws:
            now = time.time()
            if not isinstance(raw, str) or '"transcript.mutable"' not in raw:
                continue
            start = raw.index('"text":"') + 8
            out.append(now - float(raw[start : raw.index(" ", start)]))
            got += 1
            if got >= expect:
                return
    finally:
        await ws.close()


async def _clients(url: str, subscribe: str, count: int, expect: int, path: str) -> None:
    ready = asyncio.Event()
    connected = [0]
    latencies: list[float] = []
    gate = asyncio.Semaphore(50)

    def run_one() -> Any:
        return _one_client(url, subscribe, expect, gate, ready, connected, latencies)

    tasks = [asyncio.create_task(run_one()) for _ in range(count)]
    while connected[0] < count:
        done = [t for t in tasks if t.done() and t.exception()]
        if done:
            raise RuntimeError(f"client failed: {done[0].exception()!r}")
        await asyncio.sleep(0.05)
    print("READY", flush=True)
    # The publisher says "go" (read in a thread: the event loop keeps answering the server).
    await asyncio.to_thread(sys.stdin.readline)
    ready.set()
    # Clients stop after `expect` events; a lost message would leave one waiting, so the
    # whole run has a deadline (the shortfall is reported as lost).
    await asyncio.wait(tasks, timeout=expect / 2 + 30)
    Path(path).write_text(json.dumps(latencies))
    print("DONE", flush=True)


# --- publisher / orchestrator ------------------------------------------------------------------
def _setup() -> tuple[Any, str]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vexa_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from accounts import services as account_services
    from accounts.models import User
    from meetings import lifecycle
    from meetings.models import Meeting

    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(email="ws-fanout-bench@example.com")
    key = account_services.token_issue(user=user, scopes=["tx"]).plain
    Meeting.objects.filter(user=user).delete()
    meeting = Meeting.objects.create(
        user=user, platform="google_meet", native_meeting_id="ben-chfa-nout"
    )
    lifecycle.record_created(meeting)
    return meeting, key


def _daphne_cpu_s() -> float:
    """CPU seconds used so far by this process's Daphne child (Linux /proc)."""
    me = os.getpid()
    children = Path(f"/proc/{me}/task/{me}/children").read_text().split()
    for pid in children:
        if b"daphne" in Path(f"/proc/{pid}/cmdline").read_bytes():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    raise RuntimeError("no Daphne child process found")


def _percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def _plot(latencies_ms: list[float], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = sorted(latencies_ms)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.hist(values, bins=100, color="#4070a0")
    for q, style in ((0.5, "--"), (0.99, ":")):
        v = _percentile(values, q)
        ax.axvline(v, color="black", linestyle=style, label=f"p{round(q * 100)} = {v:.1f} ms")
    ax.set_xlabel("delivery latency (ms): publish call -> parsed by the client")
    ax.set_ylabel("messages")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--rate", type=float, default=10.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--client-procs", type=int, default=2, help="client processes sharing the subscribers"
    )
    parser.add_argument("--client", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        url, subscribe, count, expect, path = args.client
        asyncio.run(_clients(url, subscribe, int(count), int(expect), path))
        return

    from tests import processes

    meeting, key = _setup()
    from transcripts import realtime

    events = round(args.rate * args.seconds)
    OUT.mkdir(parents=True, exist_ok=True)
    raw_path = OUT / "ws_fanout_latencies.json"
    subscribe = json.dumps(
        {
            "action": "subscribe",
            "meetings": [{"platform": "google_meet", "native_id": "ben-chfa-nout"}],
        }
    )
    filler = "and so the meeting went on with another sentence of ordinary length " * 2
    with processes.daphne_server() as base:
        url = base.replace("http://", "ws://") + f"/ws?api_key={key}"
        clients = []
        for index in range(args.client_procs):
            share = args.subscribers // args.client_procs + (
                1 if index < args.subscribers % args.client_procs else 0
            )
            path = raw_path.with_name(f"{raw_path.stem}.{index}.json")
            cmd = [sys.executable, __file__, "--client", url, subscribe, str(share)]
            clients.append(
                subprocess.Popen(
                    [*cmd, str(events), str(path)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        for client in clients:
            assert client.stdout is not None
            if client.stdout.readline().strip() != "READY":
                raise SystemExit("clients did not connect")
        for client in clients:
            assert client.stdin is not None
            client.stdin.write("go\n")
            client.stdin.flush()
        cpu_before = _daphne_cpu_s()
        interval = 1.0 / args.rate
        start = time.monotonic()
        for n in range(events):
            delay = start + n * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            segment = {
                "segment_id": f"bench-{n}",
                "text": f"{time.time():.6f} {filler}",
                "speaker": "Alice",
                "language": "en",
                "start": n * 1.0,
                "end": n * 1.0 + 1.0,
                "end_time": n * 1.0 + 1.0,
                "completed": False,
                "absolute_start_time": "2026-11-23T12:00:00Z",
                "absolute_end_time": "2026-11-23T12:00:01Z",
                "session_uid": "bench",
                "created_at": "2026-11-23T12:00:01Z",
                "updated_at": "2026-11-23T12:00:01Z",
            }
            realtime.publish_segments(meeting_id=meeting.pk, kind="mutable", segments=[segment])
        latencies_ms: list[float] = []
        for index, client in enumerate(clients):
            client.wait(timeout=120)
            path = raw_path.with_name(f"{raw_path.stem}.{index}.json")
            latencies_ms += [v * 1000 for v in json.loads(path.read_text())]
        # Includes the clients' 500 closes, a small share.
        server_cpu_s = _daphne_cpu_s() - cpu_before
    latencies_ms.sort()
    expected = events * args.subscribers
    p50, p90, p99 = (_percentile(latencies_ms, q) for q in (0.5, 0.9, 0.99))
    title = (
        f"{args.subscribers} subscribers, {args.rate:g} events/s, {args.seconds:g} s,"
        f" {args.client_procs} client processes"
    )
    print(f"ws_fanout: {title}")
    print(f"  messages: {len(latencies_ms)} of {expected} ({expected - len(latencies_ms)} lost)")
    print(
        f"  latency ms: p50 {p50:.1f}  p90 {p90:.1f}  p99 {p99:.1f}  max {latencies_ms[-1]:.1f}"
        f"  mean {statistics.fmean(latencies_ms):.1f}"
    )
    print(
        f"  server (Daphne) CPU: {server_cpu_s:.2f} s for {len(latencies_ms)} deliveries,"
        f" {server_cpu_s / max(1, len(latencies_ms)) * 1e6:.0f} us each"
    )
    png = OUT / "ws_fanout.png"
    _plot(latencies_ms, f"WebSocket fan-out: {title}", png)
    print(f"  histogram: {png.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
