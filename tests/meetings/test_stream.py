"""The session stream's own housekeeping: it never outlives its meeting in Redis."""

from __future__ import annotations

import uuid

import pytest

from meetings import stream as stream_module
from meetings.stream import STREAM_TTL_AFTER_END_S, SessionStream


def test_a_stream_its_bot_never_ended_still_expires() -> None:
    """A bot killed mid-call writes no `end` entry: the stream must not stay for ever."""
    stream = SessionStream(f"test-{uuid.uuid4()}")
    try:
        stream.append_audio(b"\0\0" * 1600, t=0.0)

        assert 0 < stream.redis.ttl(stream.key) <= STREAM_TTL_AFTER_END_S
    finally:
        stream.delete()


def test_a_live_streams_ttl_is_renewed_as_it_grows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_module, "TTL_RENEW_S", 0.0)
    stream = SessionStream(f"test-{uuid.uuid4()}")
    try:
        stream.append_audio(b"\0\0" * 1600, t=0.0)
        stream.redis.expire(stream.key, 5)  # as if the call had gone on for almost a day

        stream.append_speaker(name="Alice", participant_id="a", state="start", t=0.1)

        assert stream.redis.ttl(stream.key) > STREAM_TTL_AFTER_END_S - 60
    finally:
        stream.delete()
