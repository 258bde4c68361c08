from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction

from accounts.models import User
from meetings import events, lifecycle
from meetings.models import Meeting, MeetingStatus
from tests.conftest import backends_waiting_for_a_lock
from tests.meetings.builders import meeting_in

S = MeetingStatus


@pytest.fixture
def probe() -> Iterator[dict[str, list[events.MeetingStatusEvent]]]:
    """Subscribes to both kinds of event handlers; unsubscribes afterwards."""
    seen: dict[str, list[events.MeetingStatusEvent]] = {"in_tx": [], "after": []}

    def in_tx(event: events.MeetingStatusEvent) -> None:
        seen["in_tx"].append(event)

    def after(event: events.MeetingStatusEvent) -> None:
        seen["after"].append(event)

    events.subscribe_in_transaction(in_tx)
    events.subscribe_after_commit(after)
    yield seen
    events.unsubscribe(in_tx)
    events.unsubscribe(after)


@pytest.mark.django_db
def test_a_full_run_records_every_step_with_times_and_reason(alice: User) -> None:
    meeting = meeting_in(alice, S.REQUESTED)
    for step in (S.JOINING, S.AWAITING_ADMISSION, S.ACTIVE, S.STOPPING):
        lifecycle.transition(meeting_id=meeting.pk, to=step, source="bot_callback")
    meeting.refresh_from_db()
    assert meeting.start_time is not None
    assert meeting.end_time is None
    done = lifecycle.transition(
        meeting_id=meeting.pk, to=S.COMPLETED, source="bot_callback", reason="left"
    )
    assert done.status == S.COMPLETED
    assert done.end_time is not None
    assert done.start_time is not None
    assert done.end_time >= done.start_time
    history = done.data["status_transition"]
    assert [(h["from"], h["to"]) for h in history] == [
        (None, "requested"),
        ("requested", "joining"),
        ("joining", "awaiting_admission"),
        ("awaiting_admission", "active"),
        ("active", "stopping"),
        ("stopping", "completed"),
    ]
    assert history[-1]["completion_reason"] == "stopped"
    assert history[-1]["reason"] == "left"
    assert {"from", "to", "timestamp", "source", "reason"} <= set(history[1])
    assert history[1]["timestamp"].endswith("Z")
    assert done.data["completion_reason"] == "stopped"


@pytest.mark.django_db
def test_a_failure_keeps_its_stage_and_evidence(alice: User) -> None:
    meeting = meeting_in(alice, S.AWAITING_ADMISSION)
    failed = lifecycle.transition(
        meeting_id=meeting.pk,
        to=S.FAILED,
        source="bot_callback",
        reason="host denied entry",
        completion_reason="awaiting_admission_rejected",
        error_details={"page_text": "You can't join this video call"},
    )
    assert failed.data["failure_stage"] == "awaiting_admission"
    assert failed.data["completion_reason"] == "awaiting_admission_rejected"
    assert failed.data["error_details"] == {"page_text": "You can't join this video call"}
    assert failed.data["status_transition"][-1]["failure_stage"] == "awaiting_admission"
    assert failed.start_time is None
    assert failed.end_time is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "to"),
    [
        (S.REQUESTED, S.ACTIVE),
        (S.REQUESTED, S.AWAITING_ADMISSION),
        (S.ACTIVE, S.JOINING),
        (S.STOPPING, S.ACTIVE),
        (S.COMPLETED, S.FAILED),
        (S.COMPLETED, S.ACTIVE),
        (S.FAILED, S.COMPLETED),
    ],
)
def test_an_invalid_transition_is_refused_logged_and_writes_nothing(
    alice: User, start: str, to: str, caplog: pytest.LogCaptureFixture, probe: Any
) -> None:
    meeting = meeting_in(alice, start)
    probe["in_tx"].clear()
    before = (meeting.status, meeting.data, meeting.updated_at)
    with (
        caplog.at_level(logging.WARNING, logger="meetings.lifecycle"),
        pytest.raises(lifecycle.InvalidTransition),
    ):
        lifecycle.transition(meeting_id=meeting.pk, to=to, source="bot_callback")
    meeting.refresh_from_db()
    assert (meeting.status, meeting.data, meeting.updated_at) == before
    assert f"{start} -> {to}" in caplog.text
    assert probe["in_tx"] == []


@pytest.mark.django_db
def test_allowed_from_narrows_the_table(alice: User) -> None:
    meeting = meeting_in(alice, S.JOINING)
    with pytest.raises(lifecycle.InvalidTransition):
        lifecycle.transition(
            meeting_id=meeting.pk,
            to=S.STOPPING,
            source="user_api",
            allowed_from=(S.ACTIVE,),
        )
    assert Meeting.objects.get(pk=meeting.pk).status == S.JOINING


