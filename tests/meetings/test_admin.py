from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings

from accounts.models import User
from meetings import lifecycle
from meetings.models import BotChatMessage, ChatMessage, Meeting, MeetingStatus
from tests.meetings.builders import add_segments, meeting_in, recorded
from transcripts import realtime
from transcripts.models import Segment

pytestmark = pytest.mark.django_db
S = MeetingStatus
PNG = b"\x89PNG\r\n\x1a\n-not-really-an-image"


@pytest.fixture
def operator(client: Client) -> Client:
    staff = User.objects.create_superuser("ops@example.com", password="x-very-long-password")
    client.force_login(staff)
    return client


def test_operators_find_meetings_by_status_and_id(operator: Client, alice: User) -> None:
    meeting_in(alice, S.COMPLETED)
    meeting_in(alice, S.FAILED, platform="zoom", native_meeting_id="123456789")
    page = operator.get("/django-admin/meetings/meeting/?status__exact=failed")
    assert page.status_code == 200
    text = page.content.decode()
    assert "123456789" in text
    assert "abc-defg-hij" not in text
    found = operator.get("/django-admin/meetings/meeting/?q=alice@example.com")
    assert "abc-defg-hij" in found.content.decode()


def test_a_meeting_page_shows_its_history_and_failure_evidence_read_only(
    operator: Client, alice: User, tmp_path: Path
) -> None:
    meeting = meeting_in(alice, S.AWAITING_ADMISSION)
    BotChatMessage.objects.create(meeting=meeting, text="Posted <here>", error="no chat box")
    ChatMessage.objects.create(meeting=meeting, sender="Carol", text="Let it <in>")
    screenshot = tmp_path / "meeting.png"
    screenshot.write_bytes(PNG)
    lifecycle.transition(
        meeting_id=meeting.pk,
        to=S.FAILED,
        source="bot_callback",
        reason="denied by host",
        completion_reason="awaiting_admission_rejected",
        error_details={"message": "denied"},
        extra_data={
            "join_failure_evidence": {
                "screenshot": str(screenshot),
                "page_text": "You can't join this video call",
            }
        },
    )
    url = f"/django-admin/meetings/meeting/{meeting.pk}/change/"
    with override_settings(BOT_EVIDENCE_DIR=tmp_path):
        page = operator.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "denied by host" in text
    assert "awaiting_admission → failed" in text
    assert "You can&#x27;t join this video call" in text
    assert f'src="data:image/png;base64,{base64.b64encode(PNG).decode()}"' in text
    assert 'name="status"' not in text  # no form field: status is not editable here
    # What the bot was asked to post in the chat, and why it could not.
    assert "Posted &lt;here&gt;" in text
    assert "no chat box" in text
    assert 'name="chat_messages-0-text"' not in text
    # What participants posted there, as the bot read it.
    assert "Let it &lt;in&gt;" in text
    assert 'name="chat_read-0-text"' not in text
    operator.post(url, {"status": "active"})
    assert Meeting.objects.get(pk=meeting.pk).status == S.FAILED


def test_the_stop_action_uses_the_same_service_as_the_api(operator: Client, alice: User) -> None:
    waiting = meeting_in(alice, S.REQUESTED)
    running = meeting_in(alice, S.ACTIVE, native_meeting_id="zzz-zzzz-zzz")
    response = operator.post(
        "/django-admin/meetings/meeting/",
        {"action": "stop_bots", "_selected_action": [waiting.pk, running.pk]},
    )
    assert response.status_code == 302
    waiting.refresh_from_db()
    running.refresh_from_db()
    assert waiting.status == S.COMPLETED
    assert waiting.data["completion_reason"] == "stopped_before_admission"
    assert running.status == S.STOPPING
    assert running.data["status_transition"][-1]["source"] == "admin"


def test_segments_and_share_links_are_listed(operator: Client, alice: User) -> None:
    meeting = meeting_in(alice, S.COMPLETED)
    add_segments(meeting, [(0, 1, "Alice", "hello admin")])
    assert "hello admin" in operator.get("/django-admin/transcripts/segment/").content.decode()
    assert operator.get("/django-admin/transcripts/sharelink/").status_code == 200


# --- deleting from the admin: content first, never orphaned files -------------------------------


def log_texts(user: User, native: str) -> str:
    log_key = realtime.event_log_key(realtime.native_key(user.pk, "google_meet", native))
    return json.dumps([message for _, message in realtime.event_log_entries(log_key)])


def spoken(meeting: Meeting, text: str) -> None:
    realtime.publish_segments(
        meeting_id=meeting.pk, kind="finalized", segments=[{"segment_id": "s", "text": text}]
    )


def test_an_operator_deleting_meetings_removes_their_files_and_never_a_live_one(
    operator: Client, alice: User, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    realtime.redis_client().delete(
        realtime.event_log_key(realtime.native_key(alice.pk, "google_meet", "abc-defg-hij"))
    )
    changelist = "/django-admin/meetings/meeting/"
    with override_settings(RECORDINGS_DIR=tmp_path):
        recording = recorded(alice)
        spoken(recording.meeting, "words of the finished call")
        live = meeting_in(alice, S.ACTIVE, native_meeting_id="liv-eliv-eli")
        both = [recording.meeting_id, live.pk]

        refused = operator.post(
            changelist, {"action": "delete_selected", "_selected_action": both, "post": "yes"}
        )
        one = operator.get(f"{changelist}{live.pk}/delete/")
        assert Meeting.objects.filter(pk__in=both).count() == 2
        with django_capture_on_commit_callbacks(execute=True):
            done = operator.post(
                changelist,
                {
                    "action": "delete_selected",
                    "_selected_action": [recording.meeting_id],
                    "post": "yes",
                },
            )

    assert (refused.status_code, one.status_code, done.status_code) == (403, 403, 302)
    assert not Meeting.objects.filter(pk=recording.meeting_id).exists()
    assert not Path(recording.file_path).exists()
    assert "words of the finished call" not in log_texts(alice, "abc-defg-hij")
    assert Meeting.objects.filter(pk=live.pk).exists()


def test_an_operator_deleting_a_user_removes_their_recordings_and_transcripts(
    operator: Client,
    alice: User,
    bob: User,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with override_settings(RECORDINGS_DIR=tmp_path):
        theirs = recorded(alice)
        add_segments(theirs.meeting, [(0, 1, "Alice", "alice's words")])
        others = recorded(bob, native="bob-bobb-bob")
        busy = meeting_in(bob, S.ACTIVE)
        assert operator.get(f"/django-admin/accounts/user/{bob.pk}/delete/").status_code == 403

        with django_capture_on_commit_callbacks(execute=True):
            response = operator.post(
                f"/django-admin/accounts/user/{alice.pk}/delete/", {"post": "yes"}
            )

    assert response.status_code == 302
    assert not User.objects.filter(pk=alice.pk).exists()
    assert not Path(theirs.file_path).exists()
    assert not Segment.objects.filter(text="alice's words").exists()
    assert Path(others.file_path).exists()
    assert Meeting.objects.filter(pk=busy.pk).exists()
