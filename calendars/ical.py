"""Reading a calendar: fetch an iCalendar feed safely, and list the occurrences in a window
that have a meeting link a bot can join."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import httpx
import icalendar
import recurring_ical_events
from django.conf import settings

from bots import platforms
from vexa_site.errors import DomainError
from vexa_site.ssrf import UnsafeURL, pinned_target

# Where calendars put the meeting link: Google (the event's conference, location or
# description), Outlook/Exchange (Teams' own property, location, description), Zoom's add-ins
# (location, description). The first link a bot can join wins.
LINK_PROPERTIES = (
    "X-GOOGLE-CONFERENCE",
    "X-MICROSOFT-SKYPETEAMSMEETINGURL",
    "URL",
    "LOCATION",
    "DESCRIPTION",
)
_URL = re.compile(r"https?://[^\s<>\"'\\]+", re.IGNORECASE)
MAX_REDIRECTS = 3
# A calendar with more occurrences than this within the horizon is not a person's calendar.
MAX_OCCURRENCES = 500
# An event without an end lasts this long (RFC 5545 gives a dated event one day, a timed one
# none; a meeting has some length).
DEFAULT_DURATION = timedelta(hours=1)


class CalendarUnreadable(Exception):
    """The feed could not be fetched or is not an iCalendar file; the message says why."""


@dataclass(frozen=True)
class Occurrence:
    """One event occurrence with a meeting link; times are UTC. `key` names the occurrence
    across reads: the event's UID, and for a recurring event its original start, so a moved
    event or occurrence keeps its key."""

    key: str
    title: str
    starts_at: datetime
    ends_at: datetime
    meeting_url: str


def feed_url_normalise(url: str) -> str:
    """`webcal://` (how calendars offer a subscription) is HTTPS."""
    url = url.strip()
    if url.lower().startswith("webcal://"):
        return "https://" + url[len("webcal://") :]
    return url


def feed_fetch(url: str) -> bytes:
    """GET the feed: every hop's address checked (`vexa_site.ssrf`), at most `MAX_REDIRECTS`
    redirects, `CALENDAR_MAX_BYTES` and `CALENDAR_TIMEOUT_S`."""
    timeout = httpx.Timeout(
        settings.CALENDAR_TIMEOUT_S, connect=min(5.0, settings.CALENDAR_TIMEOUT_S)
    )
    with httpx.Client(follow_redirects=False, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                target, host, extensions = pinned_target(
                    url, allow_private=settings.CALENDAR_ALLOW_PRIVATE_URLS
                )
            except UnsafeURL as exc:
                raise CalendarUnreadable(f"Refused: {exc.detail}") from None
            headers = {**host, "Accept": "text/calendar, */*;q=0.5"}
            try:
                with client.stream(
                    "GET", target, headers=headers, extensions=extensions, timeout=timeout
                ) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if not response.is_success:
                        raise CalendarUnreadable(
                            f"The calendar answered HTTP {response.status_code}"
                        )
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > settings.CALENDAR_MAX_BYTES:
                            raise CalendarUnreadable(
                                f"The calendar is over {settings.CALENDAR_MAX_BYTES} bytes"
                            )
                    return bytes(body)
            except httpx.HTTPError as exc:
                raise CalendarUnreadable(f"{type(exc).__name__}: {exc}"[:500]) from None
    raise CalendarUnreadable(f"More than {MAX_REDIRECTS} redirects")


def meeting_link(event: Any) -> str | None:
    """The first link in the event that names a meeting on a platform bots join."""
    for name in LINK_PROPERTIES:
        value = event.get(name)
        if value is None:
            continue
        for candidate in _URL.findall(str(value)):
            candidate = candidate.rstrip(".,;:)]}>")
            try:
                platforms.parse_meeting_url(candidate)
            except DomainError:
                continue
            return candidate
    return None


def _utc(value: datetime) -> datetime:
    # A floating time (no zone, no X-WR-TIMEZONE) is read as UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _declined(event: Any, email: str) -> bool:
    """Whether `email` is an attendee who declined (a calendar's own address lists the owner
    among the attendees, with their answer)."""
    attendees = event.get("ATTENDEE")
    if not email or attendees is None:
        return False
    target = f"mailto:{email}".lower()
    return any(
        str(attendee).lower() == target
        and str(getattr(attendee, "params", {}).get("PARTSTAT", "")).upper() == "DECLINED"
        for attendee in (attendees if isinstance(attendees, list) else [attendees])
    )


def occurrences(
    body: bytes, *, start: datetime, end: datetime, declined_by: str = ""
) -> list[Occurrence]:
    """The timed, not cancelled occurrences overlapping [start, end) that have a meeting link,
    by start, less those `declined_by` (an email address) declined. Recurrences are expanded
    with their exceptions (EXDATE, moved occurrences); all-day events are left out (no one
    meets all day)."""
    try:
        calendar = icalendar.Calendar.from_ical(body)
    except ValueError as exc:
        raise CalendarUnreadable(f"Not an iCalendar file: {exc}"[:500]) from None
    if getattr(calendar, "name", "") != "VCALENDAR":
        raise CalendarUnreadable("Not an iCalendar file: no VCALENDAR")
    recurring = {
        str(e.get("UID", "")) for e in calendar.walk("VEVENT") if e.get("RRULE") or e.get("RDATE")
    }
    try:
        # One event a calendar wrote wrong (a broken date, an unknown rule) is left out rather
        # than costing the bots of every other event.
        events = list(recurring_ical_events.of(calendar, skip_bad_series=True).between(start, end))
    except Exception as exc:  # the library raises many kinds for a malformed rule or date
        raise CalendarUnreadable(f"Unreadable event: {type(exc).__name__}: {exc}"[:500]) from None
    found: list[Occurrence] = []
    for event in events:
        if str(event.get("STATUS", "")).upper() == "CANCELLED" or _declined(event, declined_by):
            continue
        began = event.decoded("DTSTART")
        if not isinstance(began, datetime):
            continue  # an all-day event
        finished = event.decoded("DTEND") if "DTEND" in event else None
        if isinstance(finished, datetime):
            ends_at = _utc(finished)
        elif "DURATION" in event:
            ends_at = _utc(began + event.decoded("DURATION"))
        else:
            ends_at = _utc(began) + DEFAULT_DURATION
        link = meeting_link(event)
        if link is None:
            continue
        starts_at = _utc(began)
        uid = str(event.get("UID", ""))
        original = event.get("RECURRENCE-ID")
        if not uid:
            key = f"{starts_at.isoformat()} {link}"
        elif uid in recurring and original is not None and isinstance(original.dt, date):
            first = original.dt
            key = f"{uid} {_utc(first).isoformat() if isinstance(first, datetime) else first}"
        else:
            key = uid
        found.append(
            Occurrence(
                key=key[:1024],
                title=str(event.get("SUMMARY", ""))[:500],
                starts_at=starts_at,
                ends_at=max(ends_at, starts_at),
                meeting_url=link,
            )
        )
        if len(found) > MAX_OCCURRENCES:
            raise CalendarUnreadable(
                f"Over {MAX_OCCURRENCES} events with a meeting link in the coming "
                f"{settings.CALENDAR_HORIZON_S // 3600} hours"
            )
    return sorted(found, key=lambda o: (o.starts_at, o.key))
