"""API-key and admin-key authentication (`X-API-Key`, `X-Admin-API-Key`)."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.models import ApiToken, User, hash_token

# Writing last_used_at on every request would turn every read into a write; a minute is enough
# to tell an operator whether a key is in use.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def token_for_key(plain: str) -> ApiToken | None:
    """The usable token for a plain key, or None (unknown, revoked, expired, inactive user)."""
    if not plain:
        return None
    token = ApiToken.objects.select_related("user").filter(token_hash=hash_token(plain)).first()
    now = timezone.now()
    if token is None or not token.is_usable(now) or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        # A conditional update keeps concurrent requests from racing on the same row.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


class ApiKeyAuthentication(BaseAuthentication):
    """`X-API-Key` header; `?api_key=` only on views that allow it (streams, WebSocket)."""

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        plain = request.headers.get("X-API-Key", "")
        if not plain and getattr(request.parser_context.get("view"), "allow_query_api_key", False):
            plain = request.query_params.get("api_key", "")
        if not plain:
            return None
        token = token_for_key(plain)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid API key")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return "ApiKey"


class ApiKeyOrBearerAuthentication(ApiKeyAuthentication):
    """`X-API-Key`, or the same key as `Authorization: Bearer <key>`: the header that MCP
    clients (Claude, Cursor, the MCP SDKs) let a user configure for a remote server."""

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        scheme, _, plain = request.headers.get("Authorization", "").partition(" ")
        if request.headers.get("X-API-Key") or scheme.lower() != "bearer" or not plain.strip():
            return super().authenticate(request)
        token = token_for_key(plain.strip())
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid API key")
        return token.user, token


def request_user(request: Request) -> User:
    """The authenticated user of an `X-API-Key` request (views with IsApiUser-based checks)."""
    user = request.user
    if not isinstance(user, User):
        raise exceptions.NotAuthenticated("Missing API key")
    return user


def admin_key_is_valid(presented: str) -> bool:
    """Constant-time check of an `X-Admin-API-Key` value; no configured token means no access."""
    expected = settings.ADMIN_API_TOKEN
    if not expected or not presented:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())


class AdminKeyAuthentication(BaseAuthentication):
    """Admin API: authenticated by `X-Admin-API-Key` only, never by a user's key."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        if not admin_key_is_valid(request.headers.get("X-Admin-API-Key", "")):
            raise exceptions.PermissionDenied("Invalid or missing admin token.")
        return AdminPrincipal(), None


class AdminPrincipal:
    """The operator behind a valid admin key."""

    is_authenticated = True
    is_admin_key = True
