"""Publishing live events to WebSocket/SSE subscribers (after the database commit).

Callers (the lifecycle event hook, the transcription engine, the bot) use only
`publish_segments`, `publish_meeting_status` and `publish_meeting_events`; the wire format is
built here, once, and every subscriber gets the same JSON text.

Events are keyed by the *native* meeting of a user, `(user, platform, native_id)`, not by the
internal meeting id: that is how clients name meetings (`subscribe`, the SSE URL), and a
subscription then also sees a later bot run in the same meeting, including its `requested`.

One publish is one Redis script (atomic, like a transaction) that
- appends the event to the native meeting's event log, a capped Redis Stream whose entry ids
  are the SSE `id:`s (`Last-Event-ID` replays from it), and
- publishes `<entry id> <JSON text>` on the native meeting's Redis pub/sub channel, from which
  every Daphne process fans it out to its own WebSocket clients (`transcripts.fanout`); the id
  lets a fan-out whose Redis connection broke replay what it missed from the log.
Both see the events in the same order because one script wrote them.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

import redis
from django.conf import settings

from bots.platforms import normalize_native_id
from meetings.events import MeetingStatusEvent
from meetings.models import TERMINAL_STATUSES, Meeting
from vexa_site.timestamps import now_iso_z

SegmentKind = Literal["mutable", "finalized"]


def native_key(user_id: int, platform: str, native_id: str) -> str:
    """A short, key-safe digest of one user's native meeting.

    Native ids are user input (Teams ids carry `:` and `@`); a fixed-size hex digest keeps
    Redis key and channel names predictable and free of separators. The id is taken in its
    canonical spelling, so a subscriber who typed `ABC-DEFG-HIJ` hears the bot on `abc-defg-hij`.
    """
    native_id = normalize_native_id(platform, native_id)
    raw = f"{user_id}\x00{platform}\x00{native_id}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def event_log_key(key: str) -> str:
    """The Redis Stream holding a native meeting's recent events (SSE replay)."""
    return f"vexa:meeting:{key}:events"


def meeting_event_log_key(meeting: Meeting) -> str:
    """The event log that holds `meeting`'s events (with the other calls under its native id)."""
    return event_log_key(native_key(meeting.user_id, meeting.platform, meeting.native_meeting_id))


@lru_cache(maxsize=8192)
def _meeting_identity(meeting_id: int) -> tuple[int, str, str]:
    # user, platform and native id never change after creation, so caching them is safe and
    # saves the transcription engine one query per publish.
    user_id, platform, native_id = Meeting.objects.values_list(
        "user_id", "platform", "native_meeting_id"
    ).get(pk=meeting_id)
    return int(user_id), str(platform), str(native_id)


def latest_meeting(*, user_id: int, platform: str, native_id: str) -> Meeting | None:
    """The caller's newest meeting for a native id, or None (absent or another user's).

    Authorization of every subscription (WebSocket and SSE) goes through here: the query is
    scoped to `user_id`, so another user's meeting is indistinguishable from a missing one.
    """
    native_id = normalize_native_id(platform, native_id)
    return (
        Meeting.objects.filter(user_id=user_id, platform=platform, native_meeting_id=native_id)
        .order_by("-created_at", "-id")
        .first()
    )


_client_lock = threading.Lock()
_client: redis.Redis | None = None


def redis_client() -> redis.Redis:
    """A process-wide synchronous client (its pool is thread-safe)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = redis.Redis.from_url(settings.REDIS_URL)
        return _client


# XADD, EXPIRE and PUBLISH in one step: the pub/sub message carries the entry id, which a
# MULTI/EXEC cannot put in a later command of the same transaction.
_PUBLISH_LUA = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
                      'type', ARGV[2], 'data', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('PUBLISH', ARGV[5], id .. ' ' .. ARGV[3])
return id
"""


@lru_cache(maxsize=1)
def _publish_script() -> Any:
    return redis_client().register_script(_PUBLISH_LUA)


