from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import override_settings

from accounts.models import User
from bots import services as bot_services
from calendars import services, tasks
from calendars.models import CalendarEvent, CalendarFeed
from meetings import lifecycle
from meetings.models import Meeting, MeetingStatus
from tests import processes
from tests.calendars.calendar_support import CalendarServer, vcalendar, vevent
from vexa_site.errors import DomainError, InvalidInput
from vexa_site.ssrf import UnsafeURL

pytestmark = pytest.mark.django_db

MEET = "https://meet.google.com/abc-defg-hij"
ZOOM = "https://zoom.us/j/85012345678"
TEAMS = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0"
EARLY = timedelta(seconds=60)


def bot_of(feed: CalendarFeed, uid: str) -> Meeting:
    row = CalendarEvent.objects.select_related("meeting").get(feed=feed, key=uid)
    assert row.meeting is not None, row.error
    return row.meeting


def test_adding_a_calendar_schedules_a_bot_for_each_upcoming_event_with_a_link(
    alice: User,
    calendar_server: CalendarServer,
    soon: datetime,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    now = datetime.now(UTC)
    calendar_server.body = vcalendar(
        vevent("review@x", soon, title="Budget review", link=MEET),
        vevent("sales@x", soon + timedelta(hours=1), title="Sales call", link=ZOOM),
        vevent("lunch@x", soon, title="Lunch", link=None),
        vevent("ongoing@x", now - timedelta(minutes=10), minutes=40, title="Ongoing", link=TEAMS),
        vevent("done@x", now - timedelta(hours=2), title="Done", link=TEAMS),
    )
    with django_capture_on_commit_callbacks(execute=True):
        feed, result = services.feed_create(
            user=alice, url=calendar_server.url, name="Work", bot_name="Notetaker"
        )

    assert result == services.SyncResult(scheduled=3)
    review = bot_of(feed, "review@x")
    assert review.status == MeetingStatus.REQUESTED
    assert review.join_at == soon - EARLY
    assert review.native_meeting_id == "abc-defg-hij"
    assert review.data["name"] == "Budget review"
    assert review.bot_config["bot_name"] == "Notetaker"
    assert review.bot_config["metadata"] == {"calendar_id": feed.pk, "calendar_event": "review@x"}
    assert bot_of(feed, "sales@x").platform == "zoom"
    # An event under way gets its bot now: on the bots queue after commit, like POST /bots;
    # the others wait for their time.
    ongoing = bot_of(feed, "ongoing@x")
    assert ongoing.join_at is None
    queued = processes.queued_bots()
    assert ongoing.pk in queued
    assert review.pk not in queued
    processes.drop_queued_bot(ongoing.pk)
    assert set(CalendarEvent.objects.filter(feed=feed).values_list("key", flat=True)) == {
        "review@x",
        "sales@x",
        "ongoing@x",
    }
    assert feed.last_synced_at is not None
    assert feed.last_error == ""


def test_a_sync_moves_cancels_and_keeps_bots_as_the_calendar_changes(
    alice: User, calendar_server: CalendarServer, soon: datetime
) -> None:
    calendar_server.body = vcalendar(
        vevent("review@x", soon, link=MEET), vevent("sales@x", soon, link=ZOOM)
    )
    feed, _ = services.feed_create(user=alice, url=calendar_server.url)
    sales = bot_of(feed, "sales@x")

    later = soon + timedelta(minutes=30)
    calendar_server.body = vcalendar(
        vevent("review@x", later, link=MEET),  # moved
        vevent("retro@x", later, link=TEAMS),  # new; sales@x removed
    )
    assert services.calendar_sync(feed_id=feed.pk) == services.SyncResult(
        scheduled=1, moved=1, cancelled=1
    )
    assert bot_of(feed, "review@x").join_at == later - EARLY
    sales.refresh_from_db()
    assert sales.status == MeetingStatus.COMPLETED
    assert sales.data["completion_reason"] == "stopped_before_admission"
    retro = bot_of(feed, "retro@x")

    # Read again unchanged: nothing is scheduled twice.
    assert services.calendar_sync(feed_id=feed.pk) == services.SyncResult()
    # A bot the user stopped is not sent again while its event is still in the calendar.
    bot_services.bot_stop(meeting_id=retro.pk)
    assert services.calendar_sync(feed_id=feed.pk) == services.SyncResult()
    assert Meeting.objects.filter(user=alice).count() == 3

    # Moved to a start that has passed (the meeting began early): its bot goes at once.
    calendar_server.body = vcalendar(
        vevent("review@x", datetime.now(UTC) - timedelta(minutes=5), link=MEET),
        vevent("retro@x", later, link=TEAMS),
    )
    assert services.calendar_sync(feed_id=feed.pk) == services.SyncResult(moved=1)
    review = bot_of(feed, "review@x")
    assert review.join_at is not None
    assert review.join_at <= datetime.now(UTC)

    # The event's link changed (the organiser moved it to Zoom): its bot that had not started is
    # stopped, and one goes to the new meeting.
    old_review = bot_of(feed, "review@x")
    calendar_server.body = vcalendar(
        vevent("review@x", later, link="https://zoom.us/j/85012345670"),
        vevent("retro@x", later, link=TEAMS),
    )
    assert services.calendar_sync(feed_id=feed.pk) == services.SyncResult(scheduled=1)
    old_review.refresh_from_db()
    assert old_review.status == MeetingStatus.COMPLETED
    assert bot_of(feed, "review@x").native_meeting_id == "85012345670"

    # Cancelled in the calendar: its bot that has not started is stopped.
    calendar_server.body = vcalendar(
        vevent("review@x", later, link=MEET, extra="STATUS:CANCELLED"),
        vevent("retro@x", later, link=TEAMS),
    )
    assert services.calendar_sync(feed_id=feed.pk) == services.SyncResult(cancelled=1)
    assert not CalendarEvent.objects.filter(feed=feed, key="review@x").exists()


def test_occurrences_in_one_meeting_room_get_their_bots_one_after_the_other(
    alice: User, calendar_server: CalendarServer, soon: datetime
) -> None:
    # Twice today in the same room: one live bot per meeting, so the second waits its turn.
    calendar_server.body = vcalendar(
        vevent("standup@x", soon, link=MEET, extra="RRULE:FREQ=HOURLY;INTERVAL=6;COUNT=2")
    )
    feed, result = services.feed_create(user=alice, url=calendar_server.url)
    assert result == services.SyncResult(scheduled=1, refused=1)
    first, second = CalendarEvent.objects.filter(feed=feed).order_by("starts_at")
    assert first.meeting is not None
    assert second.meeting is None
    assert "already running" in second.error

    meeting = first.meeting
    for step in (MeetingStatus.JOINING, MeetingStatus.ACTIVE, MeetingStatus.COMPLETED):
        lifecycle.transition(meeting_id=meeting.pk, to=step, source="bot_callback")
    assert services.calendar_sync(feed_id=feed.pk) == services.SyncResult(scheduled=1)
    second.refresh_from_db()
    assert second.meeting is not None
    assert second.error == ""
    assert second.meeting.join_at == soon + timedelta(hours=6) - EARLY


def test_an_unreadable_calendar_keeps_its_bots_and_says_why(
    alice: User, calendar_server: CalendarServer, soon: datetime
) -> None:
    calendar_server.body = vcalendar(vevent("review@x", soon))
    feed, _ = services.feed_create(user=alice, url=calendar_server.url)

    calendar_server.status = 503
    assert services.calendar_sync(feed_id=feed.pk) is None
    feed.refresh_from_db()
    assert feed.last_error == "The calendar answered HTTP 503"
    assert bot_of(feed, "review@x").status == MeetingStatus.REQUESTED

    calendar_server.status = 200
    calendar_server.body = b"<html>Sign in to see this calendar</html>"
    tasks.sync_calendar(feed.pk)
    feed.refresh_from_db()
    assert feed.last_error.startswith("Not an iCalendar file")
    assert bot_of(feed, "review@x").status == MeetingStatus.REQUESTED

    calendar_server.body = vcalendar(vevent("review@x", soon))
    tasks.sync_calendar(feed.pk)
    feed.refresh_from_db()
    assert feed.last_error == ""


def test_a_calendar_that_cannot_be_read_is_not_added(
    alice: User, calendar_server: CalendarServer
) -> None:
    calendar_server.status = 404
    with pytest.raises(InvalidInput) as refused:
        services.feed_create(user=alice, url=calendar_server.url)
    assert refused.value.detail == [
        {
            "loc": ["body", "url"],
            "msg": "Could not read the calendar: The calendar answered HTTP 404",
            "type": "value_error.calendar",
        }
    ]
    assert not CalendarFeed.objects.exists()

    # A calendar that moved answers with a redirect, which is followed (and checked again).
    calendar_server.status = 200
    moved = calendar_server.url.replace("/cal.ics", "/moved")
    feed, _ = services.feed_create(user=alice, url=moved)
    assert feed.url == moved
    assert calendar_server.reads == 3


def test_a_private_address_is_refused_unless_the_operator_allows_it(alice: User) -> None:
    with override_settings(CALENDAR_ALLOW_PRIVATE_URLS=False), pytest.raises(UnsafeURL):
        services.feed_create(user=alice, url="http://127.0.0.1:9/cal.ics")
    with override_settings(CALENDAR_ALLOW_PRIVATE_URLS=False), pytest.raises(UnsafeURL):
        services.feed_create(user=alice, url="http://169.254.169.254/latest/meta-data")
    assert not CalendarFeed.objects.exists()


def test_removing_a_calendar_stops_its_bots_that_have_not_started(
    alice: User, calendar_server: CalendarServer, soon: datetime
) -> None:
    calendar_server.body = vcalendar(
        vevent("review@x", soon, link=MEET), vevent("s@x", soon, link=ZOOM)
    )
    feed, _ = services.feed_create(user=alice, url=calendar_server.url)
    review, sales = bot_of(feed, "review@x"), bot_of(feed, "s@x")
    for step in (MeetingStatus.JOINING, MeetingStatus.ACTIVE):
        lifecycle.transition(meeting_id=review.pk, to=step, source="bot_callback")

    assert services.feed_delete(feed=feed) == 1

    assert not CalendarFeed.objects.exists()
    assert Meeting.objects.get(pk=review.pk).status == MeetingStatus.ACTIVE  # in its call
    assert Meeting.objects.get(pk=sales.pk).status == MeetingStatus.COMPLETED


def test_a_skipped_event_gets_no_bot_until_the_user_asks_for_one_again(
    alice: User, calendar_server: CalendarServer, soon: datetime
) -> None:
    calendar_server.body = vcalendar(vevent("review@x", soon, link=MEET))
    feed, _ = services.feed_create(user=alice, url=calendar_server.url)
    scheduled = bot_of(feed, "review@x")
    row = CalendarEvent.objects.get(feed=feed, key="review@x")

    skipped = services.event_bot_remove(event=row)
    assert skipped.skipped
    scheduled.refresh_from_db()
    assert scheduled.status == MeetingStatus.COMPLETED
    assert scheduled.data["completion_reason"] == "stopped_before_admission"
    # Read again, and moved: still no bot, and the skip holds.
    assert services.calendar_sync(feed_id=feed.pk) == services.SyncResult()
    later = soon + timedelta(minutes=30)
    calendar_server.body = vcalendar(vevent("review@x", later, link=MEET))
    assert services.calendar_sync(feed_id=feed.pk) == services.SyncResult()
    assert Meeting.objects.filter(user=alice).count() == 1
    assert services.event_bot_remove(event=row).skipped  # twice: the same

    again = services.event_bot_add(event=row)
    assert not again.skipped
    assert again.meeting is not None
    assert again.meeting.pk != scheduled.pk
    assert again.meeting.status == MeetingStatus.REQUESTED
    assert again.meeting.join_at == later - EARLY
    # Asked twice: the bot on its way stays the one.
    assert services.event_bot_add(event=row).meeting == again.meeting
    assert services.calendar_sync(feed_id=feed.pk) == services.SyncResult()
    assert Meeting.objects.filter(user=alice).count() == 2


def test_a_bot_in_the_call_is_stopped_by_a_skip_and_one_stopped_can_be_sent_again(
    alice: User,
    calendar_server: CalendarServer,
    soon: datetime,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    now = datetime.now(UTC)
    calendar_server.body = vcalendar(
        vevent("ongoing@x", now - timedelta(minutes=10), minutes=40, link=MEET),
        vevent("review@x", soon, link=ZOOM),
    )
    feed, _ = services.feed_create(user=alice, url=calendar_server.url)
    ongoing = bot_of(feed, "ongoing@x")
    for step in (MeetingStatus.JOINING, MeetingStatus.ACTIVE):
        lifecycle.transition(meeting_id=ongoing.pk, to=step, source="bot_callback")

    services.event_bot_remove(event=CalendarEvent.objects.get(feed=feed, key="ongoing@x"))
    ongoing.refresh_from_db()
    assert ongoing.status == MeetingStatus.STOPPING
    # Asked again while that bot is still leaving: refused in words, not a silent no-op.
    with pytest.raises(DomainError, match="already running"):
        services.event_bot_add(event=CalendarEvent.objects.get(feed=feed, key="ongoing@x"))
    assert CalendarEvent.objects.get(feed=feed, key="ongoing@x").skipped
    lifecycle.transition(meeting_id=ongoing.pk, to=MeetingStatus.COMPLETED, source="bot_callback")

    # The user changed their mind: the event is under way, so the new bot goes at once.
    with django_capture_on_commit_callbacks(execute=True):
        sent = services.event_bot_add(event=CalendarEvent.objects.get(feed=feed, key="ongoing@x"))
    assert sent.meeting is not None
    assert sent.meeting.join_at is None
    assert sent.meeting.pk in processes.queued_bots()
    processes.drop_queued_bot(sent.meeting.pk)

    # A bot the user stopped through the bots API is sent again the same way.
    review = bot_of(feed, "review@x")
    bot_services.bot_stop(meeting_id=review.pk)
    resent = services.event_bot_add(event=CalendarEvent.objects.get(feed=feed, key="review@x"))
    assert resent.meeting is not None
    assert resent.meeting.pk != review.pk
    assert resent.meeting.join_at == soon - EARLY


def test_a_bot_refused_or_an_event_ended_changes_nothing(
    alice: User, calendar_server: CalendarServer, soon: datetime
) -> None:
    calendar_server.body = vcalendar(vevent("review@x", soon, link=MEET))
    feed, _ = services.feed_create(user=alice, url=calendar_server.url)
    row = services.event_bot_remove(event=CalendarEvent.objects.get(feed=feed, key="review@x"))
    # Meanwhile the user sent a bot to the same meeting by hand: one live bot per meeting.
    by_hand = bot_services.bot_create(user=alice, meeting_url=MEET, join_at=soon)

    with pytest.raises(DomainError) as refused:
        services.event_bot_add(event=row)
    assert "already running" in refused.value.message
    row.refresh_from_db()
    assert row.skipped
    assert row.meeting is not None
    assert row.meeting.pk != by_hand.pk

    CalendarEvent.objects.filter(pk=row.pk).update(
        starts_at=datetime.now(UTC) - timedelta(hours=1),
        ends_at=datetime.now(UTC) - timedelta(minutes=1),
    )
    bot_services.bot_stop(meeting_id=by_hand.pk)
    with pytest.raises(InvalidInput, match="The event has ended"):
        services.event_bot_add(event=row)
    row.refresh_from_db()
    assert row.skipped