@pytest.mark.django_db
def test_events_fire_in_the_transaction_and_after_commit_only_on_commit(
    alice: User, probe: Any, django_capture_on_commit_callbacks: Any
) -> None:
    meeting = meeting_in(alice, S.JOINING)
    probe["in_tx"].clear()
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.transition(meeting_id=meeting.pk, to=S.ACTIVE, source="bot_callback")
        assert [e.to_status for e in probe["in_tx"]] == ["active"]
        assert probe["after"] == []
    [event] = probe["after"]
    assert (event.meeting_id, event.from_status, event.to_status) == (
        meeting.pk,
        "joining",
        "active",
    )
    assert event.user_id == alice.pk
    assert event.native_meeting_id == "abc-defg-hij"
    # The sequence is the entry's index in the history: a re-emission is recognisable.
    assert event.sequence == len(Meeting.objects.get(pk=meeting.pk).data["status_transition"]) - 1


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transition_never_reaches_after_commit_subscribers(
    alice: User, probe: Any
) -> None:
    meeting = meeting_in(alice, S.JOINING)
    probe["after"].clear()

    def fail_after_transition() -> None:
        with transaction.atomic():
            lifecycle.transition(meeting_id=meeting.pk, to=S.ACTIVE, source="bot_callback")
            raise RuntimeError("the caller failed after the transition")

    with pytest.raises(RuntimeError):
        fail_after_transition()
    assert Meeting.objects.get(pk=meeting.pk).status == S.JOINING
    assert probe["after"] == []
    lifecycle.transition(meeting_id=meeting.pk, to=S.ACTIVE, source="bot_callback")
    assert [e.to_status for e in probe["after"]] == ["active"]


@pytest.mark.django_db
def test_record_created_writes_the_first_entry_and_event(alice: User, probe: Any) -> None:
    meeting = meeting_in(alice, S.REQUESTED)
    [entry] = meeting.data["status_transition"]
    assert entry["from"] is None
    assert entry["to"] == "requested"
    assert entry["source"] == "user_api"
    [event] = probe["in_tx"]
    assert event.sequence == 0


def _in_thread(target: Any) -> threading.Thread:
    def run() -> None:
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_two_racing_terminal_transitions_cannot_both_win(alice: User) -> None:
    meeting = meeting_in(alice, S.ACTIVE)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def attempt(to: str) -> None:
        barrier.wait(timeout=10)
        try:
            lifecycle.transition(meeting_id=meeting.pk, to=to, source="race")
            outcomes[to] = "won"
        except lifecycle.InvalidTransition:
            outcomes[to] = "refused"

    threads = [_in_thread(lambda to=to: attempt(to)) for to in (S.COMPLETED, S.FAILED)]
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == ["refused", "won"]
    meeting.refresh_from_db()
    winner = next(to for to, result in outcomes.items() if result == "won")
    assert meeting.status == winner
    terminal = [h for h in meeting.data["status_transition"] if h["to"] in ("completed", "failed")]
    assert len(terminal) == 1


@pytest.mark.django_db(transaction=True)
def test_a_transition_waits_for_a_concurrent_one_and_is_checked_against_its_result(
    alice: User,
) -> None:
    """Thread A holds the row (mid-transition); B must wait, then see A's committed state."""
    meeting = meeting_in(alice, S.JOINING)
    a_has_lock = threading.Event()
    release_a = threading.Event()
    outcome: dict[str, Any] = {}

    def a() -> None:
        with transaction.atomic():
            lifecycle.transition(meeting_id=meeting.pk, to=S.ACTIVE, source="bot_callback")
            a_has_lock.set()
            release_a.wait(timeout=30)

    def b() -> None:
        try:
            # Valid from the `joining` B read before, invalid from A's `active` (a second
            # bot's admission must not count twice).
            lifecycle.transition(meeting_id=meeting.pk, to=S.ACTIVE, source="bot_callback")
            outcome["b"] = "won"
        except lifecycle.InvalidTransition as exc:
            outcome["b"] = exc.from_status

    thread_a = _in_thread(a)
    assert a_has_lock.wait(timeout=10)
    # A stale reader (B) starts while A is uncommitted: it must block on the row lock.
    thread_b = _in_thread(b)
    deadline = time.monotonic() + 10
    while backends_waiting_for_a_lock() == 0:
        assert time.monotonic() < deadline, "B never waited for A's row lock"
        time.sleep(0.01)
    assert "b" not in outcome
    release_a.set()
    thread_a.join(timeout=30)
    thread_b.join(timeout=30)
    # B was judged against A's committed `active`, not the `joining` it would have read.
    assert outcome["b"] == S.ACTIVE
    assert Meeting.objects.get(pk=meeting.pk).status == S.ACTIVE
