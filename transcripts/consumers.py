"""The WebSocket API (`/ws`), wire-compatible with Vexa's.

Client messages: `{"action": "subscribe" | "unsubscribe", "meetings": [{platform, native_id}]}`
and `{"action": "ping"}`. Server messages: `subscribed` / `unsubscribed` (internal meeting
ids), `pong`, `error` (`message`), and the events of subscribed meetings: `meeting.status`,
`transcript.mutable`, `transcript.finalized`, `chat.message`, `participant.joined`,
`participant.left` (built once by `transcripts.realtime`).

Authentication: `?api_key=` (browsers cannot set headers on a WebSocket) or `X-API-Key`.
A refused key gets an `error` message, then the socket closes with 4401 (4403 for a key
without the `tx` scope): an application close code is the only way a browser client can tell
"bad key" from a network failure, and it needs an accepted socket to carry it.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from twisted.internet.abstract import FileDescriptor

from accounts.auth import token_for_key
from meetings.models import Meeting
from transcripts import realtime
from transcripts.fanout import fanout
from vexa_site.input_guard import NUL, NUL_MESSAGE

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# Application close codes must be 4000-4999 (autobahn under Daphne refuses 1013): 4000 plus the
# HTTP status that says the same, like 4401/4403.
CLOSE_TOO_SLOW = 4408
TX_SCOPE = "tx"
SCOPE_MESSAGE = "Token scope not authorized for this endpoint"
# One message may name at most this many meetings: each is one authorization query.
MAX_MEETINGS_PER_MESSAGE = 100


class SubscriptionError(Exception):
    """A subscribe/unsubscribe message the server refuses; its text goes to the client."""


def _parse_meetings(message: dict[str, Any]) -> list[tuple[str, str]]:
    meetings = message.get("meetings")
    if not isinstance(meetings, list) or not meetings:
        raise SubscriptionError("'meetings' must be a non-empty list of {platform, native_id}")
    if len(meetings) > MAX_MEETINGS_PER_MESSAGE:
        raise SubscriptionError(f"At most {MAX_MEETINGS_PER_MESSAGE} meetings per message")
    parsed: list[tuple[str, str]] = []
    for item in meetings:
        platform = item.get("platform") if isinstance(item, dict) else None
        native_id = item.get("native_id") if isinstance(item, dict) else None
        if not isinstance(platform, str) or not isinstance(native_id, str):
            raise SubscriptionError("Each meeting needs a string 'platform' and 'native_id'")
        if not platform or not native_id:
            raise SubscriptionError("Each meeting needs a non-empty 'platform' and 'native_id'")
        if NUL in platform or NUL in native_id:
            raise SubscriptionError(f"'platform' and 'native_id' {NUL_MESSAGE}")
        parsed.append((platform, native_id))
    return parsed


def _resolve(user_id: int, wanted: list[tuple[str, str]]) -> list[tuple[Meeting, str]]:
    """The caller's meetings with their pub/sub channels; all or nothing, like a REST 404."""
    resolved: list[tuple[Meeting, str]] = []
    missing: list[str] = []
    for platform, native_id in dict.fromkeys(wanted):
        meeting = realtime.latest_meeting(user_id=user_id, platform=platform, native_id=native_id)
        if meeting is None:
            missing.append(f"{platform}/{native_id}")
            continue
        key = realtime.native_key(user_id, platform, native_id)
        resolved.append((meeting, realtime.ws_channel(key)))
    if missing:
        raise SubscriptionError(f"Meeting not found: {', '.join(missing)}")
    return resolved


def _usable_token(plain: str) -> tuple[int, list[str]] | None:
    token = token_for_key(plain)
    if token is None:
        return None
    return token.user_id, list(token.scopes or [])


