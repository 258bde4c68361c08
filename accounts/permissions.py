"""Permission classes: an authenticated API user, and one class per token scope."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.models import ApiToken


class IsApiUser(BasePermission):
    """Any valid user API key. A request with no key gets 401 `Missing API key`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not isinstance(request.auth, ApiToken):
            raise exceptions.NotAuthenticated("Missing API key")
        return True


class _ScopePermission(IsApiUser):
    scope = ""
    message = "Token scope not authorized for this endpoint"

    def has_permission(self, request: Request, view: Any) -> bool:
        super().has_permission(request, view)
        assert isinstance(request.auth, ApiToken)
        return self.scope in (request.auth.scopes or [])


class HasBotScope(_ScopePermission):
    scope = "bot"


class HasTxScope(_ScopePermission):
    scope = "tx"


class HasBotOrTxScope(IsApiUser):
    """What a bot key or a transcript key may read: the meeting's chat is both the bot's doing
    and what was said in the call."""

    message = "Token scope not authorized for this endpoint"

    def has_permission(self, request: Request, view: Any) -> bool:
        super().has_permission(request, view)
        assert isinstance(request.auth, ApiToken)
        return bool({"bot", "tx"} & set(request.auth.scopes or []))


class HasBrowserScope(_ScopePermission):
    scope = "browser"


class IsAdminKey(BasePermission):
    """Set together with AdminKeyAuthentication, which already refused a bad key."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(getattr(request.user, "is_admin_key", False))
