"""Supervision: no meeting stays live forever.

A running bot heartbeats (`Meeting.bot_heartbeat_at`). When a worker is killed or its host
goes, heartbeats stop; `meetings_supervise` then closes the meeting's open session streams (so
transcription finalizes) and marks an unfinished recording `failed` (its file, written
incrementally, stays downloadable). A meeting whose bot had been let into the call (`active`,
or back in the waiting room after a rejoin) is handed to a new bot, which rejoins the call (up
to `BOT_MAX_REJOINS` rejoins in all); any other, or one out of rejoins, ends as `failed` with a
reason. A meeting nobody ever started fails after `BOT_START_TIMEOUT_S`.

A bot's heartbeat counts as lost only once the supervisor has looked since it: after a
database outage the first pass sees every heartbeat old (no bot could write one, and the bots
wait the outage out, `RECONNECT_WINDOW_S`), so it spares the bots that heartbeated after its own
previous pass, and the next pass judges them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from bots import capacity
from bots import services as bot_services
from meetings import lifecycle
from meetings.models import Meeting, MeetingSession, MeetingStatus, Recording, RecordingStatus
from meetings.stream import SessionStream
from vexa_site.redis import get_redis

logger = logging.getLogger(__name__)

RUNNING = (
    MeetingStatus.JOINING,
    MeetingStatus.AWAITING_ADMISSION,
    MeetingStatus.ACTIVE,
    MeetingStatus.STOPPING,
)


# When the last heartbeat sweep finished (epoch seconds).
LAST_SWEEP_KEY = "vexa:supervisor:last_sweep"


@dataclass
class SupervisionReport:
    failed: list[int] = field(default_factory=list)
    taken_over: list[int] = field(default_factory=list)
    never_started: list[int] = field(default_factory=list)


def sessions_close(*, meeting_id: int, reason: str, started_before: datetime) -> None:
    """End the meeting's open session streams and unfinished recordings (the bot is gone) of
    sessions started before `started_before` (a bot taking over starts a session of its own)."""
    now = timezone.now()
    sessions = MeetingSession.objects.filter(
        meeting_id=meeting_id, ended_at__isnull=True, started_at__lt=started_before
    )
    for session in sessions:
        SessionStream(session.session_uid).append_end(reason=reason)
        MeetingSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(ended_at=now)
        Recording.objects.filter(session=session, status=RecordingStatus.IN_PROGRESS).update(
            status=RecordingStatus.FAILED, completed_at=now, updated_at=now
        )


def meetings_supervise() -> SupervisionReport:
    """Hand over or fail meetings whose bot stopped heartbeating; fail requested ones nobody
    started."""
    report = SupervisionReport()
    now = timezone.now()
    stale = now - timedelta(seconds=settings.BOT_HEARTBEAT_TIMEOUT_S)
    client = get_redis()
    previous = client.get(LAST_SWEEP_KEY)
    if previous is not None:
        # Normally a pass ago (15 s): `stale` stays. After an outage, older than `stale`.
        stale = min(stale, datetime.fromtimestamp(float(previous), tz=UTC))
    lost = Meeting.objects.filter(status__in=RUNNING).filter(
        Q(bot_heartbeat_at__lt=stale) | Q(bot_heartbeat_at__isnull=True, updated_at__lt=stale)
    )
    for meeting in lost.only("id", "status", "start_time", "bot_heartbeat_at", "data"):
        silent_for = (now - (meeting.bot_heartbeat_at or stale)).total_seconds()
        message = f"the bot stopped heartbeating {silent_for:.0f} s ago (worker or browser died)"
        if bot_services.bot_can_take_over(meeting):
            if bot_services.bot_takeover(meeting_id=meeting.pk, lost_before=stale, cause=message):
                logger.warning("meeting %s: %s; a new bot takes over", meeting.pk, message)
                sessions_close(meeting_id=meeting.pk, reason="bot_lost", started_before=now)
                report.taken_over.append(meeting.pk)
            continue  # or it moved meanwhile: look again next beat
        try:
            if meeting.status == MeetingStatus.STOPPING:
                # The user asked it to stop; it is stopped now, even if not cleanly.
                lifecycle.transition(
                    meeting_id=meeting.pk,
                    to=MeetingStatus.COMPLETED,
                    source="supervisor",
                    reason="bot_heartbeat_lost_while_stopping",
                    completion_reason="stopped",
                    allowed_from=(MeetingStatus.STOPPING,),
                )
            else:
                lifecycle.transition(
                    meeting_id=meeting.pk,
                    to=MeetingStatus.FAILED,
                    source="supervisor",
                    reason="bot_heartbeat_lost",
                    failure_stage=meeting.status,
                    error_details={"message": message, "stage": meeting.status},
                    allowed_from=(meeting.status,),
                )
        except lifecycle.InvalidTransition:
            continue  # it moved meanwhile (the bot woke up or finished): look again next beat
        logger.warning("meeting %s: %s", meeting.pk, message)
        sessions_close(meeting_id=meeting.pk, reason="bot_lost", started_before=now)
        report.failed.append(meeting.pk)
    client.set(LAST_SWEEP_KEY, now.timestamp(), ex=7 * 24 * 3600)

    start_deadline = now - timedelta(seconds=settings.BOT_START_TIMEOUT_S)
    never = Meeting.objects.filter(status=MeetingStatus.REQUESTED).filter(
        Q(join_at__isnull=True, created_at__lt=start_deadline) | Q(join_at__lt=start_deadline)
    )
    never_ids = list(never.values_list("id", flat=True))
    message = _not_started_message(now) if never_ids else ""
    for meeting_id in never_ids:
        try:
            lifecycle.transition(
                meeting_id=meeting_id,
                to=MeetingStatus.FAILED,
                source="supervisor",
                reason="bot_not_started",
                failure_stage=MeetingStatus.REQUESTED,
                error_details={"message": message},
                allowed_from=(MeetingStatus.REQUESTED,),
            )
        except lifecycle.InvalidTransition:
            continue
        report.never_started.append(meeting_id)
    return report


def _not_started_message(now: datetime) -> str:
    """Why bots waited out `BOT_START_TIMEOUT_S`, as far as the bot hosts' slots tell: a
    scheduled bot waits in the queue for a slot (POST /bots answers 507 instead), so "no
    worker" would send an operator looking for a worker that runs, busy."""
    waited = f"within {settings.BOT_START_TIMEOUT_S} s"
    total = capacity.slots_total()
    if total is None:
        return f"no bot worker started this bot {waited} (no bot host announced its slots)"
    # The waiting bots count themselves: more bots than slots means every slot was taken.
    if capacity.slots_taken(now) > total:
        return f"no bot slot came free {waited}: all {total} were taken by other bots"
    return f"no bot worker started this bot {waited}"


def scheduled_bots_due() -> list[int]:
    """Claim requested meetings whose `join_at` has come (each once) and return their ids."""
    due = Meeting.objects.filter(
        status=MeetingStatus.REQUESTED, join_at__isnull=False, join_at__lte=timezone.now()
    ).values_list("id", flat=True)
    client = get_redis()
    claimed: list[int] = []
    for meeting_id in due:
        # SET NX: two beat runs (or two schedulers) enqueue a meeting once; `run_bot` is
        # idempotent anyway (its requested → joining claim).
        if client.set(
            f"vexa:bot:{meeting_id}:scheduled", "1", nx=True, ex=settings.BOT_START_TIMEOUT_S
        ):
            claimed.append(meeting_id)
    return claimed
