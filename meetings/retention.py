"""Retention: how long the product keeps what it stored, as the operator configured it.

`MEETING_RETENTION_DAYS` (a finished meeting's content, deleted as `DELETE /meetings` does),
`RECORDING_RETENTION_DAYS` (recordings' audio, the transcript kept) and
`WEBHOOK_DELIVERY_RETENTION_DAYS` (finished deliveries and their events); 0 keeps forever.
Expired share links, idempotency keys and sign-in sessions, which nothing can use any more,
always go; so do assistants' OAuth clients nobody consented to (after a day) and the records of
consents (90 days after their code expired).
`retention_apply` runs hourly (`meetings.tasks.apply_retention`) in batches, each its own
transaction, so a first run over years of data neither holds long locks nor loses its work
when it is stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.utils import timezone

from mcp_server import services as oauth_services
from meetings import services
from meetings.models import Recording
from transcripts import services as transcript_services
from webhooks import services as webhook_services

logger = logging.getLogger(__name__)

# A share link stays this long after it expired: a revoke of it within that time is harmless.
SHARE_LINK_GRACE = timedelta(days=1)
# Rows per transaction: a meeting's delete takes its segments with it, hence fewer of those.
MEETING_BATCH = 100
ROW_BATCH = 1000


@dataclass
class RetentionReport:
    """What one `retention_apply` deleted."""

    meetings: int = 0
    recordings: int = 0
    webhook_deliveries: int = 0
    webhook_events: int = 0
    share_links: int = 0
    oauth_grants: int = 0
    oauth_clients: int = 0
    idempotency_keys: int = 0
    finished: bool = True  # False: the time budget ran out; the next run goes on


def _cutoff(now: datetime, days: float) -> datetime | None:
    return now - timedelta(days=days) if days > 0 else None


def recording_expires_at(recording: Recording) -> datetime | None:
    """When retention will delete this recording's audio; None while nothing will."""
    moments: list[datetime] = []
    if settings.RECORDING_RETENTION_DAYS > 0 and recording.completed_at is not None:
        moments.append(recording.completed_at + timedelta(days=settings.RECORDING_RETENTION_DAYS))
    meeting = recording.meeting
    if settings.MEETING_RETENTION_DAYS > 0 and meeting.end_time is not None:
        moments.append(meeting.end_time + timedelta(days=settings.MEETING_RETENTION_DAYS))
    return min(moments) if moments else None


def retention_apply(
    *, now: datetime | None = None, time_budget_s: float = 300.0
) -> RetentionReport:
    """Delete what has outlived its retention, batch by batch, until nothing is left or
    `time_budget_s` is spent (then `finished` is False). Safe to run twice or concurrently."""
    now = now or timezone.now()
    report = RetentionReport()
    deadline = time.monotonic() + time_budget_s
    meeting_cutoff = _cutoff(now, settings.MEETING_RETENTION_DAYS)
    recording_cutoff = _cutoff(now, settings.RECORDING_RETENTION_DAYS)
    delivery_cutoff = _cutoff(now, settings.WEBHOOK_DELIVERY_RETENTION_DAYS)

    # Each step deletes one batch, counts it, and says whether a full batch went (more may wait).
    def meetings() -> bool:
        assert meeting_cutoff is not None
        gone = services.meetings_expire(ended_before=meeting_cutoff, limit=MEETING_BATCH)
        report.meetings += gone
        return gone == MEETING_BATCH

    def recordings() -> bool:
        assert recording_cutoff is not None
        gone = services.recordings_expire(finished_before=recording_cutoff, limit=ROW_BATCH)
        report.recordings += gone
        return gone == ROW_BATCH

    def deliveries() -> bool:
        assert delivery_cutoff is not None
        gone, events = webhook_services.deliveries_purge(
            finished_before=delivery_cutoff, limit=ROW_BATCH
        )
        report.webhook_deliveries += gone
        report.webhook_events += events
        return ROW_BATCH in (gone, events)

    def share_links() -> bool:
        gone = transcript_services.share_links_purge(
            expired_before=now - SHARE_LINK_GRACE, limit=ROW_BATCH
        )
        report.share_links += gone
        return gone == ROW_BATCH

    def oauth() -> bool:
        grants, clients = oauth_services.oauth_purge(now=now, limit=ROW_BATCH)
        report.oauth_grants += grants
        report.oauth_clients += clients
        return ROW_BATCH in (grants, clients)

    steps: list[Callable[[], bool]] = []
    if meeting_cutoff is not None:
        steps.append(meetings)
    if recording_cutoff is not None:
        steps.append(recordings)
    if delivery_cutoff is not None:
        steps.append(deliveries)
    steps += [share_links, oauth]
    for step in steps:
        while step():
            if time.monotonic() > deadline:
                report.finished = False
                logger.info("retention ran out of time; deleted so far %s", asdict(report))
                return report
    report.idempotency_keys = services.idempotency_keys_purge(
        created_before=now - services.IDEMPOTENCY_KEY_TTL
    )
    # Dashboard and admin sign-ins: Django never deletes expired session rows by itself.
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    if any(value for key, value in asdict(report).items() if key != "finished"):
        logger.info("retention deleted %s", asdict(report))
    return report
