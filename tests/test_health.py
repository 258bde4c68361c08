"""Readiness for load balancers, and the operator's system status (Admin API and Django admin)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from bots.tasks import supervise_bots
from meetings.models import Meeting, MeetingSession, MeetingStatus
from meetings.stream import SessionStream
from tests import processes
from tests.conftest import api_client
from tests.meetings.builders import meeting_in
from vexa_site import health
from vexa_site.redis import get_redis


@pytest.fixture
def beat_unmarked() -> Iterator[None]:
    get_redis().delete(health.BEAT_KEY)
    yield
    get_redis().delete(health.BEAT_KEY)


def test_ready_when_the_database_and_redis_answer(client: Client, db: Any) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.fixture
def redis_down() -> Iterator[None]:
    """Redis at an address where nothing listens, as the web process sees it."""
    get_redis.cache_clear()
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        yield
    get_redis.cache_clear()


def test_not_ready_names_the_service_that_does_not_answer(
    client: Client, db: Any, redis_down: None
) -> None:
    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["redis"] == "error"  # the details are logged: this URL is public


def test_the_status_still_answers_when_redis_is_down(
    admin_api: APIClient, db: Any, redis_down: None
) -> None:
    status = admin_api.get("/admin/status").json()

    assert status["ok"] is False
    assert status["services"]["database"] == "ok"
    assert status["problems"][0].startswith("redis: error")


def test_the_status_lists_the_workers_that_answer_and_says_what_is_missing(
    admin_api: APIClient, alice: User, beat_unmarked: None
) -> None:
    waiting = meeting_in(alice)  # requested, no bot worker
    Meeting.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    with processes.celery_worker("default", name="status"):
        before = admin_api.get("/admin/status").json()
        supervise_bots()  # what beat runs every 15 s
        after = admin_api.get("/admin/status").json()

    [worker] = [w for w in before["workers"] if w["name"].startswith("status-")]
    assert worker["queues"] == ["default"]
    assert before["queues"]["default"]["workers"] >= 1
    assert before["ok"] is False
    problems = " | ".join(before["problems"])
    assert "no worker consumes the 'bots' queue" in problems
    assert "no worker consumes the 'default' queue" not in problems
    assert "supervision last ran never" in problems
    assert "a bot has waited" in problems
    assert before["meetings"]["live"]["requested"] == 1
    assert before["meetings"]["oldest_waiting_bot_s"] >= 120
    assert (before["meetings"]["bot_slots"], before["meetings"]["bot_slots_taken"]) == (None, 1)
    assert after["beat"]["supervision_ran_s_ago"] < 60
    assert not any("supervision" in p for p in after["problems"])


def test_the_status_needs_the_admin_key(alice_key: str) -> None:
    for client in (api_client(), api_client(alice_key)):
        response = client.get("/admin/status")
        assert response.status_code == 403
        assert response.json() == {"detail": "Invalid or missing admin token."}


def test_operators_see_the_status_page_from_the_admin_index(
    client: Client, db: Any, beat_unmarked: None
) -> None:
    assert client.get("/django-admin/status/").status_code == 302  # sign in first
    client.force_login(User.objects.create_superuser("ops@example.com", password="x-long-pass"))

    index = client.get("/django-admin/").content.decode()
    page = client.get("/django-admin/status/").content.decode()

    assert 'href="/django-admin/status/"' in index
    assert "System status" in page
    assert "the supervision last ran never" in page


def test_the_status_says_when_transcription_cannot_keep_up_with_a_live_meeting(
    admin_api: APIClient, alice: User
) -> None:
    redis = get_redis()
    seconds, _ = redis.time()
    now_ms = int(seconds) * 1000

    def live_session(native: str, oldest_s_ago: float, **config: Any) -> MeetingSession:
        meeting = meeting_in(alice, MeetingStatus.ACTIVE, native_meeting_id=native)
        Meeting.objects.filter(pk=meeting.pk).update(bot_config={**meeting.bot_config, **config})
        session = MeetingSession.objects.create(meeting=meeting)
        stream = SessionStream(session.session_uid)
        stream.delete()
        # What a worker that trims behind its checkpoints leaves: audio from `oldest_s_ago` on.
        first_id = f"{now_ms - int(oldest_s_ago * 1000)}-0"
        redis.xadd(stream.key, {"type": "audio", "pcm": b"\0\0" * 1600, "t": "0.0"}, id=first_id)
        stream.append_audio(b"\0\0" * 1600, t=0.1)
        return session

    live_session("kee-pupk-eep", 8)
    status = admin_api.get("/admin/status").json()
    assert status["transcription"]["live_sessions"] == 1
    assert 7 <= status["transcription"]["most_behind_s"] < 20
    assert not any("transcription is behind" in p for p in status["problems"])

    live_session("beh-indb-ehi", 95)
    live_session("not-rans-cri", 300, transcribe_enabled=False)  # nobody transcribes: not behind
    status = admin_api.get("/admin/status").json()

    assert status["transcription"]["live_sessions"] == 2
    assert 94 <= status["transcription"]["most_behind_s"] < 110
    [problem] = [p for p in status["problems"] if "transcription is behind" in p]
    assert problem.startswith("transcription is behind on 1 live session(s)")
    for session in MeetingSession.objects.filter(meeting__user=alice):
        SessionStream(session.session_uid).delete()


def test_the_status_shows_how_soon_each_transcription_worker_shows_words_and_flags_a_slow_one(
    admin_api: APIClient, db: Any
) -> None:
    from transcripts.engine.scheduler import WORKERS_KEY

    redis = get_redis()
    redis.delete(WORKERS_KEY)
    now = time.time()

    def announced(name: str, draft_p50_s: float, seconds_ago: float) -> None:
        window = {"sessions": 4, "passes": 180, "draft_p50_s": draft_p50_s, "at": now - seconds_ago}
        redis.hset(WORKERS_KEY, name, json.dumps(window))

    announced("tx-a:11", 0.4, seconds_ago=20)
    announced("tx-b:12", 2.6, seconds_ago=30)
    announced("tx-gone:13", 9.0, seconds_ago=600)  # idle or gone since: not shown
    try:
        status = admin_api.get("/admin/status").json()
    finally:
        redis.delete(WORKERS_KEY)

    workers = {w["name"]: w for w in status["transcription"]["workers"]}
    assert sorted(workers) == ["tx-a:11", "tx-b:12"]
    assert (workers["tx-a:11"]["draft_p50_s"], workers["tx-a:11"]["sessions"]) == (0.4, 4)
    late = [p for p in status["problems"] if p.startswith("transcription worker")]
    assert len(late) == 1
    assert "tx-b:12 shows new words as drafts 2.6 s after their audio" in late[0]
