"""The hand-off between a bot and transcription: one Redis Stream per `MeetingSession`.

This module is the only code that knows the stream's layout. Entries carry a `type`:

| type      | fields                                 | meaning                                    |
|-----------|----------------------------------------|--------------------------------------------|
| `audio`   | `pcm` (16 kHz mono int16 LE), `t`      | captured audio; a gap is a jump in `t`     |
| `speaker` | `name`, `participant_id`, `state`, `t` | speaking indicator start/stop              |
| `config`  | `language`, `task`, `t`                | live config change; applies to later audio |
| `clock`   | `wall_offset`, `t`                     | from `t` on, wall time is `t` + this much  |
| `end`     | `reason`                               | the session is over: flush and finalize    |

`t` is seconds since the session's `started_at` on the capture's clock (it counts samples); a
`clock` entry says how far that clock has drifted from the wall clock since the session began
(`bots.runtime.wallclock`), for absolute times. Readers keep their own position (a stream
entry id) so that a restarted worker continues where a dead one stopped.
"""

from __future__ import annotations

import math
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from vexa_site.redis import get_redis

SAMPLE_RATE = 16000
BYTES_PER_SAMPLE = 2
# Sessions end; their streams should not live forever in Redis once transcription is done.
STREAM_TTL_AFTER_END_S = 24 * 3600
# How often a writer renews its stream's TTL (one EXPIRE a minute, not one per 0.1 s chunk).
TTL_RENEW_S = 60.0
START = "0-0"


def stream_key(session_uid: str) -> str:
    return f"vexa:session:{session_uid}:stream"


