from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import User
from meetings.models import BotChatMessage, ChatMessage, Meeting, MeetingStatus, Recording
from meetings.stream import SessionStream
from tests.conftest import api_client
from tests.meetings.builders import add_segments, meeting_in
from transcripts import realtime
from transcripts.models import Segment, ShareLink
from transcripts.selectors import segments_saying

pytestmark = pytest.mark.django_db
S = MeetingStatus
SEED_MEETING_FIELDS = {
    "id",
    "platform",
    "native_meeting_id",
    "status",
    "start_time",
    "end_time",
    "bot_container_id",
    "data",
    "created_at",
}


# --- GET /meetings ------------------------------------------------------------------------------


def test_the_seed_list_shows_every_meeting_newest_first_with_status_history(
    alice: User, alice_api: APIClient
) -> None:
    old = meeting_in(alice, S.COMPLETED, data={"name": "Team Standup"})
    new = meeting_in(alice, S.FAILED, platform="zoom", native_meeting_id="123456789")
    response = alice_api.get("/meetings")
    assert response.status_code == 200
    meetings = response.json()["meetings"]
    assert [m["id"] for m in meetings] == [new.pk, old.pk]
    assert set(meetings[1]) >= SEED_MEETING_FIELDS
    assert meetings[1]["data"]["name"] == "Team Standup"
    history = meetings[1]["data"]["status_transition"]
    assert [(h["from"], h["to"]) for h in history] == [
        (None, "requested"),
        ("requested", "joining"),
        ("joining", "awaiting_admission"),
        ("awaiting_admission", "active"),
        ("active", "completed"),
    ]
    assert history[-1]["completion_reason"] == "meeting_ended"
    assert response.json()["has_more"] is False


def test_pages_of_meetings_say_whether_more_follow(alice: User, alice_api: APIClient) -> None:
    ids = [meeting_in(alice, S.COMPLETED, native_meeting_id=f"abc-defg-hi{c}").pk for c in "abcde"]
    newest_first = ids[::-1]
    first = alice_api.get("/meetings?limit=2").json()
    assert [m["id"] for m in first["meetings"]] == newest_first[:2]
    assert first["has_more"] is True
    last = alice_api.get("/meetings?limit=2&offset=4").json()
    assert [m["id"] for m in last["meetings"]] == newest_first[4:]
    assert last["has_more"] is False
    exact = alice_api.get("/meetings?limit=5").json()
    assert exact["has_more"] is False
    assert alice_api.get("/meetings?limit=0").status_code == 422
    assert alice_api.get("/meetings?offset=-1").status_code == 422


def test_an_offset_past_postgresql_bigint_is_a_422(alice: User, alice_api: APIClient) -> None:
    meeting_in(alice, S.COMPLETED)
    too_far = alice_api.get(f"/meetings?limit=2&offset={2**63}")
    assert too_far.status_code == 422
    assert too_far.json()["detail"][0]["loc"] == ["query", "offset"]
    farthest = alice_api.get(f"/meetings?limit=2&offset={2**63 - 1}").json()
    assert farthest == {"meetings": [], "has_more": False}


def test_meetings_filter_by_status_and_platform(alice: User, alice_api: APIClient) -> None:
    done = meeting_in(alice, S.COMPLETED)
    live = meeting_in(alice, S.ACTIVE, platform="zoom", native_meeting_id="123456789")
    by_status = alice_api.get("/meetings?status=completed").json()["meetings"]
    assert [m["id"] for m in by_status] == [done.pk]
    by_platform = alice_api.get("/meetings?platform=zoom").json()["meetings"]
    assert [m["id"] for m in by_platform] == [live.pk]
    bad = alice_api.get("/meetings?status=sleeping")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "status"]


