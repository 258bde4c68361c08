"""Per-process WebSocket fan-out: one Redis pub/sub connection, local subscribers in memory.

Each Daphne process subscribes once to the Redis channel of every native meeting that one of
its WebSocket clients follows, and hands each published message (JSON text, serialized once by
`transcripts.realtime.publish`) straight to those clients' ASGI `send`.

Why not Channels groups: with `RedisPubSubChannelLayer` every delivery goes through the
consumer's own queue, a msgpack decode, a task wake-up and `await_many_dispatch`, per client
and per event. `bench/ws_fanout.py` (500 subscribers, 10 events/s, the same busy 2-core
machine, back to back): the group path cost 230 us of server CPU per delivery and fell
behind (p50 3.6 s, growing); this one costs about 45 us and, yielding to the event loop every
50 sends, kept p99 under 100 ms. The figures are in the README.

A slow client cannot stall the loop: Daphne's `send` only queues bytes on the client's
transport (Twisted buffers what the socket will not take yet) and returns at once.

Pub/sub keeps nothing for a subscriber that is away: while the Redis connection is broken (a
restart, a failover, a dropped connection), every event published is missed. Each message
carries its event-log entry id (`transcripts.realtime.publish`), so after subscribing again the
fan-out replays each channel's log from the last event it delivered, then goes on with the
live messages, skipping any it already delivered from the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from django.conf import settings
from redis import asyncio as aioredis

from transcripts.realtime import channel_event_log_key

logger = logging.getLogger(__name__)

# Called with (channel, JSON text) for each message of a subscribed channel.
Sink = Callable[[str, str], Awaitable[None]]
# The name of the fan-out's Redis connection in `CLIENT LIST`.
CLIENT_NAME = "vexa-ws-fanout"
# Seconds the reader waits for a message before checking it still has work (and after a
# Redis error before reconnecting).
_POLL_S = 1.0
# Deliveries between two yields to the event loop (see `_deliver`).
_YIELD_EVERY = 50


def _id_order(entry_id: str) -> tuple[int, int]:
    """A stream entry id (`<ms>-<seq>`) as something that sorts like Redis sorts them."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class Fanout:
    """Local subscribers per Redis channel, and the one task that reads them all."""

    def __init__(self) -> None:
        self._sinks: dict[str, dict[int, Sink]] = {}
        self._client: aioredis.Redis | None = None
        self._pubsub: aioredis.client.PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        # Set while at least one channel is subscribed: the reader waits on it, not on a timer.
        self._active = asyncio.Event()
        self._broken = False
        # Per subscribed channel, the newest event-log id delivered (or logged before the
        # channel was subscribed): where a replay after a broken connection starts.
        self._last_id: dict[str, str] = {}

    async def add(self, channel: str, owner: int, sink: Sink) -> None:
        """Deliver `channel`'s messages to `sink` (one per `owner`) from now on.

        Returns once the SUBSCRIBE is sent to Redis, so a message published after the caller
        confirms the subscription to its client is delivered.
        """
        async with self._lock:
            sinks = self._sinks.setdefault(channel, {})
            first = not sinks
            sinks[owner] = sink
            if first:
                if self._pubsub is None:
                    self._client = aioredis.Redis.from_url(
                        settings.REDIS_URL, client_name=CLIENT_NAME
                    )
                    self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                assert self._client is not None
                # Read before subscribing: an event logged in between is then replayed at worst
                # (after a broken connection), never taken for one already delivered.
                newest: list[tuple[bytes, dict[bytes, bytes]]] = await self._client.xrevrange(  # type: ignore[assignment]
                    channel_event_log_key(channel), count=1
                )
                self._last_id[channel] = newest[0][0].decode() if newest else "0-0"
                await self._pubsub.subscribe(channel)
            self._active.set()
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read())

    async def discard(self, channel: str, owner: int) -> None:
        async with self._lock:
            sinks = self._sinks.get(channel)
            if sinks is None or sinks.pop(owner, None) is None:
                return
            if not sinks:
                del self._sinks[channel]
                self._last_id.pop(channel, None)
                if not self._sinks:
                    self._active.clear()
                if self._pubsub is not None and not self._broken:
                    await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        while True:
            await self._active.wait()
            try:
                if self._broken:
                    await self._reconnect()
                assert self._pubsub is not None
                message = await self._pubsub.get_message(timeout=_POLL_S)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Redis restarted or the connection broke: once subscribed again, what was
                # published meanwhile is replayed from the event logs.
                logger.warning("WebSocket fan-out lost Redis (%r); resubscribing", exc)
                self._broken = True
                await asyncio.sleep(_POLL_S)
                continue
            if message is not None and message.get("type") == "message":
                raw_channel, raw_data = message["channel"], message["data"]
                channel = raw_channel.decode() if isinstance(raw_channel, bytes) else raw_channel
                data = raw_data.decode() if isinstance(raw_data, bytes) else raw_data
                entry_id, _, text = data.partition(" ")
                await self._deliver(channel, entry_id, text)

    async def _deliver(self, channel: str, entry_id: str, text: str) -> None:
        last = self._last_id.get(channel)
        if last is None:
            return  # nobody here follows it any more
        if _id_order(entry_id) <= _id_order(last):
            return  # delivered already, from the log
        self._last_id[channel] = entry_id
        for index, sink in enumerate(list(self._sinks.get(channel, {}).values()), start=1):
            try:
                await sink(channel, text)
            except Exception:
                logger.exception("WebSocket delivery failed on %s", channel)
            if index % _YIELD_EVERY == 0:
                # Sends only queue bytes; the event loop writes them to the sockets. Yielding
                # now and then lets the first clients' bytes leave (and those clients start
                # reading) while the rest are still being queued.
                await asyncio.sleep(0)

    async def _reconnect(self) -> None:
        async with self._lock:
            old, self._pubsub = self._pubsub, None
            if old is not None:
                try:
                    await old.aclose()
                except Exception:  # already broken; there is nothing more to release
                    logger.debug("closing a broken pub/sub connection failed", exc_info=True)
            assert self._client is not None
            self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            if self._sinks:
                await self._pubsub.subscribe(*self._sinks)
            # Before any live message: those queued since the SUBSCRIBE follow these, and the
            # ones among them logged here are skipped by id. A failure here breaks the connection
            # again, and the next replay starts from what was delivered.
            for channel, last in list(self._last_id.items()):
                entries: list[tuple[bytes, dict[bytes, bytes]]] = await self._client.xrange(  # type: ignore[assignment]
                    channel_event_log_key(channel), min=f"({last}", max="+"
                )
                for entry_id, fields in entries:
                    await self._deliver(channel, entry_id.decode(), fields[b"data"].decode())
            self._broken = False


_fanouts: dict[asyncio.AbstractEventLoop, Fanout] = {}


def fanout() -> Fanout:
    """The fan-out of the running event loop (Daphne runs one; tests may run several)."""
    loop = asyncio.get_running_loop()
    found = _fanouts.get(loop)
    if found is None:
        found = _fanouts[loop] = Fanout()
    return found