def ws_channel(key: str) -> str:
    """The Redis pub/sub channel of a native meeting (read by `transcripts.fanout`).

    Pub/sub channels are server-wide, not per Redis database, so the database number is part
    of the name: deployments (or test runs) sharing a server on different DBs stay apart.
    """
    db = redis_client().connection_pool.connection_kwargs.get("db", 0)
    return f"vexa:{db}:meeting:{key}"


def channel_event_log_key(channel: str) -> str:
    """The event log behind a `ws_channel` (what a fan-out replays after a broken connection)."""
    return event_log_key(channel.rsplit(":", 1)[1])


def publish(
    *,
    key: str,
    message: dict[str, Any],
    log_ttl_s: int | None = None,
    client: redis.Redis | None = None,
) -> str:
    """Append `message` to the native meeting's event log and fan it out; returns its log id.
    The log is kept `log_ttl_s` after it (default `REALTIME_EVENT_LOG_TTL_S`). `client`: the
    Redis client to use (the transcription passes one that waits out a Redis restart).

    Call only after the database commit of what the message describes.
    """
    text = json.dumps(message, separators=(",", ":"))
    entry_id = _publish_script()(
        keys=[event_log_key(key)],
        args=[
            settings.REALTIME_EVENT_LOG_MAXLEN,
            message["type"],
            text,
            log_ttl_s or settings.REALTIME_EVENT_LOG_TTL_S,
            ws_channel(key),
        ],
        client=client or redis_client(),
    )
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def event_log_entries(log_key: str) -> list[tuple[bytes, dict[str, Any]]]:
    """Every event a native meeting's log holds: (entry id, the message as published)."""
    entries: list[tuple[bytes, dict[bytes, bytes]]] = redis_client().xrange(log_key)  # type: ignore[assignment]
    return [(entry_id, json.loads(fields[b"data"])) for entry_id, fields in entries]


def event_log_last_id(log_key: str) -> str:
    """The newest entry's id ("0-0" for an empty log): a page rendered now resumes its live
    feed after it, so what is published while the page loads is not lost."""
    newest: list[tuple[bytes, dict[bytes, bytes]]] = redis_client().xrevrange(log_key, count=1)  # type: ignore[assignment]
    return newest[0][0].decode() if newest else "0-0"


def event_log_forget(*, meeting_id: int, user_id: int, platform: str, native_id: str) -> int:
    """Remove a deleted meeting's events from its native meeting's log, so SSE replay cannot
    serve the transcript `DELETE /meetings` removed; other calls' events under the same id
    stay. The identity is passed in: the row may be gone by now. Returns how many went."""
    client = redis_client()
    log_key = event_log_key(native_key(user_id, platform, native_id))
    doomed = [
        entry_id
        for entry_id, message in event_log_entries(log_key)
        if message.get("meeting", {}).get("id") == meeting_id
    ]
    for first in range(0, len(doomed), 1000):
        client.xdel(log_key, *doomed[first : first + 1000])
    return len(doomed)


# One message stays well under a client's send buffer (`WS_MAX_BUFFERED_BYTES`): ~400 bytes
# a segment.
MAX_SEGMENTS_PER_MESSAGE = 200


def publish_segments(
    *,
    meeting_id: int,
    kind: SegmentKind | str,
    segments: list[dict[str, Any]],
    ts: str | None = None,
    client: redis.Redis | None = None,
) -> str | None:
    """Publish `transcript.mutable` (`kind="mutable"`) or `transcript.finalized` segments.

    `segments` are already in the wire shape (`transcripts.serializers.segment_wire`). Call
    after commit, so a client that bootstraps from `GET /transcripts` and merges these by
    `absolute_start_time`/`updated_at` ends with the stored transcript. More than
    `MAX_SEGMENTS_PER_MESSAGE` go out as several messages in order (a long meeting's join at
    its end touches thousands). Returns the last event-log id (None when nothing was sent).
    """
    if kind not in ("mutable", "finalized"):
        raise ValueError(f"kind must be 'mutable' or 'finalized', got {kind!r}")
    if not segments:
        return None
    user_id, platform, native_id = _meeting_identity(meeting_id)
    last: str | None = None
    for first in range(0, len(segments), MAX_SEGMENTS_PER_MESSAGE):
        message = {
            "type": f"transcript.{kind}",
            "meeting": {"id": meeting_id},
            "payload": {"segments": segments[first : first + MAX_SEGMENTS_PER_MESSAGE]},
            "ts": ts or now_iso_z(),
        }
        last = publish(key=native_key(user_id, platform, native_id), message=message, client=client)
    return last


