"""Celery tasks of transcription: live sessions, their supervision, post-meeting passes."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from meetings.models import MeetingSession
from meetings.stream import STREAM_TTL_AFTER_END_S, SessionStream
from transcripts.engine.lease import LeaseLost, enqueued_key, is_held
from vexa_site.redis import get_redis

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def transcribe_session(session_uid: str) -> str:
    """Transcribe one bot session's stream live until its `end` entry.

    Safe to run twice: a second run finds the session leased (returns "busy") or finished
    (returns "finished"). A killed worker's run is replaced by `supervise_transcription`, and
    the replacement resumes from the checkpoint (`MeetingSession.transcriber_state`).
    """
    from transcripts.engine.session import session_transcribe

    session = MeetingSession.objects.select_related("meeting").filter(session_uid=session_uid)
    row = session.first()
    if row is None:
        return "missing"
    if (row.meeting.bot_config or {}).get("transcribe_enabled") is False:
        return "disabled"
    try:
        return session_transcribe(session_uid=session_uid)
    except LeaseLost:
        log.warning("session %s: another worker took over", session_uid)
        return "lease-lost"


@shared_task
def supervise_transcription() -> int:
    """Re-enqueue unfinished sessions that no live worker holds (beat, every 15 s).

    A session needs a worker while its stream has entries and its checkpoint is not
    `finished`; a worker that died stopped renewing its lease. Returns how many were enqueued.
    """
    since = timezone.now() - timedelta(seconds=STREAM_TTL_AFTER_END_S)
    redis = get_redis()
    enqueued = 0
    candidates = (
        MeetingSession.objects.filter(created_at__gte=since)
        .exclude(transcriber_state__finished=True)
        .select_related("meeting")
    )
    for session in candidates:
        uid = session.session_uid
        if (session.meeting.bot_config or {}).get("transcribe_enabled") is False:
            continue
        if is_held(uid) or not SessionStream(uid).length():
            continue
        # One enqueue per lease period: the task may still be waiting in the queue.
        if not redis.set(enqueued_key(uid), "1", nx=True, ex=settings.TRANSCRIPTION_LEASE_S * 2):
            continue
        log.info("session %s: no live transcriber, re-enqueueing", uid)
        transcribe_session.delay(uid)
        enqueued += 1
    return enqueued


@shared_task(acks_late=True)
def retranscribe_meeting(meeting_id: int, model: str | None = None) -> int:
    """Re-transcribe a meeting's stored recordings with `model` (default: the live model) and
    replace its segments, keeping the speakers the live pass attributed. Returns segment count.
    """
    from transcripts.engine.offline import meeting_retranscribe

    return meeting_retranscribe(meeting_id=meeting_id, model=model)
