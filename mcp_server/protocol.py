"""The Model Context Protocol's JSON-RPC layer over Streamable HTTP, without sessions.

Two eras of the protocol are answered at one endpoint:

- the handshake era (2024-11-05 to 2025-11-25): `initialize` agrees on a version; later requests
  name it in the `MCP-Protocol-Version` header (absent: 2025-03-26, as that revision's clients
  send none); 2025-03-26 also allows a batch (a JSON array of messages);
- the stateless era (2026-07-28): no handshake; each request carries its version and the
  client's capabilities in `params._meta`, and the `MCP-Protocol-Version`, `Mcp-Method` and
  `Mcp-Name` headers that gateways route on must agree with the body; `server/discover` says
  what the server speaks.

No session id is issued, and nothing is kept between requests: any web process answers any
request, as for the REST API, so MCP scales out with Daphne and needs no sticky sessions. Every
request is a POST answered by one JSON body (no server-sent events: no tool streams).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vexa_site.input_guard import json_problem

logger = logging.getLogger(__name__)

HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
STATELESS_VERSIONS = ("2026-07-28",)
SUPPORTED_VERSIONS = (*HANDSHAKE_VERSIONS, *STATELESS_VERSIONS)
# What a handshake-era request without the header speaks (the 2025-06-18 transport's rule).
HEADERLESS_VERSION = "2025-03-26"
VERSION_HEADER = "MCP-Protocol-Version"
METHOD_HEADER = "Mcp-Method"
NAME_HEADER = "Mcp-Name"
VERSION_META = "io.modelcontextprotocol/protocolVersion"
CAPABILITIES_META = "io.modelcontextprotocol/clientCapabilities"
# Which parameter a stateless request's `Mcp-Name` header repeats, per method.
NAMED_PARAMS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
# How long a stateless client may reuse a tool list (the tools change only with a deploy).
TOOL_LIST_TTL_MS = 300_000

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
HEADER_MISMATCH = -32020
UNSUPPORTED_VERSION = -32022
# The HTTP status of a 2026-07-28 error response, by JSON-RPC code (others: 200).
STATELESS_STATUS = {INVALID_PARAMS: 400, INVALID_REQUEST: 400, METHOD_NOT_FOUND: 404}

RequestId = str | int


class RpcError(Exception):
    """A request answered with a JSON-RPC error. `http_status` is set where the transport asks
    for one whatever the era (a body that is not JSON-RPC, an unsupported version, headers that
    disagree with the body); otherwise the stateless era maps the code (`STATELESS_STATUS`) and
    the handshake era answers 200: the HTTP exchange worked, the method refused."""

    def __init__(
        self, code: int, message: str, *, data: Any = None, http_status: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.http_status = http_status

    def body(self, request_id: RequestId | None) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return {"jsonrpc": "2.0", "id": request_id, "error": error}

    def status(self, *, stateless: bool) -> int:
        if self.http_status is not None:
            return self.http_status
        return STATELESS_STATUS.get(self.code, 200) if stateless else 200


@dataclass(frozen=True)
class Call:
    """One JSON-RPC request (or notification, `id` None) as the handlers see it: the method,
    its `params` (an object), and the protocol version the request speaks."""

    method: str
    params: Mapping[str, Any]
    version: str
    id: RequestId | None = None

    @property
    def stateless(self) -> bool:
        return self.version in STATELESS_VERSIONS


@dataclass
class Reply:
    """What the endpoint sends back: a JSON body (None: 202 Accepted, nothing to say) and the
    HTTP status."""

    body: Any = None
    status: int = 200


Handler = Callable[[Call], dict[str, Any]]


def handshake_version(requested: Any) -> str:
    """The version `initialize` answers with: the client's if we speak it, else our newest
    handshake version (the client then decides whether it can go on)."""
    return requested if requested in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[-1]


def _version_of(message: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The version a request speaks, checked as its era requires (RpcError otherwise)."""
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, Mapping) else None
    header = headers.get(VERSION_HEADER)
    stateless = (
        (isinstance(meta, Mapping) and VERSION_META in meta)
        or header in STATELESS_VERSIONS
        or message.get("method") == "server/discover"
    )
    if not stateless:
        if message.get("method") == "initialize" or header is None:
            return HEADERLESS_VERSION
        if header not in HANDSHAKE_VERSIONS:
            raise RpcError(
                INVALID_REQUEST,
                f"Unsupported {VERSION_HEADER} {header!r}; supported: {list(SUPPORTED_VERSIONS)}",
                http_status=400,
            )
        return header
    envelope = (VERSION_META, CAPABILITIES_META)
    if not isinstance(meta, Mapping) or any(key not in meta for key in envelope):
        raise RpcError(
            INVALID_PARAMS,
            f"params._meta must carry {VERSION_META!r} and {CAPABILITIES_META!r}",
            http_status=400,
        )
    version = meta[VERSION_META]
    # The headers are checked before the version, so a client whose headers and body disagree
    # is told that rather than that its version is unsupported.
    if header != version:
        raise _mismatch(f"the {VERSION_HEADER} header does not match params._meta")
    method = message.get("method")
    if headers.get(METHOD_HEADER) != method:
        raise _mismatch(f"the {METHOD_HEADER} header does not match the method")
    named = NAMED_PARAMS.get(str(method))
    said = params.get(named) if named is not None and isinstance(params, Mapping) else None
    if said is not None and headers.get(NAME_HEADER) != said:
        raise _mismatch(f"the {NAME_HEADER} header does not match params.{named}")
    if version not in STATELESS_VERSIONS:
        raise RpcError(
            UNSUPPORTED_VERSION,
            "Unsupported protocol version",
            data={"supported": list(SUPPORTED_VERSIONS), "requested": version},
            http_status=400,
        )
    return str(version)


