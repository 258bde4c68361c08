"""Publishing: the event log and fan-out written by `transcripts.realtime`, after commit only."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from django.db import transaction
from django.test import override_settings

from accounts.models import User
from meetings import lifecycle
from tests.transcripts.realtime_support import make_meeting
from transcripts import realtime

pytestmark = pytest.mark.django_db(transaction=True)


def log_of(user: User, native_id: str, platform: str = "google_meet") -> list[dict[str, Any]]:
    key = realtime.event_log_key(realtime.native_key(user.pk, platform, native_id))
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], realtime.redis_client().xrange(key))
    return [json.loads(fields[b"data"]) for _id, fields in entries]


@pytest.fixture(autouse=True)
def _fresh_logs(alice: User) -> None:
    # Test databases restart their ids, so an earlier run may have left a log under this key.
    for native_id in ("abc-defg-hij", "klm-nopq-rst"):
        key = realtime.event_log_key(realtime.native_key(alice.pk, "google_meet", native_id))
        realtime.redis_client().delete(key)


def test_status_events_are_logged_only_after_the_commit(alice: User) -> None:
    with transaction.atomic():
        meeting = make_meeting(alice, "abc-defg-hij")
        lifecycle.transition(meeting_id=meeting.pk, to="joining", source="bot")
        assert log_of(alice, "abc-defg-hij") == []
    assert [m["payload"]["status"] for m in log_of(alice, "abc-defg-hij")] == [
        "requested",
        "joining",
    ]


def test_a_rolled_back_transition_is_never_published(alice: User) -> None:
    meeting = make_meeting(alice, "abc-defg-hij")

    def crash_after_transition() -> None:
        with transaction.atomic():
            lifecycle.transition(meeting_id=meeting.pk, to="joining", source="bot")
            raise RuntimeError("the bot crashed before commit")

    with pytest.raises(RuntimeError):
        crash_after_transition()
    assert [m["payload"]["status"] for m in log_of(alice, "abc-defg-hij")] == ["requested"]


def test_segments_are_logged_in_the_seed_shape_with_increasing_ids(alice: User) -> None:
    meeting = make_meeting(alice, "klm-nopq-rst")
    segment = {"segment_id": "s1", "text": "Hello", "completed": False}
    first = realtime.publish_segments(meeting_id=meeting.pk, kind="mutable", segments=[segment])
    second = realtime.publish_segments(
        meeting_id=meeting.pk, kind="finalized", segments=[{**segment, "completed": True}]
    )
    assert first is not None
    assert second is not None
    assert tuple(map(int, first.split("-"))) < tuple(map(int, second.split("-")))
    logged = log_of(alice, "klm-nopq-rst")[1:]  # after `requested`
    assert [(m["type"], m["meeting"], m["payload"]) for m in logged] == [
        ("transcript.mutable", {"id": meeting.pk}, {"segments": [segment]}),
        (
            "transcript.finalized",
            {"id": meeting.pk},
            {"segments": [{**segment, "completed": True}]},
        ),
    ]


def test_nothing_is_published_for_no_segments_and_a_bad_kind_is_refused(alice: User) -> None:
    meeting = make_meeting(alice, "klm-nopq-rst")
    assert realtime.publish_segments(meeting_id=meeting.pk, kind="mutable", segments=[]) is None
    with pytest.raises(ValueError, match="kind must be"):
        realtime.publish_segments(meeting_id=meeting.pk, kind="draft", segments=[{"text": "x"}])
    assert [m["type"] for m in log_of(alice, "klm-nopq-rst")] == ["meeting.status"]


def test_two_users_in_the_same_meeting_have_separate_logs(alice: User, bob: User) -> None:
    make_meeting(alice, "abc-defg-hij")
    theirs = make_meeting(bob, "abc-defg-hij")
    lifecycle.transition(meeting_id=theirs.pk, to="joining", source="bot")
    assert [m["payload"]["status"] for m in log_of(alice, "abc-defg-hij")] == ["requested"]
    assert realtime.native_key(alice.pk, "google_meet", "x") != realtime.native_key(
        bob.pk, "google_meet", "x"
    )


def test_publishing_costs_no_query_after_the_first_event_of_a_meeting(
    alice: User, django_assert_num_queries: Any
) -> None:
    meeting = make_meeting(alice, "klm-nopq-rst")
    segments = [{"segment_id": "s1", "text": "Hello"}]
    realtime.publish_segments(meeting_id=meeting.pk, kind="mutable", segments=segments)
    with django_assert_num_queries(0):
        for _ in range(5):
            realtime.publish_segments(meeting_id=meeting.pk, kind="mutable", segments=segments)


def log_ttl(user: User, native_id: str) -> int:
    key = realtime.event_log_key(realtime.native_key(user.pk, "google_meet", native_id))
    return int(realtime.redis_client().ttl(key))


@override_settings(REALTIME_EVENT_LOG_TTL_S=7 * 86400, REALTIME_EVENT_LOG_TTL_AFTER_END_S=3600)
def test_a_finished_calls_log_is_kept_an_hour_and_the_next_call_keeps_it_a_week(
    alice: User,
) -> None:
    """A call's log is Redis memory (~7 MB an hour of speech) kept for SSE replay: a week while
    the call may still need it, an hour once it is over."""
    meeting = make_meeting(alice, "abc-defg-hij")
    lifecycle.transition(meeting_id=meeting.pk, to="joining", source="bot")
    assert log_ttl(alice, "abc-defg-hij") > 3600

    lifecycle.transition(meeting_id=meeting.pk, to="failed", source="bot", reason="test")
    assert 0 < log_ttl(alice, "abc-defg-hij") <= 3600

    make_meeting(alice, "abc-defg-hij")  # the next call under the same id: `requested`
    assert log_ttl(alice, "abc-defg-hij") > 3600
