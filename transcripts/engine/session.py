"""Running one session: read its stream, feed the streaming transcriber, store what it emits.

`session_transcribe` is what the `transcribe_session` task calls. It returns when the stream's
`end` entry has been processed (or the meeting ended and the stream stayed silent), when another
worker already holds the session, or raises `LeaseLost` when a successor took over.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

from django.conf import settings

from meetings.models import TERMINAL_STATUSES, MeetingSession
from meetings.stream import SessionStream, StreamEntry, entry_id_key
from transcripts.engine import scheduler
from transcripts.engine.lease import Lease
from transcripts.engine.model import PassRequest, PassResult
from transcripts.engine.store import emission_store, session_claim
from transcripts.engine.streaming import Emission, EngineConfig, StreamingTranscriber
from vexa_site.db import db_retry
from vexa_site.redis import get_job_redis

log = logging.getLogger(__name__)

READ_BLOCK_MS = 200
# While a pass runs and another may start, the loop wakes at least this often to notice its end.
PIPELINE_POLL_S = 0.02
# The loop renews the session's lease at most this often (it turns many times a second while
# passes overlap); every pass renews it too.
LEASE_RENEW_S = 1.0
READ_COUNT = 100
# A session whose meeting is over and whose stream stays silent this long is closed without an
# `end` entry (the bot died before writing it).
ORPHAN_IDLE_S = 30.0


def engine_config(bot_config: dict[str, Any]) -> EngineConfig:
    hotwords = bot_config.get("hotwords")
    if isinstance(hotwords, list):
        hotwords = " ".join(str(h) for h in hotwords)
    language = bot_config.get("language") or None
    return EngineConfig(
        language=None if language == "auto" else language,
        task=bot_config.get("task") or "transcribe",
        prompt=str(bot_config.get("prompt") or bot_config.get("initial_prompt") or ""),
        hotwords=str(hotwords) if hotwords else None,
    )


class Arrivals:
    """When stream entries reached Redis, on this process's monotonic clock.

    An entry id's milliseconds are Redis's clock when the entry was added. The smallest gap
    seen between that and our clock as entries are read is the offset between the two clocks
    (the loop blocks on reads, so some entries are read the moment they come; hosts' clock skew
    is absorbed too). Timing by read alone would miss the wait of audio that came while the
    loop ran a pass.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.offset_s = math.inf

    def read(self, entries: list[StreamEntry]) -> None:
        now = self.clock()
        for entry in entries:
            self.offset_s = min(self.offset_s, now - entry_id_key(entry.id)[0] / 1000)

    def __call__(self, entry: StreamEntry) -> float:
        if math.isinf(self.offset_s):
            return self.clock()
        return entry_id_key(entry.id)[0] / 1000 + self.offset_s


def transcriber_for(
    session: MeetingSession,
    state: dict[str, Any],
    lease: Lease,
    passes: ThreadPoolExecutor | None = None,
    arrivals: Arrivals | None = None,
) -> StreamingTranscriber:
    """The session's engine; with `passes`, its passes may overlap on that pool's threads."""

    def run_pass(request: PassRequest) -> PassResult:
        # Renewed before every pass, not only every stream read: on a saturated host one read's
        # catch-up passes took longer than the lease, and the session was handed to a successor.
        lease.renew()
        return scheduler.submit(request)

    def submit_pass(request: PassRequest) -> Future[PassResult]:
        assert passes is not None
        return passes.submit(run_pass, request)

    return StreamingTranscriber(
        session.session_uid,
        run_pass=run_pass,
        config=engine_config(session.meeting.bot_config or {}),
        state=state if state.get("v") else None,
        pass_interval_s=settings.TRANSCRIPTION_PASS_INTERVAL_S,
        left_context_s=scheduler.left_context_for_load(),
        confirming_passes=scheduler.confirming_passes_for_load(),
        submit_pass=submit_pass if passes is not None else None,
        pipeline_depth=scheduler.pipeline_depth_for_load(),  # used only with submit_pass
        arrival=arrivals,
    )


