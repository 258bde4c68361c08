"""Calendar feeds: a user's iCalendar address, and the events of it that get a bot."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class CalendarFeed(models.Model):
    """A calendar's iCalendar address (Google Calendar's "secret address in iCal format",
    Outlook's published ICS link). Whoever has the URL can read the calendar, so the API never
    shows it whole after it is saved. Synced by beat every `CALENDAR_SYNC_EVERY_S`;
    `last_error` says why the last read failed (the bots already scheduled stay)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    url = models.CharField(max_length=2048)
    name = models.CharField(max_length=255, blank=True, default="")
    bot_name = models.CharField(max_length=100, blank=True, default="")
    language = models.CharField(max_length=16, blank=True, default="")
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"calendar #{self.pk} {self.name or self.url_hint}"

    @property
    def url_hint(self) -> str:
        """Enough of the URL to tell feeds apart, not enough to read the calendar."""
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}/…{self.url[-6:]}"


class CalendarEvent(models.Model):
    """One occurrence of a feed's event with a meeting link, within the horizon. `key` names
    it across syncs: the event's UID, and for a recurring event the occurrence's original
    start. `meeting` is its bot's meeting; `error` why none is scheduled (yet): a sync tries
    again while the event has not ended. `skipped`: the user wants no bot for this occurrence
    (syncs leave it without one until the user asks for one again)."""

    feed = models.ForeignKey(CalendarFeed, on_delete=models.CASCADE, related_name="events")
    key = models.CharField(max_length=1024)
    title = models.CharField(max_length=500, blank=True, default="")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    meeting_url = models.CharField(max_length=2048)
    meeting = models.ForeignKey(
        "meetings.Meeting", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    error = models.CharField(max_length=1000, blank=True, default="")
    skipped = models.BooleanField(default=False)

    class Meta:
        ordering = ("starts_at", "id")
        constraints = [
            models.UniqueConstraint(fields=["feed", "key"], name="one_row_per_feed_occurrence")
        ]

    def __str__(self) -> str:
        return f"{self.title or self.key} at {self.starts_at:%Y-%m-%d %H:%M}"
