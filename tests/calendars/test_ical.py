from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calendars.ical import CalendarUnreadable, feed_url_normalise, occurrences
from tests.calendars.calendar_support import vcalendar, vevent

START = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
END = START + timedelta(days=5)

BERLIN = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:STANDARD
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
END:VTIMEZONE"""


def test_a_recurring_event_gives_each_occurrence_with_its_exceptions_in_utc() -> None:
    standup = """BEGIN:VEVENT
UID:standup@example.com
DTSTART;TZID=Europe/Berlin:20261207T090000
DTEND;TZID=Europe/Berlin:20261207T091500
RRULE:FREQ=DAILY;COUNT=5
EXDATE;TZID=Europe/Berlin:20261209T090000
SUMMARY:Standup
LOCATION:https://meet.google.com/abc-defg-hij
END:VEVENT
BEGIN:VEVENT
UID:standup@example.com
RECURRENCE-ID;TZID=Europe/Berlin:20261208T090000
DTSTART;TZID=Europe/Berlin:20261208T100000
DTEND;TZID=Europe/Berlin:20261208T101500
SUMMARY:Standup (later today)
LOCATION:https://meet.google.com/abc-defg-hij
END:VEVENT
BEGIN:VEVENT
UID:standup@example.com
RECURRENCE-ID;TZID=Europe/Berlin:20261210T090000
DTSTART;TZID=Europe/Berlin:20261210T090000
DTEND;TZID=Europe/Berlin:20261210T091500
STATUS:CANCELLED
SUMMARY:Standup
END:VEVENT"""
    body = vcalendar(BERLIN, standup.replace("\n", "\r\n"))

    found = occurrences(body, start=START, end=END)

    assert [(o.title, o.starts_at.isoformat()) for o in found] == [
        ("Standup", "2026-12-07T08:00:00+00:00"),
        ("Standup (later today)", "2026-12-08T09:00:00+00:00"),  # moved
        ("Standup", "2026-12-11T08:00:00+00:00"),  # the 9th excluded, the 10th cancelled
    ]
    # Each occurrence keeps its original start in its key, so a moved one is the same one.
    assert [o.key for o in found] == [
        "standup@example.com 2026-12-07T08:00:00+00:00",
        "standup@example.com 2026-12-08T08:00:00+00:00",
        "standup@example.com 2026-12-11T08:00:00+00:00",
    ]
    assert {o.meeting_url for o in found} == {"https://meet.google.com/abc-defg-hij"}
    assert found[0].ends_at - found[0].starts_at == timedelta(minutes=15)


def test_the_first_link_a_bot_can_join_is_taken_from_where_calendars_put_it() -> None:
    at = START + timedelta(hours=10)
    teams = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0"
    body = vcalendar(
        vevent(
            "google@x",
            at,
            link="https://support.google.com/a/users/answer/9282720 then https://meet.google.com/xyz-abcd-efg.",
        ),
        vevent(
            "zoom@x", at, link=None, extra="LOCATION:https://us02web.zoom.us/j/85012345678?pwd=abc"
        ),
        vevent("teams@x", at, link=None, extra=f"X-MICROSOFT-SKYPETEAMSMEETINGURL:{teams}"),
        vevent("lunch@x", at, link="https://example.com/menu"),
        vevent("single@x", at + timedelta(hours=1)),
    )

    found = {o.key: o for o in occurrences(body, start=START, end=END)}

    assert found["google@x"].meeting_url == "https://meet.google.com/xyz-abcd-efg"
    assert found["zoom@x"].meeting_url == "https://us02web.zoom.us/j/85012345678?pwd=abc"
    assert found["teams@x"].meeting_url == teams
    assert "lunch@x" not in found  # no meeting to join
    assert found["single@x"].key == "single@x"  # a single event is its UID, wherever it moves


def test_all_day_events_and_events_outside_the_window_are_left_out() -> None:
    all_day = "BEGIN:VEVENT\r\nUID:offsite@x\r\nDTSTART;VALUE=DATE:20261208\r\nSUMMARY:Offsite\r\nLOCATION:https://meet.google.com/abc-defg-hij\r\nEND:VEVENT"
    body = vcalendar(
        all_day,
        vevent("past@x", START - timedelta(hours=2)),
        vevent("later@x", END + timedelta(hours=1)),
        vevent("now@x", START - timedelta(minutes=10), minutes=30),  # under way
    )
    assert [o.key for o in occurrences(body, start=START, end=END)] == ["now@x"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>Sign in</html>", "Not an iCalendar file"),
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\nEND:VCARD\r\n", "Not an iCalendar file"),
    ],
)
def test_a_body_that_is_not_a_calendar_is_unreadable_in_words(body: bytes, reason: str) -> None:
    with pytest.raises(CalendarUnreadable, match=reason):
        occurrences(body, start=START, end=END)


def test_webcal_addresses_are_https() -> None:
    assert feed_url_normalise(" webcal://p.example.com/x.ics ") == "https://p.example.com/x.ics"
    assert feed_url_normalise("https://p.example.com/x.ics") == "https://p.example.com/x.ics"


def test_an_event_the_owner_declined_is_left_out_for_them_only() -> None:
    at = START + timedelta(hours=10)
    attendees = (
        "ATTENDEE;CN=Alice;PARTSTAT=DECLINED:mailto:Alice@Example.com\n"
        "ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.com"
    )
    body = vcalendar(vevent("offsite@x", at, extra=attendees), vevent("other@x", at))

    def keys(email: str) -> list[str]:
        return [o.key for o in occurrences(body, start=START, end=END, declined_by=email)]

    assert keys("alice@example.com") == ["other@x"]
    assert keys("bob@example.com") == ["offsite@x", "other@x"]
    assert keys("") == ["offsite@x", "other@x"]


def test_an_event_written_wrong_is_left_out_and_the_others_are_read() -> None:
    at = START + timedelta(hours=10)
    body = vcalendar(
        "BEGIN:VEVENT\r\nUID:broken@x\r\nDTSTART:2026120\r\nEND:VEVENT",
        vevent("odd-rule@x", at, extra="RRULE:FREQ=SOMETIMES"),
        vevent("fine@x", at),
    )
    assert [o.key for o in occurrences(body, start=START, end=END)] == ["fine@x"]
