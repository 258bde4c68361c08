"""Rate limits per API key (and per client address on public pages), counted in Redis.

A fixed one-minute window per key: the first request sets a counter with a 60 s expiry and each
request increments it, in one MULTI/EXEC so the two steps cannot interleave with another
process's. Over the limit DRF answers 429 with `Retry-After`; `RateLimitHeadersMiddleware` adds
`X-RateLimit-Limit/Remaining/Reset` (Reset: Unix seconds) to every limited response. If Redis
is unreachable requests are let through: the limit protects capacity, it is not a correctness
guarantee, and an outage of the counter must not become an outage of the API.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.models import ApiToken
from vexa_site.redis import get_redis

logger = logging.getLogger(__name__)

WINDOW_S = 60
_STATE_ATTR = "vexa_rate_limit"


@dataclass(frozen=True)
class RateLimitState:
    """What the last check of this request found; rendered as `X-RateLimit-*` headers."""

    limit: int
    remaining: int
    reset_at: int


class _RedisWindowThrottle(BaseThrottle):
    scope = ""

    def __init__(self) -> None:
        self._wait: float | None = None

    def ident_for(self, request: Request) -> str | None:
        raise NotImplementedError

    def limit(self) -> int:
        return int(settings.API_RATE_LIMIT_PER_MINUTE)

    def allow_request(self, request: Request, view: Any) -> bool:
        limit = self.limit()
        ident = self.ident_for(request)
        if not limit or ident is None:
            return True
        key = f"vexa:ratelimit:{self.scope}:{ident}"
        try:
            pipe = get_redis().pipeline(transaction=True)
            pipe.set(key, 0, ex=WINDOW_S, nx=True)
            pipe.incr(key)
            pipe.pttl(key)
            _, count, ttl_ms = pipe.execute()
        except redis.RedisError:
            logger.warning("rate limit counter unavailable; letting %s through", self.scope)
            return True
        if ttl_ms < 0:
            get_redis().expire(key, WINDOW_S)
            ttl_ms = WINDOW_S * 1000
        self._wait = ttl_ms / 1000
        state = RateLimitState(
            limit=limit,
            remaining=max(0, limit - int(count)),
            reset_at=math.ceil(time.time() + ttl_ms / 1000),
        )
        setattr(request._request, _STATE_ATTR, state)
        return int(count) <= limit

    def wait(self) -> float | None:
        return math.ceil(self._wait) if self._wait is not None else None


class ApiKeyRateThrottle(_RedisWindowThrottle):
    """`API_RATE_LIMIT_PER_MINUTE` requests per API key (0 = unlimited); others pass."""

    scope = "key"

    def ident_for(self, request: Request) -> str | None:
        token = request.auth
        if not isinstance(token, ApiToken):
            return None
        # The hash, not the row id: ids restart when a database is recreated, hashes never
        # repeat, so a counter can never leak from one key to another.
        return token.token_hash[:32]


class PublicRateThrottle(_RedisWindowThrottle):
    """The same budget per client address, for unauthenticated pages (share links)."""

    scope = "ip"

    def ident_for(self, request: Request) -> str | None:
        # REMOTE_ADDR only: X-Forwarded-For is whatever the client wants it to be.
        return request._request.META.get("REMOTE_ADDR") or "unknown"


class RateLimitHeadersMiddleware:
    """Adds `X-RateLimit-Limit/Remaining/Reset` to responses whose request was counted."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        state = getattr(request, _STATE_ATTR, None)
        if isinstance(state, RateLimitState):
            response["X-RateLimit-Limit"] = str(state.limit)
            response["X-RateLimit-Remaining"] = str(state.remaining)
            response["X-RateLimit-Reset"] = str(state.reset_at)
        return response


class RegistrationRateThrottle(PublicRateThrottle):
    """OAuth client registrations per client address: open to anyone, each writes a row, and
    an assistant registers once; at most `REGISTRATIONS_PER_MINUTE` (none while the API's
    limit is 0, which switches limits off)."""

    scope = "register"
    REGISTRATIONS_PER_MINUTE = 10

    def limit(self) -> int:
        api_limit = super().limit()
        return min(api_limit, self.REGISTRATIONS_PER_MINUTE) if api_limit else 0
