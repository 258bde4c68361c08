from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import User
from bots import control, services
from meetings.models import IdempotencyKey, Meeting, MeetingStatus
from tests.conftest import api_client
from tests.meetings.builders import meeting_in
from vexa_site.redis import get_redis

S = MeetingStatus
MEET = {"platform": "google_meet", "native_meeting_id": "abc-defg-hij"}


def enqueued_ids(callbacks: list[Callable[[], Any]]) -> list[int]:
    """Meeting ids whose bot would be enqueued by these on-commit callbacks."""
    return [
        cb.args[0]
        for cb in callbacks
        if isinstance(cb, functools.partial) and cb.func is services.enqueue_run_bot
    ]


class ControlChannel:
    """A subscriber to bots' control channels on the real Redis."""

    def __init__(self) -> None:
        self.pubsub = get_redis().pubsub()

    def subscribe(self, meeting_id: int) -> None:
        self.pubsub.subscribe(control.control_channel(meeting_id))
        assert self.pubsub.get_message(timeout=5)["type"] == "subscribe"

    def read(self, count: int, *, timeout: float = 5.0) -> list[str]:
        """Messages until `count` arrived or `timeout` passed (count=0: what is there now)."""
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while len(out) < count or count == 0:
            left = deadline - time.monotonic() if count else 0.05
            message = self.pubsub.get_message(timeout=max(0.0, left))
            if message is None:
                if count == 0 or time.monotonic() >= deadline:
                    break
                continue
            if message["type"] == "message":
                out.append(message["data"].decode())
        return out


@pytest.fixture
def control_messages() -> Iterator[ControlChannel]:
    channel = ControlChannel()
    yield channel
    channel.pubsub.close()


# --- POST /bots ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_cookbook_request_creates_a_requested_meeting_and_enqueues_after_commit(
    alice_api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    body = {**MEET, "bot_name": "My Transcription Bot", "language": "en"}
    with django_capture_on_commit_callbacks() as callbacks:
        response = alice_api.post("/bots", body, format="json")
    assert response.status_code == 201
    # Enqueued by an on-commit callback: never while the transaction could still roll back.
    assert enqueued_ids(callbacks) == [response.json()["id"]]
    # Django logs a robust callback that raised (the broker away) by its `__qualname__`;
    # without one the log call raised instead, and the bot just created became a 500.
    assert all(hasattr(cb, "__qualname__") for cb in callbacks)
    got = response.json()
    assert {
        "id",
        "platform",
        "native_meeting_id",
        "status",
        "start_time",
        "end_time",
        "bot_container_id",
        "data",
        "created_at",
    } <= set(got)
    assert got["status"] == "requested"
    assert got["platform"] == "google_meet"
    assert got["native_meeting_id"] == "abc-defg-hij"
    assert got["constructed_meeting_url"] == "https://meet.google.com/abc-defg-hij"
    assert got["start_time"] is None
    assert got["end_time"] is None
    assert got["bot_container_id"] is None
    assert got["created_at"].endswith("Z")
    [entry] = got["data"]["status_transition"]
    assert entry["from"] is None
    assert entry["to"] == "requested"
    assert entry["source"] == "user_api"
    assert got["bot_config"]["bot_name"] == "My Transcription Bot"
    assert got["bot_config"]["language"] == "en"


