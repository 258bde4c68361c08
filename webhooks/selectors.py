"""Reads for webhooks, scoped to the user: another user's endpoint or delivery is a 404."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import User
from vexa_site.errors import NotFound
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


def endpoint_list(*, user: User) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(user=user).order_by("id")


def endpoint_get(*, user: User, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(user=user, pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound("Webhook not found")
    return endpoint


def delivery_page(
    *, endpoint: WebhookEndpoint, page: int, page_size: int
) -> tuple[list[WebhookDelivery], int]:
    """Newest first, with event and attempts loaded: three queries for any page size."""
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    total = deliveries.count()
    start = (page - 1) * page_size
    rows = list(
        deliveries.select_related("event")
        .prefetch_related("attempts")
        .order_by("-id")[start : start + page_size]
    )
    return rows, total


def delivery_recent(*, user: User, limit: int = 10) -> list[WebhookDelivery]:
    """The user's latest deliveries over all endpoints, newest first, in one query."""
    return list(
        WebhookDelivery.objects.filter(endpoint__user=user)
        .select_related("event", "endpoint")
        .order_by("-id")[:limit]
    )


def delivery_get(*, endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery:
    delivery = (
        WebhookDelivery.objects.select_related("event", "endpoint")
        .filter(endpoint=endpoint, pk=delivery_id)
        .first()
    )
    if delivery is None:
        raise NotFound("Delivery not found")
    return delivery


def claimable_deliveries(*, now: datetime) -> QuerySet[WebhookDelivery]:
    """Pending deliveries due at `now` that may go out: an ordered delivery waits while an
    older ordered delivery of the same endpoint is still pending, so a receiver sees one
    meeting's events in the order they happened, even across an outage."""
    older_pending = WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        status=DeliveryStatus.PENDING,
        ordered=True,
        id__lt=OuterRef("id"),
    )
    return WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).filter(Q(ordered=False) | ~Exists(older_pending))


def deliveries_due_ids(*, now: datetime, limit: int = 500) -> list[int]:
    return list(claimable_deliveries(now=now).order_by("id").values_list("pk", flat=True)[:limit])
