"""The SSE stream (`GET /meetings/{platform}/{native_id}/stream`) against a real Daphne."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

from accounts import services as account_services
from accounts.models import User
from meetings import lifecycle
from meetings.models import Meeting
from tests import processes
from tests.transcripts.realtime_support import DEADLINE_S, SseEvent, make_meeting, sse_events
from transcripts import realtime, sse

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def daphne(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    with (
        django_db_blocker.unblock(),
        processes.daphne_server(env={"SSE_KEEPALIVE_S": "0.3"}) as base,
    ):
        yield base


def stream_url(base: str, meeting: Meeting) -> str:
    return f"{base}/meetings/{meeting.platform}/{meeting.native_meeting_id}/stream"


async def next_item(items: AsyncIterator[SseEvent | str]) -> SseEvent | str:
    return await asyncio.wait_for(anext(items), DEADLINE_S)


async def next_event(items: AsyncIterator[SseEvent | str]) -> SseEvent:
    while True:
        item = await next_item(items)
        if isinstance(item, SseEvent):
            return item


def publish(meeting: Meeting, n: int) -> str:
    entry_id = realtime.publish_segments(
        meeting_id=meeting.pk,
        kind="finalized",
        segments=[{"segment_id": f"s{n}", "text": f"segment {n}"}],
    )
    assert entry_id is not None
    return entry_id


def segment_ids(events: list[SseEvent]) -> list[str]:
    return [json.loads(e.data)["payload"]["segments"][0]["segment_id"] for e in events]


async def test_it_refuses_a_missing_invalid_or_underscoped_key(daphne: str, alice: User) -> None:
    meeting = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    url = stream_url(daphne, meeting)
    bot_only = await sync_to_async(account_services.token_issue)(user=alice, scopes=["bot"])
    async with httpx.AsyncClient(timeout=DEADLINE_S) as client:
        missing = await client.get(url)
        invalid = await client.get(url, headers={"X-API-Key": "vxa_nope"})
        underscoped = await client.get(url, params={"api_key": bot_only.plain})
    assert (missing.status_code, missing.json()) == (401, {"detail": "Missing API key"})
    assert (invalid.status_code, invalid.json()) == (401, {"detail": "Invalid API key"})
    assert (underscoped.status_code, underscoped.json()) == (
        403,
        {"detail": "Token scope not authorized for this endpoint"},
    )


async def test_another_users_meeting_is_a_404(daphne: str, alice: User, bob_key: str) -> None:
    meeting = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    async with httpx.AsyncClient(timeout=DEADLINE_S) as client:
        response = await client.get(stream_url(daphne, meeting), headers={"X-API-Key": bob_key})
    assert (response.status_code, response.json()) == (404, {"detail": "Meeting not found"})


async def test_a_malformed_last_event_id_is_a_400(daphne: str, alice: User, alice_key: str) -> None:
    meeting = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    async with httpx.AsyncClient(timeout=DEADLINE_S) as client:
        response = await client.get(
            stream_url(daphne, meeting),
            headers={"X-API-Key": alice_key, "Last-Event-ID": "yesterday"},
        )
    assert (response.status_code, response.json()) == (400, {"detail": "Invalid Last-Event-ID"})


async def test_it_streams_the_websocket_events_with_ids_and_keep_alive_comments(
    daphne: str, alice: User, alice_key: str
) -> None:
    meeting = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    async with (
        httpx.AsyncClient(timeout=DEADLINE_S) as client,
        client.stream("GET", stream_url(daphne, meeting), params={"api_key": alice_key}) as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["cache-control"] == "no-cache"
        items = sse_events(resp)
        assert await next_item(items) == "connected"
        await sync_to_async(lifecycle.transition)(meeting_id=meeting.pk, to="joining", source="t")
        event = await next_event(items)
        assert await next_item(items) == "keep-alive"
    assert event.event == "meeting.status"
    assert event.id is not None
    assert json.loads(event.data) == {
        "type": "meeting.status",
        "meeting": {"id": meeting.pk, "platform": "google_meet", "native_id": "abc-defg-hij"},
        "payload": {
            "status": "joining",
            "reason": None,
            "completion_reason": None,
            "failure_stage": None,
        },
        "ts": json.loads(event.data)["ts"],
    }


async def test_an_idle_stream_outlives_the_redis_clients_default_read_timeout() -> None:
    # redis-py gives up on a reply after 5 s unless told otherwise; a stream's blocking read
    # waits for the keep-alive interval (15 s by default), so 6 s must pass quietly.
    with override_settings(SSE_KEEPALIVE_S=6.0):
        items = sse.event_frames(f"test:idle-sse:{time.monotonic_ns()}", None)
        try:
            assert await anext(items) == "retry: 1000\n: connected\n\n"
            began = time.monotonic()
            assert await asyncio.wait_for(anext(items), 6.0 + DEADLINE_S) == ": keep-alive\n\n"
            assert time.monotonic() - began >= 5.9
        finally:
            await items.aclose()


async def test_resuming_with_last_event_id_after_a_dropped_connection_loses_nothing(
    daphne: str, alice: User, alice_key: str
) -> None:
    meeting = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    url = stream_url(daphne, meeting)
    headers = {"X-API-Key": alice_key}
    publish_async = sync_to_async(publish)
    published: list[str] = []
    received: list[SseEvent] = []
    async with httpx.AsyncClient(timeout=DEADLINE_S) as client:
        async with client.stream("GET", url, headers=headers) as resp:
            items = sse_events(resp)
            assert await next_item(items) == "connected"
            published += [await publish_async(meeting, n) for n in range(3)]
            received += [await next_event(items) for _ in range(3)]
        # Dropped; the meeting goes on without the client.
        published += [await publish_async(meeting, n) for n in range(3, 6)]
        resume = {**headers, "Last-Event-ID": received[-1].id or ""}
        async with client.stream("GET", url, headers=resume) as resp:
            items = sse_events(resp)
            assert await next_item(items) == "connected"
            published.append(await publish_async(meeting, 6))
            received += [await next_event(items) for _ in range(4)]
    assert [e.id for e in received] == published
    assert segment_ids(received) == [f"s{n}" for n in range(7)]


async def test_resuming_past_the_kept_log_says_so_before_replaying(
    daphne: str, alice: User, alice_key: str
) -> None:
    meeting = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    with override_settings(REALTIME_EVENT_LOG_MAXLEN=100):
        first = await sync_to_async(publish)(meeting, 0)
        for n in range(1, 400):
            await sync_to_async(publish)(meeting, n)
    headers = {"X-API-Key": alice_key, "Last-Event-ID": first}
    async with (
        httpx.AsyncClient(timeout=DEADLINE_S) as client,
        client.stream("GET", stream_url(daphne, meeting), headers=headers) as resp,
    ):
        items = sse_events(resp)
        assert await next_item(items) == "connected"
        gap = await next_event(items)
        oldest_kept = await next_event(items)
    assert gap.event == "error"
    assert json.loads(gap.data)["message"].startswith(f"Events after {first} are no longer kept")
    kept = segment_ids([oldest_kept])[0]
    assert kept != "s1"
    assert int(kept[1:]) <= 300


def open_streams(meeting: Meeting) -> int:
    """Redis connections of SSE streams following this meeting's log (named after it)."""
    key = realtime.native_key(meeting.user_id, meeting.platform, meeting.native_meeting_id)
    name = f"sse:{realtime.event_log_key(key)}"
    return sum(1 for c in realtime.redis_client().client_list() if c.get("name") == name)


async def streams_become(meeting: Meeting, count: int) -> int:
    """Polls Redis until `count` streams of `meeting` are open or the deadline; the last count."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    seen = await sync_to_async(open_streams)(meeting)
    while seen != count and loop.time() < deadline:
        await asyncio.sleep(0.05)
        seen = await sync_to_async(open_streams)(meeting)
    return seen


async def test_a_closed_stream_gives_back_its_redis_connection(
    daphne: str, alice: User, alice_key: str
) -> None:
    meeting = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    async with (
        httpx.AsyncClient(timeout=DEADLINE_S) as client,
        client.stream("GET", stream_url(daphne, meeting), params={"api_key": alice_key}) as resp,
    ):
        # Held in a name: a dropped parser generator would be finalized and close the stream.
        items = sse_events(resp)
        assert await next_item(items) == "connected"
        assert await streams_become(meeting, 1) == 1
    assert await streams_become(meeting, 0) == 0


def test_the_openapi_document_describes_the_stream(client: Any) -> None:
    operation = client.get("/openapi.json").json()["paths"][sse.STREAM_PATH]["get"]
    assert set(operation["responses"]) == {"200", "400", "401", "403", "404"}
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {"Last-Event-ID", "api_key"}