def test_listing_meetings_takes_the_same_few_queries_for_any_number(
    alice: User, alice_api: APIClient, django_assert_num_queries: Any
) -> None:
    alice_api.get("/meetings")  # first use of the key records last_used_at
    meeting_in(alice, S.COMPLETED)
    # Token lookup + the page.
    with django_assert_num_queries(2):
        assert len(alice_api.get("/meetings").json()["meetings"]) == 1
    for n in range(6):
        meeting_in(alice, S.FAILED, native_meeting_id=f"zzz-zzzz-zz{n}")
    with django_assert_num_queries(2):
        assert len(alice_api.get("/meetings?limit=5").json()["meetings"]) == 5


def test_listing_meetings_finds_them_by_name_id_or_words_said(
    alice: User, bob: User, alice_api: APIClient
) -> None:
    said = meeting_in(alice, S.COMPLETED, native_meeting_id="sai-dbud-get")
    add_segments(said, [(0.0, 2.0, "Bob", "The quarterly BUDGET review is on Monday.")])
    named = meeting_in(
        alice, S.COMPLETED, native_meeting_id="nam-edbu-dge", data={"name": "Budget"}
    )
    other = meeting_in(alice, S.COMPLETED, native_meeting_id="oth-erme-eet")
    add_segments(other, [(0.0, 1.0, "Alice", "Nothing to see.")])
    drafted = meeting_in(alice, S.ACTIVE, native_meeting_id="dra-fted-mtg")
    add_segments(drafted, [(0.0, 1.0, "Alice", "budget, maybe")], completed=False)
    theirs = meeting_in(bob, S.COMPLETED, native_meeting_id="the-irsb-udg")
    add_segments(theirs, [(0.0, 1.0, "Bob", "Our budget.")])

    found = alice_api.get("/meetings?q=budget").json()["meetings"]
    by_id = alice_api.get("/meetings?q=OTH-ERME").json()["meetings"]
    too_long = alice_api.get("/meetings", {"q": "x" * 201})

    # Final words only: a draft may still change.
    assert [m["id"] for m in found] == [named.pk, said.pk]
    assert [m["id"] for m in by_id] == [other.pk]
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["query", "q"]


def test_a_search_finds_words_where_they_start_every_word_and_quoted_phrases_whole(
    alice: User, alice_api: APIClient
) -> None:
    lines = {
        "art-talk-one": "Art week starts Monday. The budget is due.",
        "art-ists-two": "Our artists' budget review: done.",
        "sta-rtpa-rty": "Start the party; review the budgets later.",
        "new-name-mtg": "The budget, again.",
    }
    meetings = {}
    for native, line in lines.items():
        meetings[native] = meeting_in(alice, S.COMPLETED, native_meeting_id=native)
        add_segments(meetings[native], [(0.0, 2.0, "Bob", line)])
    Meeting.objects.filter(pk=meetings["new-name-mtg"].pk).update(data={"name": "Art review"})

    def found(q: str) -> list[str]:
        response = alice_api.get("/meetings", {"q": q})
        assert response.status_code == 200, response.json()
        return sorted(m["native_meeting_id"] for m in response.json()["meetings"])

    # A word's start, in any case: "art" is not in "start" or "party".
    assert found("ART") == ["art-ists-two", "art-talk-one", "new-name-mtg"]
    assert found("budget") == ["art-ists-two", "art-talk-one", "new-name-mtg", "sta-rtpa-rty"]
    # Every word, in the transcript or the name: "review" and "art" in two places counts.
    assert found("art review") == ["art-ists-two", "new-name-mtg"]
    assert found("art nobody") == []
    # A quoted phrase is found whole, punctuation and all; an unclosed quote is one more word.
    assert found('"budget review"') == ["art-ists-two"]
    assert found('"review the budgets" start') == ["sta-rtpa-rty"]
    assert found('"party review"') == ["sta-rtpa-rty"]  # whatever stood between the words
    assert found("artists'") == ["art-ists-two"]
    assert found('"art') == ["art-ists-two", "art-talk-one", "new-name-mtg"]
    # Part of a platform id is still enough.
    assert found("RTPA") == ["sta-rtpa-rty"]


