"""What an operator (or a load balancer) asks of a running deployment: is it ready, and is
every part of it doing its job.

`readiness` checks the two services every process needs. `system_status` reads the rest
without changing anything: the Celery workers that answer and the queues they consume, how
many tasks wait in each queue, live meetings, the bot slots taken of those the bot hosts
announced, and the oldest bot nobody has started, how soon each transcription worker shows new
words, when beat
last ran the supervision, webhook deliveries still waiting, and the recordings' disk. Its
`problems` say in words what needs a person (a queue no worker consumes, beat not running, a
disk filling up), which is what a fresh self-hosted install most often gets wrong.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from vexa_site.redis import get_redis
from vexa_site.timestamps import iso_z

QUEUES = ("bots", "transcription", "default")
# kombu's Redis transport keeps a queue's prioritised messages in sibling lists.
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
BEAT_KEY = "vexa:beat:supervision"
# Beat runs the supervision every 15 s: a minute without it means beat is not running.
BEAT_STALE_S = 60.0
# A bot waiting this long for a worker means the bot hosts are full or gone.
REQUESTED_STALE_S = 60.0
WEBHOOK_STALE_S = 3600.0
# A live session whose oldest untranscribed audio is older than this has a worker that cannot
# keep up (a few seconds when it does).
TRANSCRIPTION_BEHIND_S = 60.0
DISK_FREE_MIN_FRACTION = 0.05
# A transcription process announces its passes once a minute while it has any; one silent for
# longer has no session (or is gone).
WORKER_STATS_STALE_S = 150.0
# New words showing as drafts later than this after their audio: the worker is overloaded.
DRAFTS_LATE_S = 2.0


def readiness() -> dict[str, str]:
    """`ok` or the error, for the database and for Redis."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc}"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {exc}"
    return checks


def beat_mark() -> None:
    """Called by the beat-driven supervision: the status page reads when it last ran."""
    get_redis().set(BEAT_KEY, str(time.time()), ex=24 * 3600)


def _workers(timeout_s: float) -> list[dict[str, Any]]:
    from vexa_site.celery import app

    replies = app.control.ping(timeout=timeout_s)
    names = sorted(name for reply in replies for name in reply)
    if not names:
        return []
    # Every worker that answered the ping is asked once, and the call returns when all have.
    inspect = app.control.inspect(destination=names, timeout=timeout_s, limit=len(names))
    queues = inspect.active_queues() or {}
    active = inspect.active() or {}
    return [
        {
            "name": name,
            "queues": sorted(q["name"] for q in queues.get(name, [])),
            "active_tasks": len(active.get(name, [])),
        }
        for name in names
    ]


def _transcription_behind() -> list[float]:
    """For each live session being transcribed: the age of the oldest audio its stream still
    holds (see `SessionStream.oldest_age_s`)."""
    from meetings.models import MeetingSession, MeetingStatus
    from meetings.stream import SessionStream

    sessions = MeetingSession.objects.filter(
        ended_at__isnull=True,
        meeting__status__in=(MeetingStatus.ACTIVE, MeetingStatus.STOPPING),
    ).values_list("session_uid", "meeting__bot_config")
    # A bot without live transcription has nobody trimming its stream: not behind.
    ages = [
        SessionStream(uid).oldest_age_s()
        for uid, config in sessions
        if (config or {}).get("transcribe_enabled") is not False
    ]
    return [age for age in ages if age is not None]


def _transcription_workers(now_s: float) -> list[dict[str, Any]]:
    """Each transcription process's latest minute of passes (`scheduler.worker_stats_announce`)
    that is recent: its sessions, passes and how soon new words showed as drafts."""
    from transcripts.engine.scheduler import WORKERS_KEY

    workers = []
    for raw_name, raw in sorted(get_redis().hgetall(WORKERS_KEY).items()):
        try:
            window = json.loads(raw)
            age_s = now_s - float(window["at"])
        except (ValueError, KeyError, TypeError):
            continue
        if age_s > WORKER_STATS_STALE_S:
            continue
        name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
        workers.append(
            {
                "name": name,
                "sessions": window.get("sessions"),
                "passes": window.get("passes"),
                "draft_p50_s": window.get("draft_p50_s"),
                "age_s": round(age_s, 1),
            }
        )
    return workers


def _waiting(queue: str) -> int:
    redis = get_redis()
    return sum(int(redis.llen(queue + suffix)) for suffix in PRIORITY_SUFFIXES)


