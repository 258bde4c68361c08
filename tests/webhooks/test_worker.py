"""End to end through a real Celery worker subprocess and a real receiver on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from accounts.models import User
from tests.processes import celery_worker
from tests.webhooks.conftest import meeting_create, meeting_run
from tests.webhooks.receiver import Receiver
from vexa_site.celery import app
from webhooks import services, tasks
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEvent


def wait_until(predicate: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Poll the database (the worker's only report) until `predicate` holds or time is up."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


@pytest.mark.usefixtures("private_urls_allowed")
def test_a_worker_delivers_a_whole_meeting_once_per_event_in_order_across_an_outage(
    transactional_db: Any, receiver: Receiver
) -> None:
    alice = User.objects.create_user("alice@example.com", name="Alice")
    endpoint = services.endpoint_create(user=alice, url=receiver.url)
    app.control.purge()  # messages left by earlier tests' commits would only add noise
    receiver.stop()
    worker_env = {"WEBHOOK_ALLOW_PRIVATE_URLS": "1", "WEBHOOK_BACKOFF_BASE_S": "1"}

    with celery_worker("default", env=worker_env):
        meeting = meeting_create(alice)
        meeting_run(meeting)
        # The worker tried the oldest event while the receiver was down; the rest queue behind.
        wait_until(lambda: WebhookAttempt.objects.exists())
        head = WebhookDelivery.objects.order_by("id").first()
        assert head is not None
        assert head.status == DeliveryStatus.PENDING
        receiver.start()
        wait_until(
            lambda: WebhookDelivery.objects.filter(
                pk=head.pk, next_attempt_at__lt=timezone.now()
            ).exists()
        )
        tasks.deliver_due.delay()  # what beat does every 30 s

        received = receiver.wait_for(8)
        wait_until(
            lambda: not WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).exists()
        )

    assert len(receiver.received) == 8
    envelopes = [Webhook(endpoint.secret).verify(r.body, r.headers) for r in received]
    events = list(WebhookEvent.objects.order_by("id"))
    assert [e["event_id"] for e in envelopes] == [e.event_id for e in events]
    assert [e["event_type"] for e in envelopes] == [
        "meeting.status_change",
        "meeting.status_change",
        "meeting.status_change",
        "meeting.status_change",
        "meeting.started",
        "meeting.status_change",
        "meeting.status_change",
        "meeting.completed",
    ]
    sequences = [e["data"]["sequence"] for e in envelopes]
    assert sequences == sorted(sequences)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}