@pytest.mark.django_db
def test_after_commit_the_bot_is_on_the_bots_queue_of_the_real_broker(
    alice_api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    redis = get_redis()
    redis.delete("bots")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post("/bots", MEET, format="json")
        assert redis.llen("bots") == 0
    assert response.status_code == 201
    messages = [json.loads(raw) for raw in redis.lrange("bots", 0, -1)]
    redis.delete("bots")
    assert [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages] == [
        ("bots.tasks.run_bot", f"({response.json()['id']},)")
    ]


@pytest.mark.django_db
def test_the_reference_example_passcode_on_google_meet_is_refused_with_a_clear_message(
    alice_api: APIClient,
) -> None:
    # Seed 002's reference example sends "optional_passcode" to Google Meet, which has no
    # passcodes (PLATFORMS.md): refused with a message naming the problem, nothing created.
    body = {
        **MEET,
        "passcode": "optional_passcode",
        "bot_name": "Vexa Transcription Bot",
        "language": "en",
    }
    response = alice_api.post("/bots", body, format="json")
    assert response.status_code == 400
    assert "Passcode is not allowed for google_meet" in response.json()["detail"]
    assert not Meeting.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("platform", "native_id"),
    [
        ("google_meet", "ab"),
        ("google_meet", "abc_defg_hij"),
        ("google_meet", "https://meet.google.com/abc-defg-hij"),
        ("teams", "12345"),
        ("teams", "abcdefghijklmnop"),
        ("zoom", "12ab5678901"),
        ("zoom", "1234"),
    ],
)
def test_an_id_in_the_wrong_format_is_a_400_naming_the_format(
    alice_api: APIClient, platform: str, native_id: str
) -> None:
    body = {"platform": platform, "native_meeting_id": native_id, "passcode": "abcd1234"}
    if platform == "google_meet":
        body.pop("passcode")
    response = alice_api.post("/bots", body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"Invalid meeting ID format for {platform}")


@pytest.mark.django_db
def test_teams_needs_a_valid_passcode_and_zoom_does_not(alice_api: APIClient) -> None:
    teams = {"platform": "teams", "native_meeting_id": "9398850880426"}
    missing = alice_api.post("/bots", teams, format="json")
    assert missing.status_code == 400
    assert "Passcode is required" in missing.json()["detail"]
    bad = alice_api.post("/bots", {**teams, "passcode": "no!"}, format="json")
    assert bad.status_code == 400
    ok = alice_api.post("/bots", {**teams, "passcode": "RBZCWdxyp85"}, format="json")
    assert ok.status_code == 201
    assert (
        ok.json()["constructed_meeting_url"]
        == "https://teams.live.com/meet/9398850880426?p=RBZCWdxyp85"
    )
    zoom = alice_api.post(
        "/bots", {"platform": "zoom", "native_meeting_id": "123 4567 8901"}, format="json"
    )
    assert zoom.status_code == 201
    assert zoom.json()["native_meeting_id"] == "12345678901"
    assert zoom.json()["constructed_meeting_url"] == "https://zoom.us/j/12345678901"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "platform", "native_id", "constructed"),
    [
        (
            "https://teams.live.com/meet/9398850880426?p=RBZCWdxyp85TpcKna8",
            "teams",
            "9398850880426",
            "https://teams.live.com/meet/9398850880426?p=RBZCWdxyp85TpcKna8",
        ),
        (
            "https://teams.microsoft.com/meet/9398850880426?p=Abcd1234",
            "teams",
            "9398850880426",
            "https://teams.microsoft.com/meet/9398850880426?p=Abcd1234",
        ),
        ("meet.google.com/abc-defg-hij", "google_meet", "abc-defg-hij", None),
        (
            "https://us05web.zoom.us/j/81234567890?pwd=AbC9xYz.1",
            "zoom",
            "81234567890",
            "https://zoom.us/j/81234567890?pwd=AbC9xYz.1",
        ),
        (
            "https://app.zoom.us/wc/81234567890/join?pwd=secret",
            "zoom",
            "81234567890",
            "https://zoom.us/j/81234567890?pwd=secret",
        ),
    ],
)
def test_a_pasted_meeting_url_is_parsed_into_platform_id_and_passcode(
    alice_api: APIClient, url: str, platform: str, native_id: str, constructed: str | None
) -> None:
    response = alice_api.post("/bots", {"meeting_url": url}, format="json")
    assert response.status_code == 201, response.json()
    got = response.json()
    assert (got["platform"], got["native_meeting_id"]) == (platform, native_id)
    if constructed:
        assert got["constructed_meeting_url"] == constructed


@pytest.mark.django_db
def test_a_pasted_links_passcode_is_not_echoed_in_bot_config(alice_api: APIClient) -> None:
    url = "https://teams.live.com/meet/9398850880426?p=RBZCWdxyp85TpcKna8"
    created = alice_api.post("/bots", {"meeting_url": url}, format="json").json()
    listed = alice_api.get("/meetings").json()["meetings"][0]
    for shown in (created, listed):
        assert "RBZCWdxyp85TpcKna8" not in str(shown["bot_config"])
        assert shown["bot_config"]["meeting_url"] == "https://teams.live.com/meet/9398850880426"


