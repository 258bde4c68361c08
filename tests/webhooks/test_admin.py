"""The webhook endpoint admin page keeps the API's rules for an endpoint."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from accounts.models import User
from webhooks import services
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(alice: User) -> WebhookEndpoint:
    with override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True):
        return services.endpoint_create(
            user=alice, url="http://127.0.0.1:9/hook", event_types=["meeting.completed"]
        )


@pytest.fixture
def operator(client: Client) -> Client:
    staff = User.objects.create_superuser("ops@example.com", password="x-very-long-password")
    client.force_login(staff)
    return client


def post(operator: Client, endpoint: WebhookEndpoint, **changes: str) -> str:
    form = {"url": endpoint.url, "event_types": '["meeting.completed"]', "enabled": "on"}
    response = operator.post(
        f"/django-admin/webhooks/webhookendpoint/{endpoint.pk}/change/", {**form, **changes}
    )
    assert response.status_code in (200, 302)
    return response.content.decode() if response.status_code == 200 else ""


@override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=False)
def test_an_operator_cannot_point_an_endpoint_at_a_private_address(
    operator: Client, endpoint: WebhookEndpoint
) -> None:
    page = post(operator, endpoint, url="http://10.0.0.5/internal")
    assert "private" in page
    endpoint.refresh_from_db()
    assert endpoint.url == "http://127.0.0.1:9/hook"


def test_an_operator_cannot_subscribe_an_endpoint_to_an_unknown_event(
    operator: Client, endpoint: WebhookEndpoint
) -> None:
    page = post(operator, endpoint, event_types='["meeting.exploded"]')
    assert "Unknown event type" in page
    assert "A list of event type names" in post(operator, endpoint, event_types='{"a": 1}')
    endpoint.refresh_from_db()
    assert endpoint.event_types == ["meeting.completed"]


@override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=True)
def test_an_operator_edit_within_the_rules_is_saved_normalised(
    operator: Client, endpoint: WebhookEndpoint
) -> None:
    assert (
        post(
            operator,
            endpoint,
            url="  http://127.0.0.1:9/other  ",
            event_types='["meeting.completed", "bot.failed", "meeting.completed"]',
        )
        == ""
    )
    endpoint.refresh_from_db()
    assert endpoint.url == "http://127.0.0.1:9/other"
    assert endpoint.event_types == sorted({"meeting.completed", "bot.failed"})
