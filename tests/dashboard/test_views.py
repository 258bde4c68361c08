from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings

from accounts import services as account_services
from accounts.models import User
from meetings import lifecycle
from meetings.models import Meeting, MeetingStatus
from tests.meetings.builders import add_segments, meeting_in, recorded
from transcripts.models import ShareLink

pytestmark = pytest.mark.django_db


def make_meeting(user: User, native_id: str = "abc-defg-hij") -> Meeting:
    meeting = Meeting.objects.create(
        user=user, platform="google_meet", native_meeting_id=native_id, data={"name": "Standup"}
    )
    lifecycle.record_created(meeting)
    return meeting


def signed_in(key: str) -> Client:
    client = Client()
    response = client.post("/dashboard/login", {"api_key": key})
    assert response.status_code == 302
    return client


def test_signing_in_needs_a_valid_key() -> None:
    response = Client().post("/dashboard/login", {"api_key": "vex_nope"})
    assert response.status_code == 401
    assert b"Invalid API key" in response.content


def test_pages_redirect_to_sign_in() -> None:
    response = Client().get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/dashboard/login")


def test_the_login_form_is_csrf_protected(alice_key: str) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post("/dashboard/login", {"api_key": alice_key}).status_code == 403


def test_it_lists_only_the_users_own_meetings(alice: User, bob: User, alice_key: str) -> None:
    make_meeting(alice, "aaa-bbbb-ccc")
    make_meeting(bob, "xxx-yyyy-zzz")
    page = signed_in(alice_key).get("/dashboard/")
    assert b"aaa-bbbb-ccc" not in page.content  # shown by name
    assert b"Standup" in page.content
    assert page.content.count(b"status-requested") == 1