def entry_id_key(entry_id: str) -> tuple[int, int]:
    """A Redis Stream entry id `<ms>-<seq>` as numbers, in stream order; `<ms>` is Redis's clock
    when the entry was added (ids are assigned by the server)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True)
class StreamEntry:
    """One decoded stream entry; fields not used by its `type` are None."""

    id: str
    type: str
    t: float | None = None
    pcm: bytes | None = None
    name: str | None = None
    participant_id: str | None = None
    state: str | None = None
    language: str | None = None
    task: str | None = None
    reason: str | None = None
    wall_offset: float | None = None

    @property
    def duration_s(self) -> float:
        return len(self.pcm or b"") / (SAMPLE_RATE * BYTES_PER_SAMPLE)


def _text(value: bytes | None) -> str | None:
    if value is None:
        return None
    text = value.decode()
    return text or None


def _decode(entry_id: bytes | str, fields: dict[bytes, bytes]) -> StreamEntry:
    raw_t = fields.get(b"t")
    return StreamEntry(
        id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        type=fields[b"type"].decode(),
        t=float(raw_t) if raw_t is not None else None,
        pcm=fields.get(b"pcm"),
        name=_text(fields.get(b"name")),
        participant_id=_text(fields.get(b"participant_id")),
        state=_text(fields.get(b"state")),
        language=_text(fields.get(b"language")),
        task=_text(fields.get(b"task")),
        reason=_text(fields.get(b"reason")),
        wall_offset=float(raw_offset) if (raw_offset := fields.get(b"wall_offset")) else None,
    )


class SessionStream:
    """Writer and reader of one session's stream."""

    def __init__(self, session_uid: str, client: redis.Redis | None = None) -> None:
        self.session_uid = session_uid
        self.key = stream_key(session_uid)
        self.redis = client or get_redis()
        self._ttl_renewed_at = -math.inf

    # -- writing (the bot, the WAV feeder, the config API) ----------------------------------
    def _add(self, fields: dict[str, Any]) -> str:
        entry_id = self.redis.xadd(self.key, fields)  # type: ignore[arg-type]
        now = time.monotonic()
        if now - self._ttl_renewed_at >= TTL_RENEW_S:
            # A bot killed before its `end` entry (or one a worker closed as orphaned) would
            # leave a stream with no TTL, kept for ever: a live stream carries one too, renewed
            # as it grows, so it lives on STREAM_TTL_AFTER_END_S after its last write at most.
            self.redis.expire(self.key, STREAM_TTL_AFTER_END_S)
            self._ttl_renewed_at = now
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def append_audio(self, pcm: bytes, *, t: float) -> str:
        if len(pcm) % BYTES_PER_SAMPLE:
            raise ValueError("pcm must hold whole int16 samples")
        return self._add({"type": "audio", "pcm": pcm, "t": repr(float(t))})

    def append_speaker(self, *, name: str, participant_id: str, state: str, t: float) -> str:
        if state not in ("start", "stop"):
            raise ValueError("state must be 'start' or 'stop'")
        return self._add(
            {
                "type": "speaker",
                "name": name,
                "participant_id": participant_id,
                "state": state,
                "t": repr(float(t)),
            }
        )

    def append_clock(self, *, t: float, wall_offset: float) -> str:
        return self._add(
            {"type": "clock", "wall_offset": repr(float(wall_offset)), "t": repr(float(t))}
        )

    def append_config(
        self, *, language: str | None, task: str | None, t: float | None = None
    ) -> str:
        fields: dict[str, Any] = {"type": "config", "language": language or "", "task": task or ""}
        if t is not None:
            fields["t"] = repr(float(t))
        return self._add(fields)

    def append_end(self, *, reason: str) -> str:
        entry_id = self._add({"type": "end", "reason": reason})
        self.redis.expire(self.key, STREAM_TTL_AFTER_END_S)
        return entry_id

    # -- reading (transcription, tests, benchmarks) ----------------------------------------
    def read(
        self, *, after: str = START, count: int = 500, block_ms: int | None = None
    ) -> list[StreamEntry]:
        """Entries strictly after `after`, oldest first; blocks up to `block_ms` if none."""
        result: Any = self.redis.xread({self.key: after}, count=count, block=block_ms)
        if not result:
            return []
        _key, items = result[0]
        return [_decode(entry_id, fields) for entry_id, fields in items]

    def read_all(self) -> list[StreamEntry]:
        entries: list[StreamEntry] = []
        after = START
        while True:
            batch = self.read(after=after, count=1000)
            if not batch:
                return entries
            entries.extend(batch)
            after = batch[-1].id

    def trim_before(self, entry_id: str) -> None:
        """Drop the entries older than `entry_id`: transcription has checkpointed past them and
        never reads them again (the recording is the bot's own file), so a meeting's audio does
        not pile up in Redis at 32 KB a second for the length of the call."""
        self.redis.xtrim(self.key, minid=entry_id, approximate=False)

    def length(self) -> int:
        return int(self.redis.xlen(self.key))

    def oldest_age_s(self) -> float | None:
        """How long ago (Redis's clock, as the entry ids) the oldest entry still held was
        added; None for an empty stream. Transcription trims behind each checkpoint, at least
        every 5 s through silence too, so this is how far behind a live session's transcription
        is (a few seconds while it keeps up: 0.7-5.6 s through a call with 40 s of silence)."""
        first = self.redis.xrange(self.key, count=1)
        if not first:
            return None
        raw_id = first[0][0]
        added_ms, _ = entry_id_key(raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id))
        seconds, micros = self.redis.time()
        return max(0.0, (int(seconds) * 1000 + int(micros) // 1000 - added_ms) / 1000)

    def delete(self) -> None:
        self.redis.delete(self.key)


def read_wav_pcm16k(path: str | Path) -> bytes:
    """PCM of a 16 kHz mono 16-bit WAV file (what espeak-ng + sox produce for tests)."""
    with wave.open(str(path), "rb") as wav:
        if wav.getframerate() != SAMPLE_RATE or wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError(f"{path}: need 16 kHz mono 16-bit PCM WAV")
        return wav.readframes(wav.getnframes())


def feed_pcm(
    stream: SessionStream,
    pcm: bytes,
    *,
    start_t: float = 0.0,
    chunk_s: float = 0.1,
    realtime: bool = False,
    clock: Any = None,
) -> float:
    """Append `pcm` as ~`chunk_s` audio entries starting at `start_t`; returns the end `t`.

    With `realtime`, each chunk is appended when its last sample would have been captured
    (the pace a bot produces), measured on `clock` (default `time.monotonic`).
    """
    import time

    monotonic = clock or time.monotonic
    chunk_bytes = int(SAMPLE_RATE * chunk_s) * BYTES_PER_SAMPLE
    began = monotonic()
    t = start_t
    for offset in range(0, len(pcm), chunk_bytes):
        chunk = pcm[offset : offset + chunk_bytes]
        chunk_duration = len(chunk) / (SAMPLE_RATE * BYTES_PER_SAMPLE)
        if realtime:
            due = began + (t - start_t) + chunk_duration
            delay = due - monotonic()
            if delay > 0:
                time.sleep(delay)
        stream.append_audio(chunk, t=t)
        t += chunk_duration
    return t
