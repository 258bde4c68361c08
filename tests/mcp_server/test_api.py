"""`POST /mcp`: the MCP endpoint, both protocol eras, its tools, keys and scopes."""

from __future__ import annotations

import itertools
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts import services as account_services
from accounts.models import User
from bots import services as bot_services
from mcp_server import resources, tools
from mcp_server.tools import TOOLS
from meetings import lifecycle
from meetings import services as meeting_services
from meetings.models import BotChatMessage, ChatMessage, Meeting, MeetingStatus
from tests.bots.test_api import enqueued_ids
from tests.meetings.builders import add_segments, cookbook_standup, meeting_in

pytestmark = pytest.mark.django_db
S = MeetingStatus
STATELESS = "2026-07-28"
_ids = itertools.count(1)


def key_for(user: User, scopes: list[str]) -> str:
    return account_services.token_issue(user=user, scopes=scopes).plain


def post(key: str | None, body: Any, **headers: str) -> Any:
    if key is not None:
        headers.setdefault("X-API-Key", key)
    return Client().post(
        "/mcp", data=json.dumps(body), content_type="application/json", headers=headers
    )


def rpc(key: str, method: str, params: dict[str, Any] | None = None, **headers: str) -> Any:
    """The JSON-RPC answer of a handshake-era request (asserted 200)."""
    body = {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params or {}}
    response = post(key, body, **headers)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["id"] == body["id"]
    return answer


MEET = {"platform": "google_meet", "native_meeting_id": "abc-defg-hij"}