def test_the_status_filter_returns_a_fragment_for_htmx(alice: User, alice_key: str) -> None:
    make_meeting(alice)
    client = signed_in(alice_key)
    fragment = client.get("/dashboard/?status=completed", HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content
    assert b"No meetings yet" in fragment.content


def test_another_users_meeting_is_a_404(bob: User, alice_key: str, tmp_path: Path) -> None:
    theirs = make_meeting(bob)
    client = signed_in(alice_key)
    assert client.get(f"/dashboard/meetings/{theirs.pk}").status_code == 404
    assert client.post(f"/dashboard/meetings/{theirs.pk}/stop").status_code == 404
    assert client.post(f"/dashboard/meetings/{theirs.pk}/share").status_code == 404
    assert client.get(f"/dashboard/meetings/{theirs.pk}/transcript.txt").status_code == 404
    with override_settings(RECORDINGS_DIR=tmp_path):
        theirs_recording = recorded(bob, native="rec-ordi-ngs")
        assert client.get(f"/dashboard/recordings/{theirs_recording.pk}.wav").status_code == 404
    assert Meeting.objects.get(pk=theirs.pk).status == MeetingStatus.REQUESTED


def test_sending_a_bot_from_the_form_creates_the_meeting(
    alice: User, alice_key: str, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    client = signed_in(alice_key)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            "/dashboard/bots", {"meeting_url": "https://meet.google.com/abc-defg-hij"}
        )
    meeting = Meeting.objects.get(user=alice)
    assert response.status_code == 302
    assert response["Location"] == f"/dashboard/meetings/{meeting.pk}"
    assert meeting.native_meeting_id == "abc-defg-hij"
    assert callbacks  # the bot is enqueued after commit


def test_a_bad_meeting_link_is_shown_as_an_error(alice_key: str) -> None:
    response = signed_in(alice_key).post(
        "/dashboard/bots", {"meeting_url": "https://example.com/x"}
    )
    assert response.status_code in (400, 422)
    assert b'class="error"' in response.content


def test_a_language_the_model_cannot_transcribe_is_said_in_words(alice_key: str) -> None:
    response = signed_in(alice_key).post(
        "/dashboard/bots", {"meeting_url": "https://meet.google.com/abc-defg-hij", "language": "es"}
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "(the bundled tiny.en) is English-only, so it cannot transcribe &#x27;es&#x27;" in page
    assert "&#x27;loc&#x27;" not in page  # the message, not the API's error structure
    assert not Meeting.objects.exists()


def test_stop_ends_a_bot_that_has_not_started(alice: User, alice_key: str) -> None:
    meeting = make_meeting(alice)
    signed_in(alice_key).post(f"/dashboard/meetings/{meeting.pk}/stop")
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.COMPLETED
    assert meeting.data["completion_reason"] == "stopped_before_admission"


def test_share_creates_a_public_link(alice: User, alice_key: str) -> None:
    meeting = make_meeting(alice)
    response = signed_in(alice_key).post(f"/dashboard/meetings/{meeting.pk}/share")
    share = ShareLink.objects.get(meeting=meeting)
    assert share.share_id.encode() in response.content


def test_revoking_the_key_signs_the_session_out(alice: User) -> None:
    issued = account_services.token_issue(user=alice, scopes=["tx"])
    client = signed_in(issued.plain)
    assert client.get("/dashboard/").status_code == 200
    account_services.token_revoke(token_id=issued.token.pk)
    assert client.get("/dashboard/").status_code == 302


def test_the_meeting_page_shows_the_transcript_as_sentences(alice: User, alice_key: str) -> None:
    meeting = meeting_in(alice, "active")
    add_segments(meeting, [(0.0, 0.4, "Alice", "Good"), (0.5, 1.0, "Alice", "morning.")])
    add_segments(meeting, [(2.0, 2.5, "Bob", "Hi")], completed=False)
    page = signed_in(alice_key).get(f"/dashboard/meetings/{meeting.pk}")
    assert b"Good morning." in page.content
    assert b'class="draft"' in page.content
    assert b"every 2s" in page.content  # a live meeting refreshes itself


def test_a_failed_meeting_says_why_the_bot_failed(alice: User, alice_key: str) -> None:
    meeting = meeting_in(alice, "active")
    lifecycle.transition(
        meeting_id=meeting.pk,
        to=MeetingStatus.FAILED,
        source="bot",
        reason="bot_error",
        failure_stage="active",
        error_details={"message": "in the call but could not join its audio <for 30 s>"},
    )

    client = signed_in(alice_key)
    page = client.get(f"/dashboard/meetings/{meeting.pk}")
    listed = client.get("/dashboard/")

    assert page.status_code == 200
    assert b"The bot failed at active: in the call but could not join its audio" in page.content
    assert b"&lt;for 30 s&gt;" in page.content  # the page's text, escaped
    # The list shows the reason on the status, without opening the meeting.
    assert b'title="in the call but could not join its audio &lt;for 30 s&gt;"' in listed.content


def test_a_nul_in_a_form_value_is_refused_and_creates_nothing(alice: User, alice_key: str) -> None:
    response = signed_in(alice_key).post(
        "/dashboard/bots",
        {"meeting_url": "https://meet.google.com/abc-defg-hij", "bot_name": "Note\0taker"},
    )
    assert response.status_code == 422
    assert b"bot name: Null characters are not allowed." in response.content
    assert not Meeting.objects.filter(user=alice).exists()


def test_a_finished_meetings_page_plays_and_downloads_its_recording(
    alice: User, alice_key: str, tmp_path: Path
) -> None:
    """The API serves recordings to a key header; the dashboard, signed in by session, shows a
    player that can seek (byte ranges) and a download link."""
    with override_settings(RECORDINGS_DIR=tmp_path):
        recording = recorded(alice, seconds=2.0)
        content = Path(recording.file_path).read_bytes()
        client = signed_in(alice_key)
        page = client.get(f"/dashboard/meetings/{recording.meeting_id}")
        url = f"/dashboard/recordings/{recording.pk}.wav"
        whole = client.get(url)
        part = client.get(url, HTTP_RANGE="bytes=44-99")
        anonymous = Client().get(url)

    assert f'<audio controls preload="none" src="{url}">'.encode() in page.content
    assert whole.status_code == 200
    assert whole["Content-Type"] == "audio/wav"
    assert b"".join(whole.streaming_content) == content  # type: ignore[attr-defined]
    assert part.status_code == 206
    assert b"".join(part.streaming_content) == content[44:100]  # type: ignore[attr-defined]
    assert anonymous.status_code == 302