def session_transcribe(*, session_uid: str) -> str:
    """Transcribe a session's stream to its end; see the module docstring. Returns an outcome."""
    session = MeetingSession.objects.select_related("meeting").get(session_uid=session_uid)
    if (session.transcriber_state or {}).get("finished"):
        return "finished"
    lease = Lease(session_uid, client=get_job_redis())
    if not lease.acquire():
        return "busy"
    try:
        state = session_claim(session=session, owner=lease.token)
        if state.get("finished"):
            return "finished"
        depth = settings.TRANSCRIPTION_PIPELINE_DEPTH
        with ExitStack() as stack:
            stack.enter_context(scheduler.ActiveSession())
            # Leaving waits for passes still running (an error, a lost lease) before the lease
            # is released.
            passes = (
                stack.enter_context(ThreadPoolExecutor(depth, f"passes-{session_uid}"))
                if depth > 1
                else None
            )
            arrivals = Arrivals()
            engine = transcriber_for(session, state, lease, passes, arrivals)
            return _run(session, engine, lease, arrivals)
    finally:
        lease.release()


def _run(
    session: MeetingSession, engine: StreamingTranscriber, lease: Lease, arrivals: Arrivals
) -> str:
    """The read loop: stream entries in, emissions stored; renews the lease every second."""
    session_uid = session.session_uid
    stream = SessionStream(session_uid, client=get_job_redis())
    after = engine.resume_after
    idle_since = renewed_at = time.monotonic()
    log.info("session %s: transcribing from %s (t=%.2f)", session_uid, after, engine.cut_t)
    while not engine.finished:
        entries: list[StreamEntry]
        if len(engine.in_flight) >= engine.pipeline_depth:
            # Every pass slot taken: new audio can only wait, so sleep until the oldest pass
            # is done (to apply it and start the next), then take what came meanwhile.
            engine.wait(READ_BLOCK_MS / 1000)
            entries = stream.read(after=after, count=READ_COUNT)
        else:
            # With a pass running, block only briefly: its end is noticed within the poll.
            block_ms = round(PIPELINE_POLL_S * 1000) if engine.in_flight else READ_BLOCK_MS
            entries = stream.read(after=after, count=READ_COUNT, block_ms=block_ms)
        arrivals.read(entries)
        if time.monotonic() - renewed_at >= LEASE_RENEW_S:
            lease.renew()
            renewed_at = time.monotonic()
        if not entries and engine.in_flight:
            _store(session, engine.feed([]), lease)
            continue
        if not entries:
            if time.monotonic() - idle_since > ORPHAN_IDLE_S and _meeting_over(session):
                entries = [StreamEntry(id=_next_id(after), type="end", reason="orphaned")]
            else:
                continue
        idle_since = time.monotonic()
        after = entries[-1].id
        # Sessions come and go.
        engine.left_context_s = scheduler.left_context_for_load()
        engine.confirming_passes = scheduler.confirming_passes_for_load()
        engine.pipeline_depth = scheduler.pipeline_depth_for_load()
        _store(session, engine.feed(entries), lease)
    return "done"


def _store(session: MeetingSession, emissions: list[Emission], lease: Lease) -> None:
    for emission in emissions:
        if emission.draft_latencies_s:
            scheduler.drafts_shown(latencies_s=emission.draft_latencies_s)
        # One transaction, an upsert: repeated whole after a reconnect.
        db_retry(
            functools.partial(
                emission_store, session=session, emission=emission, owner=lease.token
            ),
            what=f"session {session.session_uid}",
        )


def _meeting_over(session: MeetingSession) -> bool:
    db_retry(
        lambda: session.meeting.refresh_from_db(fields=["status"]),
        what=f"session {session.session_uid}",
    )
    return session.meeting.status in TERMINAL_STATUSES


def _next_id(after: str) -> str:
    ms, seq = entry_id_key(after)
    return f"{ms}-{seq + 1}"
