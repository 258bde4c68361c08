"""The official MCP Python SDK's client, talking to a real Daphne: what Claude, Cursor and
other assistants use, in both protocol eras (the initialize handshake, and 2026-07-28), with a
key or through OAuth."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from mcp.shared.exceptions import MCPError
from pydantic import AnyUrl

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
        # The transcript as a resource, as a person attaches it to the conversation.
        listed = await session.list_resources()
        assert [str(r.uri) for r in listed.resources] == [f"meeting://{standup.pk}"]
        templates = await session.list_resource_templates()
        assert [t.uri_template for t in templates.resource_templates] == ["meeting://{meeting_id}"]
        read = await session.read_resource(f"meeting://{standup.pk}")
        assert "[00:00:15] Bob: Great! What about the testing?" in read.contents[0].text  # type: ignore[union-attr]
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


class MemoryStorage:
    """Where the SDK keeps its registration and tokens (an assistant keeps them on disk)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def _form_fields(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))


async def test_an_sdk_client_connects_through_oauth_with_the_users_consent(
    daphne: str, alice_key: str, standup: Meeting
) -> None:
    """No key is configured: the SDK finds the authorization server from `/mcp`'s 401,
    registers, sends the user to the consent page (here a scripted browser, signed in to the
    dashboard, that clicks Allow), and exchanges the code for a key."""
    async with httpx.AsyncClient(base_url=daphne, timeout=20) as browser:
        login = await browser.get("/dashboard/login")
        token = _form_fields(login.text)["csrfmiddlewaretoken"]
        signed = await browser.post(
            "/dashboard/login", data={"api_key": alice_key, "csrfmiddlewaretoken": token}
        )
        assert signed.status_code == 302
        redirected: dict[str, str] = {}

        async def open_consent_page(url: str) -> None:
            page = await browser.get(url)
            assert page.status_code == 200, page.text
            allow = {**_form_fields(page.text), "decision": "allow"}
            answer = await browser.post("/oauth/authorize", data=allow)
            query = parse_qs(urlsplit(answer.headers["location"]).query)
            redirected.update({key: values[0] for key, values in query.items()})

        async def read_callback() -> AuthorizationCodeResult:
            return AuthorizationCodeResult(**redirected)

        auth = OAuthClientProvider(
            server_url=f"{daphne}/mcp",
            client_metadata=OAuthClientMetadata(
                client_name="SDK test", redirect_uris=[AnyUrl("http://localhost:8976/callback")]
            ),
            storage=MemoryStorage(),
            redirect_handler=open_consent_page,
            callback_handler=read_callback,
        )
        http = httpx2.AsyncClient(auth=auth, timeout=20)
        transport = streamable_http_client(f"{daphne}/mcp", http_client=http)
        async with Client(transport, mode="auto") as session:
            result = await session.call_tool("list_meetings", {})
    assert "Team Standup" in result.content[0].text  # type: ignore[union-attr]
    assert redirected["iss"] == daphne
