"""How passes reach the model, and how much accuracy a worker process can afford per pass.

A thread-pool worker's sessions submit passes from their own threads; `WHISPER_NUM_WORKERS` model
calls run at once on one model copy (CTranslate2 releases the GIL). With `WHISPER_BATCH_SIZE` > 1
that many dispatcher threads each take the first waiting pass and the others already queued (or
about to be: up to `WHISPER_BATCH_WAIT_MS` while a session between passes may still submit) and
run them as one batched encoder + decoder call (`model.run_passes`). On a GPU that is how one
device serves many meetings (`shared/GPU.md`). A lone session never waits for company. On a CPU
a batch pays only once passes queue for the model workers (`CPU_UNBATCHED_SESSIONS_PER_WORKER`).

Beam search and left context make passes dearer: a process keeps them on every pass only while
it serves few sessions (`WHISPER_*_MAX_SESSIONS`) and while its passes stay within the pass
budget (`PassBudget`). Beyond, its sessions keep them for confirming passes only
(`confirming_passes_for_load`), while their drafts still come within the draft budget.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import socket
import statistics
import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Any

import redis
from django.conf import settings

from transcripts.engine.model import PassRequest, PassResult, resolved_device, run_passes
from vexa_site.redis import get_redis

log = logging.getLogger(__name__)
_lock = threading.Lock()
_batcher: Batcher | None = None
_active = 0  # sessions this process is transcribing
# On a CPU, passes run one by one while the process serves at most this many sessions per model
# worker, and in batches beyond (bench/latency.py, 2 cores, batches of up to 4, interleaved runs:
# 8 sessions' draft p50 0.47-0.51 s against 0.66-0.72 s one by one, final p50 1.20-1.24 s
# against 1.41-1.48 s; 4 sessions' beam-search passes batched 0.31-0.32 s against 0.24-0.28 s).
CPU_UNBATCHED_SESSIONS_PER_WORKER = 2


class Batcher:
    """`dispatchers` threads, each running a fair share of the waiting passes per model call."""

    def __init__(self, *, max_batch: int, wait_s: float, dispatchers: int) -> None:
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.dispatchers = dispatchers
        self.queue: queue.Queue[tuple[PassRequest, Future[PassResult]]] = queue.Queue()
        self.batches: list[int] = []  # recent batch sizes (observability, benchmarks)
        self.taken = 0  # passes in batches being gathered or run
        for index in range(dispatchers):
            threading.Thread(
                target=self._loop, name=f"whisper-batcher-{index}", daemon=True
            ).start()

    def submit(self, request: PassRequest) -> PassResult:
        future: Future[PassResult] = Future()
        self.queue.put((request, future))
        return future.result()

    def _share(self) -> int:
        # Every dispatcher (a core each on a CPU) stays busy: one that took all of 8 sessions'
        # passes would run them on one core while the other idles.
        return max(1, min(self.max_batch, math.ceil(_active / self.dispatchers)))

    def _take(
        self, batch: list[tuple[PassRequest, Future[PassResult]]], *, timeout: float | None
    ) -> bool:
        """Move the next waiting pass into `batch`, waiting up to `timeout` seconds (None: until
        one comes)."""
        try:
            item = self.queue.get(timeout=max(0.0, timeout) if timeout is not None else None)
        except queue.Empty:
            return False
        with _lock:
            self.taken += 1
        batch.append(item)
        return True

    def _gather(self) -> list[tuple[PassRequest, Future[PassResult]]]:
        batch: list[tuple[PassRequest, Future[PassResult]]] = []
        self._take(batch, timeout=None)
        deadline = time.monotonic() + self.wait_s
        while len(batch) < self._share():
            if self._take(batch, timeout=0):
                continue
            # Wait only while some session's pass is not in a batch yet: when every other one
            # already is, nobody else can come and the wait would be pure delay.
            remaining = deadline - time.monotonic()
            if _active - self.taken <= 0 or not self._take(batch, timeout=remaining):
                break
        return batch

    def _loop(self) -> None:
        while True:
            self.serve(self._gather())

    def serve(self, batch: list[tuple[PassRequest, Future[PassResult]]]) -> None:
        """Run a gathered batch and hand each pass its result."""
        self.batches = [*self.batches[-99:], len(batch)]
        # Greedy passes first, each beam width its own call whose results leave as soon as it
        # ends: a draft gathered with a confirming pass (beam search, a forced prefix) does not
        # wait for it.
        for beam in sorted({request.beam_size or 0 for request, _future in batch}):
            self._run([item for item in batch if (item[0].beam_size or 0) == beam])

    def _run(self, batch: list[tuple[PassRequest, Future[PassResult]]]) -> None:
        try:
            results = run_passes([request for request, _future in batch])
        except Exception as exc:  # handed to every waiting session
            for _request, future in batch:
                future.set_exception(exc)
            return
        finally:
            with _lock:
                self.taken -= len(batch)
        for (_request, future), result in zip(batch, results, strict=True):
            future.set_result(result)


class ActiveSession:
    """Counts the sessions this process is transcribing (beam search only while few)."""

    def __enter__(self) -> None:
        global _active
        with _lock:
            _active += 1

    def __exit__(self, *exc: object) -> None:
        global _active
        with _lock:
            _active -= 1


class PassBudget:
    """Learns how many sessions this process can serve with left context, and with beam search,
    while a pass (its queueing included) stays within `TRANSCRIPTION_PASS_BUDGET_S`; and with
    confirming passes, while new words show as drafts within `TRANSCRIPTION_DRAFT_BUDGET_S` of
    their audio arriving.

    The configured caps (`WHISPER_CONTEXT_MAX_SESSIONS`, `WHISPER_BEAM_MAX_SESSIONS`) suit the
    machine they were measured on; on one 2.5x slower a single session's passes with context
    took 0.56 s and its drafts came 1.33 s after the words (0.5 s without context). When the
    median of the last `SAMPLE` passes made with a feature exceeds the budget, the feature is
    kept only for fewer sessions than were running; the lesson is forgotten after
    `TRANSCRIPTION_PASS_BUDGET_RETRY_S` (the host may have become less busy).

    Confirming passes are weighed by draft latency, not by their own time: on a host 1.4x
    slower than the one they were tuned on, 8 sessions' confirming passes (left context, beam
    search) took two thirds of the model's time; their drafts came 2.1 s after the words
    (1.1 s without them) and fell further behind as the run went on (bench/latency.py). Draft
    latency is a word's (the targets' measure), its median taken over the last `DRAFT_SAMPLE`
    words shown (about 15 s of 4 sessions): a median per pass ran well below the words' (1.1 s
    against 2 s at 8 sessions), and over 8 or 32 passes tripped at 1.02-1.04 s for 4 sessions
    whose drafts came 0.7 s after the words (p50).

    Confirming passes on a host far too slow for them do not wait for the full sample: once the
    first `OVERLOAD_DRAFT_SAMPLE` words have a median over `OVERLOAD_FACTOR` times the draft
    budget, beam search goes with them (left context already has). On a host whose four bots'
    browsers, driver and worker took 1.6 of its 2 cores (AVX2 only), four meetings' drafts were
    15-20 s behind before 200 words were counted: confirming passes over a
    buffer that grew as they fell behind took 10-17 s each, and after them beam search would
    have needed its own sample of slow passes (bench/latency.py, 2026-12-07). Passes' own times
    have no such shortcut: a lone session's first passes, beside a browser starting, took 1.5 s.
    `TRANSCRIPTION_PASS_BUDGET_S=0` turns all of it off.

    A retry is a probe that costs a sample of slow passes or late drafts (about 20 s of drafts
    1.7 s late at four meetings on 2 cores): while the load stays, every retry trips again. So a
    probe that trips again doubles the time to the next one (up to `MAX_RETRY_BACKOFF` times
    the retry time), and one that holds (a full sample within the budget) resets it.
    """

    SAMPLE = 8
    DRAFT_SAMPLE = 200
    OVERLOAD_FACTOR = 3.0
    OVERLOAD_DRAFT_SAMPLE = 24  # a few passes' new words
    MAX_RETRY_BACKOFF = 8
    FEATURES = ("context", "beam", "confirming")
    MEASURES = {
        "context": "passes with left context took",
        "beam": "passes with beam search took",
        "confirming": "drafts with confirming passes came after their audio by",
    }

    def __init__(self) -> None:
        self.recent: dict[str, deque[float]] = {
            feature: deque(maxlen=self.samples(feature)) for feature in self.FEATURES
        }
        self.caps: dict[str, int] = {}
        self.learned_at = 0.0
        self.retry_backoff = 1  # the retry time's multiple (doubled by each probe that failed)
        self.probing: set[str] = set()  # features a retry gave back, not yet judged again

    def samples(self, feature: str) -> int:
        """How many recent samples a feature's median is taken over (passes; words for
        "confirming")."""
        return self.DRAFT_SAMPLE if feature == "confirming" else self.SAMPLE

    def cap(self, feature: str, configured: int) -> int:
        """The most sessions `feature` may be used for now."""
        with _lock:
            if self.caps and time.monotonic() - self.learned_at > self.retry_s():
                self.probing = set(self.caps)
                self.caps.clear()
            return min(configured, self.caps.get(feature, configured))

    def retry_s(self) -> float:
        """How long a lesson holds before the features are tried again."""
        return float(settings.TRANSCRIPTION_PASS_BUDGET_RETRY_S * self.retry_backoff)

    def record(self, *, feature: str | None, seconds: float, sessions: int) -> None:
        """Account a pass made with `feature` (its costliest one) while `sessions` ran: its
        time, or for "confirming" the latency of the drafts it showed first."""
        budget_s = float(settings.TRANSCRIPTION_PASS_BUDGET_S)
        if feature == "confirming" and budget_s > 0:
            budget_s = float(settings.TRANSCRIPTION_DRAFT_BUDGET_S)
        if feature is None or budget_s <= 0:
            return
        with _lock:
            recent = self.recent[feature]
            recent.append(seconds)
            full = len(recent) >= self.samples(feature)
            if not full and (feature != "confirming" or len(recent) < self.OVERLOAD_DRAFT_SAMPLE):
                return
            median = statistics.median(recent)
            overloaded = feature == "confirming" and median > self.OVERLOAD_FACTOR * budget_s
            if not overloaded and (not full or median <= budget_s):
                if full and feature in self.probing:  # the retry held
                    self.probing.discard(feature)
                    self.retry_backoff = 1
                return
            cap = max(0, sessions - 1)
            dropped = ("confirming", "beam") if overloaded else (feature,)
            for name in dropped:
                self.caps[name] = min(cap, self.caps.get(name, cap))
            if self.probing.intersection(dropped):
                # Once a try: another feature it gave back that trips later doubles nothing.
                self.retry_backoff = min(self.MAX_RETRY_BACKOFF, 2 * self.retry_backoff)
                self.probing.clear()
            self.learned_at = time.monotonic()
            retry_s = self.retry_s()
            for samples in self.recent.values():
                samples.clear()
        log.warning(
            "%s %.2f s (median) at %d session(s), over the %.2f s budget: "
            "keeping %s for at most %d session(s), trying again in %.0f s",
            self.MEASURES[feature],
            median,
            sessions,
            budget_s,
            "it and beam search" if overloaded else "it",
            cap,
            retry_s,
        )

    def reset(self) -> None:
        with _lock:
            self.caps.clear()
            self.retry_backoff, self.probing = 1, set()
            for samples in self.recent.values():
                samples.clear()


budget = PassBudget()


class PassStats:
    """A worker's passes over the last `STATS_EVERY_S`, logged as one line while it transcribes:
    how many of each kind, how long they took (queueing included), and how soon new words showed
    as drafts. How an operator sees a worker near its limit before the budget steps in."""

    STATS_EVERY_S = 60.0

    def __init__(self) -> None:
        self.since = time.monotonic()
        self.walls: dict[str, list[float]] = {}
        self.draft_latencies: list[float] = []
        self.last: dict[str, Any] = {}

    def reset(self) -> None:
        with _lock:
            self.since = time.monotonic()
            self.walls, self.draft_latencies = {}, []

    def add_pass(self, kind: str, seconds: float) -> None:
        with _lock:
            self.walls.setdefault(kind, []).append(seconds)

    def add_draft_latency(self, seconds: float) -> None:
        with _lock:
            self.draft_latencies.append(seconds)

    def summary(self, *, now: float | None = None) -> str | None:
        """The line for a window that is over (a new one starts), or None; `last` keeps the
        window's figures for `worker_stats_announce`."""
        now = time.monotonic() if now is None else now
        with _lock:
            if now - self.since < self.STATS_EVERY_S:
                return None
            walls, latencies, began = self.walls, self.draft_latencies, self.since
            self.walls, self.draft_latencies, self.since = {}, [], now
        if not walls:
            return None
        kinds = ", ".join(
            f"{len(seconds)} {kind} (p50 {statistics.median(seconds):.2f} s)"
            for kind, seconds in sorted(walls.items())
        )
        line = f"passes in the last {now - began:.0f} s at {_active} session(s): {kinds}"
        median = statistics.median(latencies) if latencies else None
        if median is not None:
            line += f"; new words showed as drafts {median:.2f} s (p50) after their audio"
        self.last = {
            "window_s": round(now - began, 1),
            "sessions": _active,
            "passes": sum(len(seconds) for seconds in walls.values()),
            "draft_p50_s": None if median is None else round(median, 3),
        }
        return line


