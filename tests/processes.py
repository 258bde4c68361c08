"""Real product processes for integration tests: Celery workers and Daphne, as subprocesses.

They run the same commands as production (`celery -A vexa_site worker -Q ...`, `daphne ...`)
against the test database and the test Redis, so a test exercises the real broker, real
workers and real ASGI server. Tests that use them need committed data (`transactional_db`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis
from django.conf import settings
from django.db import connection

from vexa_site.redis import get_redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The last lines each running child printed, by label: a failing test's report shows them
# (tests/conftest.py), since a flake on a loaded CI machine is read from the workers' logs.
TAIL_LINES = 300
_tails: dict[str, deque[str]] = {}
_tails_lock = threading.Lock()


def output_tails() -> dict[str, list[str]]:
    """The recent output of every child process still running."""
    with _tails_lock:
        return {label: list(lines) for label, lines in _tails.items()}


def test_database_url() -> str:
    """URL of the database the test process uses (pytest-django's test_* database)."""
    cfg = connection.settings_dict
    host = cfg.get("HOST") or "127.0.0.1"
    port = cfg.get("PORT") or 5432
    user = cfg.get("USER") or "postgres"
    password = f":{cfg['PASSWORD']}" if cfg.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{cfg['NAME']}"


def product_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            # Production-like: DEBUG off (JSON 404/500 handlers), plain HTTP on loopback.
            "DEBUG": "0",
            "SECRET_KEY": "test-secret-key-for-subprocesses-0123456789abcdefghijklmnop",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SIMULATOR_ENABLED": "1",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "ADMIN_API_TOKEN": settings.ADMIN_API_TOKEN or "test-admin-key-0123456789abcdef",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def queued_bots() -> list[int]:
    """The meetings whose `run_bot` waits on the real broker's `bots` queue."""
    return [
        int(json.loads(raw)["headers"]["argsrepr"].strip("(,)"))
        for raw in get_redis().lrange("bots", 0, -1)
    ]


def drop_queued_bot(meeting_id: int) -> None:
    """No bot worker runs in the calling test: take the meeting's `run_bot` off the queue."""
    redis = get_redis()
    entries: list[Any] = list(redis.lrange("bots", 0, -1))
    for raw in entries:
        if json.loads(raw)["headers"].get("argsrepr") == f"({meeting_id},)":
            redis.lrem("bots", 1, raw)


def _client_ports(proc: subprocess.Popen[str], server_port: int) -> list[int]:
    """The local ports of `proc`'s and its children's TCP connections to `server_port`."""
    root = psutil.Process(proc.pid)
    return [
        c.laddr.port
        for p in [root, *root.children(recursive=True)]
        for c in p.net_connections(kind="tcp")
        if c.raddr and c.raddr.port == server_port
    ]


def database_connections_drop(proc: subprocess.Popen[str]) -> int:
    """Terminate the PostgreSQL backends serving `proc` and its children, as a server restart,
    a failover or an idle-connection reaper does; returns how many there were."""
    ports = _client_ports(proc, int(connection.settings_dict.get("PORT") or 5432))
    with connection.cursor() as cursor:
        # With a timeout, pg_terminate_backend returns once the backend has exited.
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND client_port = ANY(%s)",
            [ports],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def redis_connections_drop(proc: subprocess.Popen[str]) -> int:
    """Close the Redis server's connections from `proc` and its children (subscribers
    included), as a Redis restart or failover does; returns how many there were."""
    client = get_redis()
    host = client.connection_pool.connection_kwargs.get("host", "127.0.0.1")
    ports = _client_ports(proc, int(client.connection_pool.connection_kwargs.get("port", 6379)))
    return sum(
        int(client.execute_command("CLIENT", "KILL", "ADDR", f"{host}:{port}", "SKIPME", "yes"))
        for port in ports
    )


def browser_signal(proc: subprocess.Popen[str], *, part: str, sig: int) -> list[psutil.Process]:
    """Signal the bot browser's processes of one kind under `proc` and return them: Chromium's
    `renderer`s (SIGKILL: a tab crashing, as the kernel's OOM killer picks one; SIGSTOP: a hung
    tab), its `browser` (SIGKILL: the whole browser exiting) or Playwright's `driver`."""
    found = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            args = child.cmdline()
        except psutil.Error:
            continue
        if args and Path(args[0]).parts[-2:] == ("driver", "node"):
            kind = "driver"
        elif args and "chrom" in Path(args[0]).name:
            kind = next((a.split("=", 1)[1] for a in args if a.startswith("--type=")), "browser")
        else:
            continue
        if kind == part:
            found.append(child)
    for child in found:
        with contextlib.suppress(psutil.NoSuchProcess):  # a spare renderer may have exited
            child.send_signal(sig)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_line(proc: subprocess.Popen[str], needle: str, timeout_s: float) -> list[str]:
    """Read the process's output until `needle` appears (its own readiness signal)."""
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    os.set_blocking(proc.stdout.fileno(), True)
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError(f"process exited early:\n{''.join(seen)}")
            continue
        seen.append(line)
        if needle in line:
            return seen
    raise TimeoutError(f"no {needle!r} within {timeout_s}s:\n{''.join(seen)}")


def _drain(proc: subprocess.Popen[str], tail: deque[str]) -> None:
    """Keep reading output in the background so the child never blocks on a full pipe."""

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line)
            if os.environ.get("TEST_SHOW_PROCESS_OUTPUT"):
                sys.stderr.write(line)

    threading.Thread(target=pump, daemon=True).start()