def test_a_search_takes_any_character_literally(alice: User, alice_api: APIClient) -> None:
    line = "Cost: $5.00 (approx.) [draft] 100% of a_b, c\\d? x*y+z {2} ^up| école 🙂 it's."
    meeting = meeting_in(alice, S.COMPLETED, native_meeting_id="odd-char-mtg")
    add_segments(meeting, [(0.0, 2.0, "Bob", line)])
    other = meeting_in(alice, S.COMPLETED, native_meeting_id="pla-inwo-rds")
    add_segments(other, [(0.0, 2.0, "Bob", "Costs 500 approximately, 1000 of ab cd xy.")])

    for term in [
        "$5.00", "(approx.)", "[draft]", "100%", "a_b", "c\\d?", "x*y+z", "{2}", "^up|",
        "ÉCOLE", "🙂", "it's", '"of a_b, c"',
    ]:  # fmt: skip
        response = alice_api.get("/meetings", {"q": term})
        assert response.status_code == 200, (term, response.json())
        assert [m["id"] for m in response.json()["meetings"]] == [meeting.pk], term
    # Regex and LIKE syntax match nothing of their own: "." is not any character, "%" and "_"
    # are not wildcards.
    for term in ["$5.0.", "1000%", "ab_", "c_d", ".*", "%", "[[:alpha:]]"]:
        response = alice_api.get("/meetings", {"q": term})
        assert response.status_code == 200, (term, response.json())
        assert response.json()["meetings"] == [], term


def test_a_search_of_too_many_words_is_refused_naming_the_limit(alice_api: APIClient) -> None:
    response = alice_api.get("/meetings", {"q": "one two three four five six seven eight nine"})

    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["query", "q"]
    assert "at most 8 words" in detail["msg"]
    assert alice_api.get("/meetings", {"q": "a b c d e f g h h H"}).status_code == 200


def test_searching_the_words_said_can_use_the_transcript_index(alice: User) -> None:
    # The index must match the SQL the search produces (UPPER(text) LIKE UPPER(...) on final
    # segments), or a word said once reads every segment of the user's meetings again.
    meeting = meeting_in(alice, S.COMPLETED)
    add_segments(meeting, [(0.0, 2.0, "Bob", "The quarterly budget review is on Monday.")])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    searched = Segment.objects.filter(segments_saying("Budget"))

    assert "segment_text_trgm" in searched.explain()
    assert searched.count() == 1


# --- GET /meetings/{id} -------------------------------------------------------------------------


def test_the_seed_get_meeting_returns_one_meeting(alice: User, alice_api: APIClient) -> None:
    meeting = meeting_in(
        alice,
        S.ACTIVE,
        data={"name": "Team Standup", "participants": ["Alice", "Bob"], "languages": ["en"]},
    )
    response = alice_api.get(f"/meetings/{meeting.pk}")
    assert response.status_code == 200
    got = response.json()
    assert set(got) >= SEED_MEETING_FIELDS
    assert got["status"] == "active"
    assert got["start_time"] is not None
    assert got["data"]["participants"] == ["Alice", "Bob"]
    missing = alice_api.get(f"/meetings/{meeting.pk + 1000}")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Meeting not found"}


# --- PATCH /meetings/{platform}/{native_meeting_id} ----------------------------------------------


def test_the_seed_patch_updates_metadata_and_keeps_the_status_history(
    alice: User, alice_api: APIClient
) -> None:
    meeting = meeting_in(alice, S.ACTIVE)
    body = {
        "data": {
            "name": "Updated Meeting Name",
            "notes": "Meeting notes here",
            "participants": ["Alice", "Bob", "Charlie"],
            "languages": ["en", "es"],
        }
    }
    response = alice_api.patch("/meetings/google_meet/abc-defg-hij", body, format="json")
    assert response.status_code == 200
    got = response.json()
    assert {"id", "platform", "native_meeting_id", "status", "data"} <= set(got)
    assert got["id"] == meeting.pk
    assert got["status"] == "active"
    for key, value in body["data"].items():
        assert got["data"][key] == value
    assert len(got["data"]["status_transition"]) == 4


