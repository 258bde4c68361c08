"""The official MCP Python SDK's client, talking to a real Daphne: what Claude, Cursor and
other assistants use, in both protocol eras (the initialize handshake, and 2026-07-28)."""

from __future__ import annotations

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from accounts import services as account_services
from accounts.models import User
from meetings.models import Meeting
from tests.meetings.builders import cookbook_standup

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def standup(alice: User) -> Meeting:
    return cookbook_standup(alice)


@pytest.fixture
def bob_tx(bob: User) -> str:
    return account_services.token_issue(user=bob, scopes=["tx"]).plain


def client(daphne: str, key: str, mode: str) -> Client:
    # The key as a bearer token: the header MCP clients let a user set for a remote server.
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=20)
    return Client(streamable_http_client(f"{daphne}/mcp", http_client=http), mode=mode)


@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
async def test_an_sdk_client_lists_the_tools_and_reads_a_transcript(
    daphne: str, standup: Meeting, alice_key: str, mode: str, version: str
) -> None:
    async with client(daphne, alice_key, mode) as session:
        assert session.protocol_version == version
        tools = await session.list_tools()
        assert "get_transcript" in {tool.name for tool in tools.tools}
        prompt = await session.get_prompt(
            "summarize_meeting", {"platform": "google_meet", "native_meeting_id": "abc-defg-hij"}
        )
        assert "Bob: Great! What about the testing?" in prompt.messages[0].content.text  # type: ignore[union-attr]
        result = await session.call_tool(
            "get_transcript", {"platform": "google_meet", "native_meeting_id": "abc-defg-hij"}
        )
    assert result.is_error is not True
    [content] = result.content
    assert "[00:00:15] Bob: Great! What about the testing?" in content.text  # type: ignore[union-attr]
    assert result.structured_content["meeting_id"] == standup.pk


async def test_an_sdk_client_sees_a_tool_error_and_a_tool_out_of_its_keys_scope(
    daphne: str, bob_tx: str, standup: Meeting
) -> None:
    async with client(daphne, bob_tx, "auto") as session:
        theirs = await session.call_tool(
            "get_transcript", {"platform": "google_meet", "native_meeting_id": "abc-defg-hij"}
        )
        assert theirs.is_error is True
        assert theirs.content[0].text == "Meeting not found"  # type: ignore[union-attr]
        with pytest.raises(MCPError, match="lacks the 'bot' scope"):
            await session.call_tool("list_bots", {})
