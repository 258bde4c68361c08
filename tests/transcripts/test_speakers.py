"""Naming a meeting's speakers: `GET`/`POST /meetings/{id}/speakers`, the rename service, and
the transcribers that write under the names (live engine, post-meeting pass)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import User
from meetings import services as meeting_services
from meetings.models import Meeting, MeetingSession
from tests.conftest import api_client, backends_waiting_for_a_lock
from tests.meetings.builders import add_segments, cookbook_standup, meeting_in
from tests.transcripts.test_engine_store import (
    event_log,
    hook,
    ready_events,
    recorded_meeting,
    segment,
)
from transcripts import realtime, tasks
from transcripts.engine import offline
from transcripts.engine.store import emission_store, session_claim
from transcripts.engine.streaming import Emission
from transcripts.models import Segment
from transcripts.services import speaker_rename

pytestmark = pytest.mark.django_db


def speakers_path(meeting: Meeting) -> str:
    return f"/meetings/{meeting.pk}/speakers"


def said_by(meeting: Meeting) -> list[tuple[str | None, list[str | None]]]:
    return [
        (s.speaker, [w.get("speaker") for w in s.words])
        for s in Segment.objects.filter(meeting=meeting)
    ]


def test_a_renamed_speaker_is_renamed_in_every_segment_word_and_export(
    alice: User, alice_api: APIClient
) -> None:
    meeting = cookbook_standup(alice)
    Segment.objects.filter(meeting=meeting, speaker="Bob").update(
        words=[{"word": " Great!", "start": 15.0, "end": 15.4, "speaker": "Bob"}]
    )
    response = alice_api.post(
        speakers_path(meeting), {"speaker": "Bob", "name": "Robert"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "meeting_id": meeting.pk,
        "speaker": "Bob",
        "name": "Robert",
        "segments": 2,
        "speaker_names": {"Bob": "Robert"},
    }
    assert [speaker for speaker, _ in said_by(meeting)] == ["Alice", "Robert", "Alice", "Robert"]
    assert {w for _, words in said_by(meeting) for w in words} == {"Robert"}
    text = alice_api.get("/transcripts/google_meet/abc-defg-hij?format=txt").content.decode()
    assert "[00:00:15] Robert: Great! What about the testing?" in text
    assert "Bob" not in text
    listed = alice_api.get(speakers_path(meeting)).json()
    assert [s["speaker"] for s in listed["speakers"]] == ["Alice", "Robert"]
    assert listed["speaker_names"] == {"Bob": "Robert"}


def test_a_finished_meetings_rename_tells_webhooks_its_transcript_changed(
    alice: User, alice_api: APIClient, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    hook(alice)
    meeting = cookbook_standup(alice)
    with django_capture_on_commit_callbacks(execute=True):
        speaker_rename(meeting_id=meeting.pk, speaker="Bob", name="Robert")
    [ready] = ready_events(alice)
    assert ready.data["source"] == "rename"
    assert ready.data["segments"] == 4
    live = meeting_in(alice, "active", native_meeting_id="liv-emee-tin")
    add_segments(live, [(0, 1, "Bob", "Still here.")])
    speaker_rename(meeting_id=live.pk, speaker="Bob", name="Robert")
    assert len(ready_events(alice)) == 1  # a live one's sessions say so when they finish


def test_renames_chain_merge_and_name_the_unknown_speaker(
    alice: User, alice_api: APIClient
) -> None:
    meeting = meeting_in(alice, "completed")
    add_segments(
        meeting,
        [(0, 2, "Alice", "Hi."), (3, 5, None, "Hello?"), (6, 8, "iPhone", "It is me.")],
    )

    def rename(speaker: str, name: str) -> dict[str, Any]:
        response = alice_api.post(
            speakers_path(meeting), {"speaker": speaker, "name": name}, format="json"
        )
        assert response.status_code == 200, response.content
        return dict(response.json())

    assert rename("Unknown", "Dana")["segments"] == 1
    assert rename("iPhone", "Eve")["speaker_names"] == {"Unknown": "Dana", "iPhone": "Eve"}
    # Eve was Alice all along: the two merge, and what the transcriber calls iPhone is Alice.
    assert rename("Eve", "Alice")["speaker_names"] == {
        "Unknown": "Dana",
        "iPhone": "Alice",
        "Eve": "Alice",
    }
    assert [speaker for speaker, _ in said_by(meeting)] == ["Alice", "Dana", "Alice"]
    talk = alice_api.get(speakers_path(meeting)).json()["speakers"]
    assert [(s["speaker"], s["words"]) for s in talk] == [("Alice", 4), ("Dana", 1)]


def test_a_rename_is_refused_with_the_reason_and_changes_nothing(
    alice: User, alice_api: APIClient
) -> None:
    meeting = cookbook_standup(alice)

    def refused(body: dict[str, Any]) -> tuple[int, Any]:
        response = alice_api.post(speakers_path(meeting), body, format="json")
        return response.status_code, response.json()["detail"]

    status, detail = refused({"speaker": "Carol", "name": "Caroline"})
    assert status == 422
    assert detail[0]["loc"] == ["body", "speaker"]
    assert detail[0]["msg"] == (
        "No line of this transcript is said by 'Carol' (its speakers: Alice, Bob)"
    )
    status, detail = refused({"speaker": "Bob", "name": "Bob"})
    assert (status, detail[0]["loc"]) == (422, ["body", "name"])
    status, detail = refused({"speaker": "Bob", "name": "Robert\n[00:00:20] Eve: I agree."})
    assert (status, detail[0]["msg"]) == (
        422,
        "A speaker's name is one line of printable characters.",
    )
    status, detail = refused({"speaker": "Bob", "name": "x" * 256})
    assert (status, detail[0]["loc"]) == (422, ["body", "name"])
    status, detail = refused({"speaker": "Bob"})
    assert (status, detail[0]["loc"]) == (422, ["body", "name"])
    assert [speaker for speaker, _ in said_by(meeting)] == ["Alice", "Bob", "Alice", "Bob"]
    meeting_services.meeting_delete(meeting_id=meeting.pk)
    assert refused({"speaker": "Bob", "name": "Robert"}) == (
        409,
        "Meeting data was deleted; it can no longer be changed",
    )


def test_another_users_meeting_is_not_found_and_the_tx_scope_is_needed(
    alice: User, bob_api: APIClient
) -> None:
    meeting = cookbook_standup(alice)
    assert bob_api.get(speakers_path(meeting)).status_code == 404
    response = bob_api.post(
        speakers_path(meeting), {"speaker": "Bob", "name": "Robert"}, format="json"
    )
    assert response.status_code == 404
    bot_only = api_client(account_services.token_issue(user=alice, scopes=["bot"]).plain)
    assert bot_only.get(speakers_path(meeting)).status_code == 403
    assert (
        bot_only.post(
            speakers_path(meeting), {"speaker": "Bob", "name": "R"}, format="json"
        ).status_code
        == 403
    )
    assert [speaker for speaker, _ in said_by(meeting)] == ["Alice", "Bob", "Alice", "Bob"]


def test_listing_the_speakers_takes_two_queries(
    alice: User, alice_api: APIClient, django_assert_num_queries: Callable[..., Any]
) -> None:
    meeting = cookbook_standup(alice)
    with django_assert_num_queries(4):  # the key, its user, the meeting, its segments
        assert alice_api.get(speakers_path(meeting)).status_code == 200


@pytest.fixture
def live(alice: User) -> MeetingSession:
    meeting = meeting_in(alice, "active", native_meeting_id="spk-name-ezz")
    key = realtime.event_log_key(realtime.native_key(alice.pk, "google_meet", "spk-name-ezz"))
    realtime.redis_client().delete(key)
    session = MeetingSession.objects.create(meeting=meeting, session_uid="uid")
    session_claim(session=session, owner="w1")
    return session


def test_the_live_transcription_writes_a_renamed_speaker_by_the_new_name_and_says_so(
    live: MeetingSession, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        emission_store(
            session=live,
            emission=Emission(
                finals=[segment(0, "first words", completed=True)],
                drafts=[segment(1, "a draft", completed=False)],
            ),
            owner="w1",
        )
        speaker_rename(meeting_id=live.meeting_id, speaker="Alice", name="Dana")
    # Live clients get the renamed segments again, under the same ids.
    renamed = {
        (m["type"], s["segment_id"], s["speaker"])
        for m in event_log(live)[-2:]
        for s in m["payload"]["segments"]
    }
    assert renamed == {
        ("transcript.finalized", "uid:0", "Dana"),
        ("transcript.mutable", "uid:1", "Dana"),
    }
    # The transcriber goes on calling her Alice: what it writes is Dana's, draft and final.
    with django_capture_on_commit_callbacks(execute=True):
        emission_store(
            session=live,
            emission=Emission(
                finals=[segment(1, "a draft made final", completed=True)],
                drafts=[segment(2, "more", completed=False)],
            ),
            owner="w1",
        )
    assert said_by(live.meeting) == [
        ("Dana", ["Dana", "Dana"]),
        ("Dana", ["Dana", "Dana", "Dana", "Dana"]),
        ("Dana", ["Dana"]),
    ]
    assert event_log(live)[-2]["payload"]["segments"][0]["speaker"] == "Dana"


def test_a_speaker_renamed_while_the_post_meeting_pass_runs_keeps_the_new_name(
    alice: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = recorded_meeting(alice, tmp_path, native_id="ren-amed-pas")
    model = offline.offline_model(None)

    class RenamedMeanwhile:
        """The pass's own model; the user renames Bob while it transcribes."""

        def transcribe(self, *args: Any, **kwargs: Any) -> Any:
            heard = model.transcribe(*args, **kwargs)
            speaker_rename(meeting_id=session.meeting_id, speaker="Bob", name="Robert")
            return heard

    monkeypatch.setattr(offline, "offline_model", lambda name: RenamedMeanwhile())
    assert tasks.retranscribe_meeting(session.meeting_id) >= 1
    words = [w for s in Segment.objects.filter(meeting=session.meeting) for w in s.words]
    assert {w["speaker"] for w in words if w["start"] >= 1.3} == {"Robert"}
    assert {w["speaker"] for w in words if w["end"] <= 1.1} == {"Alice"}


