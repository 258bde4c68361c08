"""One transcription worker per session: a Redis lease, and a fencing token in PostgreSQL.

The lease (`SET NX PX`) is renewed on every read loop and before every pass; a worker that dies
stops renewing and the key expires, which is how `supervise_transcription` knows to re-enqueue
the session. The token is also written into `MeetingSession.transcriber_state["owner"]` and
checked under a row lock by every store, so a worker that was only paused (and lost its lease
meanwhile) cannot write over its successor.
"""

from __future__ import annotations

import secrets

import redis
from django.conf import settings

from vexa_site.redis import get_redis

# A lease that lapsed while nobody took it (the worker was only slow: on a saturated host passes
# queue for CPU) is taken back; the fencing token still guards the stores if a successor claimed
# the session in PostgreSQL meanwhile.
_RENEW = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
if not holder then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def lease_key(session_uid: str) -> str:
    return f"vexa:transcriber:{session_uid}:lease"


def enqueued_key(session_uid: str) -> str:
    return f"vexa:transcriber:{session_uid}:enqueued"


class LeaseLost(Exception):
    """Another worker owns the session now; this one must stop without writing."""


class Lease:
    def __init__(self, session_uid: str, client: redis.Redis | None = None) -> None:
        self.key = lease_key(session_uid)
        self.token = secrets.token_hex(8)
        self.redis = client or get_redis()

    @property
    def ttl_ms(self) -> int:
        return int(settings.TRANSCRIPTION_LEASE_S * 1000)

    def acquire(self) -> bool:
        return bool(self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def renew(self) -> None:
        if not self.redis.eval(_RENEW, 1, self.key, self.token, self.ttl_ms):
            raise LeaseLost(self.key)

    def release(self) -> None:
        self.redis.eval(_RELEASE, 1, self.key, self.token)


def is_held(session_uid: str) -> bool:
    return bool(get_redis().exists(lease_key(session_uid)))
