"""OAuth 2.1 for MCP clients (the subset the MCP authorization spec asks of a server): dynamic
client registration, a user's consent as a one-time code, and the code exchanged (with its PKCE
verifier) for an API key with the consented scopes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ApiToken, User, hash_token
from mcp_server.models import OAuthClient, OAuthGrant

CODE_TTL = timedelta(minutes=10)
# A consent's record is kept this long after its code expired (who let which assistant in).
GRANT_RETENTION = timedelta(days=90)
# Registration is open to anyone: a client no user ever consented to goes after this.
UNUSED_CLIENT_RETENTION = timedelta(days=1)
MAX_REDIRECT_URIS = 10
MAX_URI_LENGTH = 2000
MAX_CLIENT_NAME = 200
# What an assistant may be granted: reading meetings (`tx`) and running bots (`bot`).
GRANTABLE_SCOPES = ("tx", "bot")
LOOPBACK_HOSTS = ("localhost",)


class OAuthError(Exception):
    """An OAuth protocol error (RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2): answered as
    `{"error": code, "error_description": ...}`, or as those query parameters on a redirect."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def _loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_uri_check(uri: Any) -> str:
    """A redirect URI a client may register: https, or http to this machine's loopback (where
    a desktop assistant listens for the code); no fragment (RFC 6749 §3.1.2)."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH:
        raise OAuthError("invalid_redirect_uri", "A redirect URI is a URL of at most 2000 chars")
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if parts.fragment or not host:
        raise OAuthError("invalid_redirect_uri", f"{uri!r} is not an absolute URL without #")
    if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(host)):
        raise OAuthError("invalid_redirect_uri", f"{uri!r} must be https (or http to localhost)")
    return uri


def client_register(*, client_name: Any, redirect_uris: Any) -> OAuthClient:
    """Register a public client (no secret) with its redirect URIs."""
    if not isinstance(redirect_uris, list) or not 1 <= len(redirect_uris) <= MAX_REDIRECT_URIS:
        raise OAuthError(
            "invalid_redirect_uri", f"redirect_uris is a list of 1 to {MAX_REDIRECT_URIS} URLs"
        )
    uris = [redirect_uri_check(uri) for uri in redirect_uris]
    if client_name is not None and not isinstance(client_name, str):
        raise OAuthError("invalid_client_metadata", "client_name is a string")
    name = " ".join((client_name or "").split())[:MAX_CLIENT_NAME] or "MCP client"
    return OAuthClient.objects.create(
        client_id=secrets.token_urlsafe(24), client_name=name, redirect_uris=uris
    )


def grantable_scopes(*, requested: str | None, signed_in_with: ApiToken | None) -> list[str]:
    """The scopes a consent can give: those asked for (all grantable ones if none), never more
    than the key the dashboard session signed in with holds (a read-only key must not mint a
    key that sends bots)."""
    wanted = set(requested.split()) if requested else set(GRANTABLE_SCOPES)
    held = set(GRANTABLE_SCOPES if signed_in_with is None else signed_in_with.scopes or [])
    return [scope for scope in GRANTABLE_SCOPES if scope in wanted and scope in held]


def grant_create(
    *, client: OAuthClient, user: User, redirect_uri: str, code_challenge: str, scopes: list[str]
) -> str:
    """Record a user's consent; returns the one-time code (only its hash is kept)."""
    code = secrets.token_urlsafe(32)
    now = timezone.now()
    OAuthGrant.objects.create(
        code_hash=hash_token(code),
        client=client,
        user=user,
        redirect_uri=redirect_uri,
        code_challenge=code_challenge,
        scopes=scopes,
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    return code


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def grant_exchange(
    *, client_id: str, code: str, redirect_uri: str, code_verifier: str
) -> account_services.IssuedToken:
    """The API key a code stands for, once: the client, redirect URI and PKCE verifier must be
    those of the consent, within `CODE_TTL`. The key is named after the client, so the user
    sees it (and can revoke it) among their keys; the key this client got from this user's
    previous consent is revoked (an assistant reconnected holds one working key)."""
    invalid = OAuthError("invalid_grant", "The code is unknown, used, expired or not yours")
    with transaction.atomic():
        # The row lock makes a code good for one exchange even when two arrive together.
        grant = (
            OAuthGrant.objects.select_for_update()
            .select_related("client", "user")
            .filter(code_hash=hash_token(code or ""))
            .first()
        )
        if grant is None or grant.used_at is not None or grant.expires_at <= timezone.now():
            raise invalid
        # OAuth 2.1 clients send no redirect_uri here (PKCE binds the code); 2.0 clients
        # send the one they authorized with, and it must be that one.
        if grant.client.client_id != client_id or redirect_uri not in ("", grant.redirect_uri):
            raise invalid
        if not grant.scopes:  # token_issue would read "none" as the default scopes
            raise invalid
        if not hmac.compare_digest(_s256(code_verifier or ""), grant.code_challenge):
            raise OAuthError("invalid_grant", "The code_verifier does not match the challenge")
        issued = account_services.token_issue(
            user=grant.user, scopes=grant.scopes, name=f"MCP: {grant.client.client_name}"
        )
        earlier = OAuthGrant.objects.filter(
            client=grant.client, user=grant.user, token__isnull=False
        ).values_list("token_id", flat=True)
        for token_id in earlier:
            account_services.token_revoke(token_id=token_id)
        grant.used_at = timezone.now()
        grant.token = issued.token
        grant.save(update_fields=["used_at", "token"])
        return issued


def oauth_purge(*, now: datetime, limit: int = 1000) -> tuple[int, int]:
    """Delete up to `limit` grants whose record outlived `GRANT_RETENTION`, then up to `limit`
    clients older than `UNUSED_CLIENT_RETENTION` with no grant left (registered and never
    used, or unused since). Returns how many grants and clients went. The keys already issued
    stay: they are the user's, revoked in Settings."""
    grant_ids = list(
        OAuthGrant.objects.filter(expires_at__lt=now - GRANT_RETENTION)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    OAuthGrant.objects.filter(pk__in=grant_ids).delete()
    client_ids = list(
        OAuthClient.objects.filter(
            created_at__lt=now - UNUSED_CLIENT_RETENTION, grants__isnull=True
        )
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    OAuthClient.objects.filter(pk__in=client_ids).delete()
    return len(grant_ids), len(client_ids)