@pytest.mark.django_db(transaction=True)
def test_a_rename_during_a_transcribers_write_renames_what_it_wrote_too(alice: User) -> None:
    meeting = meeting_in(alice, "active", native_meeting_id="spk-race-ezz")
    session = MeetingSession.objects.create(meeting=meeting, session_uid="race")
    session_claim(session=session, owner="w1")
    add_segments(meeting, [(0, 1, "Alice", "Before.")])
    wrote = threading.Event()
    release = threading.Event()
    renamed = threading.Event()

    def transcriber() -> None:
        try:
            with transaction.atomic():
                emission_store(
                    session=session,
                    emission=Emission(finals=[segment(5, "said meanwhile", completed=True)]),
                    owner="w1",
                )
                wrote.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def renamer() -> None:
        try:
            speaker_rename(meeting_id=meeting.pk, speaker="Alice", name="Dana")
            renamed.set()
        finally:
            connection.close()

    writing = threading.Thread(target=transcriber)
    writing.start()
    assert wrote.wait(timeout=10)
    renaming = threading.Thread(target=renamer)
    renaming.start()
    # The rename waits for the write it cannot see yet (else it would leave that Alice).
    deadline = time.monotonic() + 10
    while backends_waiting_for_a_lock() == 0 and not renamed.is_set():
        assert time.monotonic() < deadline, "the rename neither waited nor finished"
        time.sleep(0.01)
    release.set()
    writing.join(timeout=30)
    renaming.join(timeout=30)
    assert renamed.is_set()
    assert [speaker for speaker, _ in said_by(meeting)] == ["Dana", "Dana"]