def test_patch_is_partial_arrays_replace_null_clears_and_product_keys_are_safe(
    alice: User, alice_api: APIClient
) -> None:
    meeting_in(
        alice,
        S.COMPLETED,
        data={"name": "Old", "notes": "keep me", "participants": ["A", "B"]},
    )
    path = "/meetings/google_meet/abc-defg-hij"
    renamed = alice_api.patch(path, {"data": {"name": "Team Standup - Q1 Planning"}}, format="json")
    assert renamed.json()["data"]["name"] == "Team Standup - Q1 Planning"
    assert renamed.json()["data"]["notes"] == "keep me"
    replaced = alice_api.patch(path, {"data": {"participants": ["C"]}}, format="json")
    assert replaced.json()["data"]["participants"] == ["C"]
    cleared = alice_api.patch(
        path,
        {"data": {"notes": None, "name": "", "status_transition": [], "completion_reason": "x"}},
        format="json",
    )
    data = cleared.json()["data"]
    assert "notes" not in data
    assert "name" not in data
    assert len(data["status_transition"]) == 5
    assert data["completion_reason"] == "meeting_ended"
    assert alice_api.patch(path, {"data": {"participants": "A"}}, format="json").status_code == 422
    assert alice_api.patch(path, {}, format="json").status_code == 422


def test_patch_targets_the_newest_meeting_unless_one_is_named(
    alice: User, alice_api: APIClient
) -> None:
    older = meeting_in(alice, S.COMPLETED)
    newer = meeting_in(alice, S.ACTIVE)
    path = "/meetings/google_meet/abc-defg-hij"
    assert alice_api.patch(path, {"data": {"name": "N"}}, format="json").json()["id"] == newer.pk
    named = alice_api.patch(f"{path}?meeting_id={older.pk}", {"data": {"name": "O"}}, format="json")
    assert named.json()["id"] == older.pk
    older.refresh_from_db()
    assert older.data["name"] == "O"


# --- DELETE /meetings/{platform}/{native_meeting_id} ---------------------------------------------


def test_a_live_meeting_cannot_be_deleted(alice: User, alice_api: APIClient) -> None:
    meeting_in(alice, S.ACTIVE)
    response = alice_api.delete("/meetings/google_meet/abc-defg-hij")
    assert response.status_code == 409
    assert "stop the bot" in response.json()["detail"]


