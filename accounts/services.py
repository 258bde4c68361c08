"""Writes for users and API tokens. Every function is keyword-only and raises domain errors."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import DEFAULT_SCOPES, VALID_SCOPES, ApiToken, User, hash_token
from vexa_site.errors import InvalidInput, NotFound
from vexa_site.ssrf import resolve_public_url

TOKEN_PREFIX = "vex_"  # noqa: S105 (a public prefix, not a secret)


@dataclass(frozen=True)
class IssuedToken:
    """A freshly minted token: `plain` exists only here, never in the database."""

    token: ApiToken
    plain: str


def parse_scopes(raw: str | list[str] | None) -> list[str]:
    """`"bot,tx"` or `["bot", "tx"]` → sorted unique scopes; unknown scopes are a 422."""
    if raw is None or raw == "" or raw == []:
        return list(DEFAULT_SCOPES)
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    scopes = sorted({str(item).strip() for item in items if str(item).strip()})
    invalid = [scope for scope in scopes if scope not in VALID_SCOPES]
    if invalid:
        raise InvalidInput(f"Invalid scope(s): {invalid}. Valid: {sorted(VALID_SCOPES)}")
    return scopes or list(DEFAULT_SCOPES)


def user_get_or_create(
    *,
    email: str,
    name: str = "",
    image_url: str | None = None,
    max_concurrent_bots: int | None = None,
    data: dict[str, Any] | None = None,
) -> tuple[User, bool]:
    """Find a user by email (case-insensitive) or create one; returns (user, created)."""
    email = email.strip().lower()
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing, False
    fields: dict[str, Any] = {"name": name or "", "image_url": image_url, "data": data or {}}
    if max_concurrent_bots is not None:
        fields["max_concurrent_bots"] = max_concurrent_bots
    try:
        with transaction.atomic():
            return User.objects.create_user(email, **fields), True
    except IntegrityError:
        # Two concurrent creates for one email: the loser returns the winner's row.
        return User.objects.get(email__iexact=email), False


def operator_ensure(*, email: str, password: str) -> tuple[User, bool]:
    """The quick start's operator (Django admin, simulator host page); returns (user, created).

    Created as a superuser with `password`; an existing account keeps the password it has (its
    operator may have changed it since) and is made staff and superuser.
    """
    user, created = user_get_or_create(email=email, name="Operator")
    if created:
        user.set_password(password)
    user.is_staff = True
    user.is_superuser = True
    user.save(update_fields=["password", "is_staff", "is_superuser"])
    return user, created


def user_update(*, user: User, changes: dict[str, Any]) -> User:
    """Partial update; `data` is merged key by key so stored settings are never lost."""
    fields: list[str] = []
    if "name" in changes:
        user.name = changes["name"] or ""
        fields.append("name")
    if "image_url" in changes:
        user.image_url = changes["image_url"] or None
        fields.append("image_url")
    if changes.get("max_concurrent_bots") is not None:
        user.max_concurrent_bots = changes["max_concurrent_bots"]
        fields.append("max_concurrent_bots")
    if "data" in changes and changes["data"] is not None:
        user.data = {**(user.data or {}), **changes["data"]}
        fields.append("data")
    if fields:
        user.save(update_fields=fields)
    return user


def user_delete(*, user_id: int) -> None:
    """Delete a user and everything they stored: their meetings go through `meetings_purge`
    (recording files, audio streams and live events too, which the rows' cascade alone would
    leave behind), then the user's row takes tokens, webhooks and the rest with it. A user
    with a live bot is a 409 and nothing is deleted."""
    # Imported here: meetings builds on accounts, not the other way round.
    from meetings.services import meetings_purge

    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise NotFound("User not found")
        meetings_purge(meeting_ids=list(user.meetings.values_list("pk", flat=True)))
        user.delete()


def token_issue(
    *,
    user: User,
    scopes: list[str] | None = None,
    name: str = "",
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Mint an API key for `user`. The plain value is returned once and stored only hashed."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        token_hash=hash_token(plain),
        prefix=plain[:8],
        scopes=list(scopes) if scopes else list(DEFAULT_SCOPES),
        expires_at=expires_at,
    )
    return IssuedToken(token=token, plain=plain)


def token_issue_for_self(
    *, user: User, signed_in_with: ApiToken | None, scopes: list[str], name: str = ""
) -> IssuedToken:
    """A key a signed-in user mints for themselves (the dashboard), with at most the scopes of
    the key they signed in with: a read-only (`tx`) key must not become one that sends bots.
    No scopes chosen means the session key's own (the defaults for a staff session)."""
    if signed_in_with is None:
        chosen = parse_scopes(scopes)
    else:
        held = sorted(signed_in_with.scopes or [])
        chosen = parse_scopes(scopes) if scopes else held
        beyond = sorted(set(chosen) - set(held))
        if beyond:
            raise InvalidInput(
                f"The key this session signed in with lacks {beyond}; a key made here can have "
                f"only {held}. Ask an operator for a key with more scopes."
            )
    return token_issue(user=user, scopes=chosen, name=name)


def token_keep_or_issue(*, user: User, plain: str, scopes: list[str], name: str) -> IssuedToken:
    """`plain` again while it is a usable key of `user`, else a fresh key (the quick start keeps
    one demo key across restarts, so a client configured with it keeps working)."""
    if plain:
        token = ApiToken.objects.filter(user=user, token_hash=hash_token(plain)).first()
        if token is not None and token.is_usable():
            return IssuedToken(token=token, plain=plain)
    return token_issue(user=user, scopes=scopes, name=name)


def token_revoke(*, token_id: int) -> ApiToken:
    """Revoke a token; it stops authenticating immediately. Revoking twice is harmless."""
    ApiToken.objects.filter(pk=token_id, revoked=False).update(
        revoked=True, revoked_at=timezone.now()
    )
    token = ApiToken.objects.filter(pk=token_id).first()
    if token is None:
        raise NotFound("Token not found")
    return token


def user_set_webhook(*, user: User, webhook_url: str | None, webhook_secret: str | None) -> User:
    """Vexa's one-URL webhook setting. The URL must resolve to a public address."""
    data = dict(user.data or {})
    if webhook_url:
        resolve_public_url(webhook_url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_URLS)
        data["webhook_url"] = webhook_url
    else:
        data.pop("webhook_url", None)
    if webhook_secret is not None:
        if webhook_secret:
            data["webhook_secret"] = webhook_secret
        else:
            data.pop("webhook_secret", None)
    user.data = data
    # The Vexa setting is one of the user's webhook endpoints (the "legacy" one), so it gets
    # the same signing, retries and delivery history; both writes commit together.
    from webhooks.services import endpoint_set_legacy

    with transaction.atomic():
        user.save(update_fields=["data"])
        endpoint_set_legacy(
            user=user, url=data.get("webhook_url"), secret=data.get("webhook_secret", "")
        )
    return user
