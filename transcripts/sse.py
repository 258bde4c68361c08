"""`GET /meetings/{platform}/{native_meeting_id}/stream`: a meeting's events as Server-Sent Events.

The same messages as the WebSocket API (`meeting.status`, `transcript.mutable`,
`transcript.finalized`, `chat.message`, `participant.joined`, `participant.left`), one SSE
event each: `event:` is the message type,
`data:` its JSON, `id:` its entry id in the native meeting's event log (a Redis Stream, see
`transcripts.realtime`). A client that reconnects with `Last-Event-ID` (browsers' EventSource
does it by itself) gets every event after that id, then the live ones: the log is read with
one cursor, so there is no gap between replay and live. An idle stream carries a keep-alive
comment every `SSE_KEEPALIVE_S` seconds.

This is an async view (no DRF: DRF views are sync) so that each open stream costs a coroutine
and one Redis connection, not a worker thread.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse, StreamingHttpResponse
from redis import asyncio as aioredis

from accounts.auth import token_for_key
from meetings.models import Meeting
from meetings.stream import entry_id_key
from transcripts import realtime

TX_SCOPE = "tx"
# One Redis Stream entry as redis-py returns it: (id, {field: value}).
Entry = tuple[bytes, dict[bytes, bytes]]
_EVENT_ID = re.compile(r"^\d{1,20}(-\d{1,20})?$")
# Entries read per Redis round trip while replaying a backlog.
_READ_BATCH = 500
SOCKET_TIMEOUT_MARGIN_S = 5.0


def _authorize(
    api_key: str, platform: str, native_id: str
) -> tuple[int, str] | tuple[Meeting, str]:
    """(status, detail) on refusal, else (meeting, native key). One place, like the REST API."""
    if not api_key:
        return 401, "Missing API key"
    token = token_for_key(api_key)
    if token is None:
        return 401, "Invalid API key"
    if TX_SCOPE not in (token.scopes or []):
        return 403, "Token scope not authorized for this endpoint"
    meeting = realtime.latest_meeting(user_id=token.user_id, platform=platform, native_id=native_id)
    if meeting is None:
        return 404, "Meeting not found"
    return meeting, realtime.native_key(token.user_id, platform, native_id)


async def meeting_stream(
    request: HttpRequest, platform: str, native_meeting_id: str
) -> HttpResponseBase:
    """The SSE stream of one of the caller's native meetings (X-API-Key or `?api_key=`)."""
    api_key = request.headers.get("X-API-Key") or request.GET.get("api_key", "")
    outcome = await sync_to_async(_authorize)(api_key, platform, native_meeting_id)
    if isinstance(outcome[0], int):
        return JsonResponse({"detail": outcome[1]}, status=outcome[0])
    return event_stream_response(request, realtime.event_log_key(outcome[1]))


