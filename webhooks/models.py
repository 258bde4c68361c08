"""Webhook endpoints, the event outbox, and the delivery history.

An event is written in the same transaction as the change that caused it (outbox), fanned out
to one `WebhookDelivery` per matching endpoint in that transaction, and sent after commit by
Celery. Every HTTP try is a `WebhookAttempt`, so the user sees what happened and why.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from vexa_site.input_guard import storable_json
from vexa_site.timestamps import iso_z


class EventType(models.TextChoices):
    MEETING_STATUS_CHANGE = "meeting.status_change"
    MEETING_STARTED = "meeting.started"
    MEETING_COMPLETED = "meeting.completed"
    BOT_FAILED = "bot.failed"
    RECORDING_COMPLETED = "recording.completed"
    TRANSCRIPT_READY = "transcript.ready"
    CHAT_MESSAGE = "chat.message"
    PARTICIPANT_JOINED = "participant.joined"
    PARTICIPANT_LEFT = "participant.left"
    # Sent only by `POST /webhooks/{id}/test`; never matched against an endpoint's filter.
    WEBHOOK_TEST = "webhook.test"


SUBSCRIBABLE_EVENT_TYPES = tuple(t.value for t in EventType if t != EventType.WEBHOOK_TEST)
# Events an endpoint gets only when its filter names them: one per chat message or person
# coming and going would flood a receiver that subscribed to everything before they existed
# (Vexa's one URL among them).
OPT_IN_EVENT_TYPES = (
    EventType.CHAT_MESSAGE.value,
    EventType.PARTICIPANT_JOINED.value,
    EventType.PARTICIPANT_LEFT.value,
)


class WebhookEndpoint(models.Model):
    """A URL a user wants events POSTed to.

    `secret` signs every request; the API shows it only when the endpoint is created. An empty
    `event_types` list means every event. `is_legacy` marks the endpoint behind Vexa's
    `PUT /user/webhook` (at most one per user). `failing_since` starts at the first failed
    attempt after a success; an endpoint failing for `WEBHOOK_DISABLE_AFTER_S` is disabled
    with a `disabled_reason` the user can read.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=2048)
    description = models.CharField(max_length=255, blank=True, default="")
    secret = models.CharField(max_length=255, blank=True, default="")
    event_types = models.JSONField(default=list, blank=True, validators=[storable_json])
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    is_legacy = models.BooleanField(default=False)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(is_legacy=True), name="one_legacy_webhook_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"webhook #{self.pk} {self.url}"

    def wants(self, event_type: str) -> bool:
        if not self.event_types:
            return event_type not in OPT_IN_EVENT_TYPES
        return event_type in self.event_types


class WebhookEvent(models.Model):
    """One logical event (the outbox row). `event_id` is derived from `dedupe_key`, so a
    re-emission of the same logical event finds this row instead of inventing a new id."""

    event_id = models.CharField(max_length=64, unique=True)
    dedupe_key = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_events"
    )
    event_type = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("id",)
        indexes = [
            models.Index(fields=["user", "-created_at"], name="webhook_event_user"),
            # Retention looks for old events whose deliveries are all gone.
            models.Index(fields=["created_at"], name="webhook_event_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"

    def envelope(self) -> dict[str, object]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "created_at": iso_z(self.created_at),
            "data": self.data,
        }


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WebhookDelivery(models.Model):
    """One event on its way to one endpoint.

    `next_attempt_at` doubles as the claim: a worker moves it a lease into the future before
    sending, so no other worker picks the same delivery while the request is in flight, and a
    killed worker's delivery becomes due again when the lease ends. `ordered` deliveries of
    one endpoint go out oldest first (a pending older one holds back the newer ones); tests
    and manual resends are unordered. `retry_until` is when retrying stops.
    """

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    ordered = models.BooleanField(default=True)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    retry_until = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint")
        ]
        indexes = [
            models.Index(fields=["endpoint", "status", "id"], name="webhook_delivery_queue"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_due",
            ),
            # Retention deletes finished deliveries oldest first (`deliveries_purge`).
            models.Index(fields=["finished_at"], name="webhook_delivery_finished"),
        ]

    def __str__(self) -> str:
        return f"delivery #{self.pk} of {self.event_id} to endpoint #{self.endpoint_id}"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: where it went, what came back, what happens next."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    url = models.CharField(max_length=2048)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=1000, blank=True, default="")
    response_excerpt = models.CharField(max_length=500, blank=True, default="")
    attempted_at = models.DateTimeField(default=timezone.now)
    next_retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("number", "id")

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery #{self.delivery_id}"