def call(key: str, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool's result: `text` (its content joined) and `isError`, `data` (structuredContent)."""
    result = rpc(key, "tools/call", {"name": tool, "arguments": arguments})["result"]
    return {
        "text": "\n".join(c["text"] for c in result["content"]),
        "isError": result.get("isError", False),
        "data": result.get("structuredContent"),
    }


def stateless(
    key: str,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> Any:
    """A 2026-07-28 request: the version and capabilities in `_meta`, the routing headers."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    body = {
        "jsonrpc": "2.0",
        "id": next(_ids),
        "method": method,
        "params": {**(params or {}), "_meta": meta},
    }
    routing = {"MCP-Protocol-Version": STATELESS, "Mcp-Method": method}
    if method == "tools/call":
        routing["Mcp-Name"] = (params or {})["name"]
    return post(key, body, **{**routing, **(headers or {})})


@pytest.fixture
def alice_tx(alice: User) -> str:
    return key_for(alice, ["tx"])


@pytest.fixture
def alice_all(alice: User) -> str:
    return key_for(alice, ["bot", "tx"])


@pytest.fixture
def bob_all(bob: User) -> str:
    return key_for(bob, ["bot", "tx"])


# --- the handshake era --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "agreed"),
    [("2025-06-18", "2025-06-18"), ("2024-11-05", "2024-11-05"), ("2031-01-01", "2025-11-25")],
)
def test_initialize_agrees_on_the_clients_version_or_offers_its_newest(
    alice_tx: str, offered: str, agreed: str
) -> None:
    response = post(
        alice_tx,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": offered,
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        },
    )
    assert response.status_code == 200
    # Stateless: nothing ties a later request to this one.
    assert "Mcp-Session-Id" not in response.headers
    result = response.json()["result"]
    assert result["protocolVersion"] == agreed
    assert result["capabilities"] == {
        "tools": {"listChanged": False},
        "prompts": {"listChanged": False},
        "resources": {"subscribe": False, "listChanged": False},
    }
    assert result["serverInfo"]["name"]
    assert "native_meeting_id" in result["instructions"]


def test_a_notification_is_accepted_with_no_answer(alice_tx: str) -> None:
    response = post(alice_tx, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert response.status_code == 202
    assert response.content == b""


def test_a_key_is_needed_in_either_header(alice: User, alice_tx: str) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    missing = post(None, ping)
    assert missing.status_code == 401
    assert missing.json() == {"detail": "Missing API key"}
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert post(None, ping, Authorization="Bearer nope").status_code == 401
    assert post(None, ping, Authorization=f"Bearer {alice_tx}").json()["result"] == {}
    assert post(alice_tx, ping).json()["result"] == {}
    account_services.token_revoke(token_id=alice.api_tokens.get().pk)
    assert post(None, ping, Authorization=f"Bearer {alice_tx}").status_code == 401


def test_the_tools_listed_are_those_the_keys_scopes_allow(alice: User) -> None:
    def listed(scopes: list[str]) -> set[str]:
        tools = rpc(key_for(alice, scopes), "tools/list")["result"]["tools"]
        return {tool["name"] for tool in tools}

    reading = {"list_meetings", "search_transcripts", "get_transcript", "get_meeting"}
    reading |= {"search", "fetch"}
    writing = {"update_meeting", "create_share_link", "rename_speaker"}
    assert reading | writing == listed(["tx"])
    assert {"send_bot", "list_bots", "stop_bot", "update_bot_config", "post_in_chat"} == listed(
        ["bot"]
    )
    assert listed(["bot", "tx"]) == {tool.name for tool in TOOLS}
    assert listed(["browser"]) == set()


def test_every_tool_describes_its_arguments_and_effects(alice_all: str) -> None:
    tools = rpc(alice_all, "tools/list")["result"]["tools"]
    for tool in tools:
        schema = tool["inputSchema"]
        assert schema["type"] == "object"
        assert set(schema["required"]) <= set(schema["properties"])
        assert tool["description"]
    by_name = {tool["name"]: tool["annotations"] for tool in tools}
    assert by_name["get_transcript"]["readOnlyHint"] is True
    assert by_name["stop_bot"]["destructiveHint"] is True
    assert by_name["send_bot"]["readOnlyHint"] is False


def test_a_tool_outside_the_keys_scopes_cannot_be_called(alice_tx: str) -> None:
    answer = rpc(alice_tx, "tools/call", {"name": "list_bots", "arguments": {}})
    assert answer["error"]["code"] == -32602
    assert "'bot' scope" in answer["error"]["message"]
    unknown = rpc(alice_tx, "tools/call", {"name": "drop_tables", "arguments": {}})
    assert unknown["error"] == {"code": -32602, "message": "Unknown tool: drop_tables"}


def test_list_meetings_shows_the_callers_meetings_only_in_one_query(
    alice: User, bob: User, alice_tx: str, django_assert_num_queries: Any
) -> None:
    standup = cookbook_standup(alice)
    live = meeting_in(alice, S.ACTIVE, native_meeting_id="xyz-abcd-efg")
    meeting_in(bob, S.COMPLETED, native_meeting_id="bob-bobb-bob")
    call(alice_tx, "list_meetings")  # the key's last use is written once a minute
    with django_assert_num_queries(2):  # the key, the meetings
        got = call(alice_tx, "list_meetings")
    assert [m["meeting_id"] for m in got["data"]["meetings"]] == [live.pk, standup.pk]
    assert got["data"]["has_more"] is False
    assert f'#{standup.pk} google_meet abc-defg-hij "Team Standup": completed' in got["text"]
    assert "bob-bobb-bob" not in got["text"]
    completed = call(alice_tx, "list_meetings", status="completed", limit=1)
    assert [m["meeting_id"] for m in completed["data"]["meetings"]] == [standup.pk]


def test_get_transcript_reads_the_lines_and_another_users_meeting_is_not_found(
    alice: User, alice_tx: str, bob_all: str
) -> None:
    standup = cookbook_standup(alice)
    got = call(alice_tx, "get_transcript", **MEET)
    assert got["isError"] is False
    assert "Title: Team Standup" in got["text"]
    assert "[00:00:00] Alice: Hello everyone, welcome to today's meeting." in got["text"]
    assert "[00:00:15] Bob: Great! What about the testing?" in got["text"]
    assert got["data"]["meeting_id"] == standup.pk
    assert got["data"]["lines"] == 4
    assert got["data"]["next_from_time"] is None
    theirs = call(bob_all, "get_transcript", **MEET)
    assert theirs == {"text": "Meeting not found", "isError": True, "data": None}


def test_a_meeting_is_named_by_its_number_alone_too(alice: User, alice_tx: str) -> None:
    standup = cookbook_standup(alice)
    got = call(alice_tx, "get_transcript", meeting_id=standup.pk)
    assert "Title: Team Standup" in got["text"]
    unnamed = call(alice_tx, "get_transcript")
    assert unnamed["isError"] is True
    assert unnamed["text"].startswith("Name the meeting: platform and native_meeting_id")


def test_the_last_minutes_of_a_transcript_are_its_end(alice: User, alice_tx: str) -> None:
    cookbook_standup(alice)  # lines end at 5.2, 9.75, 14.5 and 18 s
    got = call(alice_tx, "get_transcript", **MEET, last_minutes=0.1)
    assert "[00:00:10] Alice: I've completed the feature implementation." in got["text"]
    assert "[00:00:15] Bob: Great! What about the testing?" in got["text"]
    assert "welcome to today's meeting" not in got["text"]
    assert "Let's start with updates" not in got["text"]
    assert call(alice_tx, "get_transcript", **MEET, last_minutes=0)["text"] == (
        "last_minutes: Ensure this value is greater than or equal to 0.1."
    )


def test_a_long_transcript_comes_in_parts_that_read_on_without_a_gap_or_a_repeat(
    alice: User, alice_tx: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools, "PAGE_CHARS", 200)
    meeting = meeting_in(alice, S.COMPLETED)
    # Three speakers answer within each second, so a part may not end between them.
    rows = [
        (n // 3 * 3 + n % 3 * 0.3, n // 3 * 3 + 1.0, "ABC"[n % 3], f"Point {n}.") for n in range(39)
    ]
    add_segments(meeting, rows, started_at=meeting.start_time)
    expected = [f"[00:00:{int(start):02d}] {who}: {text}" for start, _, who, text in rows]
    read, parts, args = [], 0, dict(MEET)
    while True:
        got = call(alice_tx, "get_transcript", **args)
        lines = [line for line in got["text"].splitlines() if line.startswith("[")]
        assert sum(len(line) + 1 for line in lines) <= 200
        read += lines
        parts += 1
        onward = got["data"]["next_from_time"]
        if onward is None:
            assert "It goes on" not in got["text"]
            break
        assert f'call get_transcript with from_time "{onward}"' in got["text"]
        args = {**MEET, "from_time": onward}
    assert read == expected
    assert parts >= 4
    late = call(alice_tx, "get_transcript", **MEET, from_time="1:00:00")
    assert late["text"].endswith("(Nothing was said from 1:00:00 on.)\n")
    assert call(alice_tx, "get_transcript", **MEET, from_time="noon")["text"] == (
        "from_time: Give a time of the transcript's lines: HH:MM:SS or MM:SS."
    )


def test_a_live_transcript_says_it_is_still_growing(alice: User, alice_tx: str) -> None:
    meeting = meeting_in(alice, S.ACTIVE)
    add_segments(meeting, [(0, 2, "Alice", "So far so good")], completed=False)
    got = call(alice_tx, "get_transcript", **MEET)
    assert got["text"].startswith("(The meeting is active: the transcript grows")
    assert "Alice: So far so good" in got["text"]


def test_a_deleted_transcript_says_it_was_deleted(alice: User, alice_tx: str) -> None:
    standup = cookbook_standup(alice)
    meeting_services.meeting_delete(meeting_id=standup.pk)
    got = call(alice_tx, "get_transcript", **MEET)
    assert got["text"].endswith("(Its transcript was deleted.)\n")
    assert "Alice:" not in got["text"]


def test_search_finds_the_meetings_and_the_line_that_says_the_words(
    alice: User, bob: User, alice_tx: str
) -> None:
    standup = cookbook_standup(alice)
    other = meeting_in(alice, S.COMPLETED, native_meeting_id="xyz-abcd-efg")
    add_segments(other, [(0, 3, "Carol", "The budget is fine.")])
    bobs = meeting_in(bob, S.COMPLETED, native_meeting_id="bob-bobb-bob")
    add_segments(bobs, [(0, 3, "Bob", "Testing the budget.")])
    got = call(alice_tx, "search_transcripts", query="testing")
    assert [m["meeting_id"] for m in got["data"]["meetings"]] == [standup.pk]
    assert got["data"]["meetings"][0]["first_line"] == "Great! What about the testing?"
    assert "  said: Great! What about the testing?" in got["text"]
    budget = call(alice_tx, "search_transcripts", query="budget")
    assert [m["meeting_id"] for m in budget["data"]["meetings"]] == [other.pk]
    nothing = call(alice_tx, "search_transcripts", query="quarterly")
    assert nothing["text"].startswith("No meeting has every word of 'quarterly'")
    assert call(alice_tx, "search_transcripts", query='""')["text"] == (
        "query: There is no word in it to find."
    )
    too_many = call(alice_tx, "search_transcripts", query="a b c d e f g h i")
    assert too_many["isError"] is True
    assert too_many["text"].startswith("query: Search for at most 8 words")


def test_search_and_fetch_answer_in_chatgpts_shapes(
    alice: User, bob: User, alice_tx: str, bob_all: str
) -> None:
    """ChatGPT's deep research uses a connector only through `search` and `fetch`, each
    answering one text item that holds JSON of a fixed shape."""
    standup = cookbook_standup(alice)
    other = meeting_in(alice, S.COMPLETED, native_meeting_id="xyz-abcd-efg")
    add_segments(other, [(0, 3, "Carol", "The budget is fine.")])
    bobs = meeting_in(bob, S.COMPLETED, native_meeting_id="bob-bobb-bob")
    add_segments(bobs, [(0, 3, "Bob", "Testing the feature.")])

    def ids(got: dict[str, Any]) -> list[str]:
        assert got["isError"] is False, got["text"]
        assert json.loads(got["text"]) == got["data"]
        return [result["id"] for result in got["data"]["results"]]

    # A question: its common words are left out, and the rest must all be said.
    asked = call(alice_tx, "search", query="What about the testing of the feature?")
    assert ids(asked) == [f"meeting://{standup.pk}"]
    assert asked["data"]["results"] == [
        {
            "id": f"meeting://{standup.pk}",
            "title": "Team Standup",
            "url": f"{settings.PUBLIC_BASE_URL}/dashboard/meetings/{standup.pk}",
        }
    ]
    # No meeting has every word: those with most of them, then the newest.
    assert ids(call(alice_tx, "search", query="budget testing feature")) == [
        f"meeting://{standup.pk}",
        f"meeting://{other.pk}",
    ]
    assert ids(call(alice_tx, "search", query="budget")) == [f"meeting://{other.pk}"]
    # Another form of a word finds the line: "completed the feature ... testing".
    stems = call(alice_tx, "search", query="Were the features tested before completing?")
    assert ids(stems) == [f"meeting://{standup.pk}"]
    assert ids(call(alice_tx, "search", query="quarterly")) == []
    assert ids(call(alice_tx, "search", query="")) == [
        f"meeting://{other.pk}",
        f"meeting://{standup.pk}",
    ]
    nine = call(alice_tx, "search", query="one two three four five six seven eight testing")
    assert ids(nine) == []  # the first eight words count, as in search_transcripts

    got = call(alice_tx, "fetch", id=f"meeting://{standup.pk}")
    assert got["isError"] is False
    document = json.loads(got["text"])
    assert document == got["data"]
    assert document["id"] == f"meeting://{standup.pk}"
    assert document["title"] == "Team Standup"
    assert "[00:00:15] Bob: Great! What about the testing?" in document["text"]
    assert document["url"] == f"{settings.PUBLIC_BASE_URL}/dashboard/meetings/{standup.pk}"
    assert document["metadata"]["platform"] == "google_meet"
    assert document["metadata"]["status"] == "completed"
    assert call(alice_tx, "fetch", id=str(standup.pk))["data"] == document

    assert call(alice_tx, "fetch", id=f"meeting://{bobs.pk}")["text"] == "Meeting not found"
    assert ids(call(bob_all, "search", query="budget")) == []
    refused = call(alice_tx, "fetch", id="https://example.com/1")
    assert refused["isError"] is True
    assert refused["text"] == "id: An id that search returned: meeting://<number>."


def test_a_search_word_is_cut_to_the_start_its_forms_share() -> None:
    cut = {
        "decisions": "decision",
        "companies": "compan",
        "planned": "plan",
        "shipping": "ship",
        "classes": "class",
        "fixes": "fix",
        "notes": "note",
        "decided": "decid",
        "added": "add",  # not "ad": address, admin
        "status": "status",  # not a plural
        "analysis": "analysis",
        "boss": "boss",
        "bus": "bus",  # too short to cut
        "action items": "action items",  # a phrase is found as said
    }
    assert {word: tools.word_stem(word) for word in cut} == cut


def test_get_meeting_tells_who_attended_and_spoke_and_what_the_chat_said(
    alice: User, alice_tx: str
) -> None:
    standup = cookbook_standup(alice)
    seen_at = standup.created_at.replace(hour=10, minute=0, second=5, microsecond=0)
    ChatMessage.objects.create(
        meeting=standup, sender="Bob", text="The doc:\n https://example.com/doc", seen_at=seen_at
    )
    got = call(alice_tx, "get_meeting", **MEET)
    assert got["data"]["id"] == standup.pk
    assert got["data"]["data"]["name"] == "Team Standup"
    assert "spoke: Alice 10 s (56%), Bob 8 s (44%)" in got["text"]
    assert "ended: meeting_ended" in got["text"]
    assert "status history: requested -> joining -> awaiting_admission -> active" in got["text"]
    assert got["text"].endswith(
        "chat (1 messages):\n10:00:05 Bob: The doc: https://example.com/doc"
    )
    fetched = call(alice_tx, "fetch", id=f"meeting://{standup.pk}")["data"]["text"]
    assert fetched.endswith("10:00:05 Bob: The doc: https://example.com/doc")


def test_get_meeting_says_why_a_bot_failed(alice: User, alice_tx: str) -> None:
    meeting = meeting_in(alice, S.JOINING)
    lifecycle.transition(
        meeting_id=meeting.pk,
        to=S.FAILED,
        source="bot_callback",
        error_details={"message": "the meeting page says: Meeting not found"},
    )
    got = call(alice_tx, "get_meeting", **MEET)
    assert "failed while joining: the meeting page says: Meeting not found" in got["text"]


def test_update_meeting_changes_only_the_fields_given(alice: User, alice_tx: str) -> None:
    standup = cookbook_standup(alice)
    got = call(
        alice_tx,
        "update_meeting",
        **MEET,
        notes="Ship on Friday",
    )
    assert got["isError"] is False
    standup.refresh_from_db()
    assert standup.data["name"] == "Team Standup"
    assert standup.data["notes"] == "Ship on Friday"
    wrong = call(
        alice_tx,
        "update_meeting",
        **MEET,
        participants="Alice",
    )
    assert wrong["isError"] is True
    assert wrong["text"].startswith("participants: ")


def test_rename_speaker_names_a_speaker_throughout_the_transcript(
    alice: User, alice_tx: str, bob_all: str
) -> None:
    standup = cookbook_standup(alice)
    bot_services.bot_attendance_record(
        meeting_id=standup.pk,
        attendance=[
            {"name": "Alice", "joined_at": "2026-12-06T12:00:05Z", "left_at": None},
            {"name": "Bob", "joined_at": "2026-12-06T12:00:07Z", "left_at": None},
        ],
    )
    got = call(alice_tx, "rename_speaker", **MEET, speaker="Bob", name="Robert")
    assert got["isError"] is False
    assert got["text"].startswith("Bob is Robert now, in 2 segment(s) of #")
    assert got["data"]["speaker_names"] == {"Bob": "Robert"}
    assert (
        "Robert: Great! What about the testing?" in call(alice_tx, "get_transcript", **MEET)["text"]
    )
    meeting_text = call(alice_tx, "get_meeting", **MEET)["text"]
    assert "attended: Alice, Robert (on the call as Bob)" in meeting_text
    assert "spoke: Alice 10 s (56%), Robert 8 s (44%)" in meeting_text
    missing = call(alice_tx, "rename_speaker", **MEET, speaker="Bob", name="Bobby")
    assert missing == {
        "text": "No line of this transcript is said by 'Bob' (its speakers: Alice, Robert)",
        "isError": True,
        "data": None,
    }
    theirs = call(bob_all, "rename_speaker", meeting_id=standup.pk, speaker="Alice", name="Eve")
    assert theirs["text"] == "Meeting not found"


def test_a_share_link_serves_the_transcript_without_a_key(alice: User, alice_tx: str) -> None:
    cookbook_standup(alice)
    got = call(
        alice_tx,
        "create_share_link",
        **MEET,
        ttl_seconds=600,
    )
    public = Client().get(urlsplit(got["data"]["url"]).path)
    assert public.status_code == 200
    assert "Bob: Great! What about the testing?" in public.content.decode()
    too_short = call(
        alice_tx,
        "create_share_link",
        **MEET,
        ttl_seconds=5,
    )
    assert too_short["text"] == "ttl_seconds: Ensure this value is greater than or equal to 60."


def test_send_bot_requests_a_bot_that_is_enqueued_after_commit(
    alice_all: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        got = call(
            alice_all,
            "send_bot",
            meeting_url="https://meet.google.com/abc-defg-hij",
            bot_name="Notes",
            language="en",
        )
    assert got["isError"] is False, got["text"]
    meeting = Meeting.objects.get(pk=got["data"]["id"])
    assert enqueued_ids(callbacks) == [meeting.pk]
    assert (meeting.platform, meeting.native_meeting_id, meeting.status) == (
        "google_meet",
        "abc-defg-hij",
        S.REQUESTED,
    )
    assert meeting.bot_config["bot_name"] == "Notes"
    assert meeting.bot_config["language"] == "en"
    listed = call(alice_all, "list_bots")
    assert [m["meeting_id"] for m in listed["data"]["running_bots"]] == [meeting.pk]
    again = call(alice_all, "send_bot", **MEET)
    assert again["isError"] is True
    assert "already" in again["text"]


def test_send_bot_says_what_is_wrong_with_a_meeting(alice_all: str) -> None:
    got = call(alice_all, "send_bot", platform="google_meet", native_meeting_id="not a meet id")
    assert got["isError"] is True
    assert "abc-defg-hij" in got["text"]  # the format it expected
    assert not Meeting.objects.exists()


def test_stop_bot_stops_only_the_callers_bot(alice: User, alice_all: str, bob_all: str) -> None:
    meeting = bot_services.bot_create(
        user=alice, platform="google_meet", native_meeting_id="abc-defg-hij"
    )
    assert call(bob_all, "stop_bot", **MEET) == {
        "text": "Bot not found",
        "isError": True,
        "data": None,
    }
    got = call(alice_all, "stop_bot", **MEET)
    assert got["isError"] is False
    meeting.refresh_from_db()
    # Not started yet, so never started: completed at once.
    assert meeting.status == S.COMPLETED
    assert meeting.data["status_transition"][-1]["source"] == "mcp"


def test_a_bot_named_by_its_meetings_number_is_that_calls_bot(alice: User, alice_all: str) -> None:
    earlier = meeting_in(alice, S.COMPLETED)
    live = bot_services.bot_create(
        user=alice, platform="google_meet", native_meeting_id="abc-defg-hij"
    )
    # The finished call has no bot: the later call's is not stopped in its name.
    assert call(alice_all, "stop_bot", meeting_id=earlier.pk)["text"] == "Bot not found"
    assert call(alice_all, "stop_bot", meeting_id=live.pk)["isError"] is False
    live.refresh_from_db()
    assert live.status == S.COMPLETED


def test_update_bot_config_reaches_only_an_active_bot(alice: User, alice_all: str) -> None:
    meeting_in(alice, S.AWAITING_ADMISSION)
    waiting = call(alice_all, "update_bot_config", **MEET, task="translate")
    assert waiting["isError"] is True
    assert "active" in waiting["text"]
    assert call(alice_all, "update_bot_config", **MEET, task="sing")["text"] == (
        'task: "sing" is not a valid choice.'
    )


def test_post_in_chat_asks_the_bot_in_the_call_to_post(
    alice: User, alice_all: str, bob_all: str
) -> None:
    waiting = meeting_in(alice, S.AWAITING_ADMISSION)
    refused = call(alice_all, "post_in_chat", **MEET, text="Hello")
    assert refused["isError"] is True
    assert "only a bot in the call" in refused["text"]
    lifecycle.transition(meeting_id=waiting.pk, to=S.ACTIVE, source="bot_callback")
    assert call(alice_all, "post_in_chat", **MEET, text="")["text"] == (
        "text: This field may not be blank."
    )
    got = call(alice_all, "post_in_chat", **MEET, text="This call is transcribed.")
    assert got["isError"] is False
    [message] = BotChatMessage.objects.filter(meeting=waiting)
    assert got["data"]["chat_message_id"] == message.pk
    assert message.text == "This call is transcribed."
    assert call(bob_all, "post_in_chat", **MEET, text="Hi")["text"] == "Bot not found"


def test_the_summary_prompt_carries_the_transcript_of_the_callers_meeting_only(
    alice: User, alice_tx: str, bob_all: str, bob: User
) -> None:
    cookbook_standup(alice)
    [listed] = rpc(alice_tx, "prompts/list")["result"]["prompts"]
    assert listed["name"] == "summarize_meeting"
    assert [a["name"] for a in listed["arguments"]] == [
        "platform",
        "native_meeting_id",
        "meeting_id",
    ]
    got = rpc(alice_tx, "prompts/get", {"name": "summarize_meeting", "arguments": MEET})
    [message] = got["result"]["messages"]
    assert message["role"] == "user"
    assert message["content"]["text"].startswith("Summarize this meeting")
    assert (
        "[00:00:10] Alice: I've completed the feature implementation."
        in (message["content"]["text"])
    )
    theirs = rpc(bob_all, "prompts/get", {"name": "summarize_meeting", "arguments": MEET})
    assert theirs["error"] == {"code": -32602, "message": "Meeting not found"}
    bad_pick = {**MEET, "meeting_id": "first"}
    wrong = rpc(alice_tx, "prompts/get", {"name": "summarize_meeting", "arguments": bad_pick})
    assert wrong["error"]["message"] == "meeting_id: A valid integer is required."
    # A key without the `tx` scope reads no transcript, through a prompt either.
    bot_only = key_for(alice, ["bot"])
    assert rpc(bot_only, "prompts/list")["result"]["prompts"] == []
    refused = rpc(bot_only, "prompts/get", {"name": "summarize_meeting", "arguments": MEET})
    assert refused["error"]["code"] == -32602


# --- the transport ------------------------------------------------------------------------------


def test_each_meeting_is_a_resource_its_transcript_read_by_its_owner_only(
    alice: User, alice_tx: str, bob_all: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    standup = cookbook_standup(alice)
    later = meeting_in(alice, S.ACTIVE, native_meeting_id="liv-emee-tin")
    listed = rpc(alice_tx, "resources/list")["result"]
    assert [r["uri"] for r in listed["resources"]] == [
        f"meeting://{later.pk}",
        f"meeting://{standup.pk}",
    ]
    assert listed["resources"][1]["title"] == "Team Standup"
    assert listed["resources"][1]["mimeType"] == "text/plain"
    assert "nextCursor" not in listed
    monkeypatch.setattr(resources, "PAGE_SIZE", 1)
    first = rpc(alice_tx, "resources/list")["result"]
    # A meeting created between two pages goes first in a new listing, not into the next page
    # (an offset would have shown `later` again).
    meeting_in(alice, S.COMPLETED, native_meeting_id="new-meet-ing")
    rest = rpc(alice_tx, "resources/list", {"cursor": first["nextCursor"]})["result"]
    assert [r["uri"] for r in first["resources"] + rest["resources"]] == [
        r["uri"] for r in listed["resources"]
    ]
    assert "nextCursor" not in rest
    for bad in ("x", "1", "12.x", 12):
        assert rpc(alice_tx, "resources/list", {"cursor": bad})["error"]["code"] == -32602
    [template] = rpc(alice_tx, "resources/templates/list")["result"]["resourceTemplates"]
    assert template["uriTemplate"] == "meeting://{meeting_id}"

    read = rpc(alice_tx, "resources/read", {"uri": f"meeting://{standup.pk}"})["result"]
    [content] = read["contents"]
    assert content["uri"] == f"meeting://{standup.pk}"
    assert "[00:00:15] Bob: Great! What about the testing?" in content["text"]
    # Another user's meeting, or an address this server does not serve: not found (SEP-2164).
    theirs = rpc(bob_all, "resources/read", {"uri": f"meeting://{standup.pk}"})["error"]
    assert theirs == {
        "code": -32602,
        "message": "Meeting not found",
        "data": {"uri": f"meeting://{standup.pk}"},
    }
    assert rpc(bob_all, "resources/list")["result"]["resources"] == []
    odd = rpc(alice_tx, "resources/read", {"uri": "file:///etc/passwd"})["error"]
    assert (odd["code"], odd["message"]) == (-32602, "Resource not found")
    # A key without the transcripts' scope lists none and reads none.
    bots_only = key_for(alice, ["bot"])
    assert rpc(bots_only, "resources/list")["result"]["resources"] == []
    refused = rpc(bots_only, "resources/read", {"uri": f"meeting://{standup.pk}"})["error"]
    assert refused["message"] == "The API key lacks the 'tx' scope that transcripts need"


def test_a_stateless_resource_read_names_its_uri_in_the_header(alice: User, alice_tx: str) -> None:
    standup = cookbook_standup(alice)
    uri = f"meeting://{standup.pk}"
    named = stateless(alice_tx, "resources/read", {"uri": uri}, headers={"Mcp-Name": uri})
    assert named.status_code == 200, named.content
    assert "Team Standup" in named.json()["result"]["contents"][0]["text"]
    other = stateless(alice_tx, "resources/read", {"uri": uri}, headers={"Mcp-Name": "meeting://1"})
    assert other.status_code == 400
    assert other.json()["error"]["code"] == -32020


def test_a_body_that_is_not_json_rpc_is_a_400_with_a_json_rpc_error(alice_tx: str) -> None:
    broken = Client().post(
        "/mcp", data="{", content_type="application/json", headers={"X-API-Key": alice_tx}
    )
    assert broken.status_code == 400
    assert broken.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "Parse error: the body is not JSON"},
    }
    assert post(alice_tx, {"id": 1, "method": "ping"}).json()["error"]["code"] == -32600
    assert post(alice_tx, []).json()["error"] == {"code": -32600, "message": "Empty batch"}
    deep: Any = "x"
    for _ in range(40):
        deep = [deep]
    nested = post(alice_tx, {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"a": deep}})
    assert nested.status_code == 400
    assert rpc(alice_tx, "completion/complete")["error"] == {
        "code": -32601,
        "message": "Method not found: completion/complete",
    }


def test_a_batch_is_answered_message_by_message(alice_tx: str) -> None:
    response = post(
        alice_tx,
        [
            {"jsonrpc": "2.0", "id": "a", "method": "ping"},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": "b", "method": "nope"},
        ],
    )
    assert response.status_code == 200
    assert [(a["id"], "error" in a) for a in response.json()] == [("a", False), ("b", True)]


def test_an_unsupported_protocol_version_header_is_a_400(alice_tx: str) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    assert post(alice_tx, ping, **{"MCP-Protocol-Version": "2025-06-18"}).status_code == 200
    refused = post(alice_tx, ping, **{"MCP-Protocol-Version": "1.0"})
    assert refused.status_code == 400
    assert "Unsupported MCP-Protocol-Version '1.0'" in refused.json()["error"]["message"]


def test_a_browser_page_of_another_origin_is_refused(alice_tx: str) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    assert post(alice_tx, ping, Origin="https://evil.example").status_code == 403
    assert post(alice_tx, ping, Origin="http://testserver").status_code == 200


def test_there_is_no_event_stream_or_session_to_end(alice_tx: str) -> None:
    assert Client().get("/mcp", headers={"X-API-Key": alice_tx}).status_code == 405
    assert Client().delete("/mcp", headers={"X-API-Key": alice_tx}).status_code == 405
    assert reverse("mcp") == "/mcp"


# --- the stateless era (2026-07-28) -------------------------------------------------------------


def test_discover_names_every_version_served(alice_tx: str) -> None:
    response = stateless(alice_tx, "server/discover")
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["resultType"] == "complete"
    assert result["supportedVersions"] == [
        "2024-11-05",
        "2025-03-26",
        "2025-06-18",
        "2025-11-25",
        STATELESS,
    ]
    assert result["capabilities"]["tools"] == {"listChanged": False}
    assert result["cacheScope"] == "private"


def test_stateless_requests_are_answered_with_result_types_and_cache_hints(
    alice: User, alice_tx: str
) -> None:
    cookbook_standup(alice)
    listed = stateless(alice_tx, "tools/list").json()["result"]
    assert listed["resultType"] == "complete"
    assert (listed["cacheScope"], listed["ttlMs"] > 0) == ("private", True)
    called = stateless(
        alice_tx,
        "tools/call",
        {"name": "list_meetings", "arguments": {}},
    ).json()["result"]
    assert called["resultType"] == "complete"
    assert "Team Standup" in called["content"][0]["text"]


def test_stateless_errors_carry_the_http_status_of_their_code(alice_tx: str) -> None:
    unknown_method = stateless(alice_tx, "completion/complete")
    assert unknown_method.status_code == 404
    assert unknown_method.json()["error"]["code"] == -32601
    unknown_tool = stateless(alice_tx, "tools/call", {"name": "nope", "arguments": {}})
    assert unknown_tool.status_code == 400
    assert unknown_tool.json()["error"] == {"code": -32602, "message": "Unknown tool: nope"}
    # A refused call is still a result the model reads, not an HTTP error.
    refused = stateless(alice_tx, "tools/call", {"name": "get_transcript", "arguments": {**MEET}})
    assert refused.status_code == 200
    assert refused.json()["result"]["isError"] is True


def test_stateless_headers_must_agree_with_the_body(alice_tx: str) -> None:
    wrong_method = stateless(alice_tx, "tools/list", headers={"Mcp-Method": "tools/call"})
    assert wrong_method.status_code == 400
    assert wrong_method.json()["error"]["code"] == -32020
    listing = {"name": "list_meetings", "arguments": {}}
    wrong_name = stateless(alice_tx, "tools/call", listing, headers={"Mcp-Name": "x"})
    assert wrong_name.json()["error"]["code"] == -32020
    no_meta = post(
        alice_tx,
        {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {}},
        **{"MCP-Protocol-Version": STATELESS, "Mcp-Method": "server/discover"},
    )
    assert no_meta.status_code == 400
    assert no_meta.json()["error"]["code"] == -32602


def test_an_unknown_stateless_version_is_refused_naming_those_served(alice_tx: str) -> None:
    later = "2027-03-01"
    response = post(
        alice_tx,
        {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "tools/list",
            "params": {
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": later,
                    "io.modelcontextprotocol/clientCapabilities": {},
                }
            },
        },
        **{"MCP-Protocol-Version": later, "Mcp-Method": "tools/list"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == -32022
    assert error["data"]["requested"] == later
    assert STATELESS in error["data"]["supported"]


def test_the_openapi_document_describes_mcp_with_its_bearer_key(client: Client) -> None:
    document = client.get("/openapi.json").json()
    assert document["paths"]["/mcp"]["post"]["security"] == [{"BearerApiKeyAuth": []}]
    assert document["components"]["securitySchemes"]["BearerApiKeyAuth"]["scheme"] == "bearer"
    # OAuth's endpoints are described by its own metadata, not here.
    assert not any(path.startswith("/oauth/") for path in document["paths"])
