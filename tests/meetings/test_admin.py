from __future__ import annotations

import base64
from pathlib import Path

import pytest
from django.test import Client, override_settings

from accounts.models import User
from meetings import lifecycle
from meetings.models import Meeting, MeetingStatus
from tests.meetings.builders import add_segments, meeting_in

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
