"""Celery tasks that read calendar feeds (queue `default`)."""

from __future__ import annotations

from celery import shared_task

from calendars import selectors, services


@shared_task(ignore_result=True)
def sync_calendar(feed_id: int) -> None:
    """Sync one feed. Safe to run twice or at once: a sync holds the feed's row lock while it
    writes, and a second finds the bots it would schedule already there."""
    services.calendar_sync(feed_id=feed_id)


@shared_task(ignore_result=True)
def sync_calendars() -> None:
    """Beat, every `CALENDAR_SYNC_EVERY_S`: a sync of every feed, each its own task (one slow
    calendar server holds up only its own)."""
    for feed_id in selectors.feed_ids():
        sync_calendar.delay(feed_id)
