"""Reads for calendar feeds, scoped to the user: another user's feed is a 404."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from accounts.models import User
from calendars.models import CalendarEvent, CalendarFeed
from vexa_site.errors import NotFound

EVENT_NOT_FOUND = "Calendar event not found"


def feed_list(*, user: User) -> QuerySet[CalendarFeed]:
    """The user's feeds with their upcoming occurrences and those bots' meetings: three
    queries for any number."""
    return (
        CalendarFeed.objects.filter(user=user)
        .order_by("id")
        .prefetch_related(
            Prefetch("events", queryset=CalendarEvent.objects.select_related("meeting"))
        )
    )


def feed_get(*, user: User, feed_id: int) -> CalendarFeed:
    feed = feed_list(user=user).filter(pk=feed_id).first()
    if feed is None:
        raise NotFound("Calendar not found")
    return feed


def event_get(*, user: User, feed_id: int, event_id: int) -> CalendarEvent:
    """One occurrence of one of the user's feeds, with its bot's meeting."""
    event = (
        CalendarEvent.objects.select_related("meeting")
        .filter(pk=event_id, feed_id=feed_id, feed__user=user)
        .first()
    )
    if event is None:
        raise NotFound(EVENT_NOT_FOUND)
    return event


def feed_ids() -> list[int]:
    """Every feed, the longest unsynced first (beat syncs them all each round)."""
    return list(CalendarFeed.objects.order_by("last_synced_at", "id").values_list("id", flat=True))
