from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import User
from bots.runtime.recording import RecordingWriter
from meetings.models import Meeting, MeetingSession, Recording, RecordingStatus
from tests.conftest import api_client
from tests.meetings.builders import meeting_in, recorded
from vexa_site.input_guard import MAX_PAGE
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


@pytest.fixture(autouse=True)
def recordings_dir(tmp_path: Path) -> Any:
    with override_settings(RECORDINGS_DIR=tmp_path / "recordings"):
        yield tmp_path / "recordings"


def test_it_lists_the_callers_recordings_paginated_and_filtered(
    alice: User, alice_api: APIClient, bob: User
) -> None:
    first = recorded(alice, native="abc-defg-hij")
    second = recorded(alice, native="xyz-wxyz-xyz")
    recorded(bob)

    page = alice_api.get("/recordings", {"page_size": 1}).json()
    filtered = alice_api.get("/recordings", {"meeting_id": first.meeting_id}).json()

    assert page["total"] == 2
    assert page["page"] == 1
    assert page["page_size"] == 1
    assert [r["id"] for r in page["recordings"]] == [second.pk]
    assert alice_api.get("/recordings", {"page": 2, "page_size": 1}).json()["recordings"][0][
        "id"
    ] == (first.pk)
    assert [r["id"] for r in filtered["recordings"]] == [first.pk]
    typed = {"platform": "google_meet", "native_meeting_id": "XYZ-WXYZ-XYZ"}
    assert [r["id"] for r in alice_api.get("/recordings", typed).json()["recordings"]] == [
        second.pk
    ]
    shown = filtered["recordings"][0]
    assert shown["status"] == "completed"
    assert shown["duration_s"] == pytest.approx(1.0)
    assert shown["size_bytes"] == Path(first.file_path).stat().st_size
    assert shown["download_url"] == f"/recordings/{first.pk}/download"


def test_a_page_whose_offset_postgresql_cannot_take_is_a_422(
    alice: User, alice_api: APIClient
) -> None:
    recorded(alice)
    too_far = alice_api.get("/recordings", {"page": MAX_PAGE + 1, "page_size": 100})
    assert too_far.status_code == 422
    assert too_far.json()["detail"][0]["loc"] == ["query", "page"]
    last = alice_api.get("/recordings", {"page": MAX_PAGE, "page_size": 100}).json()
    assert (last["total"], last["recordings"]) == (1, [])


def test_it_shows_one_recording_and_hides_other_users_ones(
    alice: User, alice_api: APIClient, bob_api: APIClient
) -> None:
    recording = recorded(alice)

    mine = alice_api.get(f"/recordings/{recording.pk}")
    theirs = bob_api.get(f"/recordings/{recording.pk}")

    assert mine.status_code == 200
    assert mine.json()["meeting_id"] == recording.meeting_id
    assert theirs.status_code == 404
    assert theirs.json() == {"detail": "Recording not found"}
    assert bob_api.get("/recordings").json()["total"] == 0
    assert bob_api.get(f"/recordings/{recording.pk}/download").status_code == 404
    assert bob_api.delete(f"/recordings/{recording.pk}").status_code == 404
    assert Recording.objects.filter(pk=recording.pk).exists()


def test_it_downloads_the_whole_file_or_a_byte_range(alice: User, alice_api: APIClient) -> None:
    recording = recorded(alice)
    content = Path(recording.file_path).read_bytes()
    url = f"/recordings/{recording.pk}/download"

    whole = alice_api.get(url)
    head = alice_api.get(url, HTTP_RANGE="bytes=0-43")
    tail = alice_api.get(url, HTTP_RANGE="bytes=-100")
    beyond = alice_api.get(url, HTTP_RANGE=f"bytes={len(content)}-")

    assert whole.status_code == 200
    assert whole["Content-Type"] == "audio/ogg"
    assert whole["Accept-Ranges"] == "bytes"
    assert b"".join(whole.streaming_content) == content  # type: ignore[attr-defined]
    assert head.status_code == 206
    assert head["Content-Range"] == f"bytes 0-43/{len(content)}"
    assert b"".join(head.streaming_content) == content[:44]  # type: ignore[attr-defined]
    assert b"".join(tail.streaming_content) == content[-100:]  # type: ignore[attr-defined]
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{len(content)}"


def test_it_deletes_a_finished_recording_and_its_file_after_commit(
    alice: User, alice_api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    recording = recorded(alice)
    path = Path(recording.file_path)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = alice_api.delete(f"/recordings/{recording.pk}")
    assert path.exists()  # a rolled-back delete must not lose the file
    for callback in callbacks:
        callback()

    assert response.status_code == 204
    assert not Recording.objects.filter(pk=recording.pk).exists()
    assert not path.parent.exists()  # the file and its finished meeting's emptied folder
    assert alice_api.get(f"/recordings/{recording.pk}").status_code == 404


def test_it_refuses_to_delete_a_recording_still_being_written(
    alice: User, alice_api: APIClient
) -> None:
    meeting = meeting_in(alice, "active")
    writer = RecordingWriter(MeetingSession.objects.create(meeting=meeting))

    response = alice_api.delete(f"/recordings/{writer.recording.pk}")

    assert response.status_code == 409
    assert Path(writer.recording.file_path).exists()
    writer.close()


def test_it_needs_the_tx_scope(alice: User) -> None:
    recording = recorded(alice)
    bot_only = api_client(account_services.token_issue(user=alice, scopes=["bot"]).plain)

    assert bot_only.get("/recordings").status_code == 403
    assert bot_only.get(f"/recordings/{recording.pk}").status_code == 403
    assert Meeting.objects.count() == 1


def test_a_completed_recording_is_announced_once_to_the_owners_webhook(
    alice: User, alice_api: APIClient, bob: User
) -> None:
    endpoint = WebhookEndpoint.objects.create(user=alice, url="https://hooks.example.com/r")
    WebhookEndpoint.objects.create(user=bob, url="https://hooks.example.com/b")
    recording = recorded(alice)
    failed = MeetingSession.objects.create(meeting=recording.meeting)
    broken = RecordingWriter(failed)
    broken.close(status=RecordingStatus.FAILED)
    broken.close(status=RecordingStatus.COMPLETED)  # a second close changes nothing

    [event] = WebhookEvent.objects.filter(event_type="recording.completed")
    assert event.user_id == alice.pk
    assert event.data["recording"] == alice_api.get(f"/recordings/{recording.pk}").json()
    assert event.data["meeting"]["id"] == recording.meeting_id
    assert [d.endpoint_id for d in WebhookDelivery.objects.filter(event=event)] == [endpoint.pk]
    assert Recording.objects.get(pk=broken.recording.pk).status == RecordingStatus.FAILED