def system_status(*, ping_timeout_s: float | None = None) -> dict[str, Any]:
    """A snapshot of the deployment for the operator; see the module docstring."""
    from bots import capacity
    from calendars.models import CalendarFeed
    from meetings.models import LIVE_STATUSES, Meeting, MeetingStatus, Recording
    from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

    now = timezone.now()
    problems: list[str] = []
    ready = readiness()
    problems += [f"{name}: {state}" for name, state in ready.items() if state != "ok"]
    if problems:
        # Everything below reads the database and Redis (Celery's broker too): the operator
        # gets this much instead of an error page when one of them is down.
        return {
            "checked_at": iso_z(now),
            "ok": False,
            "problems": problems,
            "services": ready,
        }

    workers = _workers(settings.STATUS_PING_TIMEOUT_S if ping_timeout_s is None else ping_timeout_s)
    consumed = {q for worker in workers for q in worker["queues"]}
    queues = {q: {"waiting": _waiting(q), "workers": 0} for q in QUEUES}
    for worker in workers:
        for q in worker["queues"]:
            if q in queues:
                queues[q]["workers"] += 1
    for q in QUEUES:
        if q not in consumed:
            problems.append(
                f"no worker consumes the {q!r} queue ({queues[q]['waiting']} waiting): "
                f"start `celery -A vexa_site worker -Q {q}`"
            )

    live = {
        row["status"]: row["n"]
        for row in Meeting.objects.filter(status__in=LIVE_STATUSES)
        .order_by()
        .values("status")
        .annotate(n=Count("id"))
    }
    slots = capacity.slots_total()
    taken = capacity.slots_taken(now)
    reserved = capacity.slots_reserved(now)
    if slots is not None and taken >= slots:
        problems.append(
            f"every bot slot is taken ({taken} bots for {slots} slots): POST /bots answers 507; "
            "add bot hosts or raise BOTS_PER_HOST"
        )
    oldest_requested = (
        Meeting.objects.filter(status=MeetingStatus.REQUESTED)
        .exclude(join_at__gt=now)
        .aggregate(oldest=Min("created_at"))["oldest"]
    )
    waited_s = (now - oldest_requested).total_seconds() if oldest_requested else None
    if waited_s is not None and waited_s > REQUESTED_STALE_S:
        problems.append(
            f"a bot has waited {waited_s:.0f} s for a bot worker: every slot is busy or no "
            "worker consumes 'bots'"
        )

    behind = _transcription_behind()
    late = [age for age in behind if age > TRANSCRIPTION_BEHIND_S]
    if late:
        problems.append(
            f"transcription is behind on {len(late)} live session(s): the oldest audio not yet "
            f"transcribed arrived {max(late):.0f} s ago; add transcription workers "
            "(`celery -A vexa_site worker -Q transcription`)"
        )

    tx_workers = _transcription_workers(time.time())
    for worker in tx_workers:
        late_s = worker["draft_p50_s"]
        if late_s is not None and late_s > DRAFTS_LATE_S:
            problems.append(
                f"transcription worker {worker['name']} shows new words as drafts {late_s:.1f} s "
                f"after their audio (p50 over the last minute, {worker['sessions']} session(s)): "
                "add transcription workers or give them more cores"
            )

    beat_raw = get_redis().get(BEAT_KEY)
    beat_age_s = time.time() - float(beat_raw) if beat_raw is not None else None
    if beat_age_s is None or beat_age_s > BEAT_STALE_S:
        since = "never" if beat_age_s is None else f"{beat_age_s:.0f} s ago"
        problems.append(
            f"the supervision last ran {since}: start `celery -A vexa_site beat` (exactly one), "
            "or scheduled bots, webhook retries and lost-bot detection stop"
        )

    pending = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).aggregate(
        n=Count("id"), oldest=Min("created_at")
    )
    if pending["oldest"] is not None and now - pending["oldest"] > timedelta(
        seconds=WEBHOOK_STALE_S
    ):
        problems.append(f"{pending['n']} webhook deliveries pending, the oldest for over an hour")

    folder = Path(settings.RECORDINGS_DIR)
    disk: dict[str, Any] = {"path": str(folder)}
    try:
        usage = shutil.disk_usage(folder if folder.exists() else folder.parent)
        disk.update(free_bytes=usage.free, total_bytes=usage.total)
        if usage.free < usage.total * DISK_FREE_MIN_FRACTION:
            problems.append(
                f"the recordings' disk has {usage.free / 1e9:.1f} GB free of "
                f"{usage.total / 1e9:.0f} GB: set RECORDING_RETENTION_DAYS"
            )
    except OSError as exc:
        problems.append(f"the recordings' disk cannot be read: {exc}")

    return {
        "checked_at": iso_z(now),
        "ok": not problems,
        "problems": problems,
        "services": ready,
        "workers": workers,
        "queues": queues,
        "meetings": {
            "live": {str(status): live.get(status, 0) for status in LIVE_STATUSES},
            "oldest_waiting_bot_s": round(waited_s, 1) if waited_s is not None else None,
            "bot_slots": slots,
            "bot_slots_taken": taken,
            "bot_slots_reserved": reserved,
        },
        "transcription": {
            "live_sessions": len(behind),
            "most_behind_s": round(max(behind), 1) if behind else None,
            "workers": tx_workers,
        },
        "beat": {"supervision_ran_s_ago": round(beat_age_s, 1) if beat_age_s is not None else None},
        "webhooks": {
            "pending": pending["n"],
            "disabled_endpoints": WebhookEndpoint.objects.filter(enabled=False).count(),
        },
        "calendars": CalendarFeed.objects.aggregate(
            feeds=Count("id"), unreadable=Count("id", filter=~Q(last_error=""))
        ),
        "recordings": {
            **disk,
            "stored_bytes": Recording.objects.aggregate(total=Sum("size_bytes"))["total"] or 0,
        },
    }