@pytest.mark.django_db
def test_a_legacy_teams_link_keeps_its_url_and_gets_a_stable_id(alice_api: APIClient) -> None:
    url = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=x"
    first = alice_api.post("/bots", {"meeting_url": url}, format="json")
    assert first.status_code == 201
    native = first.json()["native_meeting_id"]
    assert len(native) == 16
    assert first.json()["constructed_meeting_url"] == url
    # The same link names the same meeting: a second bot is a conflict.
    assert alice_api.post("/bots", {"meeting_url": url}, format="json").status_code == 409
    no_url = alice_api.post(
        "/bots", {"platform": "teams", "native_meeting_id": native}, format="json"
    )
    assert no_url.status_code == 400
    assert "meeting_url is required" in no_url.json()["detail"]


@pytest.mark.django_db
def test_a_meeting_url_that_contradicts_the_fields_or_is_not_a_meeting_is_refused(
    alice_api: APIClient,
) -> None:
    conflicting = alice_api.post(
        "/bots",
        {"platform": "zoom", "meeting_url": "https://meet.google.com/abc-defg-hij"},
        format="json",
    )
    assert conflicting.status_code == 400
    assert "google_meet link" in conflicting.json()["detail"]
    elsewhere = alice_api.post("/bots", {"meeting_url": "https://example.com/x"}, format="json")
    assert elsewhere.status_code == 400
    assert "not a Google Meet, Microsoft Teams or Zoom" in elsewhere.json()["detail"]
    nothing = alice_api.post("/bots", {}, format="json")
    assert nothing.status_code == 422
    assert [e["loc"] for e in nothing.json()["detail"]] == [
        ["body", "platform"],
        ["body", "native_meeting_id"],
    ]
    no_id = alice_api.post("/bots", {"platform": "google_meet"}, format="json")
    assert no_id.status_code == 422
    assert no_id.json()["detail"] == [
        {
            "loc": ["body", "native_meeting_id"],
            "msg": "field required (or give a meeting_url)",
            "type": "value_error.missing",
        }
    ]
    assert not Meeting.objects.exists()


@pytest.mark.django_db
def test_field_type_errors_are_422_field_lists(alice_api: APIClient) -> None:
    response = alice_api.post(
        "/bots",
        {"platform": "skype", "native_meeting_id": "abc-defg-hij", "recording_enabled": "maybe"},
        format="json",
    )
    assert response.status_code == 422
    locs = {tuple(item["loc"]) for item in response.json()["detail"]}
    assert ("body", "platform") in locs
    assert ("body", "recording_enabled") in locs


@pytest.mark.django_db
def test_language_must_be_a_whisper_code_and_may_be_omitted(alice_api: APIClient) -> None:
    bad = alice_api.post("/bots", {**MEET, "language": "klingon"}, format="json")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "language"]
    assert "Whisper language code" in bad.json()["detail"][0]["msg"]
    auto = alice_api.post("/bots", MEET, format="json")
    assert auto.status_code == 201
    assert auto.json()["bot_config"]["language"] is None


@pytest.mark.django_db
def test_it_stores_every_bot_setting_and_echoes_metadata(alice_api: APIClient) -> None:
    body = {
        **MEET,
        "task": "translate",
        "automatic_leave": {"waiting_room": 300, "noone_joined_timeout": 120000, "silence": 600},
        "recording_enabled": False,
        "transcribe_enabled": True,
        "metadata": {"crm_id": "42", "tags": ["sales"]},
        "hotwords": ["Vexa"],
        "prompt": "A sales call.",
    }
    response = alice_api.post("/bots", body, format="json")
    assert response.status_code == 201
    assert response.json()["metadata"] == {"crm_id": "42", "tags": ["sales"]}
    config = Meeting.objects.get().bot_config
    assert config["automatic_leave"] == {"waiting_room": 300, "no_one_joined": 120, "silence": 600}
    assert config["task"] == "translate"
    assert config["recording_enabled"] is False
    assert config["hotwords"] == ["Vexa"]
    assert config["prompt"] == "A sales call."
    too_big = alice_api.post(
        "/bots",
        {"platform": "zoom", "native_meeting_id": "123456789", "metadata": {"x": "y" * 5000}},
        format="json",
    )
    assert too_big.status_code == 422


