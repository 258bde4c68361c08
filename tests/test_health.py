"""Readiness for load balancers, and the operator's system status (Admin API and Django admin)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from bots.tasks import supervise_bots
from meetings.models import Meeting
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


def test_not_ready_names_the_service_that_does_not_answer(client: Client, db: Any) -> None:
    get_redis.cache_clear()
    try:
        with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
            response = client.get("/readyz")
    finally:
        get_redis.cache_clear()

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["redis"] == "error"  # the details are logged: this URL is public


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
