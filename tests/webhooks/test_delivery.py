"""Delivery against a real HTTP receiver on loopback, driven by `deliveries_run_due(now=...)`.

These tests run in a rolled-back transaction, so nothing is enqueued to Celery: the due-delivery
service is called with a controlled "now", which steps through 24 h of retries deterministically.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.utils import format_datetime

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from accounts.models import User
from bots import services as bot_services
from meetings import lifecycle
from tests.webhooks.conftest import meeting_create, meeting_run
from tests.webhooks.receiver import Received, Receiver, Reply
from webhooks import services
from webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

pytestmark = pytest.mark.usefixtures("private_urls_allowed")


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def emit_one(user: User, key: str = "thing:1") -> WebhookEvent:
    return services.webhook_event_emit(
        user_id=user.pk,
        event_type="recording.completed",
        data={"recording": {"id": 1}},
        dedupe_key=key,
    )


def only_delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.get()


@pytest.fixture
def second_receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def test_it_signs_every_request_with_both_schemes(alice: User, receiver: Receiver) -> None:
    endpoint = services.endpoint_create(user=alice, url=receiver.url)
    meeting = meeting_create(alice)

    assert services.deliveries_run_due() == 1

    request = receiver.received[0]
    headers = lower(request.headers)
    envelope = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert envelope["event_type"] == "meeting.status_change"
    assert envelope["event_id"] == headers["webhook-id"]
    assert envelope["data"]["meeting"]["id"] == meeting.pk
    assert set(envelope) == {"event_id", "event_type", "created_at", "data"}
    # Standard Webhooks by hand: base64 HMAC-SHA256 of "id.timestamp.body".
    key = base64.b64decode(endpoint.secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert f"v1,{expected}" in headers["webhook-signature"].split(" ")
    # Vexa by hand: hex HMAC-SHA256 of "timestamp.body" keyed with the secret string.
    vexa = hmac.new(
        endpoint.secret.encode(),
        headers["x-webhook-timestamp"].encode() + b"." + request.body,
        hashlib.sha256,
    ).hexdigest()
    assert headers["x-webhook-signature"] == f"sha256={vexa}"
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(request.body.replace(b"status", b"stadus"), headers)


def test_the_vexa_setting_signs_with_the_users_own_secret(
    alice: User, alice_api: APIClient, receiver: Receiver
) -> None:
    response = alice_api.put(
        "/user/webhook",
        {"webhook_url": receiver.url, "webhook_secret": "my-vexa-secret"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["data"]["webhook_url"] == receiver.url
    assert response.json()["email"] == "alice@example.com"
    listed = alice_api.get("/webhooks").json()["webhooks"]
    assert [(w["url"], w["legacy"]) for w in listed] == [(receiver.url, True)]

    meeting_create(alice)
    services.deliveries_run_due()

    request = receiver.received[0]
    headers = lower(request.headers)
    expected = hmac.new(
        b"my-vexa-secret", headers["x-webhook-timestamp"].encode() + b"." + request.body, "sha256"
    ).hexdigest()
    assert headers["x-webhook-signature"] == f"sha256={expected}"
    Webhook(b"my-vexa-secret").verify(request.body, headers)

    assert alice_api.put("/user/webhook", {"webhook_url": None}, format="json").status_code == 200
    assert not WebhookEndpoint.objects.filter(user=alice).exists()


def test_it_delivers_every_event_once_in_order_after_the_receiver_comes_back(
    alice: User, receiver: Receiver
) -> None:
    services.endpoint_create(user=alice, url=receiver.url)
    receiver.stop()
    meeting = meeting_create(alice)
    meeting_run(meeting)
    t0 = timezone.now()

    # Down: only the oldest event is tried; the others wait behind it, keeping the order.
    assert services.deliveries_run_due(now=t0) == 1
    head = WebhookDelivery.objects.order_by("id").first()
    assert head is not None
    assert head.status == DeliveryStatus.PENDING
    assert head.next_attempt_at is not None
    assert head.next_attempt_at > t0
    assert "ConnectError" in head.attempts.get().error

    receiver.start()
    assert services.deliveries_run_due(now=t0 + timedelta(seconds=10)) == 0
    assert services.deliveries_run_due(now=t0 + timedelta(hours=1)) == 8
    assert services.deliveries_run_due(now=t0 + timedelta(hours=2)) == 0
    # A duplicate task for a delivered event sends nothing.
    assert services.delivery_attempt(delivery_id=head.pk, now=t0 + timedelta(hours=3)) is None

    ids = [lower(r.headers)["webhook-id"] for r in receiver.received]
    events = list(WebhookEvent.objects.order_by("id"))
    assert ids == [e.event_id for e in events]
    assert len(set(ids)) == 8
    assert [r.json["event_type"] for r in receiver.received] == [
        "meeting.status_change",
        "meeting.status_change",
        "meeting.status_change",
        "meeting.status_change",
        "meeting.started",
        "meeting.status_change",
        "meeting.status_change",
        "meeting.completed",
    ]
    changes = [r.json["data"] for r in receiver.received if "status" in r.json["event_type"]]
    assert [(c["from"], c["to"]) for c in changes] == [
        (None, "requested"),
        ("requested", "joining"),
        ("joining", "awaiting_admission"),
        ("awaiting_admission", "active"),
        ("active", "stopping"),
        ("stopping", "completed"),
    ]
    assert changes[-1]["reason"] == "to completed"
    assert changes[-1]["completion_reason"] == "stopped"


def test_a_failed_bot_emits_bot_failed_with_its_stage_and_cause(alice: User) -> None:
    meeting = meeting_create(alice)
    lifecycle.transition(meeting_id=meeting.pk, to="joining", source="bot")
    lifecycle.transition(
        meeting_id=meeting.pk,
        to="failed",
        source="bot",
        reason="bot_error",
        error_details={"message": "the meeting page says: Meeting not found"},
    )

    failed = WebhookEvent.objects.get(event_type="bot.failed")
    assert failed.data["failure_stage"] == "joining"
    assert failed.data["reason"] == "bot_error"
    assert failed.data["error"] == "the meeting page says: Meeting not found"
    assert not WebhookEvent.objects.filter(event_type="meeting.completed").exists()


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_it_does_not_retry_a_4xx(alice: User, receiver: Receiver, code: int) -> None:
    services.endpoint_create(user=alice, url=receiver.url)
    receiver.script(code)
    emit_one(alice)
    t0 = timezone.now()

    assert services.deliveries_run_due(now=t0) == 1
    assert services.deliveries_run_due(now=t0 + timedelta(days=2)) == 0

    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_status_code == code
    assert delivery.next_attempt_at is None
    assert len(receiver.received) == 1


@pytest.mark.parametrize("code", [408, 429, 500, 502, 503, 504])
def test_it_retries_408_429_and_5xx(alice: User, receiver: Receiver, code: int) -> None:
    services.endpoint_create(user=alice, url=receiver.url)
    receiver.script(code)
    emit_one(alice)
    t0 = timezone.now()

    services.deliveries_run_due(now=t0)
    assert only_delivery().status == DeliveryStatus.PENDING
    services.deliveries_run_due(now=t0 + timedelta(hours=1))

    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [a.status_code for a in delivery.attempts.all()] == [code, 200]
    assert len({lower(r.headers)["webhook-id"] for r in receiver.received}) == 1


def test_a_410_is_not_retried_and_disables_the_endpoint(alice: User, receiver: Receiver) -> None:
    endpoint = services.endpoint_create(user=alice, url=receiver.url)
    receiver.script(410)
    emit_one(alice, "a")
    emit_one(alice, "b")
    t0 = timezone.now()

    services.deliveries_run_due(now=t0)
    services.deliveries_run_due(now=t0 + timedelta(days=1))

    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "410" in endpoint.disabled_reason
    assert len(receiver.received) == 1
    first, second = WebhookDelivery.objects.order_by("id")
    assert first.status == second.status == DeliveryStatus.FAILED
    assert "disabled" in second.last_error
    emit_one(alice, "c")
    assert WebhookDelivery.objects.count() == 2


@pytest.mark.parametrize("as_date", [False, True])
def test_it_honours_retry_after(alice: User, receiver: Receiver, as_date: bool) -> None:
    services.endpoint_create(user=alice, url=receiver.url)
    later = timezone.now() + timedelta(hours=2)
    value = format_datetime(later, usegmt=True) if as_date else "7200"
    receiver.script(Reply(429, {"Retry-After": value}))
    emit_one(alice)
    t0 = timezone.now()

    services.deliveries_run_due(now=t0)

    delivery = only_delivery()
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at >= t0 + timedelta(seconds=7190)
    assert services.deliveries_run_due(now=t0 + timedelta(hours=1)) == 0
    assert services.deliveries_run_due(now=t0 + timedelta(hours=3)) == 1


def test_it_retries_with_growing_backoff_for_24_hours_then_fails(
    alice: User, receiver: Receiver
) -> None:
    services.endpoint_create(user=alice, url=receiver.url)
    receiver.script(*([503] * 100))
    emit_one(alice)
    delivery = only_delivery()
    now = delivery.next_attempt_at
    assert now is not None
    moments: list[datetime] = []
    while delivery.status == DeliveryStatus.PENDING and len(moments) < 100:
        assert services.deliveries_run_due(now=now) == 1
        moments.append(now)
        delivery.refresh_from_db()
        if delivery.next_attempt_at is not None:
            now = delivery.next_attempt_at

    assert delivery.status == DeliveryStatus.FAILED
    assert "gave up" in delivery.last_error
    assert moments[-1] - moments[0] >= timedelta(hours=24)
    assert moments[-1] <= delivery.retry_until
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert gaps[0] < timedelta(minutes=1)
    assert all(later > earlier for earlier, later in itertools.pairwise(gaps[:7]))
    assert max(gaps) <= timedelta(hours=4, minutes=48)
    assert len(receiver.received) == len(moments) < 30


def test_it_never_uses_a_stale_url(
    alice: User, alice_api: APIClient, receiver: Receiver, second_receiver: Receiver
) -> None:
    endpoint = services.endpoint_create(user=alice, url=receiver.url)
    receiver.script(503)
    emit_one(alice)
    t0 = timezone.now()
    services.deliveries_run_due(now=t0)

    response = alice_api.patch(
        f"/webhooks/{endpoint.pk}", {"url": second_receiver.url + "?v=2"}, format="json"
    )
    assert response.status_code == 200
    services.deliveries_run_due(now=t0 + timedelta(hours=1))

    assert len(receiver.received) == 1
    assert [r.path for r in second_receiver.received] == ["/hook?v=2"]
    urls = list(WebhookAttempt.objects.order_by("number").values_list("url", flat=True))
    assert urls == [receiver.url, second_receiver.url + "?v=2"]


def test_a_new_url_sends_what_waited_behind_a_failing_delivery_at_once(
    alice: User, alice_api: APIClient, receiver: Receiver, second_receiver: Receiver
) -> None:
    endpoint = services.endpoint_create(user=alice, url=receiver.url)
    receiver.script(503)
    first, second = emit_one(alice, "thing:1"), emit_one(alice, "thing:2")
    services.deliveries_run_due()
    assert len(receiver.received) == 1  # the first failed; the second waits behind it
    backoff = WebhookDelivery.objects.get(event=first).next_attempt_at
    assert backoff is not None
    assert backoff > timezone.now()

    response = alice_api.patch(
        f"/webhooks/{endpoint.pk}", {"url": second_receiver.url}, format="json"
    )
    assert response.status_code == 200
    services.deliveries_run_due()  # now, not after the backoff

    ids = [lower(r.headers)["webhook-id"] for r in second_receiver.received]
    assert ids == [first.event_id, second.event_id]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}


def test_fixing_the_vexa_webhook_url_sends_what_waited_at_once(
    alice: User, alice_api: APIClient, receiver: Receiver, second_receiver: Receiver
) -> None:
    set_up = alice_api.put("/user/webhook", {"webhook_url": receiver.url}, format="json")
    assert set_up.status_code == 200
    receiver.script(503)
    emit_one(alice)
    services.deliveries_run_due()
    assert only_delivery().status == DeliveryStatus.PENDING

    fixed = alice_api.put("/user/webhook", {"webhook_url": second_receiver.url}, format="json")
    assert fixed.status_code == 200
    services.deliveries_run_due()

    assert len(second_receiver.received) == 1
    assert only_delivery().status == DeliveryStatus.SUCCEEDED


def test_an_attempt_in_flight_is_not_made_due_again_by_a_url_change(
    alice: User, receiver: Receiver, second_receiver: Receiver
) -> None:
    endpoint = services.endpoint_create(user=alice, url=receiver.url)
    emit_one(alice)
    now = timezone.now()
    assert services._claim(only_delivery().pk, now)  # a worker is sending it right now
    claimed_until = only_delivery().next_attempt_at

    services.endpoint_update(endpoint=endpoint, changes={"url": second_receiver.url})

    assert only_delivery().next_attempt_at == claimed_until
    assert services.deliveries_run_due() == 0


def test_it_refuses_a_private_address_at_delivery_time(alice: User, receiver: Receiver) -> None:
    # Saved while allowed; "localhost" now resolves to a loopback address that is refused,
    # just as a public name whose DNS answer changed to a private one would be.
    endpoint = services.endpoint_create(
        user=alice, url=receiver.url.replace("127.0.0.1", "localhost")
    )
    emit_one(alice)
    t0 = timezone.now()
    with override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=False):
        assert services.deliveries_run_due(now=t0) == 1

    assert receiver.received == []
    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.PENDING
    assert "private, loopback" in delivery.last_error

    services.deliveries_run_due(now=t0 + timedelta(hours=1))
    assert [lower(r.headers)["host"] for r in receiver.received] == [f"localhost:{receiver.port}"]
    assert endpoint.url.startswith("http://localhost")


def test_it_does_not_follow_redirects(
    alice: User, receiver: Receiver, second_receiver: Receiver
) -> None:
    services.endpoint_create(user=alice, url=receiver.url)
    receiver.script(Reply(307, {"Location": second_receiver.url}))
    emit_one(alice)

    services.deliveries_run_due()

    delivery = only_delivery()
    assert delivery.status == DeliveryStatus.FAILED
    assert "Redirect" in delivery.last_error
    assert second_receiver.received == []


def test_an_endpoint_failing_for_days_is_disabled_with_a_reason(
    alice: User, receiver: Receiver
) -> None:
    endpoint = services.endpoint_create(user=alice, url=receiver.url)
    receiver.script(*([500] * 100))
    emit_one(alice, "a")
    t0 = timezone.now()
    services.deliveries_run_due(now=t0)
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert endpoint.failing_since == t0

    services.deliveries_run_due(now=t0 + timedelta(days=4))

    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "failed since" in endpoint.disabled_reason
    assert "HTTP 500" in endpoint.disabled_reason


def test_a_success_resets_the_failure_streak(alice: User, receiver: Receiver) -> None:
    endpoint = services.endpoint_create(user=alice, url=receiver.url)
    receiver.script(500)
    emit_one(alice, "a")
    t0 = timezone.now()
    services.deliveries_run_due(now=t0)
    services.deliveries_run_due(now=t0 + timedelta(hours=1))
    emit_one(alice, "b")
    receiver.script(500)
    services.deliveries_run_due(now=t0 + timedelta(days=4))

    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert endpoint.failing_since == t0 + timedelta(days=4)


def test_re_emitting_an_event_keeps_its_id_and_sends_it_once(
    alice: User, receiver: Receiver
) -> None:
    services.endpoint_create(user=alice, url=receiver.url)
    first = emit_one(alice, "recording:7:completed")
    again = emit_one(alice, "recording:7:completed")
    services.deliveries_run_due()
    third = emit_one(alice, "recording:7:completed")
    services.deliveries_run_due()

    assert first.event_id == again.event_id == third.event_id
    assert first.event_id == services.event_id_for(
        event_type="recording.completed", dedupe_key="recording:7:completed"
    )
    assert WebhookDelivery.objects.count() == 1
    assert [lower(r.headers)["webhook-id"] for r in receiver.received] == [first.event_id]


def test_a_rolled_back_transition_leaves_no_event(alice: User) -> None:
    services.endpoint_create(user=alice, url="http://127.0.0.1:9/hook")
    meeting = meeting_create(alice)
    lifecycle.transition(meeting_id=meeting.pk, to="joining", source="bot")
    before = WebhookEvent.objects.count()
    deliveries_before = WebhookDelivery.objects.count()

    def crash_after_the_change() -> None:
        with transaction.atomic():
            lifecycle.transition(meeting_id=meeting.pk, to="active", source="bot")
            assert WebhookEvent.objects.count() == before + 2
            raise RuntimeError("crash after the change, before commit")

    with pytest.raises(RuntimeError):
        crash_after_the_change()

    assert WebhookEvent.objects.count() == before
    assert WebhookDelivery.objects.count() == deliveries_before
    lifecycle.transition(meeting_id=meeting.pk, to="active", source="bot")
    assert list(
        WebhookEvent.objects.order_by("id").values_list("event_type", flat=True)[before:]
    ) == ["meeting.status_change", "meeting.started"]


def test_a_bot_let_in_again_after_a_rejoin_changes_status_but_starts_the_meeting_once(
    alice: User,
) -> None:
    services.endpoint_create(user=alice, url="http://127.0.0.1:9/hook")
    meeting = meeting_create(alice)
    before = WebhookEvent.objects.count()

    for to in ("joining", "active", "awaiting_admission", "active"):
        lifecycle.transition(meeting_id=meeting.pk, to=to, source="bot")

    emitted = WebhookEvent.objects.order_by("id")[before:]
    assert [(e.event_type, e.data["to"]) for e in emitted] == [
        ("meeting.status_change", "joining"),
        ("meeting.status_change", "active"),
        ("meeting.started", "active"),
        ("meeting.status_change", "awaiting_admission"),
        ("meeting.status_change", "active"),
    ]


def test_an_event_filter_selects_what_an_endpoint_receives(
    alice: User, bob: User, receiver: Receiver
) -> None:
    services.endpoint_create(user=alice, url=receiver.url, event_types=["meeting.completed"])
    services.endpoint_create(user=bob, url=receiver.url + "/bob")
    meeting_run(meeting_create(alice))
    services.deliveries_run_due()

    received: list[Received] = receiver.received
    assert [r.json["event_type"] for r in received] == ["meeting.completed"]


def test_chat_messages_and_comings_and_goings_go_only_to_endpoints_that_name_them(
    alice: User, receiver: Receiver
) -> None:
    """One event per chat message or person coming and going would flood a receiver that
    asked for everything (Vexa's single URL among them): they are sent only where the filter
    names them."""
    services.endpoint_create(user=alice, url=receiver.url + "/everything")
    services.endpoint_set_legacy(user=alice, url=receiver.url + "/vexa", secret=None)
    services.endpoint_create(user=alice, url=receiver.url + "/chat", event_types=["chat.message"])
    services.endpoint_create(
        user=alice,
        url=receiver.url + "/people",
        event_types=["participant.joined", "participant.left"],
    )
    meeting = meeting_create(alice)
    bot_services.bot_chat_read(meeting_id=meeting.pk, messages=[("Bob", "hi"), ("Bob", "+1")])
    stay = {"name": "Bob", "joined_at": "2026-12-08T10:00:00Z", "left_at": None}
    bot_services.bot_attendance_record(meeting_id=meeting.pk, attendance=[stay])
    gone = {**stay, "left_at": "2026-12-08T10:05:00Z"}
    bot_services.bot_attendance_record(meeting_id=meeting.pk, attendance=[gone])
    services.deliveries_run_due()

    people = [r.json for r in receiver.received if r.path == "/hook/people"]
    assert [(e["event_type"], e["data"]["name"], e["data"]["timestamp"]) for e in people] == [
        ("participant.joined", "Bob", "2026-12-08T10:00:00Z"),
        ("participant.left", "Bob", "2026-12-08T10:05:00Z"),
    ]
    assert people[0]["data"]["meeting"]["id"] == meeting.pk

    received = [r for r in receiver.received if r.json["event_type"] == "chat.message"]
    assert [(r.path, r.json["data"]["text"]) for r in received] == [
        ("/hook/chat", "hi"),
        ("/hook/chat", "+1"),
    ]
    data = received[0].json["data"]
    assert data["meeting"] == {
        "id": meeting.pk,
        "platform": "google_meet",
        "native_meeting_id": "abc-defg-hij",
    }
    assert (data["sender"], data["from_bot"]) == ("Bob", False)
    assert data["timestamp"].endswith("Z")
