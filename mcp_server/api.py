"""`POST /mcp`: the Model Context Protocol endpoint (Streamable HTTP), for AI assistants.

Authenticated like the REST API (`X-API-Key`, or the key as `Authorization: Bearer`), rate
limited per key the same way; the tools a key can use follow its scopes. GET (a server-to-client
event stream) and DELETE (ending a session) are 405: the server sends no requests of its own and
keeps no sessions (`mcp_server.protocol`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.auth import ApiKeyOrBearerAuthentication, request_user
from accounts.models import ApiToken
from accounts.permissions import IsApiUser
from mcp_server import protocol
from mcp_server.server import McpServer


def _origin_allowed(request: Request) -> bool:
    """A browser page may only call from this server's own origins (the MCP transport's guard
    against DNS rebinding); clients that are not browsers send no Origin."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    allowed = {settings.PUBLIC_BASE_URL, *settings.CSRF_TRUSTED_ORIGINS}
    own = f"{request.scheme}://{request.get_host()}"
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" in {*allowed, own}


class McpApi(APIView):
    authentication_classes = [ApiKeyOrBearerAuthentication]
    permission_classes = [IsApiUser]

    def get_authenticate_header(self, request: Request) -> str:
        # Where an OAuth client learns how to get a token (RFC 9728, the MCP spec's discovery).
        metadata = settings.PUBLIC_BASE_URL + reverse("oauth_protected_resource") + "/mcp"
        return f'Bearer realm="mcp", resource_metadata="{metadata}"'

    @extend_schema(
        operation_id="mcp",
        summary="MCP endpoint (AI assistants)",
        description=(
            "Model Context Protocol over Streamable HTTP, protocol versions "
            f"{', '.join(protocol.SUPPORTED_VERSIONS)}: one JSON-RPC message (or a batch) per "
            "POST, answered with one JSON body; no sessions. Tools: meetings, transcripts, "
            "search, share links (scope `tx`), bots (scope `bot`)."
        ),
        request=dict,
        responses={200: dict, 202: None},
    )
    def post(self, request: Request) -> HttpResponse:
        if not _origin_allowed(request):
            error = protocol.RpcError(protocol.INVALID_REQUEST, "Origin not allowed")
            return JsonResponse(error.body(None), status=403)
        assert isinstance(request.auth, ApiToken)
        server = McpServer(user=request_user(request), token=request.auth)
        reply = protocol.answer(request.body, request.headers, server.handlers())
        if reply.body is None:
            return HttpResponse(status=202)
        return JsonResponse(reply.body, status=reply.status, safe=False)
