"""`transcribe_session` in a real Celery worker: stream in, segments out; a killed worker's
session is taken over by a new one through `supervise_transcription`, with no gap or duplicate."""

from __future__ import annotations

import itertools
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.test import override_settings

from accounts.models import User
from meetings.models import Meeting, MeetingSession
from meetings.stream import START, SessionStream, feed_pcm
from tests.meetings.builders import meeting_in
from tests.processes import (
    celery_worker,
    database_connections_drop,
    redis_connections_drop,
    redis_server,
    stop,
)
from tests.transcripts.engine_support import KEYWORDS, Clip, make_clips, missing, words_of
from transcripts import tasks
from transcripts.engine.lease import enqueued_key, lease_key
from transcripts.models import Segment
from vexa_site.celery import app
from vexa_site.redis import get_redis

pytestmark = pytest.mark.django_db(transaction=True)

LEASE_S = 3
WORKER_ENV = {"TRANSCRIPTION_LEASE_S": str(LEASE_S)}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    return make_clips(Path(tmp_path_factory.mktemp("speech")))


@pytest.fixture
def session(alice: User) -> Iterator[MeetingSession]:
    # Tasks other modules' bots enqueued for sessions that no longer exist must not occupy
    # this module's worker: start from an empty queue.
    get_redis().delete("transcription")
    meeting = meeting_in(alice, "active", bot_config={"language": "en", "task": "transcribe"})
    row = MeetingSession.objects.create(meeting=meeting)
    yield row
    stream = SessionStream(row.session_uid)
    stream.delete()
    get_redis().delete(lease_key(row.session_uid), enqueued_key(row.session_uid))


def wait_for(condition: Callable[[], object], *, timeout_s: float, what: str) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def finished(session: MeetingSession) -> bool:
    session.refresh_from_db()
    return bool(session.transcriber_state.get("finished"))


def finals_of(meeting: Meeting) -> list[Segment]:
    return list(Segment.objects.filter(meeting=meeting, completed=True).order_by("start"))


def wait_first_final(session: MeetingSession) -> None:
    wait_for(
        lambda: Segment.objects.filter(meeting=session.meeting, completed=True).exists(),
        timeout_s=15,
        what="a first final segment",
    )


def assert_both_halves_once(meeting: Meeting) -> None:
    """No gap: the keywords of the garden and the budget clips are there (tiny.en may mishear
    one); no duplicate."""
    text = " ".join(s.text for s in finals_of(meeting))
    assert len(missing(text, "garden", "budget")) <= 1, text
    words = words_of(text)
    for word in KEYWORDS["garden"] + KEYWORDS["budget"]:
        assert words.count(word) <= 1, text


def test_a_worker_transcribes_a_live_stream_with_speakers(
    session: MeetingSession, clips: dict[str, Clip]
) -> None:
    stream = SessionStream(session.session_uid)
    with celery_worker("transcription", env=WORKER_ENV):
        tasks.transcribe_session.delay(session.session_uid)
        stream.append_speaker(name="Alice", participant_id="a", state="start", t=0.0)
        t = feed_pcm(stream, clips["garden"].pcm, realtime=True)
        stream.append_speaker(name="Alice", participant_id="a", state="stop", t=t)
        # A draft is in the database while the speaker is still talking.
        wait_for(
            lambda: Segment.objects.filter(meeting=session.meeting).exists(),
            timeout_s=10,
            what="a first segment",
        )
        stream.append_speaker(name="Bob", participant_id="b", state="start", t=t)
        t = feed_pcm(stream, clips["train"].pcm, start_t=t, realtime=True)
        stream.append_speaker(name="Bob", participant_id="b", state="stop", t=t)
        stream.append_end(reason="stopped")
        wait_for(lambda: finished(session), timeout_s=30, what="the session to finish")

    segments = finals_of(session.meeting)
    assert not Segment.objects.filter(meeting=session.meeting, completed=False).exists()
    # The audio transcription has checkpointed past is no longer held in Redis.
    [oldest_kept] = stream.read(after=START, count=1)
    assert (oldest_kept.t or 0.0) > clips["garden"].seconds
    text = " ".join(s.text for s in segments)
    assert len(missing(text, "garden", "train")) <= 1, text
    switch = clips["garden"].seconds
    for word in (w for s in segments for w in s.words):
        middle = (word["start"] + word["end"]) / 2
        if abs(middle - switch) > 0.3:
            assert word["speaker"] == ("Alice" if middle < switch else "Bob"), word
    assert all(s.session_uid == session.session_uid for s in segments)
    assert all(s.segment_id.startswith(session.session_uid) for s in segments)
    first = segments[0]
    assert first.absolute_start_time >= session.started_at
    assert first.words
    assert {"word", "start", "end", "probability", "speaker"} <= set(first.words[0])


