"""Writes for calendar feeds: add one (read at once), sync one, remove one.

A sync reads the feed outside any transaction (network), then, holding the feed's row lock (two
syncs of one feed never schedule an event twice), walks the occurrences within the horizon:
a new one gets a bot scheduled `CALENDAR_JOIN_EARLY_S` before it starts (one already under way
gets a bot now), unless the user (by their account's email) declined it; a moved one moves
its bot if it has not started; one that left the feed or the horizon, or was cancelled or
declined, stops its bot if it has not started. A bot the user stopped, or one that already
ran, is left alone, and an occurrence the user skipped (`event_bot_remove`) gets none until the
user asks for one again (`event_bot_add`). Bots are created through `bots.services.bot_create`,
so the user's limits, the bot slots and one live bot per meeting hold; an occurrence refused
for now (another bot in the same meeting, no slot free) says why and is tried again at the next
sync.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from bots import services as bot_services
from calendars.ical import (
    CalendarUnreadable,
    Occurrence,
    feed_fetch,
    feed_url_normalise,
    occurrences,
)
from calendars.models import CalendarEvent, CalendarFeed
from calendars.selectors import EVENT_NOT_FOUND
from meetings import services as meeting_services
from meetings.models import LIVE_STATUSES, MeetingStatus
from vexa_site.errors import DomainError, InvalidInput, NotFound
from vexa_site.ssrf import resolve_public_url

logger = logging.getLogger(__name__)

MAX_FEEDS_PER_USER = 20


@dataclass(frozen=True)
class SyncResult:
    """What one sync changed: bots scheduled, moved and cancelled, and occurrences refused."""

    scheduled: int = 0
    moved: int = 0
    cancelled: int = 0
    refused: int = 0


def feed_create(
    *, user: User, url: str, name: str = "", bot_name: str = "", language: str = ""
) -> tuple[CalendarFeed, SyncResult]:
    """Add a calendar feed and read it at once: a URL that is private (unless allowed), or that
    does not give an iCalendar file, is a 422 and nothing is saved; a language the live model
    cannot transcribe too (every bot of the feed would be refused). At most
    `MAX_FEEDS_PER_USER` feeds."""
    url = feed_url_normalise(url)
    resolve_public_url(url, allow_private=settings.CALENDAR_ALLOW_PRIVATE_URLS)
    language = bot_services.check_language(language or None, live=True) or ""
    try:
        body = feed_fetch(url)
        with transaction.atomic():
            User.objects.select_for_update().get(pk=user.pk)
            if CalendarFeed.objects.filter(user=user).count() >= MAX_FEEDS_PER_USER:
                raise InvalidInput(f"At most {MAX_FEEDS_PER_USER} calendars per user")
            feed = CalendarFeed.objects.create(
                user=user, url=url, name=name, bot_name=bot_name, language=language
            )
            result = _apply(feed, body)
    except CalendarUnreadable as exc:
        raise InvalidInput(
            [
                {
                    "loc": ["body", "url"],
                    "msg": f"Could not read the calendar: {exc}",
                    "type": "value_error.calendar",
                }
            ]
        ) from None
    return feed, result


def calendar_sync(*, feed_id: int) -> SyncResult | None:
    """Read the feed and bring its bots in line with it (see the module). A feed that cannot
    be read keeps its bots and says why in `last_error`; None then, and for a feed removed
    meanwhile."""
    feed = CalendarFeed.objects.filter(pk=feed_id).first()
    if feed is None:
        return None
    try:
        body = feed_fetch(feed.url)
        with transaction.atomic():
            locked = (
                CalendarFeed.objects.select_for_update()
                .select_related("user")
                .filter(pk=feed_id)
                .first()
            )
            return None if locked is None else _apply(locked, body)
    except CalendarUnreadable as exc:
        logger.warning("calendar %s unreadable: %s", feed_id, exc)
        CalendarFeed.objects.filter(pk=feed_id).update(last_error=str(exc)[:1000])
        return None


def _apply(feed: CalendarFeed, body: bytes) -> SyncResult:
    """The sync's writes, in the caller's transaction holding the feed's row lock."""
    now = timezone.now()
    horizon = now + timedelta(seconds=settings.CALENDAR_HORIZON_S)
    rows = {row.key: row for row in feed.events.select_related("meeting")}
    done: Counter[str] = Counter()
    for occurrence in occurrences(body, start=now, end=horizon, declined_by=feed.user.email):
        done[_occurrence_apply(feed, rows.pop(occurrence.key, None), occurrence, now)] += 1
    for row in rows.values():
        done["cancelled"] += _bot_cancel(row)
        row.delete()
    feed.last_synced_at = now
    feed.last_error = ""
    feed.save(update_fields=["last_synced_at", "last_error"])
    return SyncResult(
        scheduled=done["scheduled"],
        moved=done["moved"],
        cancelled=done["cancelled"],
        refused=done["refused"],
    )


