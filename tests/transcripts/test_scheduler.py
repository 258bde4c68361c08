"""How a worker process trades accuracy for throughput as it takes on sessions."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from django.test import override_settings

from bots.simulator.speech import make_speech_wav
from meetings.stream import read_wav_pcm16k
from transcripts.engine import scheduler
from transcripts.engine.model import PassRequest, PassResult
from vexa_site.redis import get_redis


@pytest.fixture(autouse=True)
def fresh_budget() -> Iterator[None]:
    scheduler.budget.reset()
    scheduler.stats.reset()
    yield
    scheduler.budget.reset()


def sessions(count: int) -> ExitStack:
    stack = ExitStack()
    for _ in range(count):
        stack.enter_context(scheduler.ActiveSession())
    return stack


@pytest.mark.parametrize(("count", "beam", "context"), [(1, 3, 5.0), (2, 3, 5.0), (3, 1, 0.0)])
def test_beam_and_left_context_are_dropped_beyond_the_configured_sessions(
    count: int, beam: int, context: float
) -> None:
    with override_settings(
        WHISPER_BEAM_SIZE=3,
        WHISPER_BEAM_MAX_SESSIONS=2,
        WHISPER_CONTEXT_S=5.0,
        WHISPER_CONTEXT_MAX_SESSIONS=2,
    ):
        with sessions(count):
            assert scheduler.beam_for_load() == beam
            assert scheduler.context_for_load() == context
        assert scheduler.context_for_load() == 5.0  # the sessions ended
        assert scheduler.beam_for_load() == 3


def speech(tmp_path: Path, text: str) -> np.ndarray:
    pcm = read_wav_pcm16k(make_speech_wav(text, tmp_path / "speech.wav"))
    return np.frombuffer(pcm, np.int16).astype(np.float32) / 32768


BUDGETED = {
    "WHISPER_BEAM_SIZE": 3,
    "WHISPER_BEAM_MAX_SESSIONS": 2,
    "WHISPER_CONTEXT_S": 5.0,
    "WHISPER_CONTEXT_MAX_SESSIONS": 2,
    "WHISPER_BATCH_SIZE": 1,
}


def test_left_context_is_dropped_where_its_passes_run_over_the_budget(tmp_path: Path) -> None:
    audio = speech(tmp_path, "The morning train was late again because of the snow.")
    # No CPU passes a real pass in a millisecond: these passes are over budget on any machine.
    with override_settings(**BUDGETED, TRANSCRIPTION_PASS_BUDGET_S=0.001), sessions(2):
        for _ in range(scheduler.PassBudget.SAMPLE):
            assert scheduler.context_for_load() == 5.0
            scheduler.submit(PassRequest(audio=audio, language="en", prefix="The morning"))
        assert scheduler.context_for_load() == 0.0
        assert scheduler.beam_for_load() == 3  # blamed on the context, not on beam search
    with override_settings(**BUDGETED, TRANSCRIPTION_PASS_BUDGET_S=0.001), sessions(1):
        assert scheduler.context_for_load() == 5.0  # fewer sessions than when it was too slow


def test_passes_within_the_budget_keep_context_and_beam(tmp_path: Path) -> None:
    audio = speech(tmp_path, "Please bring the revenue numbers.")
    with override_settings(**BUDGETED, TRANSCRIPTION_PASS_BUDGET_S=60.0), sessions(2):
        for _ in range(scheduler.PassBudget.SAMPLE):
            scheduler.submit(PassRequest(audio=audio, language="en", prefix="Please"))
            scheduler.submit(PassRequest(audio=audio, language="en"))
        assert scheduler.context_for_load() == 5.0
        assert scheduler.beam_for_load() == 3


def test_slow_beam_search_is_dropped_for_as_many_sessions(tmp_path: Path) -> None:
    with override_settings(**BUDGETED, TRANSCRIPTION_PASS_BUDGET_S=0.5):
        # However slow, a few passes do not decide it (a browser starting beside the first).
        for _ in range(scheduler.PassBudget.SAMPLE - 1):
            scheduler.budget.record(feature="beam", seconds=30.0, sessions=1)
        with sessions(1):
            assert scheduler.beam_for_load() == 3
        scheduler.budget.reset()
        for _ in range(scheduler.PassBudget.SAMPLE):
            scheduler.budget.record(feature="beam", seconds=0.8, sessions=1)
        with sessions(1):
            assert scheduler.beam_for_load() == 1
            assert scheduler.context_for_load() == 5.0


@pytest.mark.parametrize(("count", "batches"), [(2, []), (3, [2])])
def test_a_cpu_batches_passes_only_beyond_two_sessions_per_model_worker(
    tmp_path: Path, count: int, batches: list[int]
) -> None:
    audio = speech(tmp_path, "The morning train was late again.")
    scheduler._batcher = None
    # Long enough for the second pass to join the first on a loaded machine.
    settings = {"WHISPER_BATCH_SIZE": 4, "WHISPER_BATCH_WAIT_MS": 1000, "WHISPER_NUM_WORKERS": 1}
    try:
        with (
            override_settings(**settings, WHISPER_DEVICE="cpu"),
            sessions(count),
            ThreadPoolExecutor(2) as pool,
        ):
            request = PassRequest(audio=audio, language="en", beam_size=1)
            texts = list(pool.map(lambda _: scheduler.submit(request).text, range(2)))
        assert texts[0] == texts[1] != ""
        assert (scheduler._batcher.batches if scheduler._batcher else []) == batches
    finally:
        scheduler._batcher = None


def test_a_budget_of_zero_never_drops_anything() -> None:
    with override_settings(**BUDGETED, TRANSCRIPTION_PASS_BUDGET_S=0), sessions(1):
        for _ in range(2 * scheduler.PassBudget.SAMPLE):
            scheduler.budget.record(feature="context", seconds=30.0, sessions=1)
        assert scheduler.context_for_load() == 5.0


def test_the_lesson_is_forgotten_after_the_retry_time() -> None:
    with (
        override_settings(
            **BUDGETED, TRANSCRIPTION_PASS_BUDGET_S=0.5, TRANSCRIPTION_PASS_BUDGET_RETRY_S=60
        ),
        sessions(1),
    ):
        for _ in range(scheduler.PassBudget.SAMPLE):
            scheduler.budget.record(feature="context", seconds=0.9, sessions=1)
        assert scheduler.context_for_load() == 0.0
        scheduler.budget.learned_at = time.monotonic() - 61  # a minute later
        assert scheduler.context_for_load() == 5.0


def test_a_retry_that_trips_again_waits_twice_as_long_and_one_that_holds_resets_it() -> None:
    """While the load stays, every retry costs a sample of slow passes: back off."""

    def trip(feature: str = "context") -> None:
        for _ in range(scheduler.PassBudget.SAMPLE):
            scheduler.budget.record(feature=feature, seconds=0.9, sessions=1)

    def minutes_later(minutes: float) -> float:
        scheduler.budget.learned_at = time.monotonic() - 60 * minutes - 1
        return scheduler.context_for_load()

    with (
        override_settings(
            **BUDGETED, TRANSCRIPTION_PASS_BUDGET_S=0.5, TRANSCRIPTION_PASS_BUDGET_RETRY_S=60
        ),
        sessions(1),
    ):
        trip()
        assert minutes_later(1) == 5.0  # tried again after the retry time
        trip()  # and still too slow
        assert minutes_later(1) == 0.0
        assert minutes_later(2) == 5.0
        trip()
        assert minutes_later(2) == 0.0
        assert minutes_later(4) == 5.0
        for _ in range(3):
            trip()
            assert minutes_later(8) == 5.0
        trip()
        assert minutes_later(7) == 0.0  # at most 8 retry times
        assert minutes_later(8) == 5.0
        # The host got less busy: this probe holds, and the next lesson waits the retry time.
        for _ in range(scheduler.PassBudget.SAMPLE):
            scheduler.budget.record(feature="context", seconds=0.2, sessions=1)
        assert scheduler.context_for_load() == 5.0
        trip()
        assert minutes_later(1) == 5.0
        # A try that two features fail doubles the wait once.
        scheduler.budget.reset()
        trip("context")
        trip("beam")
        assert minutes_later(1) == 5.0
        assert scheduler.beam_for_load() == 3
        trip("context")
        trip("beam")
        assert scheduler.budget.retry_s() == 120


@pytest.mark.parametrize(
    ("workers", "depth_setting", "count", "depth"),
    [
        (2, 2, 1, 2),
        (2, 2, 2, 1),
        (2, 2, 3, 1),
        (4, 2, 1, 2),
        (4, 2, 2, 2),
        (4, 8, 1, 4),
        (2, 1, 1, 1),
    ],
)
def test_a_session_overlaps_its_passes_only_while_its_process_has_idle_model_workers(
    workers: int, depth_setting: int, count: int, depth: int
) -> None:
    overrides = override_settings(
        WHISPER_NUM_WORKERS=workers, TRANSCRIPTION_PIPELINE_DEPTH=depth_setting
    )
    with overrides, sessions(count):
        assert scheduler.pipeline_depth_for_load() == depth


@pytest.mark.parametrize(
    ("count", "enabled", "context_s", "confirming", "kept_s"),
    [
        (2, True, 5.0, False, 5.0),
        (3, True, 5.0, True, 5.0),
        (3, False, 5.0, False, 0.0),
        (3, True, 0.0, False, 0.0),
    ],
)
def test_sessions_beyond_the_context_cap_keep_their_context_for_confirming_passes(
    count: int, enabled: bool, context_s: float, confirming: bool, kept_s: float
) -> None:
    with (
        override_settings(
            WHISPER_CONTEXT_S=context_s,
            WHISPER_CONTEXT_MAX_SESSIONS=2,
            TRANSCRIPTION_CONFIRMING_PASSES=enabled,
        ),
        sessions(count),
    ):
        assert scheduler.confirming_passes_for_load() is confirming
        assert scheduler.left_context_for_load() == kept_s


# Four sessions beyond the context cap: greedy drafts, confirming passes weighed by draft latency.
CONFIRMING = {
    "WHISPER_BEAM_SIZE": 5,
    "WHISPER_BEAM_MAX_SESSIONS": 4,
    "WHISPER_CONTEXT_S": 5.0,
    "WHISPER_CONTEXT_MAX_SESSIONS": 2,
    "TRANSCRIPTION_CONFIRMING_PASSES": True,
    "TRANSCRIPTION_PASS_BUDGET_S": 0.5,
    "TRANSCRIPTION_DRAFT_BUDGET_S": 1.0,
}


@pytest.mark.parametrize(("latency_s", "kept"), [(1.4, False), (0.6, True)])
def test_confirming_passes_are_dropped_where_drafts_come_later_than_the_draft_budget(
    latency_s: float, kept: bool
) -> None:
    with override_settings(**CONFIRMING):
        with sessions(4):
            for _ in range(scheduler.PassBudget.DRAFT_SAMPLE):
                assert scheduler.confirming_passes_for_load()
                scheduler.drafts_shown(latencies_s=[latency_s])
            assert scheduler.confirming_passes_for_load() is kept
            # Without them the buffer keeps no left context (`context_for_load`).
            assert scheduler.left_context_for_load() == (5.0 if kept else 0.0)
        with sessions(3):
            assert scheduler.confirming_passes_for_load()  # fewer sessions than when too late
        with override_settings(TRANSCRIPTION_DRAFT_BUDGET_S=0), sessions(4):
            scheduler.budget.reset()
            for _ in range(2 * scheduler.PassBudget.DRAFT_SAMPLE):
                scheduler.drafts_shown(latencies_s=[30.0])
            assert scheduler.confirming_passes_for_load()


@pytest.mark.parametrize(("latency_s", "overloaded"), [(3.5, True), (2.5, False)])
def test_drafts_far_behind_drop_confirming_passes_and_beam_search_after_a_few_passes(
    latency_s: float, overloaded: bool
) -> None:
    with override_settings(**CONFIRMING):
        with sessions(4):
            for _ in range(scheduler.PassBudget.OVERLOAD_DRAFT_SAMPLE):
                assert scheduler.confirming_passes_for_load()
                scheduler.drafts_shown(latencies_s=[latency_s])
            # Over the budget but not 3x over: the full sample decides, as before.
            assert scheduler.confirming_passes_for_load() is not overloaded
            assert scheduler.beam_for_load() == (1 if overloaded else 5)
        with sessions(3):  # fewer sessions than when it was overloaded
            assert scheduler.confirming_passes_for_load()
            assert scheduler.beam_for_load() == 5


def test_a_worker_sums_up_its_passes_once_a_minute(tmp_path: Path) -> None:
    audio = speech(tmp_path, "Please bring the revenue numbers.")
    with override_settings(**BUDGETED, TRANSCRIPTION_PASS_BUDGET_S=0), sessions(3):
        scheduler.submit(PassRequest(audio=audio, language="en", beam_size=1))
        scheduler.submit(PassRequest(audio=audio, language="en", beam_size=3, prefix="Please"))
        scheduler.submit(PassRequest(audio=audio, language="en"))
        scheduler.drafts_shown(latencies_s=[0.4, 0.8])
        began = scheduler.stats.since
        assert scheduler.stats.summary(now=began + 30) is None  # the minute is not over
        line = scheduler.stats.summary(now=began + 60)
    assert line is not None
    assert line.startswith("passes in the last 60 s at 3 session(s): 1 confirming passes (p50 ")
    assert ", 1 drafts (p50 " in line
    assert ", 1 passes (p50 " in line
    assert line.endswith("; new words showed as drafts 0.60 s (p50) after their audio")
    last = {"window_s": 60.0, "sessions": 3, "passes": 3, "draft_p50_s": 0.6}
    assert scheduler.stats.last == last
    assert scheduler.stats.summary(now=began + 120) is None  # a new window, and nothing in it
    # The operator's status reads each worker's latest window from Redis.
    get_redis().delete(scheduler.WORKERS_KEY)
    scheduler.worker_stats_announce(scheduler.stats.last)
    [(name, raw)] = get_redis().hgetall(scheduler.WORKERS_KEY).items()
    assert (name.decode() if isinstance(name, bytes) else name).endswith(f":{os.getpid()}")
    announced = json.loads(raw)
    assert announced.pop("at") == pytest.approx(time.time(), abs=5)
    assert announced == last
    get_redis().delete(scheduler.WORKERS_KEY)


def test_passes_whose_beam_the_engine_chose_are_not_the_budgets_to_trim(tmp_path: Path) -> None:
    audio = speech(tmp_path, "The morning train was late again.")
    with override_settings(**BUDGETED, TRANSCRIPTION_PASS_BUDGET_S=0.001), sessions(1):
        for _ in range(scheduler.PassBudget.SAMPLE):
            scheduler.submit(PassRequest(audio=audio, language="en", prefix="The", beam_size=3))
        assert scheduler.context_for_load() == 5.0
        assert scheduler.beam_for_load() == 3


def test_a_batch_hands_back_its_greedy_passes_before_its_beam_search_ones(
    tmp_path: Path,
) -> None:
    """A draft gathered with a confirming pass (beam search) does not wait for it."""
    audio = speech(tmp_path, "The morning train was late again because of the snow.")
    batcher = scheduler.Batcher(max_batch=4, wait_s=0.0, dispatchers=0)
    finished: list[int] = []

    def record(beam: int, _future: Future[PassResult]) -> None:
        finished.append(beam)

    batch: list[tuple[PassRequest, Future[PassResult]]] = []
    for beam in (5, 1, 1):
        request = PassRequest(audio=audio, language="en", beam_size=beam)
        future: Future[PassResult] = Future()
        future.add_done_callback(partial(record, beam))
        batch.append((request, future))
    batcher.taken = len(batch)
    with override_settings(WHISPER_DEVICE="cpu"):
        batcher.serve(batch)
    assert finished == [1, 1, 5]
    assert all("train" in future.result().text.lower() for _request, future in batch)
    assert batcher.taken == 0
