"""Writes for webhooks: endpoints, the event outbox, and delivery attempts.

Other apps call `webhook_event_emit` inside the transaction of the change that caused the event;
meeting status changes arrive through `meeting_status_event_record` (subscribed in `apps.py`).
Deliveries are sent after commit by `webhooks.tasks.deliver`; `deliveries_run_due` is what the
beat task and tests use to send whatever is due at a given moment.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone

from accounts.models import User
from meetings.events import MeetingOutputEvent, MeetingStatusEvent
from meetings.models import MeetingStatus
from vexa_site.errors import Conflict, InvalidInput
from vexa_site.ssrf import UnsafeURL, pinned_target, resolve_public_url
from webhooks import selectors, signing
from webhooks.models import (
    SUBSCRIBABLE_EVENT_TYPES,
    DeliveryStatus,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

# Namespace of the deterministic event ids: the same logical event always gets the same id,
# even when it is emitted again (a retried task, a replayed transition).
EVENT_ID_NAMESPACE = uuid.UUID("6f1d8a52-4c3e-4b8e-9a57-0f3c2b9d7e41")
# How long a claimed delivery stays invisible to other workers: longer than one request can
# take (connect + read timeouts), short enough that a killed worker's delivery is retried soon.
CLAIM_LEASE = timedelta(seconds=120)
USER_AGENT = "vexa-django-webhooks/1"
_STATUS_EVENTS = {
    MeetingStatus.ACTIVE: EventType.MEETING_STARTED,
    MeetingStatus.COMPLETED: EventType.MEETING_COMPLETED,
    MeetingStatus.FAILED: EventType.BOT_FAILED,
}
_RETRYABLE_STATUS = frozenset({408, 429})


# --- endpoints ---------------------------------------------------------------------------------


def endpoint_url_check(url: str) -> str:
    """The URL stripped, or `UnsafeURL` where it resolves to a private address (API and admin)."""
    url = url.strip()
    resolve_public_url(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_URLS)
    return url


def endpoint_event_types_check(event_types: list[str] | None) -> list[str]:
    """The event types sorted and deduplicated, or `InvalidInput` naming unknown ones."""
    chosen = sorted(set(event_types or []))
    unknown = [t for t in chosen if t not in SUBSCRIBABLE_EVENT_TYPES]
    if unknown:
        raise InvalidInput(
            f"Unknown event type(s): {unknown}. Valid: {list(SUBSCRIBABLE_EVENT_TYPES)}"
        )
    return chosen


def endpoint_create(
    *,
    user: User,
    url: str,
    description: str = "",
    event_types: list[str] | None = None,
    enabled: bool = True,
) -> WebhookEndpoint:
    """Add an endpoint with a fresh `whsec_` secret. The URL must resolve to a public address
    (422 `UnsafeURL` otherwise, unless `WEBHOOK_ALLOW_PRIVATE_URLS`)."""
    return WebhookEndpoint.objects.create(
        user=user,
        url=endpoint_url_check(url),
        description=description or "",
        event_types=endpoint_event_types_check(event_types),
        enabled=enabled,
        secret=signing.secret_generate(),
    )


def endpoint_update(*, endpoint: WebhookEndpoint, changes: dict[str, Any]) -> WebhookEndpoint:
    """Partial update. Re-enabling clears the disabled reason and the failure streak. The
    legacy endpoint's URL belongs to `PUT /user/webhook` (409 here), so the two never drift."""
    fields: list[str] = []
    if "url" in changes and changes["url"] != endpoint.url:
        if endpoint.is_legacy:
            raise Conflict("This endpoint's URL is managed by PUT /user/webhook")
        endpoint.url = endpoint_url_check(changes["url"])
        fields.append("url")
    if "description" in changes:
        endpoint.description = changes["description"] or ""
        fields.append("description")
    if "event_types" in changes:
        endpoint.event_types = endpoint_event_types_check(changes["event_types"])
        fields.append("event_types")
    if "enabled" in changes and changes["enabled"] != endpoint.enabled:
        endpoint.enabled = bool(changes["enabled"])
        if endpoint.enabled:
            endpoint.disabled_reason = ""
            endpoint.disabled_at = None
            endpoint.failing_since = None
        else:
            endpoint.disabled_reason = "Disabled by the user"
            endpoint.disabled_at = timezone.now()
        fields += ["enabled", "disabled_reason", "disabled_at", "failing_since"]
    if fields:
        endpoint.save(update_fields=[*fields, "updated_at"])
    if "url" in fields or ("enabled" in fields and endpoint.enabled):
        _deliveries_retry_now(endpoint.pk)
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint and its delivery history (legacy: use `PUT /user/webhook`)."""
    if endpoint.is_legacy:
        raise Conflict("This endpoint is managed by PUT /user/webhook (set webhook_url to null)")
    endpoint.delete()


def endpoint_set_legacy(*, user: User, url: str | None, secret: str | None) -> None:
    """Mirror Vexa's one-URL setting into the user's legacy endpoint.

    `url` None removes it; `secret` None keeps the stored one, "" clears it (unsigned, as Vexa
    does without a secret). The URL is re-checked here by `PUT /user/webhook` already.
    """
    existing = WebhookEndpoint.objects.filter(user=user, is_legacy=True).first()
    if not url:
        if existing is not None:
            existing.delete()
        return
    if existing is None:
        WebhookEndpoint.objects.create(
            user=user,
            url=url,
            secret=secret or "",
            is_legacy=True,
            description="Vexa webhook (PUT /user/webhook)",
        )
        return
    moved = existing.url != url
    existing.url = url
    if secret is not None:
        existing.secret = secret
    existing.save(update_fields=["url", "secret", "updated_at"])
    if moved:
        _deliveries_retry_now(existing.pk)


def _deliveries_retry_now(endpoint_id: int) -> None:
    """The user fixed the endpoint (new URL, re-enabled): deliveries waiting out a backoff
    (up to `WEBHOOK_BACKOFF_MAX_S`, hours) are due now, and an ordered queue held behind its
    failing head moves at once.

    A delivery whose attempt is in flight (claimed: one attempt counted but not recorded yet)
    is left alone, and each reset is conditional on the row being as read, so a worker that
    claims it meanwhile keeps its claim: nothing is sent twice at once.
    """
    now = timezone.now()
    waiting = (
        WebhookDelivery.objects.filter(
            endpoint_id=endpoint_id,
            status=DeliveryStatus.PENDING,
            attempt_count__gt=0,
            next_attempt_at__gt=now,
        )
        .annotate(recorded=Count("attempts"))
        .filter(recorded=F("attempt_count"))
        .values_list("pk", "attempt_count", "next_attempt_at")
    )
    reset = [
        pk
        for pk, count, due in waiting
        if WebhookDelivery.objects.filter(
            pk=pk, status=DeliveryStatus.PENDING, attempt_count=count, next_attempt_at=due
        ).update(next_attempt_at=now)
    ]
    if reset:
        _enqueue_on_commit(reset)


# --- events (the outbox) ----------------------------------------------------------------------


def event_id_for(*, event_type: str, dedupe_key: str) -> str:
    return "evt_" + uuid.uuid5(EVENT_ID_NAMESPACE, f"{event_type}|{dedupe_key}").hex


def webhook_event_emit(
    *, user_id: int, event_type: str, data: dict[str, Any], dedupe_key: str
) -> WebhookEvent:
    """Record one logical event and its deliveries; call INSIDE the transaction of the change.

    `dedupe_key` names the logical event (e.g. `recording:<id>:completed`): emitting the same
    `(event_type, dedupe_key)` again returns the existing event and sends nothing new, so a
    retried task never produces a duplicate with a fresh id. The event and its deliveries
    commit or roll back with the caller's change (outbox); the sends are enqueued after commit.
    `data` must be JSON-serializable (datetimes and UUIDs are converted).
    """
    EventType(event_type)  # a typo in a caller fails loudly here, not at the receiver
    event_id = event_id_for(event_type=event_type, dedupe_key=dedupe_key)
    existing = WebhookEvent.objects.filter(event_id=event_id).first()
    if existing is not None:
        return existing
    clean = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    try:
        # A savepoint, so losing a race with a concurrent emit does not poison the caller's
        # transaction: the loser returns the winner's row.
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                event_id=event_id,
                dedupe_key=dedupe_key[:255],
                user_id=user_id,
                event_type=event_type,
                data=clean,
            )
    except IntegrityError:
        return WebhookEvent.objects.get(event_id=event_id)
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(user_id=user_id, enabled=True)
        if endpoint.wants(event_type)
    ]
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                event=event,
                endpoint=endpoint,
                next_attempt_at=now,
                retry_until=now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_S),
            )
            for endpoint in endpoints
        ]
    )
    _enqueue_on_commit([d.pk for d in deliveries])
    return event


def meeting_status_event_record(event: MeetingStatusEvent) -> None:
    """In-transaction handler of every meeting transition: `meeting.status_change`, plus
    `meeting.started` (the first time only) / `meeting.completed` / `bot.failed` for those
    targets. The transition's
    index in the history makes the ids stable."""
    data = {
        "meeting": {
            "id": event.meeting_id,
            "platform": event.platform,
            "native_meeting_id": event.native_meeting_id,
            "status": event.to_status,
        },
        "from": event.from_status,
        "to": event.to_status,
        "reason": event.reason,
        "source": event.source,
        "timestamp": event.timestamp,
        "completion_reason": event.completion_reason,
        "failure_stage": event.failure_stage,
        "error": event.error,
        "sequence": event.sequence,
    }
    key = f"meeting:{event.meeting_id}:transition:{event.sequence}"
    webhook_event_emit(
        user_id=event.user_id,
        event_type=EventType.MEETING_STATUS_CHANGE,
        data=data,
        dedupe_key=key,
    )
    specific = _STATUS_EVENTS.get(MeetingStatus(event.to_status))
    # A meeting starts once: a bot let into the call again after a rejoin is a status change.
    if specific is not None and not event.again:
        webhook_event_emit(user_id=event.user_id, event_type=specific, data=data, dedupe_key=key)


def meeting_output_event_record(event: MeetingOutputEvent) -> None:
    """In-transaction handler of finished outputs: `recording.completed`, `transcript.ready`."""
    data = {
        "meeting": {
            "id": event.meeting_id,
            "platform": event.platform,
            "native_meeting_id": event.native_meeting_id,
        },
        **event.data,
    }
    if event.kind == "transcript.ready":
        path = f"/transcripts/{event.platform}/{event.native_meeting_id}"
        data["transcript_url"] = f"{path}?meeting_id={event.meeting_id}"
    webhook_event_emit(
        user_id=event.user_id, event_type=event.kind, data=data, dedupe_key=event.key
    )


def _enqueue_on_commit(delivery_ids: list[int]) -> None:
    if not delivery_ids:
        return

    def send() -> None:
        from webhooks.tasks import deliver

        for delivery_id in delivery_ids:
            deliver.delay(delivery_id)

    transaction.on_commit(send, robust=True)


# --- test and resend ----------------------------------------------------------------------------


def endpoint_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a `webhook.test` event to this endpoint now (also when disabled) and return its
    delivery with the attempt. A test is its own logical event and a one-shot probe: it does
    not wait behind queued events, is not retried (resend it instead), and its failures do not
    count towards disabling the endpoint."""
    now = timezone.now()
    with transaction.atomic():
        event = WebhookEvent.objects.create(
            event_id=event_id_for(
                event_type=EventType.WEBHOOK_TEST, dedupe_key=f"test:{uuid.uuid4()}"
            ),
            dedupe_key=f"test:endpoint:{endpoint.pk}",
            user_id=endpoint.user_id,
            event_type=EventType.WEBHOOK_TEST,
            data={"webhook_id": endpoint.pk, "message": "This is a test event."},
        )
        delivery = WebhookDelivery.objects.create(
            event=event,
            endpoint=endpoint,
            ordered=False,
            next_attempt_at=now,
            retry_until=now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_S),
        )
    delivery_attempt(delivery_id=delivery.pk, now=now)
    delivery.refresh_from_db()
    return delivery


def delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again (same event id and body) with a fresh retry window. A resend
    jumps the queue: it is the user's explicit request, not part of the ordered stream."""
    endpoint = delivery.endpoint
    if not endpoint.enabled and delivery.event.event_type != EventType.WEBHOOK_TEST:
        raise Conflict(f"Endpoint is disabled: {endpoint.disabled_reason}")
    now = timezone.now()
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.PENDING,
            ordered=False,
            next_attempt_at=now,
            retry_until=now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_S),
            finished_at=None,
        )
        _enqueue_on_commit([delivery.pk])
    delivery.refresh_from_db()
    return delivery


# --- delivery -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str
    excerpt: str
    latency_ms: int | None
    retry_after_s: float | None


def _retry_after_s(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


@functools.cache
def _client() -> httpx.Client:
    """One client per worker process: building its TLS context costs more than a request.
    No kept-alive connections: the pool is keyed by the pinned address, so a TLS connection
    verified for one host name could otherwise carry a request for another name on the same
    address. trust_env=False: an environment proxy would bypass the address check."""
    return httpx.Client(
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def _send(url: str, body: bytes, headers: dict[str, str]) -> _Outcome:
    """One POST, never following redirects (a redirect could lead anywhere, private included)."""
    try:
        target, host_header, extensions = pinned_target(
            url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_URLS
        )
    except UnsafeURL as exc:
        return _Outcome(None, f"Refused: {exc.detail}", "", None, None)
    timeout = httpx.Timeout(
        settings.WEBHOOK_TIMEOUT_S, connect=min(3.0, settings.WEBHOOK_TIMEOUT_S)
    )
    started = time.monotonic()
    try:
        with _client().stream(
            "POST",
            target,
            content=body,
            headers={**headers, **host_header},
            extensions=extensions,
            timeout=timeout,
        ) as response:
            excerpt = b""
            for chunk in response.iter_bytes(chunk_size=500):
                excerpt = chunk[:500]
                break
            latency = int((time.monotonic() - started) * 1000)
            error = ""
            if response.is_redirect:
                location = response.headers.get("location", "")
                error = f"Redirect to {location!r} not followed; update the webhook URL"
            elif not response.is_success:
                error = f"HTTP {response.status_code}"
            return _Outcome(
                response.status_code,
                error,
                excerpt.decode("utf-8", "replace"),
                latency,
                _retry_after_s(response.headers.get("retry-after"), timezone.now()),
            )
    except httpx.HTTPError as exc:
        latency = int((time.monotonic() - started) * 1000)
        return _Outcome(None, f"{type(exc).__name__}: {exc}"[:1000], "", latency, None)


def _backoff_s(attempt_number: int) -> float:
    base = settings.WEBHOOK_BACKOFF_BASE_S * 2 ** min(attempt_number - 1, 30)
    delay = min(float(settings.WEBHOOK_BACKOFF_MAX_S), base)
    # Jitter spreads the retries of many deliveries that failed together (receiver outage).
    return delay * secrets.SystemRandom().uniform(0.8, 1.2)


def _claim(delivery_id: int, now: datetime) -> bool:
    claimed = (
        selectors.claimable_deliveries(now=now)
        .filter(pk=delivery_id)
        .update(next_attempt_at=now + CLAIM_LEASE, attempt_count=F("attempt_count") + 1)
    )
    return claimed == 1


def _disable(endpoint_id: int, reason: str, now: datetime) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True).update(
        enabled=False, disabled_reason=reason[:500], disabled_at=now
    )
    logger.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> WebhookAttempt | None:
    """Make one attempt of a due delivery; returns it, or None when there was nothing to do.

    Claims the delivery first (conditional update), so a duplicate task or a concurrent
    `deliver_due` sends nothing. Reads the endpoint's URL and secret at this moment, so an
    edited URL is used from the next attempt on. 2xx: succeeded. Network errors, refused
    addresses, 408, 429 and 5xx: retried with backoff (`Retry-After` honoured) until
    `retry_until`, then failed. 410: failed and the endpoint disabled. Other 3xx/4xx: failed.
    """
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = (
        WebhookDelivery.objects.select_related("event", "endpoint").filter(pk=delivery_id).first()
    )
    if delivery is None:  # its endpoint was deleted meanwhile
        return None
    endpoint, event = delivery.endpoint, delivery.event
    is_test = event.event_type == EventType.WEBHOOK_TEST
    if not endpoint.enabled and not is_test:
        with transaction.atomic():
            WebhookDelivery.objects.filter(pk=delivery_id).update(
                status=DeliveryStatus.FAILED,
                next_attempt_at=None,
                finished_at=now,
                attempt_count=F("attempt_count") - 1,
                last_error=f"Endpoint disabled: {endpoint.disabled_reason}"[:1000],
            )
            _enqueue_next(endpoint.pk, now)
        return None

    body = json.dumps(event.envelope(), separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signing.signed_headers(
            secret=endpoint.secret, msg_id=event.event_id, timestamp=int(time.time()), body=body
        ),
    }
    outcome = _send(endpoint.url, body, headers)

    code = outcome.status_code
    succeeded = code is not None and 200 <= code < 300
    # A test is a one-shot probe: its result is the answer, it is not retried in the background.
    retryable = (
        not succeeded and not is_test and (code is None or code in _RETRYABLE_STATUS or code >= 500)
    )
    next_retry: datetime | None = None
    status = DeliveryStatus.SUCCEEDED if succeeded else DeliveryStatus.FAILED
    error = outcome.error
    if retryable:
        if now >= delivery.retry_until:
            error = f"{error} (gave up after {delivery.attempt_count} attempts)"
        else:
            delay = _backoff_s(delivery.attempt_count)
            if outcome.retry_after_s is not None:
                delay = max(delay, outcome.retry_after_s)
            # The last try happens at the end of the window, so retrying lasts the full window.
            next_retry = min(now + timedelta(seconds=math.ceil(delay)), delivery.retry_until)
            status = DeliveryStatus.PENDING

    with transaction.atomic():
        attempt = WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempt_count,
            url=endpoint.url,
            status_code=code,
            latency_ms=outcome.latency_ms,
            error=error[:1000],
            response_excerpt=outcome.excerpt[:500],
            attempted_at=now,
            next_retry_at=next_retry,
        )
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=status,
            next_attempt_at=next_retry,
            last_status_code=code,
            last_error=error[:1000],
            finished_at=None if status == DeliveryStatus.PENDING else now,
        )
        if not is_test:
            _record_health(endpoint, succeeded=succeeded, code=code, error=error, now=now)
        if status != DeliveryStatus.PENDING:
            _enqueue_next(endpoint.pk, now)
    return attempt