def _mismatch(message: str) -> RpcError:
    return RpcError(HEADER_MISMATCH, message, http_status=400)


def _answer(
    message: Any, headers: Mapping[str, str], handlers: Mapping[str, Handler]
) -> tuple[dict[str, Any] | None, int]:
    """One message's response body (None for a notification) and its HTTP status."""
    if not isinstance(message, Mapping) or message.get("jsonrpc") != "2.0":
        return RpcError(INVALID_REQUEST, "Not a JSON-RPC 2.0 message").body(None), 400
    request_id = message.get("id")
    is_request = "id" in message
    if is_request and (not isinstance(request_id, str | int) or isinstance(request_id, bool)):
        return RpcError(INVALID_REQUEST, "id must be a string or an integer").body(None), 400
    method = message.get("method")
    version = ""
    try:
        if not isinstance(method, str):
            # A response from the client (we send no requests, so nothing awaits one) or junk.
            if is_request and ("result" in message or "error" in message):
                return None, 202
            raise RpcError(INVALID_REQUEST, "method must be a string", http_status=400)
        if not is_request:
            return None, 202  # notifications/initialized, cancelled: nothing to keep
        version = _version_of(message, headers)
        params = message.get("params", {})
        if not isinstance(params, Mapping):
            raise RpcError(INVALID_PARAMS, "params must be an object")
        call = Call(method, params, version, request_id)
        handler = handlers.get(method)
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")
        result = handler(call)
        if call.stateless:
            result = {"resultType": "complete", **result}
        return {"jsonrpc": "2.0", "id": request_id, "result": result}, 200
    except RpcError as error:
        body = error.body(request_id if is_request else None)
        return body, error.status(stateless=version in STATELESS_VERSIONS)
    except Exception:
        # Never a 500 with an HTML page: the client gets a JSON-RPC error, the log the trace.
        logger.exception("MCP %s failed", method)
        return RpcError(INTERNAL_ERROR, "Internal error").body(request_id), 200


def answer(body: bytes, headers: Mapping[str, str], handlers: Mapping[str, Handler]) -> Reply:
    """The reply to a POSTed body: one message, or a batch (a list, each answered in turn; a
    batch of notifications only is 202, like one notification)."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return Reply(RpcError(PARSE_ERROR, "Parse error: the body is not JSON").body(None), 400)
    problem = json_problem(decoded)
    if problem is not None:
        return Reply(RpcError(INVALID_REQUEST, problem).body(None), 400)
    if isinstance(decoded, list):
        if not decoded:
            return Reply(RpcError(INVALID_REQUEST, "Empty batch").body(None), 400)
        bodies = [_answer(item, headers, handlers)[0] for item in decoded]
        answered = [b for b in bodies if b is not None]
        return Reply(answered or None, 200 if answered else 202)
    response, status = _answer(decoded, headers, handlers)
    return Reply(response, status if response is not None else 202)
