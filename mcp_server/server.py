"""The MCP methods this server answers, for one authenticated API key: the handshake
(`initialize`, `ping`), discovery (`server/discover`), the tools (`tools/list`, `tools/call`),
the prompts (`prompts/list`, `prompts/get`) and the transcripts as resources (`resources/list`,
`resources/templates/list`, `resources/read`). What the key's scopes do not allow is neither
listed nor callable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from rest_framework import serializers

from accounts.models import ApiToken, User
from mcp_server import protocol, resources
from mcp_server.prompts import PROMPTS, PROMPTS_BY_NAME, Prompt
from mcp_server.protocol import Call, Handler, RpcError
from mcp_server.tools import TOOLS, TOOLS_BY_NAME, Tool
from vexa_site.errors import DomainError, field_errors

Named = TypeVar("Named", Tool, Prompt)

SERVER_INFO = {
    "name": "vexa-django",
    "title": "Meeting bots and live transcripts",
    "version": "1.0.0",
}
INSTRUCTIONS = (
    "Sends bots to Google Meet, Microsoft Teams and Zoom meetings and reads, searches and "
    "shares their transcripts, live while the meeting runs. A meeting is named by its platform "
    "and its id on that platform (native_meeting_id, e.g. google_meet abc-defg-hij); the same "
    "id met twice is told apart by meeting_id (the #number list_meetings shows), the newest by "
    "default. Times are UTC."
)
CAPABILITIES = {
    "tools": {"listChanged": False},
    "prompts": {"listChanged": False},
    "resources": {"subscribe": False, "listChanged": False},
}
# The scope that reads transcripts, which the resources are.
RESOURCE_SCOPE = "tx"


# What a caller's mistake or a refused operation raises, inside a tool or a prompt.
REFUSALS = (DomainError, serializers.ValidationError)


def _refusal(error: DomainError | serializers.ValidationError) -> str:
    """A refusal in words: the domain error's message, or the fields and what is wrong."""
    if isinstance(error, serializers.ValidationError):
        # The API's own flattening (its 422's `loc` and `msg`), said as `field: message`.
        return "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"]
            for e in field_errors(error.detail, [])
        )
    return error.message


def _tool_error(message: str) -> dict[str, Any]:
    # An error inside a tool is a result the model reads (and can correct), not a protocol
    # error, which clients show to the person or drop.
    return {"content": [{"type": "text", "text": message}], "isError": True}


class McpServer:
    """The method handlers for one request's user and token."""

    def __init__(self, *, user: User, token: ApiToken) -> None:
        self.user = user
        self.scopes = frozenset(token.scopes or [])

    def handlers(self) -> dict[str, Handler]:
        return {
            "initialize": self.initialize,
            "ping": self.ping,
            "server/discover": self.discover,
            "tools/list": self.tools_list,
            "tools/call": self.tools_call,
            "prompts/list": self.prompts_list,
            "prompts/get": self.prompts_get,
            "resources/list": self.resources_list,
            "resources/templates/list": self.resource_templates_list,
            "resources/read": self.resources_read,
        }

    def _allowed(self) -> list[Tool]:
        return [tool for tool in TOOLS if tool.scope in self.scopes]

    def _cacheable(
        self, call: Call, result: dict[str, Any], ttl_ms: int = protocol.TOOL_LIST_TTL_MS
    ) -> dict[str, Any]:
        if call.stateless:
            # A list depends on the key's scopes: cached per authorization, never shared.
            result |= {"ttlMs": ttl_ms, "cacheScope": "private"}
        return result

    def initialize(self, call: Call) -> dict[str, Any]:
        return {
            "protocolVersion": protocol.handshake_version(call.params.get("protocolVersion")),
            "capabilities": CAPABILITIES,
            "serverInfo": SERVER_INFO,
            "instructions": INSTRUCTIONS,
        }

    def ping(self, call: Call) -> dict[str, Any]:
        return {}

    def discover(self, call: Call) -> dict[str, Any]:
        return {
            "supportedVersions": list(protocol.SUPPORTED_VERSIONS),
            "capabilities": CAPABILITIES,
            "serverInfo": SERVER_INFO,
            "instructions": INSTRUCTIONS,
            "ttlMs": protocol.TOOL_LIST_TTL_MS,
            "cacheScope": "private",
        }

    def tools_list(self, call: Call) -> dict[str, Any]:
        return self._cacheable(call, {"tools": [tool.listing() for tool in self._allowed()]})

    def _named(
        self, call: Call, registry: Mapping[str, Named], kind: str
    ) -> tuple[Named, Mapping[str, Any]]:
        """The tool or prompt `params.name` names, if the key's scopes allow it, and its
        arguments."""
        name = call.params.get("name")
        named = registry.get(name) if isinstance(name, str) else None
        if named is None:
            raise RpcError(protocol.INVALID_PARAMS, f"Unknown {kind}: {name}")
        if named.scope not in self.scopes:
            raise RpcError(
                protocol.INVALID_PARAMS,
                f"The API key lacks the {named.scope!r} scope that {name} needs",
            )
        arguments = call.params.get("arguments") or {}
        if not isinstance(arguments, Mapping):
            raise RpcError(protocol.INVALID_PARAMS, "arguments must be an object")
        return named, arguments

    def tools_call(self, call: Call) -> dict[str, Any]:
        tool, arguments = self._named(call, TOOLS_BY_NAME, "tool")
        try:
            output = tool.run(self.user, arguments)
        except REFUSALS as error:
            return _tool_error(_refusal(error))
        result: dict[str, Any] = {"content": [{"type": "text", "text": output.text}]}
        if output.data is not None:
            result["structuredContent"] = output.data
        return result

    def prompts_list(self, call: Call) -> dict[str, Any]:
        prompts = [prompt.listing() for prompt in PROMPTS if prompt.scope in self.scopes]
        return self._cacheable(call, {"prompts": prompts})

    def prompts_get(self, call: Call) -> dict[str, Any]:
        prompt, arguments = self._named(call, PROMPTS_BY_NAME, "prompt")
        try:
            text = prompt.fill(self.user, arguments)
        except REFUSALS as error:
            # A prompt has no error result: the person who picked it reads this message.
            raise RpcError(protocol.INVALID_PARAMS, _refusal(error)) from error
        return {
            "description": prompt.description,
            "messages": [{"role": "user", "content": {"type": "text", "text": text}}],
        }

    def _reads_transcripts(self) -> bool:
        return RESOURCE_SCOPE in self.scopes

    def resources_list(self, call: Call) -> dict[str, Any]:
        listed = (
            resources.resource_list(self.user, call.params.get("cursor"))
            if self._reads_transcripts()
            else {"resources": []}
        )
        # A new meeting is a new resource at once: not to be cached.
        return self._cacheable(call, listed, ttl_ms=0)

    def resource_templates_list(self, call: Call) -> dict[str, Any]:
        listed = resources.TEMPLATES if self._reads_transcripts() else []
        return self._cacheable(call, {"resourceTemplates": listed})

    def resources_read(self, call: Call) -> dict[str, Any]:
        if not self._reads_transcripts():
            raise RpcError(
                protocol.INVALID_PARAMS,
                f"The API key lacks the {RESOURCE_SCOPE!r} scope that transcripts need",
            )
        return resources.resource_read(self.user, call.params.get("uri"))
