"""Helpers for the real-time tests: meetings made with the ORM, an engine-like segment writer,
a WebSocket client with deadlines, and an SSE reader.

The segment writer does what the transcription engine does (upsert rows in a transaction,
publish the committed wire dicts after commit); it is the engine's contract, not a mock of it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.db import transaction
from django.utils import timezone
from websockets.asyncio.client import ClientConnection, connect

from accounts.models import User
from meetings import lifecycle
from meetings.models import Meeting, MeetingSession
from transcripts import realtime
from transcripts.models import Segment
from transcripts.serializers import segment_wire

DEADLINE_S = 10.0


def make_meeting(user: User, native_id: str, platform: str = "google_meet") -> Meeting:
    """A meeting as POST /bots makes it: the row, then its `requested` history entry."""
    with transaction.atomic():
        meeting = Meeting.objects.create(user=user, platform=platform, native_meeting_id=native_id)
        lifecycle.record_created(meeting)
    return meeting


def finish(meeting: Meeting) -> None:
    lifecycle.transition(meeting_id=meeting.pk, to="completed", source="test")


@dataclass(frozen=True)
class SegmentChange:
    segment_id: str
    start: float
    text: str
    completed: bool


def write_segments(meeting: Meeting, session: MeetingSession, changes: list[SegmentChange]) -> None:
    """Upsert segments in one transaction; after commit publish them like the engine does."""
    with transaction.atomic():
        now = timezone.now()
        rows: list[Segment] = []
        for change in changes:
            start_at: datetime = session.started_at + timedelta(seconds=change.start)
            row, _ = Segment.objects.update_or_create(
                meeting=meeting,
                segment_id=change.segment_id,
                defaults={
                    "session_uid": session.session_uid,
                    "start": change.start,
                    "end": change.start + 1.5,
                    "text": change.text,
                    "speaker": "Alice",
                    "language": "en",
                    "completed": change.completed,
                    "absolute_start_time": start_at,
                    "absolute_end_time": start_at + timedelta(seconds=1.5),
                    "updated_at": now,
                },
            )
            rows.append(row)
        mutable = [segment_wire(r) for r in rows if not r.completed]
        finalized = [segment_wire(r) for r in rows if r.completed]
        transaction.on_commit(lambda: _publish(meeting.pk, mutable, finalized))


def _publish(
    meeting_id: int, mutable: list[dict[str, Any]], finalized: list[dict[str, Any]]
) -> None:
    if mutable:
        realtime.publish_segments(meeting_id=meeting_id, kind="mutable", segments=mutable)
    if finalized:
        realtime.publish_segments(meeting_id=meeting_id, kind="finalized", segments=finalized)


def stored_transcript(meeting: Meeting) -> list[dict[str, Any]]:
    return [segment_wire(s) for s in Segment.objects.filter(meeting=meeting)]


def ws_url(base: str, key: str | None = None) -> str:
    url = base.replace("http://", "ws://") + "/ws"
    return f"{url}?api_key={key}" if key is not None else url


@asynccontextmanager
async def ws_client(
    base: str, key: str | None = None, headers: dict[str, str] | None = None, **kwargs: Any
) -> AsyncIterator[ClientConnection]:
    async with connect(
        ws_url(base, key), additional_headers=headers, open_timeout=DEADLINE_S, **kwargs
    ) as ws:
        yield ws


async def recv(ws: ClientConnection, timeout: float = DEADLINE_S) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), timeout)
    message: dict[str, Any] = json.loads(raw)
    return message


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def subscribe(ws: ClientConnection, *meetings: Meeting) -> dict[str, Any]:
    await send(
        ws,
        {
            "action": "subscribe",
            "meetings": [
                {"platform": m.platform, "native_id": m.native_meeting_id} for m in meetings
            ],
        },
    )
    return await recv(ws)


@dataclass
class SseEvent:
    id: str | None
    event: str | None
    data: str


async def sse_events(response: httpx.Response) -> AsyncIterator[SseEvent | str]:
    """Parse an SSE body: yields events, and comment lines (as `str`, without the colon)."""
    fields: dict[str, str] = {}
    data: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield SseEvent(id=fields.get("id"), event=fields.get("event"), data="\n".join(data))
            fields, data = {}, []
        elif line.startswith(":"):
            yield line[1:].strip()
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