def stop(proc: subprocess.Popen[str], *, sig: int = signal.SIGTERM, timeout_s: float = 15) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def _running(
    cmd: list[str], env: dict[str, str], *, ready_line: str
) -> Iterator[subprocess.Popen[str]]:
    """Start `cmd` in its own process group; yield once it prints `ready_line`; stop it after."""
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    label = f"{' '.join([Path(cmd[0]).name, *cmd[1:]])[:100]} (pid {proc.pid})"
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    try:
        tail.extend(_wait_for_line(proc, ready_line, timeout_s=60))
        _drain(proc, tail)
        with _tails_lock:
            _tails[label] = tail
        yield proc
    finally:
        with _tails_lock:
            _tails.pop(label, None)
        stop(proc)


@dataclass
class RedisServer:
    """A private real `redis-server` that a test may restart without disturbing the suite's
    shared one (the workers, Daphne and the test process all use that)."""

    folder: Path
    port: int = field(default_factory=lambda: free_port())
    proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--dir", str(self.folder), "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )  # fmt: skip
        _wait_for_line(self.proc, "Ready to accept connections", timeout_s=15)
        _drain(self.proc, deque(maxlen=TAIL_LINES))  # a full pipe would stall the server

    def restart(self, *, down_s: float) -> None:
        """Stop it (its data saved) and start it again after `down_s`: a persistent Redis
        restarting, or a failover to a replica, as clients see them."""
        assert self.proc is not None
        redis.Redis.from_url(self.url).shutdown(save=True)
        self.proc.wait(timeout=15)
        time.sleep(down_s)  # the outage itself, not a wait for something
        self.start()


@contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            stop(server.proc)


@contextmanager
def celery_worker(
    *queues: str,
    concurrency: int = 1,
    pool: str = "prefork",
    name: str = "test",
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[str]]:
    """A real `celery worker` consuming `queues`; yields once it reports ready."""
    cmd = [
        str(BIN / "celery"),
        "-A",
        "vexa_site",
        "worker",
        "-Q",
        ",".join(queues),
        "-c",
        str(concurrency),
        "-P",
        pool,
        "-n",
        f"{name}-{os.getpid()}-{free_port()}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "INFO",
    ]
    with _running(cmd, product_env(**(env or {})), ready_line="ready.") as proc:
        yield proc


@contextmanager
def daphne_server(env: dict[str, str] | None = None) -> Iterator[str]:
    """A real Daphne serving the product; yields its base URL (http://127.0.0.1:PORT)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [
        str(BIN / "daphne"),
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "vexa_site.asgi:application",
    ]
    env_ = product_env(PUBLIC_BASE_URL=base, **(env or {}))
    with _running(cmd, env_, ready_line="Listening on TCP address"):
        yield base
