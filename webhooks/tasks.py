"""Celery tasks that send webhooks (queue `default`)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from webhooks import selectors, services


@shared_task(ignore_result=True)
def deliver(delivery_id: int) -> None:
    """Attempt one delivery if it is due. Safe to run twice or concurrently: the service claims
    the row first, and a delivery that is not due (or finished, or queued behind an older one)
    is left alone; `deliver_due` picks it up when its time comes."""
    services.delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def deliver_due() -> None:
    """Beat, every 30 s: enqueue every delivery that is due now (retries, and anything whose
    enqueue was lost). Duplicates are harmless, `deliver` claims before sending."""
    for delivery_id in selectors.deliveries_due_ids(now=timezone.now()):
        deliver.delay(delivery_id)