def _record_health(
    endpoint: WebhookEndpoint, *, succeeded: bool, code: int | None, error: str, now: datetime
) -> None:
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint.pk)
    if succeeded:
        endpoints.update(failing_since=None, last_success_at=now)
        return
    if code == 410:
        _disable(endpoint.pk, "The receiver answered 410 Gone", now)
        return
    endpoints.filter(failing_since__isnull=True).update(failing_since=now)
    limit = now - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_S)
    if endpoints.filter(enabled=True, failing_since__lte=limit).exists():
        since = endpoint.failing_since or now
        _disable(
            endpoint.pk,
            f"Every delivery failed since {since.isoformat()} (last error: {error})",
            now,
        )


def _enqueue_next(endpoint_id: int, now: datetime) -> None:
    """The ordered queue of an endpoint moves on as soon as its head is finished."""
    head = (
        WebhookDelivery.objects.filter(
            endpoint_id=endpoint_id, status=DeliveryStatus.PENDING, ordered=True
        )
        .order_by("id")
        .values_list("pk", "next_attempt_at")
        .first()
    )
    if head is not None and head[1] is not None and head[1] <= now:
        _enqueue_on_commit([head[0]])


def deliveries_run_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Attempt, in this process, every delivery due at `now` (ordered queues drain as their
    heads succeed). Returns the number of HTTP attempts. Tests pass `now` to step through
    retry schedules without waiting."""
    now = now or timezone.now()
    attempts = 0
    previous: list[int] = []
    while attempts < limit:
        due = selectors.deliveries_due_ids(now=now, limit=limit - attempts)
        # Each pass claims or finishes every id it saw; the same list twice means no progress.
        if not due or due == previous:
            break
        previous = due
        for delivery_id in due:
            if delivery_attempt(delivery_id=delivery_id, now=now) is not None:
                attempts += 1
    return attempts


def deliveries_purge(*, finished_before: datetime, limit: int = 1000) -> tuple[int, int]:
    """Delete up to `limit` finished deliveries (with their attempts) that ended before
    `finished_before`, then up to `limit` events older than that with no delivery left. A
    pending delivery is never touched: it is still being retried. Returns how many
    deliveries and events went."""
    # Every change to succeeded or failed sets `finished_at`; its index keeps each batch cheap.
    ids = list(
        WebhookDelivery.objects.filter(finished_at__lt=finished_before)
        .exclude(status=DeliveryStatus.PENDING)
        .order_by("finished_at")
        .values_list("id", flat=True)[:limit]
    )
    WebhookDelivery.objects.filter(pk__in=ids).delete()
    orphans = list(
        WebhookEvent.objects.filter(created_at__lt=finished_before, deliveries__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    WebhookEvent.objects.filter(pk__in=orphans).delete()
    return len(ids), len(orphans)