def test_deleting_a_meeting_removes_content_and_keeps_an_anonymized_stub(
    alice: User, alice_api: APIClient, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    screenshot = tmp_path / "evidence.png"
    screenshot.write_bytes(b"PNG")
    meeting = meeting_in(
        alice,
        S.COMPLETED,
        data={
            "name": "Secret plans",
            "participants": ["Alice"],
            "join_failure_evidence": {"screenshot": str(screenshot), "page_text": "Alice"},
        },
        bot_config={"bot_name": "Bot", "passcode": "p4ss", "metadata": {"crm": "1"}},
    )
    session = add_segments(meeting, [(0, 2, "Alice", "the secret is out")])
    stream = SessionStream(session.session_uid)
    stream.append_audio(b"\x00\x00" * 1600, t=0.0)
    ShareLink.objects.create(meeting=meeting, share_id="x" * 32, expires_at=meeting.created_at)
    audio = tmp_path / "m.wav"
    audio.write_bytes(b"RIFF")
    Recording.objects.create(meeting=meeting, file_path=str(audio))
    BotChatMessage.objects.create(meeting=meeting, text="The notes are at ...")
    ChatMessage.objects.create(meeting=meeting, sender="Alice", text="My phone: 555-0100")
    history = list(meeting.data["status_transition"])
    with (
        override_settings(RECORDINGS_DIR=tmp_path, BOT_EVIDENCE_DIR=tmp_path),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = alice_api.delete("/meetings/google_meet/abc-defg-hij")
    assert response.status_code == 200
    assert "deleted" in response.json()["message"]
    meeting.refresh_from_db()
    assert meeting.data["redacted"] is True
    assert meeting.data["status_transition"] == history
    assert meeting.data["completion_reason"] == "meeting_ended"
    assert "name" not in meeting.data
    assert "participants" not in meeting.data
    assert meeting.bot_config == {}
    assert meeting.constructed_meeting_url == ""
    assert meeting.status == S.COMPLETED
    assert not Segment.objects.filter(meeting=meeting).exists()
    assert not ShareLink.objects.filter(meeting=meeting).exists()
    assert not Recording.objects.filter(meeting=meeting).exists()
    assert not BotChatMessage.objects.filter(meeting=meeting).exists()
    assert not ChatMessage.objects.filter(meeting=meeting).exists()
    assert not audio.exists()
    assert not screenshot.exists()
    assert stream.length() == 0
    assert "join_failure_evidence" not in meeting.data
    # The stub is still listed, and deleting again is harmless.
    assert alice_api.get(f"/meetings/{meeting.pk}").json()["data"]["redacted"] is True
    again = alice_api.delete("/meetings/google_meet/abc-defg-hij")
    assert again.status_code == 200
    assert again.json() == response.json()
    renamed = alice_api.patch(
        "/meetings/google_meet/abc-defg-hij", {"data": {"name": "x"}}, format="json"
    )
    assert renamed.status_code == 409
    transcript = alice_api.get("/transcripts/google_meet/abc-defg-hij")
    assert transcript.status_code == 200
    assert transcript.json()["segments"] == []


def test_a_deleted_calls_live_events_leave_the_replay_log_and_another_calls_stay(
    alice: User, alice_api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    """SSE replays a native meeting's log for days: a deleted transcript must not be in it."""
    log_key = realtime.event_log_key(realtime.native_key(alice.pk, "google_meet", "abc-defg-hij"))
    realtime.redis_client().delete(log_key)  # user ids repeat across test runs; Redis keeps logs
    older = meeting_in(alice, S.COMPLETED)
    newer = meeting_in(alice, S.ACTIVE)
    for meeting, text in ((older, "the deleted secret"), (newer, "still being said")):
        realtime.publish_segments(
            meeting_id=meeting.pk, kind="finalized", segments=[{"segment_id": "s", "text": text}]
        )

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.delete(f"/meetings/google_meet/abc-defg-hij?meeting_id={older.pk}")

    assert response.status_code == 200
    kept = [message for _, message in realtime.event_log_entries(log_key)]
    assert {m["meeting"]["id"] for m in kept} == {newer.pk}
    assert "the deleted secret" not in json.dumps(kept)
    assert "still being said" in json.dumps(kept)


def test_deleting_a_meeting_id_deletes_every_call_held_under_it(
    alice: User, alice_api: APIClient
) -> None:
    older = meeting_in(alice, S.COMPLETED)
    add_segments(older, [(0, 1, "Alice", "last week's words")])
    ShareLink.objects.create(meeting=older, share_id="o" * 32, expires_at=older.created_at)
    newer = meeting_in(alice, S.FAILED)
    add_segments(newer, [(0, 1, "Alice", "this week's words")])

    response = alice_api.delete("/meetings/google_meet/abc-defg-hij")

    assert response.status_code == 200
    assert not Segment.objects.exists()
    assert not ShareLink.objects.exists()
    for meeting in (older, newer):
        meeting.refresh_from_db()
        assert meeting.data["redacted"] is True


def test_one_call_is_deleted_alone_by_its_meeting_id_and_a_live_one_blocks_them_all(
    alice: User, alice_api: APIClient
) -> None:
    older = meeting_in(alice, S.COMPLETED)
    add_segments(older, [(0, 1, "Alice", "kept")])
    live = meeting_in(alice, S.ACTIVE)

    refused = alice_api.delete("/meetings/google_meet/abc-defg-hij")
    assert refused.status_code == 409
    assert Segment.objects.filter(meeting=older).exists()  # nothing was deleted

    one = alice_api.delete(f"/meetings/google_meet/abc-defg-hij?meeting_id={older.pk}")
    assert one.status_code == 200
    assert not Segment.objects.filter(meeting=older).exists()
    live.refresh_from_db()
    assert not (live.data or {}).get("redacted")


def test_a_recording_path_outside_the_recordings_dir_is_never_removed(
    alice: User, alice_api: APIClient, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"RIFF")
    meeting = meeting_in(alice, S.FAILED)
    Recording.objects.create(meeting=meeting, file_path=str(outside))
    with (
        override_settings(RECORDINGS_DIR=tmp_path / "recordings"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert alice_api.delete("/meetings/google_meet/abc-defg-hij").status_code == 200
    assert outside.exists()


# --- access -------------------------------------------------------------------------------------


def _alice_world(alice: User) -> Meeting:
    meeting = meeting_in(alice, S.ACTIVE, data={"name": "Alice's"})
    add_segments(meeting, [(0, 1, "Alice", "private words")])
    return meeting


CROSS_USER_REQUESTS = [
    ("get", "/meetings/{id}", None),
    ("patch", "/meetings/google_meet/abc-defg-hij", {"data": {"name": "pwned"}}),
    ("patch", "/meetings/google_meet/abc-defg-hij?meeting_id={id}", {"data": {"name": "x"}}),
    ("delete", "/meetings/google_meet/abc-defg-hij", None),
    ("delete", "/meetings/google_meet/abc-defg-hij?meeting_id={id}", None),
    ("get", "/transcripts/google_meet/abc-defg-hij", None),
    ("get", "/transcripts/google_meet/abc-defg-hij?meeting_id={id}", None),
    ("get", "/transcripts/google_meet/abc-defg-hij?format=txt", None),
    ("post", "/transcripts/google_meet/abc-defg-hij/share", None),
    ("post", "/transcripts/google_meet/abc-defg-hij/share?meeting_id={id}", None),
    ("delete", "/transcripts/google_meet/abc-defg-hij/share", None),
    ("delete", "/transcripts/google_meet/abc-defg-hij/share?share_id={share}", None),
    ("delete", "/bots/google_meet/abc-defg-hij", None),
    ("put", "/bots/google_meet/abc-defg-hij/config", {"language": "es"}),
]


@pytest.mark.parametrize(("method", "path", "body"), CROSS_USER_REQUESTS)
def test_another_users_meeting_is_a_404_for_every_verb(
    alice: User, bob_api: APIClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    meeting = _alice_world(alice)
    share = ShareLink.objects.create(
        meeting=meeting, share_id="s" * 32, expires_at=meeting.created_at.replace(year=2100)
    )
    url = path.format(id=meeting.pk, share=share.share_id)
    response = getattr(bob_api, method)(url, body, format="json")
    assert response.status_code == 404
    assert response.json()["detail"] in ("Meeting not found", "Bot not found")
    meeting.refresh_from_db()
    share.refresh_from_db()
    assert meeting.status == S.ACTIVE
    assert meeting.data["name"] == "Alice's"
    assert meeting.bot_config.get("language") == "en"
    assert share.revoked_at is None
    assert Segment.objects.filter(meeting=meeting).count() == 1
    assert ShareLink.objects.filter(meeting=meeting).count() == 1


def test_another_users_meetings_are_not_listed(alice: User, bob: User, bob_api: APIClient) -> None:
    _alice_world(alice)
    assert bob_api.get("/meetings").json() == {"meetings": [], "has_more": False}
    assert bob_api.get("/bots/status").json() == {"running_bots": []}


def test_meeting_endpoints_need_the_tx_scope(alice: User) -> None:
    meeting = meeting_in(alice, S.COMPLETED)
    bot_only = api_client(account_services.token_issue(user=alice, scopes=["bot"]).plain)
    for response in (
        bot_only.get("/meetings"),
        bot_only.get(f"/meetings/{meeting.pk}"),
        bot_only.patch("/meetings/google_meet/abc-defg-hij", {"data": {}}, format="json"),
        bot_only.get("/transcripts/google_meet/abc-defg-hij"),
        bot_only.post("/transcripts/google_meet/abc-defg-hij/share"),
    ):
        assert response.status_code == 403
    assert api_client().get("/meetings").json() == {"detail": "Missing API key"}


def test_the_openapi_document_describes_every_endpoint(client: Any) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        "/bots": {"post"},
        "/bots/status": {"get"},
        "/bots/{platform}/{native_meeting_id}": {"delete"},
        "/bots/{platform}/{native_meeting_id}/config": {"put"},
        "/meetings": {"get"},
        "/meetings/{meeting_id}": {"get"},
        "/meetings/{platform}/{native_meeting_id}": {"patch", "delete"},
        "/transcripts/{platform}/{native_meeting_id}": {"get"},
        "/transcripts/{platform}/{native_meeting_id}/share": {"post", "delete"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            assert paths[path][method].get("description"), (path, method)
    assert any(p.startswith("/public/transcripts/") for p in paths)
    assert {"201", "400", "409", "422", "429"} <= set(paths["/bots"]["post"]["responses"])
    assert "404" in paths["/meetings/{meeting_id}"]["get"]["responses"]


JUNK_BODIES: list[Any] = [
    [],
    "text",
    42,
    None,
    {"data": []},
    {"data": {"name": ["x"], "participants": [{"a": 1}]}},
    {"platform": ["google_meet"], "native_meeting_id": {"x": 1}},
    {"platform": "teams", "native_meeting_id": "1" * 5000, "passcode": "é" * 30},
    {"meeting_url": "http://[::1"},
    {"meeting_url": "javascript:alert(1)", "join_at": "tomorrow"},
    {"automatic_leave": {"waiting_room": -1}, "metadata": [1, 2]},
    {"language": None, "task": None, "bot_name": None},
]


@pytest.mark.parametrize("body", JUNK_BODIES)
def test_malformed_requests_get_a_client_error_never_a_500(
    alice: User, alice_api: APIClient, body: Any
) -> None:
    meeting_in(alice, S.ACTIVE)
    calls = [
        ("post", "/bots"),
        ("put", "/bots/google_meet/abc-defg-hij/config"),
        ("patch", "/meetings/google_meet/abc-defg-hij"),
        ("post", "/transcripts/google_meet/abc-defg-hij/share?ttl_seconds=abc"),
        ("get", "/meetings?limit=x&offset=y&status=1&platform=2"),
        ("get", "/transcripts/google_meet/abc-defg-hij?meeting_id=-1&format=../../etc"),
        ("delete", "/transcripts/google_meet/abc-defg-hij/share?share_id=" + "x" * 100),
    ]
    for method, path in calls:
        sent = body if method in ("post", "put", "patch") else None
        response = getattr(alice_api, method)(path, sent, format="json")
        assert 400 <= response.status_code < 500, (method, path, response.status_code)
        assert "detail" in response.json()
    broken = alice_api.generic("POST", "/bots", "{not json", content_type="application/json")
    assert broken.status_code == 422


def test_ids_beyond_the_database_range_are_not_found(alice: User, alice_api: APIClient) -> None:
    meeting_in(alice, S.COMPLETED)
    huge = 2**70
    assert alice_api.get(f"/meetings/{huge}").status_code == 404
    assert alice_api.get(
        f"/transcripts/google_meet/abc-defg-hij?meeting_id={huge}"
    ).status_code in (
        404,
        422,
    )
    long_id = "x" * 3000
    assert alice_api.get(f"/transcripts/google_meet/{long_id}").status_code == 404
