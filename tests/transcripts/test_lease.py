"""One transcription worker per session: the Redis lease a worker renews while it works."""

from __future__ import annotations

import uuid

import pytest

from transcripts.engine.lease import Lease, LeaseLost, lease_key
from vexa_site.redis import get_redis


def test_a_lease_that_lapsed_unclaimed_is_taken_back_by_its_slow_holder() -> None:
    session_uid = str(uuid.uuid4())
    lease = Lease(session_uid)
    assert lease.acquire()
    get_redis().delete(lease_key(session_uid))  # expired while passes queued for CPU
    lease.renew()
    assert get_redis().get(lease_key(session_uid)) in (lease.token, lease.token.encode())
    assert get_redis().pttl(lease_key(session_uid)) > 0
    assert not Lease(session_uid).acquire()  # a re-enqueued task finds the session busy
    lease.release()


def test_a_lease_a_successor_took_is_lost() -> None:
    session_uid = str(uuid.uuid4())
    lease = Lease(session_uid)
    assert lease.acquire()
    get_redis().delete(lease_key(session_uid))
    successor = Lease(session_uid)
    assert successor.acquire()
    with pytest.raises(LeaseLost):
        lease.renew()
    successor.renew()  # the successor keeps it
    lease.release()  # releasing a lease one no longer holds leaves the successor's alone
    assert get_redis().exists(lease_key(session_uid))
    successor.release()
    assert not get_redis().exists(lease_key(session_uid))
