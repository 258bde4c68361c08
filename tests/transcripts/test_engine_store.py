"""Storing the engine's output: upserts, checkpoint, fencing, publication after commit; the
batching scheduler; the post-meeting pass and its API."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import User
from bots.runtime.recording import RecordingWriter
from meetings import lifecycle
from meetings import services as meeting_services
from meetings.models import Meeting, MeetingSession, RecordingStatus
from meetings.services import meeting_delete
from meetings.stream import read_wav_pcm16k
from tests import processes
from tests.bots.conftest import wait_for
from tests.meetings.builders import meeting_in
from tests.speech import make_speech_wav
from tests.transcripts.engine_support import words_of
from transcripts import realtime, tasks
from transcripts.engine import scheduler
from transcripts.engine.lease import LeaseLost
from transcripts.engine.model import PassRequest, run_passes
from transcripts.engine.segments import SegmentOut
from transcripts.engine.store import emission_store, session_claim
from transcripts.engine.streaming import Emission
from transcripts.models import Segment
from vexa_site.redis import get_job_redis
from vexa_site.timestamps import iso_z
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent


def ready_events(user: User) -> list[WebhookEvent]:
    """The user's `transcript.ready` events, each checked to reach the user's endpoint."""
    found = list(WebhookEvent.objects.filter(user=user, event_type="transcript.ready"))
    for event in found:
        assert WebhookDelivery.objects.filter(event=event, endpoint__user=user).count() == 1
    return found


def hook(user: User) -> None:
    WebhookEndpoint.objects.create(user=user, url="https://hooks.example.com/in", secret="s")


def segment(seq: int, text: str, *, completed: bool, speaker: str = "Alice") -> SegmentOut:
    words = [
        {
            "word": f" {w}",
            "start": seq + i * 0.3,
            "end": seq + i * 0.3 + 0.25,
            "probability": 0.9,
            "speaker": speaker,
        }
        for i, w in enumerate(text.split())
    ]
    return SegmentOut(
        segment_id=f"uid:{seq}",
        start=float(seq),
        end=float(seq) + 1,
        text=text,
        speaker=speaker,
        language="en",
        completed=completed,
        words=words,
    )


@pytest.fixture
def session(alice: User) -> MeetingSession:
    meeting = meeting_in(alice, "active", native_meeting_id="eng-stor-ezz")
    key = realtime.event_log_key(realtime.native_key(alice.pk, "google_meet", "eng-stor-ezz"))
    realtime.redis_client().delete(key)
    return MeetingSession.objects.create(meeting=meeting, session_uid="uid")


def event_log(session: MeetingSession) -> list[dict[str, Any]]:
    meeting = session.meeting
    key = realtime.event_log_key(
        realtime.native_key(meeting.user_id, meeting.platform, meeting.native_meeting_id)
    )
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], realtime.redis_client().xrange(key))
    return [json.loads(fields[b"data"]) for _id, fields in entries]


def test_a_draft_becomes_final_under_its_id_and_is_published_after_commit(
    session: MeetingSession, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    owner = "w1"
    session_claim(session=session, owner=owner)
    with django_capture_on_commit_callbacks(execute=True):
        emission_store(
            session=session,
            emission=Emission(drafts=[segment(0, "hello there", completed=False)]),
            owner=owner,
        )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        emission_store(
            session=session,
            emission=Emission(
                finals=[segment(0, "hello there friends", completed=True)],
                drafts=[segment(1, "how are", completed=False)],
                checkpoint={"v": 1, "seq": 1, "after": "5-0"},
            ),
            owner=owner,
        )
        # Nothing is published before the transaction commits.
        assert [m["type"] for m in event_log(session)] == ["transcript.mutable"]
    assert len(callbacks) == 2  # the publication, and the stream trimmed behind the checkpoint

    rows = {s.segment_id: s for s in Segment.objects.filter(meeting=session.meeting)}
    assert set(rows) == {"uid:0", "uid:1"}
    assert rows["uid:0"].completed
    assert rows["uid:0"].text == "hello there friends"
    assert not rows["uid:1"].completed
    assert rows["uid:0"].words[0]["speaker"] == "Alice"
    session.refresh_from_db()
    assert session.transcriber_state == {"v": 1, "seq": 1, "after": "5-0", "owner": owner}
    log = event_log(session)
    assert [m["type"] for m in log] == [
        "transcript.mutable",
        "transcript.finalized",
        "transcript.mutable",
    ]
    assert log[1]["payload"]["segments"][0]["segment_id"] == "uid:0"
    assert log[1]["payload"]["segments"][0]["completed"] is True


def test_a_final_is_never_turned_back_into_a_draft_and_vanished_drafts_go(
    session: MeetingSession, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    session_claim(session=session, owner="w1")
    with django_capture_on_commit_callbacks(execute=True):
        emission_store(
            session=session,
            emission=Emission(
                finals=[segment(0, "final words", completed=True)],
                drafts=[segment(1, "a draft", completed=False)],
            ),
            owner="w1",
        )
        emission_store(
            session=session,
            emission=Emission(
                drafts=[segment(0, "stale draft", completed=False)],
                removed_drafts=[segment(1, "", completed=False)],
            ),
            owner="w1",
        )
    rows = list(Segment.objects.filter(meeting=session.meeting))
    assert [(r.segment_id, r.text, r.completed) for r in rows] == [("uid:0", "final words", True)]
    # The vanished draft is published empty so live clients drop it too.
    last = event_log(session)[-1]
    assert last["type"] == "transcript.mutable"
    assert [(s["segment_id"], s["text"]) for s in last["payload"]["segments"]] == [("uid:1", "")]


def test_a_draft_whose_start_moved_is_stored_at_the_new_one_and_withdrawn_at_the_old(
    session: MeetingSession, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    session_claim(session=session, owner="w1")
    moved = replace(segment(1, "right then", completed=False), start=4.0, end=4.8)
    with django_capture_on_commit_callbacks(execute=True):
        emission_store(
            session=session,
            emission=Emission(drafts=[segment(1, "so", completed=False)]),
            owner="w1",
        )
        emission_store(
            session=session,
            emission=Emission(
                drafts=[moved], removed_drafts=[replace(segment(1, "", completed=False), end=1.0)]
            ),
            owner="w1",
        )
    rows = list(Segment.objects.filter(meeting=session.meeting))
    assert [(r.segment_id, r.start, r.text) for r in rows] == [("uid:1", 4.0, "right then")]
    published = event_log(session)[-1]["payload"]["segments"]
    assert {(s["absolute_start_time"], s["text"]) for s in published} == {
        (iso_z(rows[0].absolute_start_time), "right then"),
        (
            iso_z(rows[0].absolute_start_time - timedelta(seconds=3)),
            "",
        ),
    }


def fragment(seq: int, start: float, end: float, text: str, speaker: str) -> SegmentOut:
    return replace(segment(seq, text, completed=True, speaker=speaker), start=start, end=end)


def test_a_finished_sessions_fragments_are_joined_into_sentences_live_clients_agree(
    session: MeetingSession, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    owner = "w1"
    session_claim(session=session, owner=owner)
    live = [
        fragment(0, 0.0, 2.0, "Good morning, everyone. Let's renew the", "Alice"),
        fragment(1, 2.1, 2.4, "lunch", "Alice"),
        fragment(2, 2.5, 3.5, "plan for next week.", "Alice"),
        fragment(3, 4.0, 4.5, "Thanks,", "Bob"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        emission_store(
            session=session,
            emission=Emission(finals=live, checkpoint={"v": 1, "seq": 4}),
            owner=owner,
        )
    with django_capture_on_commit_callbacks(execute=True):
        emission_store(
            session=session,
            emission=Emission(
                finals=[fragment(4, 4.6, 5.0, "Alice.", "Bob")],
                checkpoint={"v": 1, "seq": 5, "finished": True},
            ),
            owner=owner,
        )

    stored = [
        (s.segment_id, s.speaker, s.start, s.end, s.text)
        for s in Segment.objects.filter(meeting=session.meeting).order_by("start")
    ]
    assert stored == [
        (
            "uid:0",
            "Alice",
            0.0,
            3.5,
            "Good morning, everyone. Let's renew the lunch plan for next week.",
        ),
        ("uid:3", "Bob", 4.0, 5.0, "Thanks, Alice."),
    ]
    joined = Segment.objects.get(segment_id="uid:0")
    assert [w["word"].strip() for w in joined.words][-4:] == ["plan", "for", "next", "week."]
    # The seed's client merge (by absolute_start_time, newest updated_at wins) of everything
    # published ends with the stored transcript, the absorbed fragments empty.
    merged: dict[str, dict[str, Any]] = {}
    for message in event_log(session):
        for seg in message["payload"]["segments"]:
            known = merged.get(seg["absolute_start_time"])
            if known is None or seg["updated_at"] > known["updated_at"]:
                merged[seg["absolute_start_time"]] = seg
    shown = [seg["text"] for _start, seg in sorted(merged.items()) if seg["text"]]
    assert shown == [text for *_rest, text in stored]
    gone = [seg for seg in merged.values() if not seg["text"]]
    assert len(gone) == 3
    assert all(seg["completed"] is False for seg in gone)
    assert Segment.objects.get(segment_id="uid:3").words[-1]["word"].strip() == "Alice."


@override_settings(REALTIME_EVENT_LOG_TTL_AFTER_END_S=3600)
def test_a_transcript_finished_after_its_call_ended_keeps_the_log_only_an_hour(
    session: MeetingSession, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """The tail is finalized after the call's end, and its events renewed the log's week."""
    session_claim(session=session, owner="w1")
    lifecycle.transition(meeting_id=session.meeting_id, to="completed", source="bot")
    key = realtime.event_log_key(
        realtime.native_key(session.meeting.user_id, "google_meet", "eng-stor-ezz")
    )

    with django_capture_on_commit_callbacks(execute=True):
        emission_store(
            session=session,
            emission=Emission(finals=[fragment(0, 0.0, 1.0, "The tail.", "Alice")],
                              checkpoint={"v": 1, "seq": 1}),
            owner="w1",
        )  # fmt: skip
    assert realtime.redis_client().ttl(key) > 3600
    with django_capture_on_commit_callbacks(execute=True):
        emission_store(
            session=session, emission=Emission(checkpoint={"v": 1, "seq": 1, "finished": True}),
            owner="w1",
        )  # fmt: skip

    assert 0 < realtime.redis_client().ttl(key) <= 3600


def test_thousands_of_segments_are_published_as_ordered_messages_of_bounded_size(
    session: MeetingSession,
) -> None:
    wire = [{"segment_id": f"uid:{i}", "text": f"w{i}"} for i in range(450)]

    realtime.publish_segments(meeting_id=session.meeting_id, kind="finalized", segments=wire)

    sizes = [len(m["payload"]["segments"]) for m in event_log(session)]
    assert sizes == [200, 200, 50]
    sent = [s["segment_id"] for m in event_log(session) for s in m["payload"]["segments"]]
    assert sent == [w["segment_id"] for w in wire]


def forget_redis_clients() -> None:
    """Drop the process's cached Redis clients, so the next ones use `settings.REDIS_URL`."""
    get_job_redis.cache_clear()
    realtime._publish_script.cache_clear()
    realtime._client = None


