"""The WebSocket API against a real Daphne, real Redis and a real `websockets` client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from websockets.exceptions import ConnectionClosed

from accounts import services as account_services
from accounts.models import User
from meetings import lifecycle
from meetings.models import Meeting, MeetingSession
from tests import processes
from tests.transcripts.realtime_support import (
    SegmentChange,
    finish,
    make_meeting,
    recv,
    send,
    stored_transcript,
    subscribe,
    write_segments,
    ws_client,
)
from transcripts import realtime
from transcripts.consumers import CLOSE_TOO_SLOW
from transcripts.fanout import CLIENT_NAME

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def daphne(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    # A small send-buffer cap, so the slow-client test needs megabytes, not hundreds.
    env = {"WS_MAX_BUFFERED_BYTES": str(256 * 1024)}
    with django_db_blocker.unblock(), processes.daphne_server(env=env) as base:
        yield base


async def closed_with(ws: Any) -> int | None:
    with pytest.raises(ConnectionClosed) as info:
        await asyncio.wait_for(ws.recv(), 10)
    return info.value.rcvd.code if info.value.rcvd else None


async def test_it_closes_with_4401_after_an_error_when_the_key_is_missing(daphne: str) -> None:
    async with ws_client(daphne) as ws:
        assert await recv(ws) == {"type": "error", "message": "Missing API key"}
        assert await closed_with(ws) == 4401


async def test_it_closes_with_4401_for_an_invalid_or_revoked_key(daphne: str, alice: User) -> None:
    async with ws_client(daphne, "vxa_not-a-real-key") as ws:
        assert await recv(ws) == {"type": "error", "message": "Invalid API key"}
        assert await closed_with(ws) == 4401
    issued = await sync_to_async(account_services.token_issue)(user=alice, scopes=["tx"])
    await sync_to_async(account_services.token_revoke)(token_id=issued.token.pk)
    async with ws_client(daphne, issued.plain) as ws:
        assert await recv(ws) == {"type": "error", "message": "Invalid API key"}
        assert await closed_with(ws) == 4401


async def test_it_closes_with_4403_for_a_key_without_the_tx_scope(daphne: str, alice: User) -> None:
    issued = await sync_to_async(account_services.token_issue)(user=alice, scopes=["bot"])
    async with ws_client(daphne, issued.plain) as ws:
        assert await recv(ws) == {
            "type": "error",
            "message": "Token scope not authorized for this endpoint",
        }
        assert await closed_with(ws) == 4403


async def test_it_accepts_the_key_in_the_x_api_key_header_and_answers_ping(
    daphne: str, alice_key: str
) -> None:
    async with ws_client(daphne, headers={"X-API-Key": alice_key}) as ws:
        await send(ws, {"action": "ping"})
        assert await recv(ws) == {"type": "pong"}


async def test_it_subscribes_to_several_meetings_with_their_internal_ids(
    daphne: str, alice: User, alice_key: str
) -> None:
    one = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    two = await sync_to_async(make_meeting)(alice, "123456789", platform="zoom")
    async with ws_client(daphne, alice_key) as ws:
        assert await subscribe(ws, one, two) == {"type": "subscribed", "meetings": [one.pk, two.pk]}
        await sync_to_async(lifecycle.transition)(meeting_id=two.pk, to="joining", source="t")
        await sync_to_async(lifecycle.transition)(meeting_id=one.pk, to="joining", source="t")
        got = [await recv(ws), await recv(ws)]
        assert [(m["meeting"]["id"], m["payload"]["status"]) for m in got] == [
            (two.pk, "joining"),
            (one.pk, "joining"),
        ]


async def test_a_meeting_id_in_another_spelling_subscribes_to_the_same_meeting(
    daphne: str, alice: User, alice_key: str
) -> None:
    meet = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    zoom = await sync_to_async(make_meeting)(alice, "1234567890", platform="zoom")
    typed = [
        {"platform": "google_meet", "native_id": "ABC-DEFG-HIJ"},
        {"platform": "zoom", "native_id": "123 456 7890"},
    ]
    async with ws_client(daphne, alice_key) as ws:
        await send(ws, {"action": "subscribe", "meetings": typed})
        assert await recv(ws) == {"type": "subscribed", "meetings": [meet.pk, zoom.pk]}
        await sync_to_async(lifecycle.transition)(meeting_id=meet.pk, to="joining", source="t")
        await sync_to_async(lifecycle.transition)(meeting_id=zoom.pk, to="joining", source="t")
        got = [await recv(ws), await recv(ws)]
        assert [m["meeting"]["id"] for m in got] == [meet.pk, zoom.pk]


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("{not json", "Invalid JSON"),
        pytest.param("[" * 50_000 + "]" * 50_000, "Invalid JSON", id="nested-50000-deep"),
        ("[1, 2]", "Messages must be JSON objects with an 'action'"),
        ('{"action": "dance"}', "Unknown action: 'dance'"),
        (
            '{"action": "subscribe", "meetings": []}',
            "'meetings' must be a non-empty list of {platform, native_id}",
        ),
        (
            '{"action": "subscribe"}',
            "'meetings' must be a non-empty list of {platform, native_id}",
        ),
        (
            '{"action": "subscribe", "meetings": [{"platform": "google_meet"}]}',
            "Each meeting needs a string 'platform' and 'native_id'",
        ),
        (
            '{"action": "subscribe", "meetings": ["abc-defg-hij"]}',
            "Each meeting needs a string 'platform' and 'native_id'",
        ),
        (
            '{"action": "subscribe", "meetings": [{"platform": "zoom", "native_id": "404"}]}',
            "Meeting not found: zoom/404",
        ),
        (
            '{"action": "subscribe", "meetings": [{"platform": "zoom", "native_id": "4\\u00004"}]}',
            "'platform' and 'native_id' must not contain NUL (\\u0000) characters",
        ),
    ],
)
async def test_it_answers_a_bad_message_with_an_error_and_stays_open(
    daphne: str, alice_key: str, message: str, error: str
) -> None:
    async with ws_client(daphne, alice_key) as ws:
        await ws.send(message)
        assert await recv(ws) == {"type": "error", "message": error}
        await send(ws, {"action": "ping"})
        assert await recv(ws) == {"type": "pong"}


async def test_another_users_meeting_is_refused_and_never_yields_events(
    daphne: str, alice: User, bob: User, bob_key: str
) -> None:
    alices = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    bobs = await sync_to_async(make_meeting)(bob, "bob-meet-ing")
    async with ws_client(daphne, bob_key) as ws:
        # All or nothing: one foreign meeting refuses the whole message.
        assert await subscribe(ws, bobs, alices) == {
            "type": "error",
            "message": "Meeting not found: google_meet/abc-defg-hij",
        }
        assert await subscribe(ws, bobs) == {"type": "subscribed", "meetings": [bobs.pk]}
        await sync_to_async(lifecycle.transition)(meeting_id=alices.pk, to="joining", source="t")
        await sync_to_async(lifecycle.transition)(meeting_id=bobs.pk, to="joining", source="t")
        # Events travel in publish order: had Alice's reached Bob, it would come first.
        assert (await recv(ws))["meeting"]["id"] == bobs.pk


async def test_it_sends_nothing_for_a_meeting_after_unsubscribe(
    daphne: str, alice: User, alice_key: str
) -> None:
    one = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    two = await sync_to_async(make_meeting)(alice, "klm-nopq-rst")
    async with ws_client(daphne, alice_key) as ws:
        await subscribe(ws, one, two)
        await send(
            ws,
            {
                "action": "unsubscribe",
                "meetings": [{"platform": "google_meet", "native_id": "abc-defg-hij"}],
            },
        )
        assert await recv(ws) == {"type": "unsubscribed", "meetings": [one.pk]}
        await sync_to_async(lifecycle.transition)(meeting_id=one.pk, to="joining", source="t")
        await sync_to_async(lifecycle.transition)(meeting_id=two.pk, to="joining", source="t")
        assert (await recv(ws))["meeting"]["id"] == two.pk


async def test_it_sends_every_status_of_a_full_lifecycle_in_order(
    daphne: str, alice: User, alice_key: str
) -> None:
    earlier = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    await sync_to_async(finish)(earlier)
    async with ws_client(daphne, alice_key) as ws:
        # The subscription names the native meeting, so it also sees the next bot's run,
        # including its `requested`.
        assert await subscribe(ws, earlier) == {"type": "subscribed", "meetings": [earlier.pk]}
        run = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
        for status in ("joining", "awaiting_admission", "active", "stopping"):
            await sync_to_async(lifecycle.transition)(meeting_id=run.pk, to=status, source="bot")
        await sync_to_async(lifecycle.transition)(
            meeting_id=run.pk, to="completed", source="bot", completion_reason="stopped"
        )
        got = [await recv(ws) for _ in range(6)]
    history = (await sync_to_async(Meeting.objects.get)(pk=run.pk)).data["status_transition"]
    assert got == [
        {
            "type": "meeting.status",
            "meeting": {"id": run.pk, "platform": "google_meet", "native_id": "abc-defg-hij"},
            "payload": {
                "status": entry["to"],
                "reason": None,
                "completion_reason": entry.get("completion_reason"),
                "failure_stage": None,
            },
            "ts": entry["timestamp"],
        }
        for entry in history
    ]
    assert [m["payload"]["status"] for m in got] == [
        "requested",
        "joining",
        "awaiting_admission",
        "active",
        "stopping",
        "completed",
    ]


@pytest.mark.parametrize(
    ("cause", "error"),
    [
        ({"reason": "admission timed out"}, "admission timed out"),
        (  # what the bot said in words, not its machine reason
            {
                "reason": "bot_error",
                "error_details": {"message": "the meeting page says: Meeting not found"},
            },
            "the meeting page says: Meeting not found",
        ),
    ],
)
async def test_a_failed_meeting_carries_its_reason_and_its_cause_as_the_error(
    daphne: str, alice: User, alice_key: str, cause: dict[str, Any], error: str
) -> None:
    meeting = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    async with ws_client(daphne, alice_key) as ws:
        await subscribe(ws, meeting)
        await sync_to_async(lifecycle.transition)(
            meeting_id=meeting.pk,
            to="failed",
            source="bot",
            completion_reason="awaiting_admission_timeout",
            **cause,
        )
        message = await recv(ws)
    # The seed's cookbook shows `payload.error` to the user.
    assert message["payload"] == {
        "status": "failed",
        "reason": cause["reason"],
        "completion_reason": "awaiting_admission_timeout",
        "failure_stage": "requested",
        "error": error,
    }


async def test_it_sends_mutable_then_finalized_segments_in_the_seed_shape(
    daphne: str, alice: User, alice_key: str
) -> None:
    meeting = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    session = await sync_to_async(MeetingSession.objects.create)(meeting=meeting)
    async with ws_client(daphne, alice_key) as ws:
        await subscribe(ws, meeting)
        await sync_to_async(write_segments)(
            meeting, session, [SegmentChange("s1", 0.0, "Hello every", completed=False)]
        )
        await sync_to_async(write_segments)(
            meeting, session, [SegmentChange("s1", 0.0, "Hello everyone.", completed=True)]
        )
        mutable, finalized = await recv(ws), await recv(ws)
    stored = await sync_to_async(stored_transcript)(meeting)
    assert mutable["type"] == "transcript.mutable"
    assert finalized["type"] == "transcript.finalized"
    assert finalized["meeting"] == {"id": meeting.pk}
    assert mutable["payload"]["segments"][0]["text"] == "Hello every"
    assert mutable["payload"]["segments"][0]["completed"] is False
    assert finalized["payload"]["segments"] == stored
    segment = finalized["payload"]["segments"][0]
    seed_fields = {
        "text",
        "speaker",
        "language",
        "start",
        "end_time",
        "absolute_start_time",
        "absolute_end_time",
        "session_uid",
        "updated_at",
    }
    assert seed_fields | {"segment_id", "completed"} <= set(segment)
    assert segment["session_uid"] == session.session_uid
    assert segment["completed"] is True
    assert finalized["ts"].endswith("Z")


async def test_bootstrap_then_merge_equals_the_stored_transcript(
    daphne: str, alice: User, alice_key: str
) -> None:
    meeting = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    session = await sync_to_async(MeetingSession.objects.create)(
        meeting=meeting, started_at=timezone.now()
    )
    write = sync_to_async(write_segments)
    await write(meeting, session, [SegmentChange("s1", 0, "One.", True)])
    await write(meeting, session, [SegmentChange("s2", 2, "Two", False)])
    async with ws_client(daphne, alice_key) as ws:
        await subscribe(ws, meeting)
        # Published between subscribe and bootstrap (GET /transcripts): both see these.
        await write(meeting, session, [SegmentChange("s2", 2, "Two too.", True)])
        await write(meeting, session, [SegmentChange("s3", 4, "Thr", False)])
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(
                f"{daphne}/transcripts/google_meet/abc-defg-hij", headers={"X-API-Key": alice_key}
            )
        assert response.status_code == 200
        bootstrap = response.json()["segments"]
        await write(meeting, session, [SegmentChange("s3", 4, "Three", False)])
        await write(
            meeting,
            session,
            [SegmentChange("s3", 4, "Three.", True), SegmentChange("s4", 6, "Fou", False)],
        )
        await write(meeting, session, [SegmentChange("s4", 6, "Four.", True)])
        merged = {s["absolute_start_time"]: s for s in bootstrap}
        last_seen = None
        while last_seen != "Four.":
            message = await recv(ws)
            for segment in message["payload"]["segments"]:
                key = segment["absolute_start_time"]
                if key not in merged or segment["updated_at"] > merged[key]["updated_at"]:
                    merged[key] = segment
                last_seen = segment["text"]
    stored = await sync_to_async(stored_transcript)(meeting)
    assert sorted(merged.values(), key=lambda s: s["absolute_start_time"]) == stored
    assert [s["text"] for s in stored] == ["One.", "Two too.", "Three.", "Four."]


@dataclass
class Drained:
    count: int
    close_code: int | None


async def drain_until_closed(ws: Any) -> Drained:
    """Reads until the server closes the socket (each read within the deadline)."""
    count = 0
    while True:
        try:
            await recv(ws)
        except ConnectionClosed as closed:
            return Drained(count, closed.rcvd.code if closed.rcvd else None)
        count += 1


async def test_a_slow_client_does_not_stall_the_others_and_is_cut_off(
    daphne: str, alice: User, alice_key: str
) -> None:
    meeting = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    session = await sync_to_async(MeetingSession.objects.create)(meeting=meeting)
    text = "x" * 32_000
    count = 200
    # The slow client never reads: its socket buffers fill while the server keeps sending.
    async with (
        ws_client(daphne, alice_key, max_queue=1, max_size=None, close_timeout=0.2) as slow,
        ws_client(daphne, alice_key, max_size=None) as fast,
    ):
        await subscribe(slow, meeting)
        await subscribe(fast, meeting)
        received = []
        for n in range(count):
            await sync_to_async(realtime.publish_segments)(
                meeting_id=meeting.pk,
                kind="mutable",
                segments=[
                    {"segment_id": f"s{n}", "text": text, "session_uid": session.session_uid}
                ],
            )
            # The fast client keeps up (one message behind at most); the slow one falls behind.
            received.append(await recv(fast))
        assert [m["payload"]["segments"][0]["segment_id"] for m in received] == [
            f"s{n}" for n in range(count)
        ]
        # 6.4 MB were sent; past the 256 KiB cap the server hung up on the slow client.
        slow_got = await drain_until_closed(slow)
        assert slow_got.count < count
        # The close frame waits behind the unsent bytes; when the close handshake times out the
        # server drops the TCP connection and the client sees no code.
        assert slow_got.close_code in (CLOSE_TOO_SLOW, None)


async def test_a_client_that_subscribed_to_nothing_receives_nothing(
    daphne: str, alice: User, alice_key: str
) -> None:
    meeting = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    async with ws_client(daphne, alice_key) as ws:
        await sync_to_async(lifecycle.transition)(meeting_id=meeting.pk, to="joining", source="t")
        await sync_to_async(realtime.publish_segments)(
            meeting_id=meeting.pk, kind="mutable", segments=[{"segment_id": "s1", "text": "Hi"}]
        )
        await send(ws, {"action": "ping"})
        assert await recv(ws) == {"type": "pong"}


async def test_events_published_while_the_servers_redis_connection_is_down_are_not_lost(
    daphne: str, alice: User, alice_key: str
) -> None:
    meeting = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    redis = realtime.redis_client()
    db = str(redis.connection_pool.connection_kwargs.get("db", 0))

    def kill_fanout_connections() -> int:
        clients = redis.client_list()
        ids = [c["id"] for c in clients if c.get("name") == CLIENT_NAME and c.get("db") == db]
        for client_id in ids:
            redis.client_kill_filter(_id=client_id)
        return len(ids)

    def publish(text: str) -> None:
        realtime.publish_segments(
            meeting_id=meeting.pk, kind="mutable", segments=[{"segment_id": "s", "text": text}]
        )

    async with ws_client(daphne, alice_key) as ws:
        await subscribe(ws, meeting)
        await sync_to_async(publish)("before")
        assert (await recv(ws))["payload"]["segments"][0]["text"] == "before"
        # A Redis restart, a failover or a proxy dropping the connection: the server takes a
        # second to subscribe again, and pub/sub keeps nothing for it meanwhile.
        assert await sync_to_async(kill_fanout_connections)() >= 1  # its subscriber among them
        for text in ("while 1", "while 2", "while 3"):
            await sync_to_async(publish)(text)

        texts = [(await recv(ws))["payload"]["segments"][0]["text"] for _ in range(3)]
        await sync_to_async(publish)("after")
        texts.append((await recv(ws))["payload"]["segments"][0]["text"])
        await send(ws, {"action": "ping"})

        # Each once, in order, and nothing else.
        assert texts == ["while 1", "while 2", "while 3", "after"]
        assert await recv(ws) == {"type": "pong"}


async def test_a_key_revoked_while_connected_cannot_subscribe_any_more(
    daphne: str, alice: User
) -> None:
    meeting = await sync_to_async(make_meeting)(alice, "abc-defg-hij")
    issued = await sync_to_async(account_services.token_issue)(user=alice, scopes=["tx"])
    async with ws_client(daphne, issued.plain) as ws:
        await send(ws, {"action": "ping"})
        assert await recv(ws) == {"type": "pong"}
        await sync_to_async(account_services.token_revoke)(token_id=issued.token.pk)
        assert await subscribe(ws, meeting) == {"type": "error", "message": "Invalid API key"}
        assert await closed_with(ws) == 4401
