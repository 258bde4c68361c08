from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from meetings.models import MeetingStatus
from tests.meetings.builders import START, add_segments, meeting_in
from tests.meetings.builders import cookbook_standup as standup

pytestmark = pytest.mark.django_db
S = MeetingStatus
SEED_SEGMENT_FIELDS = {
    "start",
    "end",
    "text",
    "speaker",
    "language",
    "absolute_start_time",
    "absolute_end_time",
    "created_at",
}


def test_the_seed_transcript_has_the_meeting_and_its_segments_in_order(
    alice: User, alice_api: APIClient
) -> None:
    meeting = standup(alice)
    response = alice_api.get("/transcripts/google_meet/abc-defg-hij")
    assert response.status_code == 200
    got = response.json()
    assert got["id"] == meeting.pk
    assert {"platform", "native_meeting_id", "status", "start_time", "end_time"} <= set(got)
    assert got["start_time"] == "2024-01-01T12:00:00Z"
    segments = got["segments"]
    assert [s["start"] for s in segments] == [0, 5, 10, 15]
    first = segments[0]
    assert set(first) >= SEED_SEGMENT_FIELDS
    assert first["text"] == "Hello everyone, welcome to today's meeting."
    assert first["speaker"] == "Alice"
    assert first["end"] == 5.2
    assert first["absolute_start_time"] == "2024-01-01T12:00:00Z"
    assert first["absolute_end_time"] == "2024-01-01T12:00:05.200000Z"
    assert first["completed"] is True
    assert first["segment_id"]
    assert first["session_uid"]
    # Cookbook "Get Status History": the history is in data.status_transition.
    assert got["data"]["status_transition"][0]["to"] == "requested"


def test_a_meeting_that_was_never_started_is_a_404(alice_api: APIClient) -> None:
    response = alice_api.get("/transcripts/google_meet/abc-defg-hij")
    assert response.status_code == 404
    assert response.json() == {"detail": "Meeting not found"}


def test_the_newest_meeting_is_shown_unless_meeting_id_names_another(
    alice: User, alice_api: APIClient
) -> None:
    older = standup(alice)
    newer = meeting_in(alice, S.ACTIVE)
    add_segments(newer, [(0, 1, "Carol", "second call")], completed=False)
    latest = alice_api.get("/transcripts/google_meet/abc-defg-hij").json()
    assert latest["id"] == newer.pk
    assert [(s["text"], s["completed"]) for s in latest["segments"]] == [("second call", False)]
    named = alice_api.get(f"/transcripts/google_meet/abc-defg-hij?meeting_id={older.pk}").json()
    assert named["id"] == older.pk
    assert len(named["segments"]) == 4


def test_the_txt_export_is_the_cookbook_layout(alice: User, alice_api: APIClient) -> None:
    standup(alice)
    response = alice_api.get(
        "/transcripts/google_meet/abc-defg-hij?format=txt", HTTP_ACCEPT="text/plain"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response.content.decode() == (
        "Meeting Transcript\n"
        "\n"
        "Title: Team Standup\n"
        "Date: 2024-01-01 12:00:00\n"
        "\n"
        "[00:00:00] Alice: Hello everyone, welcome to today's meeting.\n"
        "[00:00:05] Bob: Thanks for joining. Let's start with updates.\n"
        "[00:00:10] Alice: I've completed the feature implementation.\n"
        "[00:00:15] Bob: Great! What about the testing?\n"
    )


def test_the_srt_export_numbers_cues_with_millisecond_times(
    alice: User, alice_api: APIClient
) -> None:
    standup(alice)
    response = alice_api.get("/transcripts/google_meet/abc-defg-hij?format=srt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-subrip")
    text = response.content.decode()
    assert text.startswith(
        "1\n00:00:00,000 --> 00:00:05,200\nAlice: Hello everyone, welcome to today's meeting.\n"
        "\n2\n00:00:05,000 --> 00:00:09,750\nBob: Thanks for joining."
    )
    assert text.count(" --> ") == 4


def test_the_vtt_export_has_a_header_and_voice_tags(alice: User, alice_api: APIClient) -> None:
    meeting = standup(alice)
    add_segments(meeting, [(3600, 3601.5, "<Eve & co>", "late <b>")], started_at=START)
    response = alice_api.get("/transcripts/google_meet/abc-defg-hij?format=vtt")
    assert response["Content-Type"].startswith("text/vtt")
    text = response.content.decode()
    assert text.startswith(
        "WEBVTT\n\n00:00:00.000 --> 00:00:05.200\n<v Alice>Hello everyone, welcome"
    )
    assert "01:00:00.000 --> 01:00:01.500\n<v &lt;Eve &amp; co&gt;>late &lt;b&gt;\n" in text


def test_the_json_export_is_the_api_document_as_a_download(
    alice: User, alice_api: APIClient
) -> None:
    standup(alice)
    plain = alice_api.get("/transcripts/google_meet/abc-defg-hij").json()
    response = alice_api.get("/transcripts/google_meet/abc-defg-hij?format=json")
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].endswith('.json"')
    assert json.loads(response.content) == plain


def test_an_unknown_export_format_is_a_422(alice: User, alice_api: APIClient) -> None:
    standup(alice)
    response = alice_api.get("/transcripts/google_meet/abc-defg-hij?format=pdf")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "format"]


def test_a_speakerless_transcript_without_a_name_still_exports(
    alice: User, alice_api: APIClient
) -> None:
    meeting = meeting_in(alice, S.ACTIVE, platform="zoom", native_meeting_id="123456789")
    add_segments(meeting, [(2, 3, None, "  hello\n  there ")])
    text = alice_api.get("/transcripts/zoom/123456789?format=txt").content.decode()
    assert "Title: Zoom 123456789\n" in text
    assert text.endswith("] Unknown: hello there\n")


def test_a_transcript_takes_the_same_queries_for_any_number_of_segments(
    alice: User, alice_api: APIClient, django_assert_num_queries: Any
) -> None:
    meeting = standup(alice)
    alice_api.get("/meetings")  # first use of the key records last_used_at
    # Token, meeting, segments.
    with django_assert_num_queries(3):
        assert len(alice_api.get("/transcripts/google_meet/abc-defg-hij").json()["segments"]) == 4
    add_segments(meeting, [(20 + n, 21 + n, "Carol", f"line {n}") for n in range(20)])
    with django_assert_num_queries(3):
        assert len(alice_api.get("/transcripts/google_meet/abc-defg-hij").json()["segments"]) == 24