class MeetingEventsConsumer(AsyncWebsocketConsumer):
    """One client connection: its key, and the meeting channels it subscribed to."""

    # Events come through `transcripts.fanout`, not the channel layer: no per-connection
    # layer channel (one Redis subscription each) and no per-event dispatch task.
    channel_layer_alias = "websocket-api-uses-transcripts-fanout"

    user_id: int
    api_key: str
    joined: set[str]
    too_slow: bool
    closing: bool

    async def connect(self) -> None:
        self.joined = set()
        self.too_slow = False
        self.closing = False
        await self.accept()
        self.api_key = self._presented_key()
        if not self.api_key:
            await self._refuse("Missing API key", CLOSE_UNAUTHENTICATED)
            return
        if not await self._authenticate():
            return

    def _presented_key(self) -> str:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        key = (query.get("api_key") or [""])[0]
        if key:
            return key
        for name, value in self.scope.get("headers", []):
            if name.lower() == b"x-api-key":
                return str(value.decode("latin-1"))
        return ""

    async def _authenticate(self) -> bool:
        """(Re-)check the key: a key revoked while connected stops new subscriptions."""
        found = await database_sync_to_async(_usable_token)(self.api_key)
        if found is None:
            await self._refuse("Invalid API key", CLOSE_UNAUTHENTICATED)
            return False
        user_id, scopes = found
        if TX_SCOPE not in scopes:
            await self._refuse(SCOPE_MESSAGE, CLOSE_FORBIDDEN)
            return False
        self.user_id = user_id
        return True

    async def _refuse(self, message: str, code: int) -> None:
        # Messages the client sent before it read the close still arrive; answering them
        # would send on a closed socket (Daphne logs that as an application exception).
        self.closing = True
        await self._error(message)
        await self._leave_all()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        await self._leave_all()

    async def _leave_all(self) -> None:
        hub = fanout()
        for channel in list(self.joined):
            await hub.discard(channel, id(self))
        self.joined.clear()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.closing:
            return
        if text_data is None:
            await self._error("Messages must be JSON text")
            return
        try:
            message = json.loads(text_data)
        except (ValueError, RecursionError):  # thousands of `[` recurse past the stack limit
            await self._error("Invalid JSON")
            return
        if not isinstance(message, dict):
            await self._error("Messages must be JSON objects with an 'action'")
            return
        action = message.get("action")
        if action == "ping":
            await self._send({"type": "pong"})
        elif action in ("subscribe", "unsubscribe"):
            try:
                wanted = _parse_meetings(message)
                if not await self._authenticate():
                    return
                resolved = await database_sync_to_async(_resolve)(self.user_id, wanted)
            except SubscriptionError as exc:
                await self._error(str(exc))
                return
            if action == "subscribe":
                await self._subscribe(resolved)
            else:
                await self._unsubscribe(resolved)
        else:
            await self._error(f"Unknown action: {action!r}")

    async def _subscribe(self, resolved: list[tuple[Meeting, str]]) -> None:
        # Join before confirming: once the client reads `subscribed`, every later event of
        # these meetings reaches it (the bootstrap pattern relies on that ordering).
        hub = fanout()
        for _meeting, channel in resolved:
            if channel not in self.joined:
                self.joined.add(channel)
                await hub.add(channel, id(self), self._deliver)
        await self._send({"type": "subscribed", "meetings": [m.pk for m, _ in resolved]})

    async def _unsubscribe(self, resolved: list[tuple[Meeting, str]]) -> None:
        hub = fanout()
        for _meeting, channel in resolved:
            if channel in self.joined:
                self.joined.discard(channel)
                await hub.discard(channel, id(self))
        await self._send({"type": "unsubscribed", "meetings": [m.pk for m, _ in resolved]})

    async def _deliver(self, channel: str, text: str) -> None:
        """A published event (`transcripts.realtime.publish`): its JSON text goes out as is.

        A client that stops reading does not slow anyone down (the server only queues its
        bytes), but its queue would grow for as long as the meeting runs: past
        `WS_MAX_BUFFERED_BYTES` it is disconnected (4408) and may reconnect and bootstrap again.
        """
        # The fan-out yields between deliveries: this client may have unsubscribed meanwhile.
        if self.too_slow or channel not in self.joined:
            return
        pending = self._unsent_bytes()
        if pending is not None and pending > settings.WS_MAX_BUFFERED_BYTES:
            self.too_slow = True
            logger.warning("closing WebSocket of user %s: %s bytes unsent", self.user_id, pending)
            await self._leave_all()
            await self.close(code=CLOSE_TOO_SLOW)
            return
        await self.send(text_data=text)

    def _unsent_bytes(self) -> int | None:
        """Bytes queued in the server for this client and not yet taken by its socket.

        Daphne's ASGI `send` is `partial(server.handle_reply, protocol)`; below the WebSocket
        protocol (and the HTTP channel it was upgraded from) lies the Twisted TCP transport
        holding the queue. Under another server no limit applies.
        """
        node = (getattr(self.base_send, "args", None) or (None,))[0]
        for _depth in range(4):
            node = getattr(node, "transport", None)
            if isinstance(node, FileDescriptor):
                return len(node.dataBuffer) - node.offset + node._tempDataLen
        return None

    async def _error(self, message: str) -> None:
        await self._send({"type": "error", "message": message})

    async def _send(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message, separators=(",", ":")))
