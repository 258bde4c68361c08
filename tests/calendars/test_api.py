from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import User
from calendars.models import CalendarFeed
from meetings.models import Meeting, MeetingStatus
from tests.calendars.calendar_support import CalendarServer, vcalendar, vevent
from tests.conftest import api_client

pytestmark = pytest.mark.django_db


def add(api: APIClient, server: CalendarServer, **extra: Any) -> Any:
    return api.post("/calendars", {"url": server.url, **extra}, format="json")


def test_adding_a_calendar_answers_its_upcoming_events_and_their_bots(
    alice: User, alice_api: APIClient, calendar_server: CalendarServer, soon: datetime
) -> None:
    calendar_server.body = vcalendar(
        vevent("review@x", soon, title="Budget review"),
        vevent("lunch@x", soon, title="Lunch", link=None),
    )
    response = add(alice_api, calendar_server, name="Work", language="en")

    assert response.status_code == 201, response.content
    body = response.json()
    meeting = Meeting.objects.get(user=alice)
    assert body["name"] == "Work"
    assert body["language"] == "en"
    assert body["sync"] == {"scheduled": 1, "moved": 0, "cancelled": 0, "refused": 0}
    [event] = body["events"]
    assert event["title"] == "Budget review"
    assert event["meeting_url"] == "https://meet.google.com/abc-defg-hij"
    assert event["meeting_id"] == meeting.pk
    assert event["meeting_status"] == MeetingStatus.REQUESTED
    assert event["join_at"].startswith((soon - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"))
    assert event["error"] == ""
    # The address reads the calendar: never shown whole again.
    assert "url" not in body
    assert body["url_hint"] == "http://127.0.0.1/…al.ics"
    assert calendar_server.url not in alice_api.get("/calendars").content.decode()


def test_a_calendar_the_server_cannot_read_is_a_field_error(
    alice_api: APIClient, calendar_server: CalendarServer
) -> None:
    calendar_server.body = b"<html>Sign in</html>"
    response = add(alice_api, calendar_server)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "url"]
    assert "Not an iCalendar file" in response.json()["detail"][0]["msg"]
    assert alice_api.post("/calendars", {"url": "ftp://x"}, format="json").status_code == 422
    unknown = add(alice_api, calendar_server, colour="red")
    assert unknown.status_code == 422
    assert not CalendarFeed.objects.exists()


def test_sync_reads_the_calendar_now_and_delete_stops_its_bots(
    alice: User, alice_api: APIClient, calendar_server: CalendarServer, soon: datetime
) -> None:
    calendar_server.body = vcalendar(vevent("review@x", soon))
    feed_id = add(alice_api, calendar_server).json()["id"]

    calendar_server.body = vcalendar(vevent("review@x", soon + timedelta(hours=1)))
    synced = alice_api.post(f"/calendars/{feed_id}/sync")
    assert synced.status_code == 200
    assert synced.json()["sync"]["moved"] == 1

    calendar_server.status = 500
    failed = alice_api.post(f"/calendars/{feed_id}/sync").json()
    assert failed["sync"] is None
    assert failed["last_error"] == "The calendar answered HTTP 500"

    assert alice_api.delete(f"/calendars/{feed_id}").status_code == 204
    assert alice_api.get(f"/calendars/{feed_id}").status_code == 404
    assert Meeting.objects.get(user=alice).status == MeetingStatus.COMPLETED


def test_another_users_calendar_is_a_404_and_a_tx_key_cannot_add_one(
    bob: User, bob_api: APIClient, alice: User, alice_api: APIClient,
    calendar_server: CalendarServer, soon: datetime,
) -> None:  # fmt: skip
    calendar_server.body = vcalendar(vevent("review@x", soon))
    theirs = add(bob_api, calendar_server).json()["id"]
    assert alice_api.get(f"/calendars/{theirs}").status_code == 404
    assert alice_api.post(f"/calendars/{theirs}/sync").status_code == 404
    assert alice_api.delete(f"/calendars/{theirs}").status_code == 404
    assert alice_api.get("/calendars").json() == {"calendars": []}
    assert Meeting.objects.get(user=bob).status == MeetingStatus.REQUESTED
    reader = api_client(account_services.token_issue(user=alice, scopes=["tx"]).plain)
    assert add(reader, calendar_server).status_code == 403
    assert reader.get("/calendars").status_code == 403


def test_the_list_takes_the_same_queries_for_any_number_of_calendars(
    alice_api: APIClient,
    calendar_server: CalendarServer,
    soon: datetime,
    django_assert_num_queries: Any,
) -> None:
    calendar_server.body = vcalendar(vevent("review@x", soon))
    add(alice_api, calendar_server)
    # The key, the calendars, their events with their bots' meetings.
    with django_assert_num_queries(3):
        alice_api.get("/calendars")
    calendar_server.body = vcalendar(
        vevent("a@x", soon, link="https://zoom.us/j/85012345671"),
        vevent("b@x", soon, link="https://zoom.us/j/85012345672"),
    )
    add(alice_api, calendar_server)
    with django_assert_num_queries(3):
        response = alice_api.get("/calendars")
    assert [len(c["events"]) for c in response.json()["calendars"]] == [1, 2]


def test_one_event_can_be_skipped_and_sent_a_bot_again(
    alice: User, alice_api: APIClient, calendar_server: CalendarServer, soon: datetime
) -> None:
    calendar_server.body = vcalendar(vevent("review@x", soon), vevent("retro@x", soon, link=None))
    feed = add(alice_api, calendar_server).json()
    [event] = feed["events"]
    address = f"/calendars/{feed['id']}/events/{event['id']}/bot"
    first = Meeting.objects.get(user=alice)

    skipped = alice_api.delete(address)
    assert skipped.status_code == 200
    assert skipped.json()["skipped"] is True
    assert skipped.json()["meeting_status"] == MeetingStatus.COMPLETED
    assert alice_api.get(f"/calendars/{feed['id']}").json()["events"][0]["skipped"] is True

    sent = alice_api.post(address)
    assert sent.status_code == 200
    assert sent.json()["skipped"] is False
    assert sent.json()["meeting_status"] == MeetingStatus.REQUESTED
    assert sent.json()["meeting_id"] != first.pk
    assert alice_api.post(f"/calendars/{feed['id']}/events/{event['id'] + 1000}/bot").json() == {
        "detail": "Calendar event not found"
    }


def test_another_users_calendar_event_is_a_404_and_a_tx_key_cannot_skip_one(
    bob: User, bob_api: APIClient, alice: User, alice_api: APIClient,
    calendar_server: CalendarServer, soon: datetime,
) -> None:  # fmt: skip
    calendar_server.body = vcalendar(vevent("review@x", soon))
    theirs = add(bob_api, calendar_server).json()
    address = f"/calendars/{theirs['id']}/events/{theirs['events'][0]['id']}/bot"
    assert alice_api.delete(address).status_code == 404
    assert alice_api.post(address).status_code == 404
    mine = add(alice_api, calendar_server).json()
    # Alice's calendar id with Bob's event: still not hers.
    crossed = f"/calendars/{mine['id']}/events/{theirs['events'][0]['id']}/bot"
    assert alice_api.delete(crossed).status_code == 404
    assert Meeting.objects.get(user=bob).status == MeetingStatus.REQUESTED
    reader = api_client(account_services.token_issue(user=bob, scopes=["tx"]).plain)
    assert reader.delete(address).status_code == 403
    assert Meeting.objects.get(user=bob).status == MeetingStatus.REQUESTED
