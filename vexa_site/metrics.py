"""`GET /metrics`: the operator's system status (`health.system_status`) as Prometheus gauges,
for alerts and autoscaling (bot hosts on the slots taken, transcription workers on how soon
words show as drafts and how far the most delayed live session is behind).

Off unless `METRICS_TOKEN` is set (404, as for any unknown path); a scrape sends it as
`Authorization: Bearer <token>` (Prometheus' `authorization` setting), else 401. A value the
status could not read (no bot host announced its slots, beat never ran) is left out, not 0.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from vexa_site import health
from vexa_site.errors import json_404

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _gauge(name: str, help_text: str, samples: dict[str, Any]) -> Iterator[str]:
    """One metric family: `samples` by label (`""`, or `{key="value"}`); None is left out."""
    present = {labels: value for labels, value in samples.items() if value is not None}
    if not present:
        return
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} gauge"
    for labels, value in present.items():
        # Counts and bytes exactly (`:g` would round 53687091200 to 5.36871e+10).
        shown = str(int(value)) if isinstance(value, int) else repr(float(value))
        yield f"{name}{labels} {shown}"


def _label(key: str, value: str) -> str:
    """A label as the text format writes it, its value escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{{{key}="{escaped}"}}'


def exposition(status: dict[str, Any]) -> str:
    """The Prometheus text format of a `system_status()` snapshot."""
    queues = status.get("queues", {})
    meetings = status.get("meetings", {})
    transcription = status.get("transcription", {})
    workers = transcription.get("workers", [])
    webhooks = status.get("webhooks", {})
    recordings = status.get("recordings", {})
    scalars = [
        ("vexa_ok", "1 when the status lists no problem.", int(bool(status.get("ok")))),
        ("vexa_problems", "Problems the status page lists.", len(status["problems"])),
        ("vexa_bot_slots", "Bot slots the bot hosts announce.", meetings.get("bot_slots")),
        (
            "vexa_bot_slots_taken",
            "Bot slots holding or promised to a bot.",
            meetings.get("bot_slots_taken"),
        ),
        (
            "vexa_bot_slots_reserved",
            "Bot slots held for scheduled bots due soon (BOT_SLOT_RESERVE_S).",
            meetings.get("bot_slots_reserved"),
        ),
        (
            "vexa_calendars",
            "Calendar feeds users added.",
            status.get("calendars", {}).get("feeds"),
        ),
        (
            "vexa_calendars_unreadable",
            "Calendar feeds whose last read failed.",
            status.get("calendars", {}).get("unreadable"),
        ),
        (
            "vexa_oldest_waiting_bot_seconds",
            "How long the oldest due bot has waited for a bot worker.",
            meetings.get("oldest_waiting_bot_s"),
        ),
        (
            "vexa_transcription_live_sessions",
            "Live sessions being transcribed.",
            transcription.get("live_sessions"),
        ),
        (
            "vexa_transcription_most_behind_seconds",
            "Age of the oldest audio a live session's transcription has not finished with.",
            transcription.get("most_behind_s"),
        ),
        (
            "vexa_supervision_age_seconds",
            "Seconds since beat last ran the supervision.",
            status.get("beat", {}).get("supervision_ran_s_ago"),
        ),
        (
            "vexa_webhook_deliveries_pending",
            "Webhook deliveries not yet delivered or given up.",
            webhooks.get("pending"),
        ),
        (
            "vexa_webhook_endpoints_disabled",
            "Webhook endpoints disabled after failing.",
            webhooks.get("disabled_endpoints"),
        ),
        (
            "vexa_recordings_disk_free_bytes",
            "Free space on the recordings' disk.",
            recordings.get("free_bytes"),
        ),
        (
            "vexa_recordings_stored_bytes",
            "Bytes of recordings stored.",
            recordings.get("stored_bytes"),
        ),
    ]
    labelled = [
        (
            "vexa_service_up",
            "1 when the service answers.",
            {
                _label("service", name): int(state == "ok")
                for name, state in status.get("services", {}).items()
            },
        ),
        (
            "vexa_queue_waiting_tasks",
            "Tasks waiting in the Celery queue.",
            {_label("queue", name): q["waiting"] for name, q in queues.items()},
        ),
        (
            "vexa_queue_workers",
            "Celery workers that answered and consume the queue.",
            {_label("queue", name): q["workers"] for name, q in queues.items()},
        ),
        (
            "vexa_meetings_live",
            "Live meetings by status.",
            {_label("status", name): n for name, n in meetings.get("live", {}).items()},
        ),
        (
            "vexa_transcription_draft_delay_seconds",
            "How soon new words showed as drafts after their audio, p50 over a worker's last "
            "minute.",
            {_label("worker", w["name"]): w["draft_p50_s"] for w in workers},
        ),
        (
            "vexa_transcription_worker_sessions",
            "Live sessions a transcription worker serves (as of its last minute).",
            {_label("worker", w["name"]): w["sessions"] for w in workers},
        ),
    ]
    families = [*((name, text, {"": value}) for name, text, value in scalars), *labelled]
    lines = [line for family in families for line in _gauge(*family)]
    return "\n".join(lines) + "\n"


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        return json_404(request)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        response = JsonResponse({"detail": "Invalid or missing metrics token"}, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(exposition(health.system_status()), content_type=CONTENT_TYPE)