def event_stream_response(
    request: HttpRequest, log_key: str, *, meeting_id: int | None = None
) -> HttpResponseBase:
    """The SSE response following `log_key` from the request's `Last-Event-ID` (header, or
    `?last_event_id=`), else from now; only `meeting_id`'s messages when it is given (the log
    holds every call under one native meeting id). 400 for a malformed id."""
    last_id = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id") or None
    if last_id is not None:
        last_id = last_id.strip()
        if not _EVENT_ID.match(last_id):
            return JsonResponse({"detail": "Invalid Last-Event-ID"}, status=400)
    response = StreamingHttpResponse(
        event_frames(log_key, last_id, meeting_id=meeting_id), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    # Reverse proxies (nginx) buffer responses unless told not to; a buffered stream is no stream.
    response["X-Accel-Buffering"] = "no"
    return response


async def _gap_after(client: aioredis.Redis, log_key: str, last_id: str) -> str | None:
    """The id replay must jump to when events after `last_id` were trimmed away, else None."""
    try:
        info: dict[Any, Any] = await client.xinfo_stream(log_key)
    except aioredis.ResponseError:  # no such key: nothing was kept, nothing to tell apart
        return None
    first = info.get("first-entry")
    if not first or int(info.get("entries-added", 0)) <= int(info.get("length", 0)):
        return None
    first_id = first[0].decode() if isinstance(first[0], bytes) else str(first[0])
    if entry_id_key(last_id) >= entry_id_key(first_id):
        return None
    ms, seq = entry_id_key(first_id)
    # Just before the oldest kept entry: the replay then starts with that entry.
    return f"{ms}-{seq - 1}" if seq else f"{ms - 1}-18446744073709551615"


def _frame(entry_id: str, event: str, data: str) -> str:
    return f"id: {entry_id}\nevent: {event}\ndata: {data}\n\n"


def _for_meeting(data: bytes, meeting_id: int) -> bool:
    message = json.loads(data)
    return isinstance(message.get("meeting"), dict) and message["meeting"].get("id") == meeting_id


async def event_frames(
    log_key: str, last_id: str | None, *, meeting_id: int | None = None
) -> AsyncGenerator[str, None]:
    """SSE frames of the event log after `last_id` (None: from now), then live, with
    keep-alive comments while idle; only `meeting_id`'s messages when it is given."""
    block_ms = max(1, int(settings.SSE_KEEPALIVE_S * 1000))
    # Named after the log it follows, so `CLIENT LIST` shows which streams are open. redis-py
    # gives up on a reply after 5 s by default, and XREAD BLOCK waits up to the keep-alive
    # interval (15 s): an idle stream died with a TimeoutError every 5 s. The socket waits a
    # little longer than the block, so a dead server is still noticed.
    client = aioredis.Redis.from_url(
        settings.REDIS_URL,
        client_name=f"sse:{log_key}",
        socket_timeout=block_ms / 1000 + SOCKET_TIMEOUT_MARGIN_S,
    )
    try:
        if last_id is None:
            # A new client starts at "now": the newest entry is its cursor.
            newest = cast(list[Entry], await client.xrevrange(log_key, count=1))
            cursor = newest[0][0].decode() if newest else "0-0"
        else:
            cursor = last_id if "-" in last_id else f"{last_id}-0"
        # The first bytes also flush the response headers, so the client knows it is connected.
        yield "retry: 1000\n: connected\n\n"
        if last_id is not None:
            jump = await _gap_after(client, log_key, cursor)
            if jump is not None:
                message = {
                    "type": "error",
                    "message": (
                        f"Events after {cursor} are no longer kept; "
                        "fetch GET /transcripts again to resynchronise"
                    ),
                }
                cursor = jump
                yield _frame(cursor, "error", json.dumps(message, separators=(",", ":")))
        while True:
            batches = cast(
                list[tuple[bytes, list[Entry]]],
                await client.xread({log_key: cursor}, count=_READ_BATCH, block=block_ms),
            )
            if not batches:
                yield ": keep-alive\n\n"
                continue
            chunk: list[str] = []
            for _stream, entries in batches:
                for raw_id, fields in entries:
                    cursor = raw_id.decode()
                    if meeting_id is not None and not _for_meeting(fields[b"data"], meeting_id):
                        continue
                    event = fields.get(b"type", b"message").decode()
                    chunk.append(_frame(cursor, event, fields[b"data"].decode()))
            if chunk:
                yield "".join(chunk)
    finally:
        await client.aclose()


STREAM_PATH = "/meetings/{platform}/{native_meeting_id}/stream"


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def document_stream(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: adds the SSE stream, which is not a DRF view."""
    result.setdefault("paths", {})[STREAM_PATH] = {
        "get": {
            "operationId": "meetings_stream",
            "summary": "Stream meeting events (SSE)",
            "description": (
                "Server-Sent Events with the WebSocket API's messages (`meeting.status`, "
                "`transcript.mutable`, `transcript.finalized`, `chat.message`, "
                "`participant.joined`, `participant.left`) for the caller's "
                "newest meeting with this id, and later bot runs in it. Each event has `id:` (its "
                "position in "
                "the meeting's event log), `event:` (the message type) and `data:` (the JSON "
                "message). Reconnect with `Last-Event-ID` to get everything after that id "
                "without gaps; if the log no longer reaches back that far, an `error` event "
                "says so first. Idle streams carry a keep-alive comment. The key may also be "
                "given as `?api_key=` (EventSource cannot set headers)."
            ),
            "tags": ["meetings"],
            "security": [{"ApiKeyAuth": []}],
            "parameters": [
                {"in": "path", "name": "platform", "required": True, "schema": {"type": "string"}},
                {
                    "in": "path",
                    "name": "native_meeting_id",
                    "required": True,
                    "schema": {"type": "string"},
                },
                {"in": "query", "name": "api_key", "schema": {"type": "string"}},
                {"in": "header", "name": "Last-Event-ID", "schema": {"type": "string"}},
                {
                    "in": "query",
                    "name": "last_event_id",
                    "schema": {"type": "string"},
                    "description": "`Last-Event-ID` for clients that cannot set headers.",
                },
            ],
            "responses": {
                "200": {
                    "description": "The event stream (stays open).",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                "400": _error("Malformed `Last-Event-ID`"),
                "401": _error("Missing or invalid API key"),
                "403": _error("The key lacks the `tx` scope"),
                "404": _error("Meeting not found"),
            },
        }
    }
    return result
