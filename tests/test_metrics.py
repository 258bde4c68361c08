"""`GET /metrics`: the system status as Prometheus gauges, behind the operator's token."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import User
from bots import services as bot_services
from calendars.models import CalendarFeed
from tests.meetings.builders import meeting_in
from vexa_site.metrics import exposition
from vexa_site.redis import get_redis

TOKEN = "metrics-token-0123456789"
# A sample line: a name, at most one label (its value escaped: \\, \" and \n), a value.
SAMPLE = re.compile(
    r'^(?P<name>[a-z_]+)(?P<labels>\{[a-z_]+="(?:[^"\\\n]|\\.)*"\})? (?P<value>-?[0-9][0-9.e+-]*)$'
)


@pytest.fixture
def token_set() -> Iterator[None]:
    with override_settings(METRICS_TOKEN=TOKEN):
        yield


def scrape(client: Client, token: str = TOKEN) -> dict[str, float]:
    """The samples of a scrape, checked line by line against the text format."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples: dict[str, float] = {}
    typed: set[str] = set()
    for line in response.content.decode().splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:]
            assert kind == "gauge"
            typed.add(name)
            continue
        if line.startswith("# HELP "):
            continue
        match = SAMPLE.match(line)
        assert match, line
        assert match["name"] in typed, f"{line}: no TYPE before it"
        samples[match["name"] + (match["labels"] or "")] = float(match["value"])
    return samples


def test_metrics_are_off_unless_the_operator_sets_a_token(client: Client, db: Any) -> None:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_a_scrape_needs_the_metrics_token(
    client: Client, db: Any, token_set: None, alice_key: str
) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": TOKEN},  # no scheme
        {"X-API-Key": alice_key},  # a user's key is not the operator's
    ):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.json() == {"detail": "Invalid or missing metrics token"}
        assert response["WWW-Authenticate"] == "Bearer"
    assert client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


def test_a_scrape_gives_live_meetings_queues_and_services_as_gauges(
    client: Client, alice: User, token_set: None
) -> None:
    meeting_in(alice, "active", native_meeting_id="act-ivem-eet")
    meeting_in(alice, native_meeting_id="req-uest-edm")  # requested: a bot not yet started
    bot_services.bot_create(
        user=alice,
        meeting_url="https://zoom.us/j/85012345678",
        join_at=timezone.now() + timedelta(minutes=2),
    )
    CalendarFeed.objects.create(user=alice, url="https://cal.example.com/a.ics")
    CalendarFeed.objects.create(
        user=alice, url="https://cal.example.com/b.ics", last_error="The calendar answered HTTP 404"
    )

    samples = scrape(client)

    assert samples['vexa_meetings_live{status="active"}'] == 1
    assert samples['vexa_meetings_live{status="requested"}'] == 2  # one due, one scheduled
    assert samples['vexa_meetings_live{status="joining"}'] == 0
    assert samples['vexa_service_up{service="database"}'] == 1
    assert samples['vexa_service_up{service="redis"}'] == 1
    # No worker runs here: every queue is unserved, which the status counts as problems.
    assert samples['vexa_queue_workers{queue="bots"}'] == 0
    assert samples["vexa_ok"] == 0
    assert samples["vexa_problems"] >= 3
    assert samples["vexa_bot_slots_taken"] == 2  # the active bot, and the one promised a slot
    assert samples["vexa_bot_slots_reserved"] == 1  # a calendar's bot due in two minutes
    assert samples["vexa_calendars"] == 2
    assert samples["vexa_calendars_unreadable"] == 1
    # No bot host announced its slots: unknown, so left out rather than 0.
    assert "vexa_bot_slots" not in samples
    assert samples["vexa_recordings_disk_free_bytes"] > 0


def test_a_scrape_gives_each_transcription_workers_draft_delay(
    client: Client, db: Any, token_set: None
) -> None:
    from transcripts.engine.scheduler import WORKERS_KEY

    redis = get_redis()
    redis.delete(WORKERS_KEY)
    window = {"sessions": 2, "passes": 120, "draft_p50_s": 0.45, "at": time.time()}
    redis.hset(WORKERS_KEY, 'tx-"1":7', json.dumps(window))
    try:
        samples = scrape(client)
    finally:
        redis.delete(WORKERS_KEY)

    # The label value escaped as the text format wants it.
    assert samples['vexa_transcription_draft_delay_seconds{worker="tx-\\"1\\":7"}'] == 0.45
    assert samples['vexa_transcription_worker_sessions{worker="tx-\\"1\\":7"}'] == 2


def test_a_scrape_answers_while_redis_is_down(client: Client, db: Any, token_set: None) -> None:
    get_redis.cache_clear()
    try:
        with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
            samples = scrape(client)
    finally:
        get_redis.cache_clear()

    assert samples['vexa_service_up{service="redis"}'] == 0
    assert samples['vexa_service_up{service="database"}'] == 1
    assert samples["vexa_ok"] == 0


def test_counts_and_bytes_are_exact_and_seconds_keep_their_fraction() -> None:
    text = exposition(
        {
            "ok": True,
            "problems": [],
            "recordings": {"free_bytes": 53_687_091_200, "stored_bytes": 0},
            "transcription": {"most_behind_s": 1.5, "live_sessions": 3},
        }
    )

    assert "\nvexa_recordings_disk_free_bytes 53687091200\n" in text
    assert "\nvexa_recordings_stored_bytes 0\n" in text
    assert "\nvexa_transcription_most_behind_seconds 1.5\n" in text
    assert "vexa_bot_slots" not in text  # unknown: left out
