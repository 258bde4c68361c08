"""Redis clients, one of each per process (binary-safe: audio travels through them)."""

from __future__ import annotations

import functools
import math

import redis
from django.conf import settings
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

# The job client's waits between tries: doubling from 0.05 s, at most 1 s.
JOB_BACKOFF_BASE_S = 0.05
JOB_BACKOFF_CAP_S = 1.0


@functools.cache
def get_redis() -> redis.Redis:
    """For requests and short tasks: redis-py's own retries (about a second), then an error."""
    return redis.Redis.from_url(settings.REDIS_URL)


@functools.cache
def get_job_redis() -> redis.Redis:
    """For a bot's run and a session's live transcription: a command waits out a Redis restart
    or failover for up to `RECONNECT_WINDOW_S`, where redis-py's default gives up within about a
    second and the meeting would fail with it.

    A command is sent again on a new connection; one whose reply was lost with the old
    connection may have been applied twice (an audio chunk added twice: readers drop a chunk
    that does not advance `t`).
    """
    # A few tries on the way up to the cap, then one a cap's length for the whole window.
    ramp = int(math.log2(JOB_BACKOFF_CAP_S / JOB_BACKOFF_BASE_S))
    tries = ramp + math.ceil(settings.RECONNECT_WINDOW_S / JOB_BACKOFF_CAP_S)
    retry = Retry(ExponentialBackoff(cap=JOB_BACKOFF_CAP_S, base=JOB_BACKOFF_BASE_S), tries)
    return redis.Redis.from_url(settings.REDIS_URL, retry=retry)
