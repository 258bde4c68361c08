"""Retention: what outlived the operator's settings is deleted, and nothing else."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from meetings import retention
from meetings.models import IdempotencyKey, Meeting, MeetingStatus, Recording
from meetings.tasks import apply_retention
from tests.meetings.builders import add_segments, meeting_in, recorded
from transcripts.models import Segment, ShareLink
from webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

S = MeetingStatus
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def folders(tmp_path: Path) -> Any:
    with override_settings(RECORDINGS_DIR=tmp_path / "recordings", BOT_EVIDENCE_DIR=tmp_path):
        yield tmp_path


def ended(meeting: Meeting, ago: timedelta) -> None:
    Meeting.objects.filter(pk=meeting.pk).update(end_time=timezone.now() - ago)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@override_settings(MEETING_RETENTION_DAYS=30)
def test_a_meeting_past_its_retention_is_deleted_as_delete_meetings_does_and_newer_ones_stay(
    alice: User, alice_api: APIClient, folders: Path, django_capture_on_commit_callbacks: Any
) -> None:
    screenshot = folders / "evidence.png"
    screenshot.write_bytes(b"PNG")
    recording = recorded(alice, native="abc-defg-hij")
    old = recording.meeting
    Meeting.objects.filter(pk=old.pk).update(
        data={
            **old.data,
            "name": "Old plans",
            "join_failure_evidence": {"screenshot": str(screenshot)},
        }
    )
    add_segments(old, [(0, 2, "Alice", "the old secret")])
    ShareLink.objects.create(meeting=old, share_id="o" * 32, expires_at=timezone.now() + DAY)
    history = list(old.data["status_transition"])
    ended(old, 31 * DAY)
    newer = meeting_in(alice, S.COMPLETED, native_meeting_id="xyz-wxyz-xyz")
    add_segments(newer, [(0, 2, "Alice", "last month's words")])
    ended(newer, 29 * DAY)
    live = meeting_in(alice, S.ACTIVE, native_meeting_id="qrs-tuvw-xyz")
    Meeting.objects.filter(pk=live.pk).update(start_time=timezone.now() - 40 * DAY)

    with django_capture_on_commit_callbacks(execute=True):
        report = apply_retention()

    assert report["meetings"] == 1
    assert report["finished"] is True
    old.refresh_from_db()
    assert old.data["redacted"] is True
    assert old.data["deleted_by"] == "retention"
    assert old.data["status_transition"] == history
    assert "name" not in old.data
    assert not Segment.objects.filter(meeting=old).exists()
    assert not ShareLink.objects.filter(meeting=old).exists()
    assert not Recording.objects.filter(pk=recording.pk).exists()
    assert not Path(recording.file_path).parent.exists()  # the file and its meeting's folder
    assert not screenshot.exists()
    kept = alice_api.get("/transcripts/google_meet/xyz-wxyz-xyz").json()
    assert [s["text"] for s in kept["segments"]] == ["last month's words"]
    live.refresh_from_db()
    assert live.status == S.ACTIVE
    assert not (live.data or {}).get("redacted")

    assert apply_retention()["meetings"] == 0


def test_with_the_default_settings_nothing_a_user_stored_is_deleted(
    alice: User, alice_api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    recording = recorded(alice)
    add_segments(recording.meeting, [(0, 2, "Alice", "kept for years")])
    ended(recording.meeting, 3650 * DAY)
    Recording.objects.filter(pk=recording.pk).update(completed_at=timezone.now() - 3650 * DAY)

    with django_capture_on_commit_callbacks(execute=True):
        report = retention.retention_apply()

    assert (report.meetings, report.recordings) == (0, 0)
    assert Path(recording.file_path).exists()
    assert Segment.objects.filter(meeting=recording.meeting).exists()
    assert alice_api.get(f"/recordings/{recording.pk}").json()["expires_at"] is None


@override_settings(RECORDING_RETENTION_DAYS=7)
def test_a_recording_past_its_retention_loses_its_audio_and_the_transcript_stays(
    alice: User, alice_api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    old = recorded(alice, native="abc-defg-hij")
    add_segments(old.meeting, [(0, 2, "Alice", "words outlive audio")])
    Recording.objects.filter(pk=old.pk).update(completed_at=timezone.now() - 8 * DAY)
    newer = recorded(alice, native="xyz-wxyz-xyz")
    writing = recorded(alice, native="qrs-tuvw-xyz")
    Recording.objects.filter(pk=writing.pk).update(
        status="in_progress", completed_at=None, created_at=timezone.now() - 30 * DAY
    )
    Recording.objects.filter(pk=writing.pk).update(updated_at=timezone.now() - 30 * DAY)

    shown = alice_api.get(f"/recordings/{newer.pk}").json()
    assert newer.completed_at is not None
    assert parse(shown["expires_at"]) == newer.completed_at + 7 * DAY
    with django_capture_on_commit_callbacks(execute=True):
        report = retention.retention_apply()

    assert report.recordings == 1
    assert alice_api.get(f"/recordings/{old.pk}").status_code == 404
    assert not Path(old.file_path).parent.exists()  # the file and its meeting's folder
    assert Segment.objects.filter(meeting=old.meeting).exists()
    old.meeting.refresh_from_db()
    assert not old.meeting.data.get("redacted")
    assert Path(newer.file_path).exists()
    assert Path(writing.file_path).exists()
    assert Recording.objects.filter(pk__in=[newer.pk, writing.pk]).count() == 2


@override_settings(RECORDING_RETENTION_DAYS=7)
def test_a_live_meetings_folder_stays_when_its_earlier_recording_expires(
    alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    """A bot starting the meeting's next session creates the folder, then its file: removing
    the folder in between would fail the recording."""
    old = recorded(alice)
    Meeting.objects.filter(pk=old.meeting_id).update(status=S.ACTIVE)
    Recording.objects.filter(pk=old.pk).update(completed_at=timezone.now() - 8 * DAY)

    with django_capture_on_commit_callbacks(execute=True):
        assert retention.retention_apply().recordings == 1

    assert not Path(old.file_path).exists()
    assert Path(old.file_path).parent.is_dir()


def test_finished_webhook_deliveries_go_after_their_retention_and_pending_ones_never(
    alice: User,
) -> None:
    endpoint = WebhookEndpoint.objects.create(user=alice, url="https://hooks.example.com/x")
    long_ago = timezone.now() - 31 * DAY

    def delivery(name: str, status: str, finished_at: datetime | None) -> WebhookDelivery:
        event = WebhookEvent.objects.create(
            event_id=name,
            dedupe_key=name,
            user=alice,
            event_type="meeting.completed",
            created_at=finished_at or timezone.now(),
        )
        row = WebhookDelivery.objects.create(
            event=event,
            endpoint=endpoint,
            status=status,
            retry_until=timezone.now(),
            finished_at=finished_at,
        )
        WebhookAttempt.objects.create(delivery=row, number=1, url=endpoint.url, status_code=200)
        return row

    delivery("sent-long-ago", DeliveryStatus.SUCCEEDED, long_ago)
    delivery("gave-up-long-ago", DeliveryStatus.FAILED, long_ago)
    pending = delivery("still-retrying", DeliveryStatus.PENDING, None)
    WebhookEvent.objects.filter(event_id="still-retrying").update(created_at=long_ago)
    recent = delivery("sent-yesterday", DeliveryStatus.SUCCEEDED, timezone.now() - DAY)
    WebhookEvent.objects.create(
        event_id="nobody-listened", dedupe_key="n", user=alice, event_type="meeting.started"
    )
    WebhookEvent.objects.filter(event_id="nobody-listened").update(created_at=long_ago)

    report = retention.retention_apply()

    assert (report.webhook_deliveries, report.webhook_events) == (2, 3)
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}
    assert set(WebhookEvent.objects.values_list("event_id", flat=True)) == {
        "still-retrying",
        "sent-yesterday",
    }
    assert WebhookAttempt.objects.count() == 2


def test_expired_share_links_idempotency_keys_and_sessions_go_once_nothing_can_use_them(
    alice: User,
) -> None:
    meeting = meeting_in(alice, S.COMPLETED)
    now = timezone.now()
    ShareLink.objects.create(meeting=meeting, share_id="a" * 32, expires_at=now - 2 * DAY)
    ShareLink.objects.create(
        meeting=meeting, share_id="b" * 32, expires_at=now - timedelta(hours=1), revoked_at=now
    )
    ShareLink.objects.create(meeting=meeting, share_id="c" * 32, expires_at=now + DAY)
    stale = IdempotencyKey.objects.create(user=alice, scope="bots", key="k1", fingerprint="f")
    IdempotencyKey.objects.filter(pk=stale.pk).update(created_at=now - timedelta(hours=25))
    IdempotencyKey.objects.create(user=alice, scope="bots", key="k2", fingerprint="f")

    expired_session, live_session = SessionStore(), SessionStore()
    expired_session.set_expiry(now - timedelta(hours=1))
    expired_session.create()
    live_session.create()

    report = retention.retention_apply()

    assert not SessionStore().exists(str(expired_session.session_key))
    assert SessionStore().exists(str(live_session.session_key))
    assert (report.share_links, report.idempotency_keys) == (1, 1)
    assert sorted(ShareLink.objects.values_list("share_id", flat=True)) == ["b" * 32, "c" * 32]
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["k2"]


@override_settings(MEETING_RETENTION_DAYS=1)
def test_a_run_out_of_time_stops_between_batches_and_the_next_run_goes_on(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "MEETING_BATCH", 1)
    meetings = [meeting_in(alice, S.COMPLETED, native_meeting_id=f"abc-defg-hi{c}") for c in "xyz"]
    for meeting in meetings:
        ended(meeting, 2 * DAY)

    first = retention.retention_apply(time_budget_s=0)
    second = retention.retention_apply()

    assert (first.meetings, first.finished) == (1, False)
    assert (second.meetings, second.finished) == (2, True)
    assert Meeting.objects.filter(data__redacted=True).count() == 3
