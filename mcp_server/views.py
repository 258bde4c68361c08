"""OAuth for MCP clients, so that assistants that connect only through a sign-in (chat apps'
hosted connectors) can use `/mcp`: the metadata that points them here (RFC 9728, RFC 8414),
dynamic client registration (RFC 7591), the consent page (signed in to the dashboard), and the
token endpoint. Errors are OAuth's own shape (`{"error", "error_description"}`), which these
clients parse, not the API's `{"detail"}`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import ApiToken
from accounts.throttling import PublicRateThrottle, RegistrationRateThrottle
from dashboard.views import SESSION_TOKEN_KEY, signed_in_user
from mcp_server import services
from mcp_server.models import OAuthClient
from mcp_server.services import OAuthError
from vexa_site.input_guard import GuardedJSONParser

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SCOPE_WORDS = {
    "tx": "read, search, rename and share your meetings and transcripts",
    "bot": "send bots to meetings, and stop them",
}


def _url(name: str) -> str:
    return settings.PUBLIC_BASE_URL + reverse(name)


@require_GET
def protected_resource_metadata(request: HttpRequest) -> JsonResponse:
    """RFC 9728: where `/mcp`'s tokens come from (the 401 of `/mcp` points here)."""
    return JsonResponse(
        {
            "resource": _url("mcp"),
            "authorization_servers": [settings.PUBLIC_BASE_URL],
            "bearer_methods_supported": ["header"],
            "scopes_supported": list(services.GRANTABLE_SCOPES),
        }
    )


@require_GET
def authorization_server_metadata(request: HttpRequest) -> JsonResponse:
    """RFC 8414: the endpoints, and what they accept (public clients, PKCE with S256)."""
    return JsonResponse(
        {
            "issuer": settings.PUBLIC_BASE_URL,
            "authorization_endpoint": _url("oauth_authorize"),
            "token_endpoint": _url("oauth_token"),
            "registration_endpoint": _url("oauth_register"),
            "scopes_supported": list(services.GRANTABLE_SCOPES),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
        }
    )


class OAuthApi(APIView):
    """Unauthenticated (the client has no key yet), rate-limited per address like share links;
    form or JSON bodies."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [PublicRateThrottle]
    parser_classes = [FormParser, GuardedJSONParser]
    schema = None  # OAuth's endpoints, described by its metadata, not by the API's OpenAPI

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, OAuthError):
            return JsonResponse(exc.body(), status=exc.status, headers=NO_STORE)
        return super().handle_exception(exc)


class RegisterApi(OAuthApi):
    throttle_classes = [RegistrationRateThrottle]

    def post(self, request: Request) -> JsonResponse:
        data = request.data if isinstance(request.data, dict) else {}
        client = services.client_register(
            client_name=data.get("client_name"), redirect_uris=data.get("redirect_uris")
        )
        return JsonResponse(
            {
                "client_id": client.client_id,
                "client_id_issued_at": int(client.created_at.timestamp()),
                "client_name": client.client_name,
                "redirect_uris": client.redirect_uris,
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            },
            status=201,
            headers=NO_STORE,
        )


class TokenApi(OAuthApi):
    def post(self, request: Request) -> JsonResponse:
        data = request.data if isinstance(request.data, dict) else {}

        def field(name: str) -> str:
            value = data.get(name)
            return value if isinstance(value, str) else ""

        if field("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", "Only authorization_code is supported")
        issued = services.grant_exchange(
            client_id=field("client_id"),
            code=field("code"),
            redirect_uri=field("redirect_uri"),
            code_verifier=field("code_verifier"),
        )
        return JsonResponse(
            {
                "access_token": issued.plain,
                "token_type": "Bearer",
                "scope": " ".join(issued.token.scopes),
            },
            headers=NO_STORE,
        )


def _consent_error(request: HttpRequest, message: str) -> HttpResponse:
    # Before the client and its redirect URI are known good, an error is shown, never sent to
    # a redirect URI (RFC 6749 §4.1.2.1: that would make this an open redirector).
    return render(request, "mcp_server/authorize.html", {"error": message}, status=400)


def _back_to_client(redirect_uri: str, **params: str) -> HttpResponse:
    joiner = "&" if urlsplit(redirect_uri).query else "?"
    query = urlencode({k: v for k, v in params.items() if v})
    return redirect(f"{redirect_uri}{joiner}{query}")


@require_http_methods(["GET", "POST"])
def authorize_view(request: HttpRequest) -> HttpResponse:
    """The consent page: who asks, for what, and where the answer goes. GET shows it (after
    the dashboard's sign-in); POST (CSRF-checked) gives or refuses the code."""
    params = request.GET if request.method == "GET" else request.POST
    client = OAuthClient.objects.filter(client_id=params.get("client_id", "")).first()
    if client is None:
        return _consent_error(request, "This application is not registered here.")
    redirect_uri = params.get("redirect_uri") or (
        client.redirect_uris[0] if len(client.redirect_uris) == 1 else ""
    )
    if redirect_uri not in client.redirect_uris:
        return _consent_error(request, "The redirect URI is not one this application registered.")
    state = params.get("state", "")
    answer = {"state": state, "iss": settings.PUBLIC_BASE_URL}
    if params.get("response_type") != "code":
        return _back_to_client(redirect_uri, error="unsupported_response_type", **answer)
    challenge = params.get("code_challenge", "")
    if params.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
        description = "PKCE with code_challenge_method S256 is required"
        return _back_to_client(
            redirect_uri, error="invalid_request", error_description=description, **answer
        )
    user = signed_in_user(request)
    if user is None:
        login = reverse("dashboard:login")
        return redirect(f"{login}?{urlencode({'next': request.get_full_path()})}")
    token_id = request.session.get(SESSION_TOKEN_KEY)
    session_key = (
        None if token_id is None else ApiToken.objects.filter(pk=token_id, user=user).first()
    )
    scopes = services.grantable_scopes(requested=params.get("scope"), signed_in_with=session_key)
    if not scopes:
        description = "The signed-in key holds none of the scopes asked for"
        return _back_to_client(
            redirect_uri, error="invalid_scope", error_description=description, **answer
        )
    if request.method == "GET":
        context = {
            "client": client,
            "redirect_host": urlsplit(redirect_uri).netloc,
            "scopes": [(scope, SCOPE_WORDS[scope]) for scope in scopes],
            "fields": {
                "client_id": client.client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
                "scope": " ".join(scopes),
            },
        }
        return render(request, "mcp_server/authorize.html", context)
    if params.get("decision") != "allow":
        return _back_to_client(redirect_uri, error="access_denied", **answer)
    code = services.grant_create(
        client=client,
        user=user,
        redirect_uri=redirect_uri,
        code_challenge=challenge,
        scopes=scopes,
    )
    return _back_to_client(redirect_uri, code=code, **answer)
