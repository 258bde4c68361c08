"""The `/webhooks` REST API: CRUD, the secret shown once, SSRF at save, test, history, resend."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient
from standardwebhooks import Webhook

from accounts import services as account_services
from accounts.models import User
from tests.conftest import api_client
from tests.webhooks.receiver import Receiver
from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint


def create(api: APIClient, **body: Any) -> dict[str, Any]:
    response = api.post("/webhooks", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.usefixtures("private_urls_allowed")
def test_it_creates_lists_updates_and_deletes_webhooks(alice_api: APIClient) -> None:
    created = create(
        alice_api, url="http://127.0.0.1:9/a", event_types=["meeting.completed", "bot.failed"]
    )
    assert created["secret"].startswith("whsec_")
    assert created["secret_prefix"] == created["secret"][:10] + "..."
    assert created["event_types"] == ["bot.failed", "meeting.completed"]
    assert created["enabled"] is True

    listed = alice_api.get("/webhooks").json()["webhooks"]
    assert [w["id"] for w in listed] == [created["id"]]
    assert "secret" not in listed[0]
    detail = alice_api.get(f"/webhooks/{created['id']}").json()
    assert "secret" not in detail

    off = alice_api.patch(f"/webhooks/{created['id']}", {"enabled": False}, format="json")
    assert off.json()["disabled_reason"] == "Disabled by the user"
    on = alice_api.patch(
        f"/webhooks/{created['id']}", {"enabled": True, "event_types": []}, format="json"
    )
    assert on.json()["disabled_reason"] == ""
    assert on.json()["event_types"] == []

    assert alice_api.delete(f"/webhooks/{created['id']}").status_code == 204
    assert alice_api.get(f"/webhooks/{created['id']}").status_code == 404


@override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=False)
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://metadata.google.internal/computeMetadata/v1",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://[::1]/hook",
        "http://100.64.0.1/hook",
    ],
)
def test_it_refuses_private_urls_at_save(alice: User, alice_api: APIClient, url: str) -> None:
    response = alice_api.post("/webhooks", {"url": url}, format="json")
    assert response.status_code == 422, response.content
    assert not WebhookEndpoint.objects.exists()

    with override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True):
        endpoint = services.endpoint_create(user=alice, url="http://127.0.0.1:9/ok")
    moved = alice_api.patch(f"/webhooks/{endpoint.pk}", {"url": url}, format="json")
    assert moved.status_code == 422
    endpoint.refresh_from_db()
    assert endpoint.url == "http://127.0.0.1:9/ok"


def test_it_refuses_unknown_event_types_and_non_http_urls(alice_api: APIClient) -> None:
    bad_type = alice_api.post(
        "/webhooks", {"url": "https://example.com/h", "event_types": ["nope"]}, format="json"
    )
    assert bad_type.status_code == 422
    assert bad_type.json()["detail"][0]["loc"][:2] == ["body", "event_types"]
    assert (
        alice_api.post("/webhooks", {"url": "ftp://example.com/h"}, format="json").status_code
        == 422
    )


@pytest.mark.usefixtures("private_urls_allowed")
def test_a_misspelt_field_is_a_422_not_a_subscription_to_everything(
    alice: User, alice_api: APIClient
) -> None:
    created = alice_api.post(
        "/webhooks",
        {"url": "http://127.0.0.1:9/a", "events": ["meeting.completed"]},
        format="json",
    )
    assert created.status_code == 422
    assert created.json()["detail"] == [
        {"loc": ["body", "events"], "msg": "Unknown field.", "type": "value_error.invalid"}
    ]
    assert not WebhookEndpoint.objects.filter(user=alice).exists()
    endpoint = create(alice_api, url="http://127.0.0.1:9/a")
    patched = alice_api.patch(f"/webhooks/{endpoint['id']}", {"enable": False}, format="json")
    assert patched.status_code == 422
    assert patched.json()["detail"][0]["loc"] == ["body", "enable"]
    assert WebhookEndpoint.objects.get(pk=endpoint["id"]).enabled


def test_any_valid_key_may_manage_webhooks_and_none_is_401(alice: User) -> None:
    tx_only = account_services.token_issue(user=alice, scopes=["tx"]).plain
    assert api_client(tx_only).get("/webhooks").status_code == 200
    assert api_client().get("/webhooks").status_code == 401
    assert api_client("vex_not-a-key").get("/webhooks").status_code == 401


@pytest.mark.usefixtures("private_urls_allowed")
def test_the_test_endpoint_sends_a_signed_test_event_and_reports_the_attempt(
    alice_api: APIClient, receiver: Receiver
) -> None:
    created = create(alice_api, url=receiver.url, event_types=["meeting.completed"])

    ok = alice_api.post(f"/webhooks/{created['id']}/test")
    receiver.script(500)
    failed = alice_api.post(f"/webhooks/{created['id']}/test")

    assert ok.status_code == 200
    body = ok.json()
    assert body["status"] == "succeeded"
    assert body["event_type"] == "webhook.test"
    assert body["attempts"][0]["status_code"] == 200
    assert body["attempts"][0]["latency_ms"] is not None
    envelope = Webhook(created["secret"]).verify(
        receiver.received[0].body, receiver.received[0].headers
    )
    assert envelope["event_type"] == "webhook.test"
    assert envelope["event_id"] == body["event_id"]
    problem = failed.json()
    assert problem["status"] == "failed"
    assert problem["event_id"] != body["event_id"]
    assert problem["attempts"][0]["status_code"] == 500
    assert problem["attempts"][0]["error"] == "HTTP 500"
    assert problem["next_retry_at"] is None
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.failing_since is None
    assert not WebhookDelivery.objects.filter(event__event_type="meeting.completed").exists()


@pytest.mark.usefixtures("private_urls_allowed")
def test_deliveries_are_paginated_newest_first_with_their_attempts(
    alice: User,
    alice_api: APIClient,
    receiver: Receiver,
    django_assert_num_queries: Any,
) -> None:
    endpoint = services.endpoint_create(user=alice, url=receiver.url)
    for n in range(3):
        services.webhook_event_emit(
            user_id=alice.pk, event_type="transcript.ready", data={"n": n}, dedupe_key=f"t:{n}"
        )
    services.deliveries_run_due()
    alice_api.get("/webhooks")  # stamps the key's last_used_at, so it is not counted below

    # key lookup, endpoint, count, deliveries + events, attempts
    with django_assert_num_queries(5):
        first = alice_api.get(f"/webhooks/{endpoint.pk}/deliveries?page=1&page_size=2").json()
    second = alice_api.get(f"/webhooks/{endpoint.pk}/deliveries?page=2&page_size=2").json()

    assert (first["total"], first["page"], first["page_size"]) == (3, 1, 2)
    ids = [d["id"] for d in first["deliveries"] + second["deliveries"]]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 3
    row = first["deliveries"][0]
    assert row["status"] == "succeeded"
    assert row["attempts"][0]["status_code"] == 200
    assert row["attempts"][0]["url"] == receiver.url
    assert {"latency_ms", "error", "next_retry_at"} <= set(row["attempts"][0])
    too_big = alice_api.get(f"/webhooks/{endpoint.pk}/deliveries?page_size=1000")
    assert too_big.status_code == 422
    too_far = alice_api.get(f"/webhooks/{endpoint.pk}/deliveries?page={2**63}")
    assert too_far.status_code == 422  # its OFFSET would not fit PostgreSQL's bigint
    assert too_far.json()["detail"][0]["loc"] == ["query", "page"]


@pytest.mark.usefixtures("private_urls_allowed")
def test_resend_sends_the_same_event_again(
    alice: User, alice_api: APIClient, receiver: Receiver
) -> None:
    endpoint = services.endpoint_create(user=alice, url=receiver.url)
    event = services.webhook_event_emit(
        user_id=alice.pk, event_type="transcript.ready", data={}, dedupe_key="t:1"
    )
    services.deliveries_run_due()
    delivery = WebhookDelivery.objects.get()

    response = alice_api.post(f"/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/resend")
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    services.deliveries_run_due()

    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert ids == [event.event_id, event.event_id]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("succeeded", 2)

    alice_api.patch(f"/webhooks/{endpoint.pk}", {"enabled": False}, format="json")
    refused = alice_api.post(f"/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/resend")
    assert refused.status_code == 409


@pytest.mark.usefixtures("private_urls_allowed")
def test_the_vexa_endpoint_is_managed_by_put_user_webhook(
    alice: User, alice_api: APIClient
) -> None:
    alice_api.put("/user/webhook", {"webhook_url": "http://127.0.0.1:9/v"}, format="json")
    legacy = WebhookEndpoint.objects.get(user=alice, is_legacy=True)
    assert legacy.secret == ""

    alice_api.put("/user/webhook", {"webhook_url": "http://127.0.0.1:9/w"}, format="json")
    legacy.refresh_from_db()
    assert legacy.url == "http://127.0.0.1:9/w"
    assert WebhookEndpoint.objects.filter(user=alice).count() == 1
    moved = alice_api.patch(f"/webhooks/{legacy.pk}", {"url": "http://127.0.0.1:9/x"}, "json")
    assert moved.status_code == 409
    assert alice_api.delete(f"/webhooks/{legacy.pk}").status_code == 409
    muted = alice_api.patch(f"/webhooks/{legacy.pk}", {"enabled": False}, format="json")
    assert muted.status_code == 200


@pytest.mark.usefixtures("private_urls_allowed")
def test_another_users_webhook_is_404_on_every_endpoint(
    alice: User, bob: User, bob_api: APIClient, alice_api: APIClient, receiver: Receiver
) -> None:
    mine = services.endpoint_create(user=alice, url=receiver.url)
    services.webhook_event_emit(
        user_id=alice.pk, event_type="transcript.ready", data={}, dedupe_key="a"
    )
    theirs = services.endpoint_create(user=bob, url=receiver.url)
    services.webhook_event_emit(
        user_id=bob.pk, event_type="transcript.ready", data={}, dedupe_key="b"
    )
    mine_delivery = WebhookDelivery.objects.get(endpoint=mine)
    theirs_delivery = WebhookDelivery.objects.get(endpoint=theirs)

    base = f"/webhooks/{mine.pk}"
    calls = [
        bob_api.get(base),
        bob_api.patch(base, {"description": "x"}, format="json"),
        bob_api.delete(base),
        bob_api.post(f"{base}/test"),
        bob_api.get(f"{base}/deliveries"),
        bob_api.post(f"{base}/deliveries/{mine_delivery.pk}/resend"),
        alice_api.post(f"{base}/deliveries/{theirs_delivery.pk}/resend"),
        alice_api.post(f"/webhooks/{theirs.pk}/deliveries/{theirs_delivery.pk}/resend"),
    ]

    assert [c.status_code for c in calls] == [404] * len(calls)
    assert calls[0].json() == {"detail": "Webhook not found"}
    assert receiver.received == []
    mine.refresh_from_db()
    assert mine.description == ""
    assert [w["id"] for w in bob_api.get("/webhooks").json()["webhooks"]] == [theirs.pk]