@override_settings(TRANSCRIPTION_LEASE_S=LEASE_S)
def test_a_killed_worker_is_replaced_and_the_transcript_has_no_gap_or_duplicate(
    session: MeetingSession, clips: dict[str, Clip]
) -> None:
    stream = SessionStream(session.session_uid)
    with celery_worker("transcription", env=WORKER_ENV, name="doomed") as doomed:
        tasks.transcribe_session.delay(session.session_uid)
        t = feed_pcm(stream, clips["garden"].pcm, realtime=True)
        wait_first_final(session)
        stop(doomed, sig=signal.SIGKILL)
    # The bot keeps writing while no worker listens.
    t = feed_pcm(stream, clips["budget"].pcm, start_t=t)
    stream.append_end(reason="stopped")
    # Only an expired lease means a dead worker: until then the supervisor leaves it alone.
    assert get_redis().exists(lease_key(session.session_uid))
    assert tasks.supervise_transcription() == 0

    with celery_worker("transcription", env=WORKER_ENV, name="successor"):
        wait_for(
            lambda: tasks.supervise_transcription() == 1,
            timeout_s=LEASE_S + 10,
            what="the supervisor to re-enqueue the session",
        )
        wait_for(lambda: finished(session), timeout_s=40, what="the session to finish")

    assert_both_halves_once(session.meeting)
    segments = finals_of(session.meeting)
    for a, b in itertools.pairwise(segments):
        assert b.start >= a.end - 0.25, (a.text, b.text)
    assert not Segment.objects.filter(meeting=session.meeting, completed=False).exists()


def test_a_worker_whose_connections_drop_carries_on_without_a_gap(
    session: MeetingSession, clips: dict[str, Clip]
) -> None:
    stream = SessionStream(session.session_uid)
    with celery_worker("transcription", env=WORKER_ENV) as worker:
        tasks.transcribe_session.delay(session.session_uid)
        t = feed_pcm(stream, clips["garden"].pcm, realtime=True)
        wait_first_final(session)
        # As a restart, a failover or a network blip does, between two of the worker's writes.
        assert database_connections_drop(worker) >= 1
        assert redis_connections_drop(worker) >= 1
        t = feed_pcm(stream, clips["budget"].pcm, start_t=t, realtime=True)
        stream.append_end(reason="stopped")
        # The same run finishes: nothing re-enqueues the session in this test.
        wait_for(lambda: finished(session), timeout_s=30, what="the session to finish")

    assert_both_halves_once(session.meeting)
    assert not Segment.objects.filter(meeting=session.meeting, completed=False).exists()


def test_a_worker_carries_on_through_a_redis_restart(
    session: MeetingSession, clips: dict[str, Clip], tmp_path: Path
) -> None:
    # Its own Redis (broker and stream), so that restarting it leaves the suite's alone.
    with redis_server(tmp_path) as server:
        stream = SessionStream(session.session_uid, client=redis.Redis.from_url(server.url))
        env = {**WORKER_ENV, "REDIS_URL": server.url}
        with (
            celery_worker("transcription", env=env),
            app.connection_for_write(server.url) as broker,
        ):
            tasks.transcribe_session.apply_async(args=[session.session_uid], connection=broker)
            t = feed_pcm(stream, clips["garden"].pcm, realtime=True)
            wait_first_final(session)
            # Longer than redis-py's own retries last (about a second).
            server.restart(down_s=2.5)
            t = feed_pcm(stream, clips["budget"].pcm, start_t=t, realtime=True)
            stream.append_end(reason="stopped")
            wait_for(lambda: finished(session), timeout_s=30, what="the session to finish")

    assert_both_halves_once(session.meeting)