def test_segments_committed_while_redis_restarts_are_published_once_it_is_back(
    session: MeetingSession,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    owner = "w1"
    session_claim(session=session, owner=owner)
    with processes.redis_server(tmp_path) as server, override_settings(REDIS_URL=server.url):
        forget_redis_clients()
        try:
            down = server.proc
            outage = threading.Thread(target=server.restart, kwargs={"down_s": 2.0})
            outage.start()
            assert down is not None
            wait_for(lambda: down.poll() is not None, timeout_s=10, what="Redis to be down")
            # Committed while Redis is away: the live clients' copy waits for it.
            with django_capture_on_commit_callbacks(execute=True):
                emission_store(
                    session=session,
                    emission=Emission(finals=[segment(0, "hello there", completed=True)]),
                    owner=owner,
                )
            outage.join()
            log = event_log(session)
        finally:
            forget_redis_clients()

    assert [m["type"] for m in log] == ["transcript.finalized"]
    assert log[0]["payload"]["segments"][0]["text"] == "hello there"


def test_absolute_times_add_the_capture_clocks_drift_the_same_for_a_draft_and_its_final(
    session: MeetingSession, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    owner = "w1"
    session_claim(session=session, owner=owner)
    behind = 1.25  # the capture clock, 40 s into the call (exaggerated)
    with django_capture_on_commit_callbacks(execute=True):
        for completed, text in [(False, "later on"), (True, "later on then")]:
            out = replace(segment(40, text, completed=completed), wall_offset_s=behind)
            emission = Emission(finals=[out]) if completed else Emission(drafts=[out])
            emission_store(session=session, emission=emission, owner=owner)

    row = Segment.objects.get(meeting=session.meeting)
    assert (row.start, row.end) == (40.0, 41.0)  # the recording's clock
    assert row.absolute_start_time == session.started_at + timedelta(seconds=41.25)
    assert row.absolute_end_time == session.started_at + timedelta(seconds=42.25)
    published = [
        s["absolute_start_time"] for m in event_log(session) for s in m["payload"]["segments"]
    ]
    assert published == [iso_z(row.absolute_start_time)] * 2


def test_a_worker_that_lost_the_session_cannot_write(session: MeetingSession) -> None:
    session_claim(session=session, owner="old")
    session_claim(session=session, owner="new")
    with pytest.raises(LeaseLost):
        emission_store(
            session=session,
            emission=Emission(finals=[segment(0, "late words", completed=True)]),
            owner="old",
        )
    assert not Segment.objects.filter(meeting=session.meeting).exists()


def test_a_worker_still_finishing_a_deleted_meetings_tail_cannot_write_it_back(
    session: MeetingSession,
) -> None:
    """DELETE /meetings right after the bot left, while the worker flushes the last words."""
    session_claim(session=session, owner="w1")
    emission_store(
        session=session,
        emission=Emission(
            finals=[segment(0, "the secret plan", completed=True)],
            checkpoint={"v": 1, "seq": 1, "prompt_text": "the secret plan", "committed": []},
        ),
        owner="w1",
    )
    lifecycle.transition(meeting_id=session.meeting_id, to="completed", source="bot_callback")
    meeting_delete(meeting_id=session.meeting_id)

    with pytest.raises(LeaseLost):
        emission_store(
            session=session,
            emission=Emission(finals=[segment(1, "and the rest of it", completed=True)]),
            owner="w1",
        )
    assert not Segment.objects.filter(meeting=session.meeting).exists()
    session.refresh_from_db()
    assert session.transcriber_state == {"finished": True, "redacted": True}


def test_a_successor_claims_the_session_and_drops_its_predecessors_drafts(
    session: MeetingSession,
) -> None:
    session_claim(session=session, owner="old")
    emission_store(
        session=session,
        emission=Emission(
            finals=[segment(0, "kept", completed=True)],
            drafts=[segment(1, "redone", completed=False)],
            checkpoint={"v": 1, "seq": 1},
        ),
        owner="old",
    )
    state = session_claim(session=session, owner="new")
    assert state["seq"] == 1
    assert [s.segment_id for s in Segment.objects.filter(meeting=session.meeting)] == ["uid:0"]


def test_batched_passes_give_the_same_words_as_single_passes(tmp_path: Path) -> None:
    from meetings.stream import read_wav_pcm16k

    texts = ["The morning train was late again.", "My garden has purple flowers."]
    audios = [
        np.frombuffer(
            read_wav_pcm16k(make_speech_wav(text, tmp_path / f"{i}.wav")), np.int16
        ).astype(np.float32)
        / 32768
        for i, text in enumerate(texts)
    ]
    single = [run_passes([PassRequest(audio=a)])[0].text for a in audios]
    scheduler._batcher = None  # one dispatcher, gathering for both sessions
    with (
        override_settings(WHISPER_BATCH_SIZE=4, WHISPER_BATCH_WAIT_MS=200, WHISPER_NUM_WORKERS=1),
        # Three sessions on one model worker: enough for a CPU to batch (two run one by one).
        scheduler.ActiveSession(),
        scheduler.ActiveSession(),
        scheduler.ActiveSession(),
    ):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(2) as pool:
            batched = list(pool.map(lambda a: scheduler.submit(PassRequest(audio=a)).text, audios))
    assert [words_of(t) for t in batched] == [words_of(t) for t in single]
    assert scheduler._batcher is not None
    assert max(scheduler._batcher.batches) == 2


def recorded_meeting(user: User, tmp_path: Path, *, native_id: str) -> MeetingSession:
    meeting = meeting_in(user, "completed", native_meeting_id=native_id)
    session = MeetingSession.objects.create(meeting=meeting)
    path = make_speech_wav("The quarterly budget review starts on Monday.", tmp_path / "rec.wav")
    # Recorded as the bot records (Ogg Opus by default): the pass reads what users download.
    with override_settings(RECORDINGS_DIR=tmp_path / "recordings"):
        writer = RecordingWriter(session)
        writer.write(read_wav_pcm16k(path), t=0.0)
        writer.close(status=RecordingStatus.COMPLETED)
    assert writer.recording.file_path.endswith(".opus")
    # The live pass: two speakers, a poor transcript, stamped as the capture clock fell behind
    # the wall clock (exaggerated).
    for seq, (start, end, speaker, text, behind) in enumerate(
        [(0.0, 1.2, "Alice", "the quarter", 0.3), (1.2, 3.0, "Bob", "reviews on Monday", 0.4)]
    ):
        Segment.objects.create(
            meeting=meeting,
            session_uid=session.session_uid,
            segment_id=f"{session.session_uid}:{seq}",
            start=start,
            end=end,
            text=text,
            speaker=speaker,
            completed=True,
            absolute_start_time=session.started_at + timedelta(seconds=start + behind),
            absolute_end_time=session.started_at + timedelta(seconds=end + behind),
        )
    return session


def test_the_post_meeting_pass_replaces_segments_and_keeps_speakers(
    alice: User, tmp_path: Path
) -> None:
    session = recorded_meeting(alice, tmp_path, native_id="rec-ordi-ngz")
    hook(alice)
    count = tasks.retranscribe_meeting(session.meeting_id)
    rows = list(Segment.objects.filter(meeting=session.meeting).order_by("start"))
    assert count == len(rows) >= 1
    [ready] = ready_events(alice)
    assert ready.data["source"] == "offline"
    assert ready.data["segments"] == count
    assert ready.data["meeting"]["id"] == session.meeting_id
    text = " ".join(r.text for r in rows)
    assert {"quarterly", "budget", "monday"} <= set(words_of(text))
    words = [w for r in rows for w in r.words]
    assert {w["speaker"] for w in words if w["end"] <= 1.1} == {"Alice"}
    assert {w["speaker"] for w in words if w["start"] >= 1.3} == {"Bob"}
    assert all(r.segment_id.startswith(f"{session.session_uid}:offline:") for r in rows)
    # `GET /meetings` and the meeting page say the pass is done, and what it wrote.
    note = Meeting.objects.get(pk=session.meeting_id).data["retranscription"]
    assert note["state"] == "done"
    assert note["segments"] == count
    assert note["finished_at"]
    # Absolute times keep the drift the live segments were stamped with.
    for row in rows:
        behind = 0.4 if row.start >= 1.2 else 0.3
        assert row.absolute_start_time == session.started_at + timedelta(
            seconds=row.start + behind
        ), (row.start, row.absolute_start_time)


def test_a_post_meeting_pass_that_fails_says_why_and_keeps_the_live_transcript(
    alice: User, tmp_path: Path
) -> None:
    session = recorded_meeting(alice, tmp_path, native_id="fai-ledp-ass")
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(Exception, match="no-such-model"):
        tasks.retranscribe_meeting(session.meeting_id, missing)
    note = Meeting.objects.get(pk=session.meeting_id).data["retranscription"]
    assert note["state"] == "failed"
    assert "no-such-model" in note["error"]
    texts = Segment.objects.filter(meeting=session.meeting).order_by("start")
    assert [s.text for s in texts] == ["the quarter", "reviews on Monday"]


def test_a_pass_that_ends_after_the_meeting_was_deleted_writes_nothing_back(
    alice: User, tmp_path: Path
) -> None:
    session = recorded_meeting(alice, tmp_path, native_id="del-eted-pas")
    meeting_services.retranscription_note(meeting_id=session.meeting_id, state="queued")
    meeting_delete(meeting_id=session.meeting_id)
    meeting_services.retranscription_note(meeting_id=session.meeting_id, state="done", segments=2)
    data = Meeting.objects.get(pk=session.meeting_id).data
    assert data["redacted"] is True
    assert "retranscription" not in data


def test_post_transcribe_queues_the_pass_for_the_owner_only(
    alice: User,
    alice_api: APIClient,
    bob_api: APIClient,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    session = recorded_meeting(alice, tmp_path, native_id="own-erso-nly")
    url = f"/meetings/{session.meeting_id}/transcribe"
    assert bob_api.post(url, {}, format="json").status_code == 404
    with django_capture_on_commit_callbacks() as callbacks:
        response = alice_api.post(url, {}, format="json")
    assert response.status_code == 202
    assert response.json() == {"meeting_id": session.meeting_id, "status": "queued", "model": None}
    note = alice_api.get(f"/meetings/{session.meeting_id}").json()["data"]["retranscription"]
    assert note["state"] == "queued"
    assert note["model"] is None
    assert note["requested_at"].endswith("Z")
    assert len(callbacks) == 1
    bad = alice_api.post(url, {"model": "/etc/passwd"}, format="json")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "model"]
    # What a caller can do instead (it said "available: []").
    assert "leave `model` out" in bad.json()["detail"][0]["msg"]
    with override_settings(WHISPER_OFFLINE_MODELS=["large-v3"]):
        offered = alice_api.post(url, {"model": "medium"}, format="json").json()
    assert "'large-v3'" in offered["detail"][0]["msg"]
    live = meeting_in(alice, "active", native_meeting_id="liv-emee-tin")
    assert alice_api.post(f"/meetings/{live.pk}/transcribe", {}, format="json").status_code == 409


def test_feed_wav_writes_speaker_audio_and_end_entries(tmp_path: Path) -> None:
    from django.core.management import call_command

    from meetings.stream import SessionStream

    stream = SessionStream("feed-wav-test")
    stream.delete()
    path = make_speech_wav("Hello there.", tmp_path / "hello.wav")
    call_command("feed_wav", "feed-wav-test", str(path), "--speaker", "Alice", "--end")
    entries = stream.read_all()
    stream.delete()
    assert [e.type for e in (entries[0], entries[-2], entries[-1])] == ["speaker", "speaker", "end"]
    audio = [e for e in entries if e.type == "audio"]
    assert audio[0].t == 0.0
    assert sum(e.duration_s for e in audio) == pytest.approx(
        (audio[-1].t or 0.0) + audio[-1].duration_s
    )
    assert (entries[0].state, entries[-2].state) == ("start", "stop")


@pytest.mark.django_db(transaction=True)
def test_a_finished_session_is_not_transcribed_again_nor_supervised(
    alice: User, tmp_path: Path
) -> None:
    from meetings.stream import SessionStream, feed_pcm, read_wav_pcm16k

    meeting = meeting_in(alice, "active", native_meeting_id="fin-ishe-dzz")
    session = MeetingSession.objects.create(meeting=meeting)
    stream = SessionStream(session.session_uid)
    pcm = read_wav_pcm16k(make_speech_wav("My garden has purple flowers.", tmp_path / "g.wav"))
    feed_pcm(stream, pcm)
    stream.append_end(reason="stopped")
    hook(alice)
    try:
        assert tasks.transcribe_session(session.session_uid) == "done"
        rows = list(Segment.objects.filter(meeting=meeting).values_list("segment_id", "text"))
        assert "garden" in words_of(" ".join(text for _id, text in rows))
        # The final transcript is stored: one `transcript.ready`, pointing at it.
        [ready] = ready_events(alice)
        assert ready.data == {
            "meeting": {
                "id": meeting.pk,
                "platform": "google_meet",
                "native_meeting_id": "fin-ishe-dzz",
            },
            "session_uid": session.session_uid,
            "source": "live",
            "segments": len(rows),
            "transcript_url": f"/transcripts/google_meet/fin-ishe-dzz?meeting_id={meeting.pk}",
        }
        assert tasks.transcribe_session(session.session_uid) == "finished"
        assert len(ready_events(alice)) == 1
        assert tasks.supervise_transcription() == 0
        assert (
            list(Segment.objects.filter(meeting=meeting).values_list("segment_id", "text")) == rows
        )
    finally:
        stream.delete()