def _occurrence_apply(
    feed: CalendarFeed, row: CalendarEvent | None, occurrence: Occurrence, now: datetime
) -> str:
    """Bring one occurrence's row and bot in line; returns what it did (a `SyncResult` field,
    or `kept`)."""
    # A bot is asked for a new occurrence, one refused before (it says why), and one whose
    # link changed while its bot had not started; a row without a meeting and without an error
    # had its meeting purged, and is left alone, like one the user skipped.
    schedule = row is None or bool(row.error)
    if row is None:
        row = CalendarEvent(feed=feed, key=occurrence.key)
    elif row.meeting_url != occurrence.meeting_url and _bot_cancel(row):
        row.meeting = None
        schedule = True
    schedule = schedule and not row.skipped
    row.title = occurrence.title
    row.starts_at = occurrence.starts_at
    row.ends_at = occurrence.ends_at
    row.meeting_url = occurrence.meeting_url
    join_at = _join_time(occurrence.starts_at)
    outcome = "kept"
    meeting = row.meeting
    if meeting is not None:
        # Only a bot not yet due moves (a due one is on its way); moved earlier than now, it
        # goes at once.
        target = max(join_at, now)
        if (
            meeting.status == MeetingStatus.REQUESTED
            and meeting.join_at is not None
            and meeting.join_at > now
            and meeting.join_at != target
        ):
            bot_services.bot_reschedule(meeting_id=meeting.pk, join_at=target)
            outcome = "moved"
    elif schedule:
        try:
            _bot_schedule(feed, row, join_at if join_at > now else None)
            outcome = "scheduled"
        except DomainError as exc:
            row.error = exc.message[:1000]
            outcome = "refused"
    row.save()
    return outcome


def _join_time(starts_at: datetime) -> datetime:
    return starts_at - timedelta(seconds=settings.CALENDAR_JOIN_EARLY_S)


def _bot_schedule(feed: CalendarFeed, row: CalendarEvent, join_at: datetime | None) -> None:
    """Create the row's bot (at `join_at`, None: now); a refusal (`DomainError`) leaves the
    caller's transaction usable."""
    with transaction.atomic():
        meeting = bot_services.bot_create(
            user=feed.user,
            meeting_url=row.meeting_url,
            bot_name=feed.bot_name or None,
            language=feed.language or None,
            join_at=join_at,
            metadata={"calendar_id": feed.pk, "calendar_event": row.key},
        )
        if row.title:
            meeting_services.meeting_update_data(meeting_id=meeting.pk, changes={"name": row.title})
    row.meeting = meeting
    row.error = ""


_ON_ITS_WAY = tuple(status for status in LIVE_STATUSES if status != MeetingStatus.STOPPING)


def _event_lock(event: CalendarEvent) -> tuple[CalendarFeed, CalendarEvent]:
    """The event's feed, locked as a sync locks it (a sync meanwhile would undo the change),
    and the event as it is now: a 404 when a sync (or the feed's removal) took it meanwhile."""
    feed = (
        CalendarFeed.objects.select_for_update()
        .select_related("user")
        .filter(pk=event.feed_id)
        .first()
    )
    row = CalendarEvent.objects.select_related("meeting").filter(pk=event.pk).first()
    if feed is None or row is None:
        raise NotFound(EVENT_NOT_FOUND)
    return feed, row


def event_bot_remove(*, event: CalendarEvent) -> CalendarEvent:
    """Skip one occurrence: its bot is stopped wherever it is (scheduled, waiting in the lobby,
    in the call), and syncs send none until `event_bot_add`. Idempotent."""
    with transaction.atomic():
        _feed, row = _event_lock(event)
        if row.meeting is not None and row.meeting.is_live:
            row.meeting = bot_services.bot_stop(meeting_id=row.meeting.pk, source="calendar")
        row.skipped = True
        row.error = ""
        row.save(update_fields=["skipped", "error"])
    return row


def event_bot_add(*, event: CalendarEvent) -> CalendarEvent:
    """Send a bot to one occurrence again (one skipped, one whose bot was stopped or has left):
    at its join time, or now once that has passed. An occurrence whose bot is on its way or in
    the call keeps it; one that has ended is a 422; a bot refused (another in the same meeting,
    one still leaving, no slot, the user's limit) is the refusal's error, and nothing changes."""
    with transaction.atomic():
        feed, row = _event_lock(event)
        now = timezone.now()
        if row.ends_at <= now:
            raise InvalidInput("The event has ended")
        # A bot still leaving (`stopping`, a skip a moment ago) is not one on its way: asking
        # for a new one then is refused as another bot in the same meeting, not a silent no-op.
        if row.meeting is None or row.meeting.status not in _ON_ITS_WAY:
            join_at = _join_time(row.starts_at)
            _bot_schedule(feed, row, join_at if join_at > now else None)
        row.skipped = False
        row.save(update_fields=["meeting", "error", "skipped"])
    return row


def _bot_cancel(row: CalendarEvent) -> bool:
    """Stop the row's bot if it has not started (the event went away or moved elsewhere)."""
    meeting = row.meeting
    if meeting is None or meeting.status != MeetingStatus.REQUESTED:
        return False
    bot_services.bot_stop(meeting_id=meeting.pk, source="calendar")
    return True


def feed_delete(*, feed: CalendarFeed) -> int:
    """Remove a feed; its bots that have not started are stopped (those in a call stay).
    Returns how many were stopped."""
    with transaction.atomic():
        locked = CalendarFeed.objects.select_for_update().get(pk=feed.pk)
        stopped = sum(_bot_cancel(row) for row in locked.events.select_related("meeting"))
        locked.delete()
    return stopped