@pytest.mark.django_db
def test_a_second_live_bot_for_the_same_meeting_is_a_409(
    alice_api: APIClient, bob_api: APIClient
) -> None:
    assert alice_api.post("/bots", MEET, format="json").status_code == 201
    again = alice_api.post("/bots", MEET, format="json")
    assert again.status_code == 409
    assert "already running" in again.json()["detail"]
    # Another user's bot in the same meeting is theirs: no conflict.
    assert bob_api.post("/bots", MEET, format="json").status_code == 201
    # Once the first bot is finished, a new one may join.
    assert alice_api.delete("/bots/google_meet/abc-defg-hij").status_code == 202
    assert alice_api.post("/bots", MEET, format="json").status_code == 201


@pytest.mark.django_db
def test_over_max_concurrent_bots_is_a_429_and_scheduled_bots_do_not_count(
    alice: User, alice_api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    alice.max_concurrent_bots = 1
    alice.save()
    assert alice_api.post("/bots", MEET, format="json").status_code == 201
    over = alice_api.post(
        "/bots", {"platform": "zoom", "native_meeting_id": "123456789"}, format="json"
    )
    assert over.status_code == 429
    assert over.json()["detail"] == "Too many concurrent bots: the limit for this user is 1"
    assert over.headers["Retry-After"] == "30"
    later = (timezone.now() + timedelta(hours=2)).isoformat()
    with django_capture_on_commit_callbacks() as callbacks:
        scheduled = alice_api.post(
            "/bots",
            {"platform": "zoom", "native_meeting_id": "123456789", "join_at": later},
            format="json",
        )
    assert scheduled.status_code == 201
    assert scheduled.json()["join_at"] is not None
    # A scheduled bot is started by the scheduler when due, not enqueued now.
    assert enqueued_ids(callbacks) == []


@pytest.mark.django_db
def test_zero_means_unlimited_concurrent_bots(alice_api: APIClient) -> None:
    ids = ["123456789", "1234567890", "12345678901"]
    for native in ids:
        response = alice_api.post(
            "/bots", {"platform": "zoom", "native_meeting_id": native}, format="json"
        )
        assert response.status_code == 201


def _post_together(clients: list[APIClient], bodies: list[dict[str, Any]]) -> list[int]:
    """POST /bots from several threads at once (each thread: its own DB connection)."""
    barrier = threading.Barrier(len(clients))
    codes: list[int] = [0] * len(clients)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            codes[index] = clients[index].post("/bots", bodies[index], format="json").status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return codes


@pytest.mark.django_db(transaction=True)
def test_racing_requests_cannot_exceed_max_concurrent_bots() -> None:
    user = User.objects.create_user("racer@example.com", max_concurrent_bots=1)
    key = account_services.token_issue(user=user, scopes=["bot", "tx"]).plain
    bodies = [
        {"platform": "zoom", "native_meeting_id": "123456789"},
        {"platform": "zoom", "native_meeting_id": "987654321"},
        {"platform": "zoom", "native_meeting_id": "555555555"},
    ]
    codes = _post_together([api_client(key) for _ in bodies], bodies)
    assert sorted(codes) == [201, 429, 429]
    assert Meeting.objects.filter(user=user).count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_requests_for_one_meeting_create_one_bot() -> None:
    user = User.objects.create_user("racer@example.com", max_concurrent_bots=0)
    key = account_services.token_issue(user=user, scopes=["bot", "tx"]).plain
    codes = _post_together([api_client(key), api_client(key)], [MEET, MEET])
    assert sorted(codes) == [201, 409]
    assert Meeting.objects.filter(user=user).count() == 1


# --- Idempotency-Key ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_idempotency_key_and_body_replays_the_first_response(
    alice_api: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        first = alice_api.post("/bots", MEET, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        second = alice_api.post("/bots", MEET, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert Meeting.objects.count() == 1
    assert len(enqueued_ids(callbacks)) == 1
    # Without the key the same request is a new attempt, and the live bot makes it a 409.
    assert alice_api.post("/bots", MEET, format="json").status_code == 409


@pytest.mark.django_db
def test_the_same_idempotency_key_with_another_body_is_a_422(alice_api: APIClient) -> None:
    assert alice_api.post("/bots", MEET, format="json", HTTP_IDEMPOTENCY_KEY="k-2").status_code == (
        201
    )
    other = {"platform": "zoom", "native_meeting_id": "123456789"}
    response = alice_api.post("/bots", other, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 422
    assert "different request body" in response.json()["detail"]
    assert Meeting.objects.count() == 1


@pytest.mark.django_db
def test_an_idempotency_key_expires_after_a_day(alice_api: APIClient) -> None:
    assert alice_api.post("/bots", MEET, format="json", HTTP_IDEMPOTENCY_KEY="k-4").status_code == (
        201
    )
    assert alice_api.delete("/bots/google_meet/abc-defg-hij").status_code == 202
    # A day passes (moved in the database rather than waited out).
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    again = alice_api.post("/bots", MEET, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert Meeting.objects.count() == 2
    assert IdempotencyKey.objects.count() == 1


@pytest.mark.django_db
def test_a_failed_request_does_not_use_up_its_idempotency_key(
    alice: User, alice_api: APIClient, bob_api: APIClient
) -> None:
    alice.max_concurrent_bots = 1
    alice.save()
    zoom = {"platform": "zoom", "native_meeting_id": "123456789"}
    assert alice_api.post("/bots", MEET, format="json").status_code == 201
    refused = alice_api.post("/bots", zoom, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert refused.status_code == 429
    assert alice_api.delete("/bots/google_meet/abc-defg-hij").status_code == 202
    retried = alice_api.post("/bots", zoom, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert retried.status_code == 201
    # Keys are per user: bob's "k-3" is his own.
    assert bob_api.post("/bots", zoom, format="json", HTTP_IDEMPOTENCY_KEY="k-3").status_code == (
        201
    )


@pytest.mark.django_db(transaction=True)
def test_racing_requests_with_one_idempotency_key_create_one_bot_and_agree() -> None:
    user = User.objects.create_user("racer@example.com", max_concurrent_bots=0)
    key = account_services.token_issue(user=user, scopes=["bot", "tx"]).plain
    clients = [api_client(key), api_client(key)]
    for client in clients:
        client.credentials(HTTP_X_API_KEY=key, HTTP_IDEMPOTENCY_KEY="same")
    barrier = threading.Barrier(2)
    responses: list[Any] = [None, None]

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            responses[index] = clients[index].post("/bots", MEET, format="json")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # The second waited on the key's unique index, then replayed the committed first response.
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].json() == responses[1].json()
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in responses) == ["", "true"]
    assert Meeting.objects.filter(user=user).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("platform", "typed", "stored"),
    [("google_meet", "ABC-DEFG-HIJ", "abc-defg-hij"), ("zoom", "123-456-7890", "1234567890")],
)
def test_every_path_finds_the_meeting_by_the_id_as_the_user_typed_it(
    alice_api: APIClient, platform: str, typed: str, stored: str
) -> None:
    created = alice_api.post(
        "/bots", {"platform": platform, "native_meeting_id": typed}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["native_meeting_id"] == stored
    transcript = alice_api.get(f"/transcripts/{platform}/{typed}")
    assert transcript.status_code == 200
    assert transcript.json()["id"] == created.json()["id"]
    named = {"data": {"name": "Weekly"}}
    assert alice_api.patch(f"/meetings/{platform}/{typed}", named, format="json").status_code == 200
    again = alice_api.post(
        "/bots", {"platform": platform, "native_meeting_id": typed}, format="json"
    )
    assert again.status_code == 409
    stopped = alice_api.delete(f"/bots/{platform}/{typed}")
    assert stopped.status_code == 202
    assert stopped.json()["status"] == "completed"


# --- DELETE /bots -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stopping_a_bot_that_has_not_started_completes_it_at_once(
    alice_api: APIClient,
) -> None:
    created = alice_api.post("/bots", MEET, format="json").json()
    response = alice_api.delete("/bots/google_meet/abc-defg-hij")
    assert response.status_code == 202
    assert response.json()["status"] == "completed"
    meeting = Meeting.objects.get(pk=created["id"])
    assert meeting.status == S.COMPLETED
    assert meeting.data["completion_reason"] == "stopped_before_admission"
    steps = [(t["from"], t["to"], t["source"]) for t in meeting.data["status_transition"]]
    assert steps == [
        (None, "requested", "user_api"),
        ("requested", "stopping", "user_api"),
        ("stopping", "completed", "user_api"),
    ]
    assert meeting.end_time is not None
    assert alice_api.get("/bots/status").json() == {"running_bots": []}


@pytest.mark.django_db
@pytest.mark.parametrize("status", [S.JOINING, S.AWAITING_ADMISSION, S.ACTIVE])
def test_stopping_a_running_bot_marks_it_stopping_and_rings_it_after_commit(
    alice: User,
    alice_api: APIClient,
    status: str,
    control_messages: ControlChannel,
    django_capture_on_commit_callbacks: Any,
) -> None:
    meeting = meeting_in(alice, status)
    control_messages.subscribe(meeting.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.delete("/bots/google_meet/abc-defg-hij")
        assert response.status_code == 202
        assert control_messages.read(0) == []  # not before commit
    assert response.json() == {
        "message": "Stop request accepted and is being processed.",
        "meeting_id": meeting.pk,
        "status": "stopping",
    }
    meeting.refresh_from_db()
    assert meeting.status == S.STOPPING
    assert meeting.data["status_transition"][-1]["source"] == "user_api"
    assert control_messages.read(1) == ["stop"]
    # Asking again while it leaves is accepted and rings again.
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.delete("/bots/google_meet/abc-defg-hij").status_code == 202
    assert control_messages.read(1) == ["stop"]


@pytest.mark.django_db
def test_stopping_when_no_bot_is_live_is_a_404(alice: User, alice_api: APIClient) -> None:
    response = alice_api.delete("/bots/google_meet/abc-defg-hij")
    assert response.status_code == 404
    assert response.json() == {"detail": "Bot not found"}
    meeting_in(alice, S.COMPLETED)
    assert alice_api.delete("/bots/google_meet/abc-defg-hij").status_code == 404
    unknown = alice_api.delete("/bots/skype/abc-defg-hij")
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["path", "platform"]


# --- PUT /bots/.../config -----------------------------------------------------------------------


@pytest.mark.django_db
def test_config_of_an_active_bot_is_stored_and_delivered(
    alice: User,
    alice_api: APIClient,
    control_messages: ControlChannel,
    django_capture_on_commit_callbacks: Any,
    multilingual_model: Path,
) -> None:
    meeting = meeting_in(alice, S.ACTIVE)
    control_messages.subscribe(meeting.pk)
    body = {"language": "es", "task": "transcribe", "bot_name": "Updated Bot Name"}
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.put("/bots/google_meet/abc-defg-hij/config", body, format="json")
    assert response.status_code == 202
    meeting.refresh_from_db()
    assert meeting.bot_config["language"] == "es"
    assert meeting.bot_config["bot_name"] == "Updated Bot Name"
    assert control_messages.read(1) == ["config"]


@pytest.mark.django_db
def test_a_language_the_english_only_model_cannot_transcribe_is_refused_before_a_bot_joins(
    alice: User, alice_api: APIClient
) -> None:
    # The bundled tiny.en heard Spanish speech as "We are here at Tormos." and said it was "es".
    spanish = alice_api.post("/bots", {**MEET, "language": "es"}, format="json")
    assert spanish.status_code == 422
    [error] = spanish.json()["detail"]
    assert error["loc"] == ["body", "language"]
    assert "(the bundled tiny.en) is English-only" in error["msg"]
    assert "WHISPER_MODEL" in error["msg"]
    assert not Meeting.objects.exists()

    # Recorded for a later multilingual pass, without live transcription: nothing to refuse.
    recorded_only = {**MEET, "language": "es", "transcribe_enabled": False}
    assert alice_api.post("/bots", recorded_only, format="json").status_code == 201

    meeting_in(alice, S.ACTIVE, native_meeting_id="xyz-wxyz-xyz")
    path = "/bots/google_meet/xyz-wxyz-xyz/config"
    assert alice_api.put(path, {"language": "de"}, format="json").status_code == 422
    assert alice_api.put(path, {"language": "en"}, format="json").status_code == 202
    assert alice_api.put(path, {"language": None}, format="json").status_code == 202


@pytest.mark.django_db
def test_a_multilingual_model_takes_any_whisper_language(
    alice_api: APIClient, multilingual_model: Path
) -> None:
    created = alice_api.post("/bots", {**MEET, "language": "es"}, format="json")
    assert created.status_code == 201
    assert created.json()["bot_config"]["language"] == "es"


@pytest.mark.django_db
def test_config_is_refused_unless_the_bot_is_active(alice: User, alice_api: APIClient) -> None:
    body = {"language": "en"}
    missing = alice_api.put("/bots/google_meet/abc-defg-hij/config", body, format="json")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Bot not found"}
    meeting_in(alice, S.AWAITING_ADMISSION)
    waiting = alice_api.put("/bots/google_meet/abc-defg-hij/config", body, format="json")
    assert waiting.status_code == 409
    assert "not active" in waiting.json()["detail"]


@pytest.mark.django_db
def test_config_values_are_validated(alice: User, alice_api: APIClient) -> None:
    meeting_in(alice, S.ACTIVE)
    path = "/bots/google_meet/abc-defg-hij/config"
    assert alice_api.put(path, {"language": "xx"}, format="json").status_code == 422
    assert alice_api.put(path, {"task": "summarize"}, format="json").status_code == 422
    assert alice_api.put(path, {}, format="json").status_code == 422


# --- GET /bots/status ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_bot_status_lists_only_the_callers_unfinished_bots(
    alice: User, bob: User, alice_api: APIClient
) -> None:
    active = meeting_in(alice, S.ACTIVE)
    Meeting.objects.filter(pk=active.pk).update(bot_container_id="abc123")
    meeting_in(alice, S.COMPLETED, platform="zoom", native_meeting_id="123456789")
    meeting_in(bob, S.ACTIVE, native_meeting_id="bbb-bbbb-bbb")
    response = alice_api.get("/bots/status")
    assert response.status_code == 200
    [bot] = response.json()["running_bots"]
    assert {
        "container_id": "abc123",
        "meeting_id": active.pk,
        "platform": "google_meet",
        "native_meeting_id": "abc-defg-hij",
        "status": "active",
    }.items() <= bot.items()


@pytest.mark.django_db
def test_bot_status_takes_the_same_queries_for_any_number_of_bots(
    alice: User, alice_api: APIClient, django_assert_num_queries: Any
) -> None:
    alice_api.get("/bots/status")  # first use of the key records last_used_at
    meeting_in(alice, S.ACTIVE)
    with django_assert_num_queries(2):
        assert len(alice_api.get("/bots/status").json()["running_bots"]) == 1
    for n in range(4):
        meeting_in(alice, S.JOINING, native_meeting_id=f"zzz-zzzz-zz{n}")
    with django_assert_num_queries(2):
        assert len(alice_api.get("/bots/status").json()["running_bots"]) == 5


@pytest.mark.django_db
def test_bot_endpoints_need_the_bot_scope(alice: User) -> None:
    tx_only = api_client(account_services.token_issue(user=alice, scopes=["tx"]).plain)
    for response in (
        tx_only.post("/bots", MEET, format="json"),
        tx_only.get("/bots/status"),
        tx_only.delete("/bots/google_meet/abc-defg-hij"),
    ):
        assert response.status_code == 403
        assert response.json() == {"detail": "Token scope not authorized for this endpoint"}
    assert api_client().get("/bots/status").status_code == 401
