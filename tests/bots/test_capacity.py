"""Bot slots: bot workers announce them, and POST /bots refuses at once when none is free."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from bots import capacity
from bots import services as bot_services
from meetings import lifecycle
from meetings.models import Meeting, MeetingStatus
from tests import processes
from tests.bots.conftest import wait_for
from tests.meetings.builders import meeting_in
from vexa_site.errors import NoCapacity
from vexa_site.redis import get_redis

S = MeetingStatus


def send(client: APIClient, native: str, **fields: str) -> Any:
    body = {"meeting_url": f"https://meet.google.com/{native}", **fields}
    return client.post("/bots", body, format="json")


@pytest.fixture
def one_slot_host() -> Iterator[None]:
    """A bot host with one slot, as its worker announces it (`-c 1`)."""
    capacity.host_announce(name="test-host@example", slots=1)
    yield
    capacity.host_withdraw(name="test-host@example")


def test_a_bot_host_whose_redis_is_gone_says_so_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`make run` stops every process at once, Redis among them: the bot worker's slots could
    not be withdrawn, and it printed a traceback at every shutdown."""
    get_redis.cache_clear()
    try:
        with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
            announcer = capacity.Announcer(name="gone@host", slots=1).start()
            wait_for(
                lambda: any(r.name == "bots.capacity" for r in caplog.records),
                timeout_s=10,
                what="the announcement to fail",
            )
            announcer.stop()
    finally:
        get_redis.cache_clear()

    warnings = [r for r in caplog.records if r.name == "bots.capacity"]
    assert [r.getMessage().split(":")[0] for r in warnings] == [
        "could not announce this bot host's slots",
        "could not withdraw this bot host's slots",
    ]
    assert all(r.levelname == "WARNING" and r.exc_info is None for r in warnings)
    assert all("127.0.0.1:1" in r.getMessage() for r in warnings)


def test_a_bot_worker_announces_its_slots_while_it_runs_and_withdraws_them_when_it_stops(
    db: None,
) -> None:
    with processes.celery_worker("bots", pool="threads", concurrency=3, name="slots"):
        hosts = wait_for(
            lambda: {n: s for n, s in capacity.hosts_announced().items() if n.startswith("slots-")},
            timeout_s=10,
            what="the worker's announcement",
        )
        assert list(hosts.values()) == [3]
    assert not any(name.startswith("slots-") for name in capacity.hosts_announced())


def test_a_worker_of_other_queues_announces_no_bot_slots(db: None) -> None:
    with processes.celery_worker("default", name="noslots"):
        assert not any(name.startswith("noslots-") for name in capacity.hosts_announced())


def test_a_bot_with_no_free_slot_is_a_507_at_once_and_a_scheduled_one_is_taken(
    alice: User, alice_api: APIClient, one_slot_host: None
) -> None:
    first = send(alice_api, "abc-defg-hij")
    refused = send(alice_api, "xyz-wxyz-xyz")
    later = timezone.now() + timedelta(hours=1)
    scheduled = send(alice_api, "xyz-wxyz-xyz", join_at=later.isoformat())

    assert first.status_code == 201
    assert refused.status_code == 507
    assert refused["Retry-After"] == "30"
    assert refused.json()["detail"].startswith("No bot is free: all 1 bot slots")
    assert scheduled.status_code == 201
    assert Meeting.objects.count() == 2


def test_a_scheduled_bot_due_soon_holds_its_slot_against_ad_hoc_bots(
    alice: User, bob: User, alice_api: APIClient, one_slot_host: None
) -> None:
    due_soon = bot_services.bot_create(
        user=bob,
        meeting_url="https://meet.google.com/bob-bobb-bob",
        join_at=timezone.now() + timedelta(minutes=2),
    )
    refused = send(alice_api, "abc-defg-hij")
    assert refused.status_code == 507
    assert "1 of them held for scheduled bots due within 5 minutes" in refused.json()["detail"]

    # Due later than the reserve: the slot is free until then.
    later = timezone.now() + timedelta(minutes=30)
    bot_services.bot_reschedule(meeting_id=due_soon.pk, join_at=later)
    assert send(alice_api, "abc-defg-hij").status_code == 201


def test_another_users_bots_take_slots_too_and_a_finished_one_frees_its_slot(
    alice: User, bob: User, alice_api: APIClient, one_slot_host: None
) -> None:
    theirs = meeting_in(bob, S.ACTIVE, native_meeting_id="bob-bobb-bob")
    assert send(alice_api, "abc-defg-hij").status_code == 507

    lifecycle.transition(meeting_id=theirs.pk, to=S.COMPLETED, source="bot_callback")
    assert send(alice_api, "abc-defg-hij").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_requests_of_many_users_at_once_never_take_more_slots_than_there_are() -> None:
    """Each request locks only its own user's row: without one lock around counting and
    taking a slot, requests arriving together all counted the last slot free."""
    users = [User.objects.create_user(f"user{i}@example.com") for i in range(6)]
    capacity.host_announce(name="test-host@example", slots=2)
    start = threading.Barrier(len(users))
    outcomes: list[str] = []

    def request(user: User) -> None:
        start.wait()
        try:
            bot_services.bot_create(
                user=user, platform="google_meet", native_meeting_id=f"abc-defg-hi{user.pk % 10}",
                transcribe_enabled=False,
            )  # fmt: skip
            outcomes.append("created")
        except NoCapacity:
            outcomes.append("507")
        finally:
            connections.close_all()

    try:
        threads = [threading.Thread(target=request, args=(user,)) for user in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        capacity.host_withdraw(name="test-host@example")

    assert sorted(outcomes) == ["507"] * 4 + ["created"] * 2


def test_with_no_bot_host_announced_nothing_is_refused(alice: User, alice_api: APIClient) -> None:
    assert capacity.slots_total() is None
    for native in ("abc-defg-hij", "xyz-wxyz-xyz", "qrs-tuvw-xyz"):
        assert send(alice_api, native).status_code == 201


def test_the_operators_status_says_when_every_slot_is_taken(
    bob: User, admin_api: APIClient, one_slot_host: None
) -> None:
    meeting_in(bob, S.ACTIVE)

    status = admin_api.get("/admin/status").json()

    assert (status["meetings"]["bot_slots"], status["meetings"]["bot_slots_taken"]) == (1, 1)
    assert any(
        p.startswith("every bot slot is taken (1 bots for 1 slots)") for p in status["problems"]
    )


def test_a_killed_hosts_slots_stop_counting_once_its_announcement_is_stale(db: None) -> None:
    redis = get_redis()
    # What a host killed 16 s ago left: its last announcement, valid for ANNOUNCE_TTL_S.
    redis.hset(capacity.HOSTS_KEY, "killed@host", f"4 {time.time() - 1}")
    capacity.host_announce(name="alive@host", slots=2)
    try:
        assert capacity.hosts_announced() == {"alive@host": 2}
        assert not redis.hexists(capacity.HOSTS_KEY, "killed@host")
    finally:
        capacity.host_withdraw(name="alive@host")
    assert capacity.slots_total() is None