stats = PassStats()

# Each transcription process's latest window (`PassStats.last` plus when), by host:pid: what
# the operator's status and `GET /metrics` show of how soon words appear.
WORKERS_KEY = "vexa:transcription:workers"
WORKERS_KEY_TTL_S = 3600


def worker_stats_announce(window: dict[str, Any]) -> None:
    """Publish this process's latest window of passes for `vexa_site.health`; Redis away only
    costs the announcement (the passes go on)."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    try:
        client = get_redis()
        client.hset(WORKERS_KEY, name, json.dumps({**window, "at": time.time()}))
        client.expire(WORKERS_KEY, WORKERS_KEY_TTL_S)
    except redis.RedisError as exc:
        log.warning("could not announce this worker's pass stats: %s", exc)


def beam_for_load() -> int:
    """`WHISPER_BEAM_SIZE` while this process serves at most `WHISPER_BEAM_MAX_SESSIONS`
    sessions (fewer where its passes ran over budget); greedy beyond, where CPU time buys more
    streams than accuracy (bench/wer.py)."""
    if _active > budget.cap("beam", settings.WHISPER_BEAM_MAX_SESSIONS):
        return 1
    return int(settings.WHISPER_BEAM_SIZE)


def context_for_load() -> float:
    """`WHISPER_CONTEXT_S` while this process serves at most `WHISPER_CONTEXT_MAX_SESSIONS`
    sessions (fewer where its passes ran over budget); none beyond (left context costs more per
    pass than beam search, bench/wer.py)."""
    if _active > budget.cap("context", settings.WHISPER_CONTEXT_MAX_SESSIONS):
        return 0.0
    return float(settings.WHISPER_CONTEXT_S)


def confirming_passes_for_load() -> bool:
    """Whether sessions decode greedy drafts and take their finals from a pass with left context
    and beam search at each pause (`StreamingTranscriber.confirming_passes`): where this process
    serves too many sessions for left context on every pass (`context_for_load`), and not so
    many that their drafts came late (`drafts_shown`)."""
    return (
        bool(settings.TRANSCRIPTION_CONFIRMING_PASSES)
        and settings.WHISPER_CONTEXT_S > 0
        and context_for_load() == 0.0
        and _active <= budget.cap("confirming", _active)
    )


def drafts_shown(*, latencies_s: list[float]) -> None:
    """Account how long after their audio arrived each word a session's pass showed first came
    out: in the stats, and while this process runs confirming passes, in their budget (they are
    dropped at this load when drafts come late)."""
    budgeted = confirming_passes_for_load()
    for latency_s in latencies_s:
        stats.add_draft_latency(latency_s)
        if budgeted:
            budget.record(feature="confirming", seconds=latency_s, sessions=_active)


def left_context_for_load() -> float:
    """The confirmed audio a session keeps in its buffer: what its confirming passes read, or
    what every pass reads (`context_for_load`)."""
    if confirming_passes_for_load():
        return float(settings.WHISPER_CONTEXT_S)
    return context_for_load()


def pipeline_depth_for_load() -> int:
    """How many passes each session may have running at once: the model workers this process
    has (`WHISPER_NUM_WORKERS`, one core each on a CPU) shared among its sessions, at most
    `TRANSCRIPTION_PIPELINE_DEPTH`; 1 as soon as every worker has a session of its own."""
    share = settings.WHISPER_NUM_WORKERS // max(1, _active)
    return max(1, min(int(settings.TRANSCRIPTION_PIPELINE_DEPTH), share))


def submit(request: PassRequest) -> PassResult:
    """Run one pass (blocking the calling session's thread until its result is ready) and
    account its time against the pass budget and in the stats."""
    feature = None
    kind = {None: "passes", 1: "drafts"}.get(request.beam_size, "confirming passes")
    if request.beam_size is None:
        request.beam_size = beam_for_load()
        # A slow pass is blamed on the costliest feature it used (a pass whose beam the engine
        # chose, a confirming pass or its drafts, is not the budget's to trim).
        if request.prefix and context_for_load() > 0:
            feature = "context"
        elif request.beam_size > 1:
            feature = "beam"
    sessions = _active
    began = time.monotonic()
    result = _run(request)
    seconds = time.monotonic() - began
    budget.record(feature=feature, seconds=seconds, sessions=sessions)
    stats.add_pass(kind, seconds)
    line = stats.summary()
    if line:
        log.info(line)
        worker_stats_announce(stats.last)
    return result


def _batching_pays() -> bool:
    # A CPU core runs a batch of B passes in less time than B passes one by one, but the batch's
    # passes all end when the slowest does: that pays only where passes wait for a core anyway.
    if settings.WHISPER_BATCH_SIZE <= 1:
        return False
    if resolved_device() != "cpu":
        return True
    return _active > CPU_UNBATCHED_SESSIONS_PER_WORKER * settings.WHISPER_NUM_WORKERS


def _run(request: PassRequest) -> PassResult:
    global _batcher
    if not _batching_pays():
        return run_passes([request])[0]
    with _lock:
        if _batcher is None:
            _batcher = Batcher(
                max_batch=settings.WHISPER_BATCH_SIZE,
                wait_s=settings.WHISPER_BATCH_WAIT_MS / 1000,
                dispatchers=settings.WHISPER_NUM_WORKERS,
            )
    return _batcher.submit(request)
