"""Supervision without a browser: lost heartbeats, bots nobody started, scheduled bots."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from bots import capacity
from bots import services as bot_services
from bots.runtime import supervision
from meetings import lifecycle
from meetings.models import Meeting, MeetingSession, Recording, RecordingStatus
from meetings.stream import SessionStream
from tests.meetings.builders import meeting_in
from vexa_site.redis import get_redis

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def supervisor_just_looked() -> None:
    """As while beat runs every 15 s: the previous sweep was a moment ago."""
    get_redis().set(supervision.LAST_SWEEP_KEY, timezone.now().timestamp())


def heartbeat(meeting: Meeting, seconds_ago: float) -> None:
    Meeting.objects.filter(pk=meeting.pk).update(
        bot_heartbeat_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


def test_it_hands_a_live_meeting_whose_bot_stopped_heartbeating_to_a_new_bot(
    alice: User, settings: Any, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    settings.BOT_HEARTBEAT_TIMEOUT_S = 45
    meeting = meeting_in(alice, "active")
    session = MeetingSession.objects.create(meeting=meeting)
    Recording.objects.create(meeting=meeting, session=session, file_path="/tmp/x.wav")
    # As if the new bot were quick: its session starts after the sweep did.
    newer = MeetingSession.objects.create(
        meeting=meeting, started_at=timezone.now() + timedelta(seconds=5)
    )
    heartbeat(meeting, 60)

    with django_capture_on_commit_callbacks() as enqueued:
        report = supervision.meetings_supervise()

    meeting.refresh_from_db()
    assert report.taken_over == [meeting.pk]
    assert report.failed == []
    assert meeting.status == "active"
    [rejoin] = meeting.data["bot_rejoins"]
    assert "stopped heartbeating 60 s ago" in rejoin["cause"]
    # The new bot claims the meeting with the token it is enqueued with.
    token = meeting.bot_container_id
    assert token is not None
    assert token.startswith("takeover:")
    [callback] = enqueued
    assert (callback.func, callback.args) == (bot_services.enqueue_run_bot, (meeting.pk, token))
    # The lost bot's session is over: its transcription finalizes, its recording is partial.
    assert SessionStream(session.session_uid).read_all()[-1].reason == "bot_lost"
    assert MeetingSession.objects.get(pk=session.pk).ended_at is not None
    assert Recording.objects.get(meeting=meeting).status == RecordingStatus.FAILED
    SessionStream(session.session_uid).delete()
    assert MeetingSession.objects.get(pk=newer.pk).ended_at is None
    assert SessionStream(newer.session_uid).read_all() == []
    # The new bot has its heartbeat timeout to show up; the next sweep leaves it alone.
    assert supervision.meetings_supervise().taken_over == []


def test_a_bot_lost_while_waiting_to_be_let_in_again_is_replaced_but_one_never_let_in_fails(
    alice: User, settings: Any
) -> None:
    settings.BOT_HEARTBEAT_TIMEOUT_S = 45
    rejoined = meeting_in(alice, "active", native_meeting_id="rej-oine-dmt")
    lifecycle.transition(
        meeting_id=rejoined.pk,
        to="awaiting_admission",
        source="bot",
        reason="waiting_room_after_rejoin",
    )
    waiting = meeting_in(alice, "awaiting_admission", native_meeting_id="wai-ting-mtg")
    heartbeat(rejoined, 60)
    heartbeat(waiting, 60)

    report = supervision.meetings_supervise()

    assert report.taken_over == [rejoined.pk]
    assert report.failed == [waiting.pk]
    rejoined.refresh_from_db()
    # The new bot claims it as it stands: waiting in the lobby until it joins.
    assert rejoined.status == "awaiting_admission"
    assert rejoined.bot_container_id is not None
    assert rejoined.bot_container_id.startswith("takeover:")
    assert Meeting.objects.get(pk=waiting.pk).status == "failed"


def test_it_fails_a_live_meeting_whose_bot_stopped_heartbeating_with_no_rejoins_left(
    alice: User, settings: Any
) -> None:
    settings.BOT_HEARTBEAT_TIMEOUT_S = 45
    settings.BOT_MAX_REJOINS = 0
    meeting = meeting_in(alice, "active")
    session = MeetingSession.objects.create(meeting=meeting)
    Recording.objects.create(meeting=meeting, session=session, file_path="/tmp/x.wav")
    heartbeat(meeting, 60)

    report = supervision.meetings_supervise()

    meeting.refresh_from_db()
    assert report.failed == [meeting.pk]
    assert meeting.status == "failed"
    entry = meeting.data["status_transition"][-1]
    assert (entry["source"], entry["reason"], entry["failure_stage"]) == (
        "supervisor",
        "bot_heartbeat_lost",
        "active",
    )
    assert "60 s" in meeting.data["error_details"]["message"]
    assert SessionStream(session.session_uid).read_all()[-1].reason == "bot_lost"
    assert MeetingSession.objects.get(pk=session.pk).ended_at is not None
    assert Recording.objects.get(meeting=meeting).status == RecordingStatus.FAILED
    SessionStream(session.session_uid).delete()


def test_it_leaves_a_heartbeating_bot_alone(alice: User, settings: Any) -> None:
    settings.BOT_HEARTBEAT_TIMEOUT_S = 45
    meeting = meeting_in(alice, "awaiting_admission")
    heartbeat(meeting, 10)

    assert supervision.meetings_supervise().failed == []
    assert Meeting.objects.get(pk=meeting.pk).status == "awaiting_admission"


def test_after_a_database_outage_a_bot_that_heartbeated_since_the_last_sweep_gets_one_more(
    alice: User, settings: Any
) -> None:
    """No bot could heartbeat while the database was down; the ones still alive write again
    as soon as it is back, so the first sweep after the outage does not judge them."""
    settings.BOT_HEARTBEAT_TIMEOUT_S = 45
    settings.BOT_MAX_REJOINS = 0  # judged, not handed over
    get_redis().set(
        supervision.LAST_SWEEP_KEY, (timezone.now() - timedelta(seconds=120)).timestamp()
    )
    # Their last heartbeats before the outage.
    alive = meeting_in(alice, "active", native_meeting_id="ali-veal-ive")
    heartbeat(alive, 90)
    gone = meeting_in(alice, "active", native_meeting_id="gon-egon-egg")
    heartbeat(gone, 90)
    dead = meeting_in(alice, "active", native_meeting_id="dea-ddea-ddd")
    heartbeat(dead, 200)  # silent before the supervisor's last sweep already

    assert supervision.meetings_supervise().failed == [dead.pk]
    heartbeat(alive, 1)  # it reconnected; `gone` died during the outage
    assert supervision.meetings_supervise().failed == [gone.pk]
    assert Meeting.objects.get(pk=alive.pk).status == "active"


def test_a_bot_lost_while_stopping_completes_as_stopped(alice: User, settings: Any) -> None:
    settings.BOT_HEARTBEAT_TIMEOUT_S = 45
    meeting = meeting_in(alice, "stopping")
    heartbeat(meeting, 50)

    supervision.meetings_supervise()

    meeting.refresh_from_db()
    assert meeting.status == "completed"
    assert meeting.data["completion_reason"] == "stopped"


def test_a_bot_nobody_started_fails_after_the_start_timeout(alice: User, settings: Any) -> None:
    settings.BOT_START_TIMEOUT_S = 600
    old = meeting_in(alice, "requested", native_meeting_id="old-meet-ing")
    fresh = meeting_in(alice, "requested", native_meeting_id="new-meet-ing")
    later = meeting_in(alice, "requested", native_meeting_id="lat-erme-eting")
    Meeting.objects.filter(pk__in=[old.pk, later.pk]).update(
        created_at=timezone.now() - timedelta(seconds=700)
    )
    Meeting.objects.filter(pk=later.pk).update(join_at=timezone.now() + timedelta(hours=1))

    report = supervision.meetings_supervise()

    assert report.never_started == [old.pk]
    assert Meeting.objects.get(pk=old.pk).data["failure_stage"] == "requested"
    assert Meeting.objects.get(pk=fresh.pk).status == "requested"
    assert Meeting.objects.get(pk=later.pk).status == "requested"


@pytest.mark.parametrize(
    ("slots", "others_in_calls", "message"),
    [
        (None, 0, "no bot worker started this bot within 600 s (no bot host announced its slots)"),
        (1, 1, "no bot slot came free within 600 s: all 1 were taken by other bots"),
        (2, 1, "no bot worker started this bot within 600 s"),
    ],
)
def test_a_bot_that_never_started_says_whether_every_slot_was_taken(
    alice: User, bob: User, settings: Any, slots: int | None, others_in_calls: int, message: str
) -> None:
    """A scheduled bot due while every slot is taken waits in the queue for one: when none
    comes free, "no worker" would send the operator looking for a worker that runs, busy."""
    settings.BOT_START_TIMEOUT_S = 600
    waiting = meeting_in(alice, "requested")
    Meeting.objects.filter(pk=waiting.pk).update(join_at=timezone.now() - timedelta(seconds=700))
    for index in range(others_in_calls):
        meeting_in(bob, "active", native_meeting_id=f"bus-ybot-{index:03d}")
    if slots is not None:
        capacity.host_announce(name="test-host@example", slots=slots)
    try:
        supervision.meetings_supervise()
    finally:
        capacity.host_withdraw(name="test-host@example")

    waiting.refresh_from_db()
    assert waiting.status == "failed"
    assert waiting.data["error_details"]["message"] == message


def test_scheduled_bots_are_claimed_once_when_their_time_comes(alice: User) -> None:
    due = meeting_in(alice, "requested", native_meeting_id="due-meet-ing")
    ahead = meeting_in(alice, "requested", native_meeting_id="ahe-admeet-ing")
    Meeting.objects.filter(pk=due.pk).update(join_at=timezone.now() - timedelta(seconds=1))
    Meeting.objects.filter(pk=ahead.pk).update(join_at=timezone.now() + timedelta(hours=1))
    keys = [f"vexa:bot:{pk}:scheduled" for pk in (due.pk, ahead.pk)]
    get_redis().delete(*keys)

    first = supervision.scheduled_bots_due()
    second = supervision.scheduled_bots_due()

    assert first == [due.pk]
    assert second == []
    get_redis().delete(*keys)
