"""How passes reach the model: directly (CPU), or batched across sessions (GPU).

On a CPU one pass per call is fastest (batching slows the encoder, `shared/WHISPER.md`); a
thread-pool worker's sessions run their passes concurrently on one model copy
(`WHISPER_NUM_WORKERS`). On a GPU one call per pass leaves the device idle between tiny
kernels; with `WHISPER_BATCH_SIZE` > 1 a per-process loop collects the passes that sessions
submit within `WHISPER_BATCH_WAIT_MS` and runs them as one batched encoder + decoder call
(`model.run_passes`), so one GPU serves many meetings (`shared/GPU.md`).
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

from django.conf import settings

from transcripts.engine.model import PassRequest, PassResult, run_passes

_lock = threading.Lock()
_batcher: Batcher | None = None


class Batcher:
    """One dispatcher thread: take the first waiting pass, gather more for `wait_s`, run all."""

    def __init__(self, *, max_batch: int, wait_s: float) -> None:
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.queue: queue.Queue[tuple[PassRequest, Future[PassResult]]] = queue.Queue()
        self.batches: list[int] = []  # recent batch sizes (observability, benchmarks)
        threading.Thread(target=self._loop, name="whisper-batcher", daemon=True).start()

    def submit(self, request: PassRequest) -> PassResult:
        future: Future[PassResult] = Future()
        self.queue.put((request, future))
        return future.result()

    def _loop(self) -> None:
        while True:
            batch = [self.queue.get()]
            try:
                while len(batch) < self.max_batch:
                    batch.append(self.queue.get(timeout=self.wait_s))
            except queue.Empty:
                pass
            self.batches = [*self.batches[-99:], len(batch)]
            try:
                results = run_passes([request for request, _future in batch])
            except Exception as exc:  # handed to every waiting session
                for _request, future in batch:
                    future.set_exception(exc)
                continue
            for (_request, future), result in zip(batch, results, strict=True):
                future.set_result(result)


_active = 0


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


def beam_for_load() -> int:
    """`WHISPER_BEAM_SIZE` while this process serves at most `WHISPER_BEAM_MAX_SESSIONS`
    sessions; greedy beyond, where CPU time buys more streams than accuracy (bench/wer.py)."""
    if _active > settings.WHISPER_BEAM_MAX_SESSIONS:
        return 1
    return int(settings.WHISPER_BEAM_SIZE)


def context_for_load() -> float:
    """`WHISPER_CONTEXT_S` while this process serves at most `WHISPER_CONTEXT_MAX_SESSIONS`
    sessions; none beyond (left context costs more per pass than beam search, bench/wer.py)."""
    if _active > settings.WHISPER_CONTEXT_MAX_SESSIONS:
        return 0.0
    return float(settings.WHISPER_CONTEXT_S)


def submit(request: PassRequest) -> PassResult:
    """Run one pass (blocking the calling session's thread until its result is ready)."""
    global _batcher
    if request.beam_size is None:
        request.beam_size = beam_for_load()
    if settings.WHISPER_BATCH_SIZE <= 1:
        return run_passes([request])[0]
    with _lock:
        if _batcher is None:
            _batcher = Batcher(
                max_batch=settings.WHISPER_BATCH_SIZE,
                wait_s=settings.WHISPER_BATCH_WAIT_MS / 1000,
            )
    return _batcher.submit(request)