def publish_meeting_events(
    *, meeting_id: int, events: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    """Publish what happened in the meeting, oldest first, one message per (type, payload):
    `chat.message` (`{"sender", "text", "timestamp", "from_bot"}`, a participant's or the
    bot's) and `participant.joined` / `participant.left` (`{"name", "timestamp"}`). Call after
    commit."""
    user_id, platform, native_id = _meeting_identity(meeting_id)
    key = native_key(user_id, platform, native_id)
    for kind, payload in events:
        message = {
            "type": kind,
            "meeting": {"id": meeting_id},
            "payload": payload,
            "ts": now_iso_z(),
        }
        publish(key=key, message=message)


def publish_meeting_status(
    *,
    meeting_id: int,
    platform: str,
    native_id: str,
    status: str,
    ts: str,
    user_id: int | None = None,
    reason: str | None = None,
    completion_reason: str | None = None,
    failure_stage: str | None = None,
    error: str | None = None,
) -> str:
    """Publish a `meeting.status` message (seed shape plus `meeting.id` and the reasons).

    Call after commit. Returns the event-log id.
    """
    if user_id is None:
        user_id = _meeting_identity(meeting_id)[0]
    payload: dict[str, Any] = {
        "status": status,
        "reason": reason,
        "completion_reason": completion_reason,
        "failure_stage": failure_stage,
    }
    if status == "failed":
        # The seed's cookbook shows `payload.error` to the user on failure: the cause in words
        # ("the meeting page says: Meeting not found"), not the machine reason ("bot_error").
        payload["error"] = (
            error or reason or (f"failed during {failure_stage}" if failure_stage else None)
        )
    message = {
        "type": "meeting.status",
        "meeting": {"id": meeting_id, "platform": platform, "native_id": native_id},
        "payload": payload,
        "ts": ts,
    }
    over = status in TERMINAL_STATUSES
    return publish(
        key=native_key(user_id, platform, native_id),
        message=message,
        log_ttl_s=settings.REALTIME_EVENT_LOG_TTL_AFTER_END_S if over else None,
    )


def event_log_settle(*, meeting_id: int) -> None:
    """Keep the native meeting's event log only `REALTIME_EVENT_LOG_TTL_AFTER_END_S` more, if
    its newest call is over: the transcription engine calls it once a session's transcript is
    final (its last segments came after the call's end and renewed the log's week)."""
    user_id, platform, native_id = _meeting_identity(meeting_id)
    newest = latest_meeting(user_id=user_id, platform=platform, native_id=native_id)
    if newest is not None and newest.status in TERMINAL_STATUSES:
        redis_client().expire(
            event_log_key(native_key(user_id, platform, native_id)),
            settings.REALTIME_EVENT_LOG_TTL_AFTER_END_S,
        )


def on_meeting_status(event: MeetingStatusEvent) -> None:
    """After-commit subscriber of `meetings.events`: every transition becomes `meeting.status`."""
    publish_meeting_status(
        meeting_id=event.meeting_id,
        platform=event.platform,
        native_id=event.native_meeting_id,
        status=event.to_status,
        ts=event.timestamp,
        user_id=event.user_id,
        reason=event.reason,
        completion_reason=event.completion_reason,
        failure_stage=event.failure_stage,
        error=event.error,
    )
