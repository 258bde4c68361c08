"""The meeting's audio, kept by the bot in a file written incrementally.

`RECORDING_FORMAT=opus` (the default) writes Ogg Opus at 32 kbit/s: 11-15 MB an hour instead
of WAV's 115 MB, for about 1 % of a core, and an offline pass over it scores as over the WAV
(`bench/recording_format.py`: WER 0.032 both on clean speech; 24 kbit/s 0.046). Ogg pages
reach the disk as they fill, so a bot that dies leaves a file that plays to within a second of
its end. `wav` keeps 16 kHz PCM; its header is rewritten with the true sizes at every flush,
so that file is always a valid WAV of everything captured. Either way a bot that dies keeps its
recording (peers lost recordings that were only uploaded at shutdown), and gaps in capture are
filled with silence so the file stays on the session clock.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import threading
import time
from pathlib import Path
from typing import IO, Protocol

import av
import numpy as np
from django.conf import settings
from django.db import Error as DbError
from django.db import connection
from django.utils import timezone

from meetings.models import MeetingSession, Recording, RecordingStatus
from meetings.recordings import recording_close
from meetings.stream import BYTES_PER_SAMPLE, SAMPLE_RATE
from vexa_site.db import connection_lost, db_retry

logger = logging.getLogger(__name__)

FLUSH_EVERY_S = 2.0
OPUS_BIT_RATE = 32_000
# Silence for a capture gap is encoded a second at a time, not as one huge frame.
GAP_CHUNK_BYTES = SAMPLE_RATE * BYTES_PER_SAMPLE
# Format name -> (file suffix, content type).
FORMATS = {"opus": (".opus", "audio/ogg"), "wav": (".wav", "audio/wav")}
# What writing the file raises when the disk is full or the file may grow no more (the encoder's
# errors wrap the file's).
WRITE_ERRORS = (OSError, av.error.FFmpegError)


def wav_header(data_bytes: int) -> bytes:
    return b"".join(
        [
            b"RIFF",
            struct.pack("<I", 36 + data_bytes),
            b"WAVEfmt ",
            struct.pack("<IHHIIHH", 16, 1, 1, SAMPLE_RATE, SAMPLE_RATE * BYTES_PER_SAMPLE, 2, 16),
            b"data",
            struct.pack("<I", data_bytes),
        ]
    )


class _AudioFile(Protocol):
    def write(self, pcm: bytes) -> None: ...
    def flush(self, data_bytes: int) -> int: ...
    def close(self) -> None: ...


class _WavFile:
    """16 kHz mono PCM after a header that every flush makes true."""

    def __init__(self, path: Path) -> None:
        self.file: IO[bytes] = path.open("wb")
        self.file.write(wav_header(0))

    def write(self, pcm: bytes) -> None:
        self.file.write(pcm)

    def flush(self, data_bytes: int) -> int:
        self.file.flush()
        end = self.file.tell()
        self.file.seek(0)
        self.file.write(wav_header(data_bytes))
        self.file.seek(end)
        self.file.flush()
        return end

    def close(self) -> None:
        self.file.close()


class _OggOpusFile:
    """Ogg Opus (RFC 7845), mono, encoded as the audio arrives."""

    def __init__(self, path: Path) -> None:
        self.file: IO[bytes] = path.open("wb")
        self.container = av.open(self.file, "w", format="ogg")
        self.stream = self.container.add_stream("libopus", rate=SAMPLE_RATE)
        self.stream.bit_rate = OPUS_BIT_RATE
        self.stream.layout = "mono"
        self.samples = 0

    def write(self, pcm: bytes) -> None:
        samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self.samples
        self.samples += samples.shape[1]
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def flush(self, data_bytes: int) -> int:
        # Pages the muxer has completed reach the disk; the page being filled follows later.
        self.file.flush()
        return self.file.tell()

    def close(self) -> None:
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
            self.container.close()
        finally:
            self.file.close()  # even when the last pages could not be written


def decode_pcm16k(path: str | Path) -> bytes:
    """A recording (Ogg Opus or WAV) as 16 kHz mono 16-bit PCM."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    parts: list[bytes] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            parts.extend(bytes(f.to_ndarray().tobytes()) for f in resampler.resample(frame))
    parts.extend(bytes(f.to_ndarray().tobytes()) for f in resampler.resample(None))
    return b"".join(parts)


class RecordingWriter:
    """Appends session PCM to `RECORDINGS_DIR/<meeting>/<session>.<opus|wav>` and its
    `Recording` row. The bot's pump thread writes; its own thread closes, and after a pump that
    would not stop in time it still may be writing: the lock keeps the encoder (native code,
    not thread-safe) to one caller, and a write after the close is dropped."""

    def __init__(self, session: MeetingSession) -> None:
        folder = Path(settings.RECORDINGS_DIR) / str(session.meeting_id)
        folder.mkdir(parents=True, exist_ok=True)
        suffix, content_type = FORMATS[settings.RECORDING_FORMAT]
        self.path = folder / f"{session.session_uid}{suffix}"
        self.audio: _AudioFile = (
            _OggOpusFile(self.path) if settings.RECORDING_FORMAT == "opus" else _WavFile(self.path)
        )
        self.lock = threading.Lock()
        self.closed = False
        self.data_bytes = 0  # PCM written, gaps included: the recording's duration
        self.last_flush = time.monotonic()
        self.recording = Recording.objects.create(
            meeting_id=session.meeting_id,
            session=session,
            status=RecordingStatus.IN_PROGRESS,
            file_path=str(self.path),
            content_type=content_type,
        )

    def write(self, pcm: bytes, *, t: float) -> None:
        with self.lock:
            if self.closed:
                return
            expected = round(t * SAMPLE_RATE) * BYTES_PER_SAMPLE
            try:
                while expected > self.data_bytes:
                    gap = min(expected - self.data_bytes, GAP_CHUNK_BYTES)
                    self.audio.write(b"\0" * gap)
                    self.data_bytes += gap
                self.audio.write(pcm)
            except WRITE_ERRORS as exc:
                self._abandon(exc)
                return
            self.data_bytes += len(pcm)
            due = time.monotonic() - self.last_flush >= FLUSH_EVERY_S
        if due:
            self.flush()

    def flush(self) -> None:
        # The row is updated under the lock too, so a flush never writes a size older than the
        # close's.
        with self.lock:
            if self.closed:
                return
            try:
                size_bytes = self.audio.flush(self.data_bytes)
            except WRITE_ERRORS as exc:
                self._abandon(exc)
                return
            self.last_flush = time.monotonic()
            try:
                self._save_sizes(size_bytes)
            except DbError as exc:
                if not connection_lost(exc):
                    raise
                # Progress only (the close writes the final sizes): the pump must not hold the
                # call's audio back while the database is away. The next flush reconnects.
                logger.warning("recording %s: sizes not saved (%s)", self.recording.pk, exc)
                connection.close()

    def close(self, *, status: str = RecordingStatus.COMPLETED) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self.audio.flush(self.data_bytes)
            self.audio.close()
            size_bytes = self.path.stat().st_size
            what = f"recording {self.recording.pk}"
            db_retry(lambda: self._save_sizes(size_bytes), what=what)
        db_retry(lambda: recording_close(recording_id=self.recording.pk, status=status), what=what)

    def _abandon(self, exc: BaseException) -> None:
        """Under the lock: the file cannot be written (a full disk). The recording fails with
        what reached the disk, and the call goes on: its transcript does not need the file."""
        logger.error(
            "recording %s: writing %s failed (%s); recording stopped, the call goes on",
            self.recording.pk,
            self.path,
            exc,
        )
        self.closed = True
        with contextlib.suppress(*WRITE_ERRORS):
            self.audio.close()  # writes its last pages, which fail the same way
        try:
            size_bytes = self.path.stat().st_size
        except OSError:
            size_bytes = 0
        what = f"recording {self.recording.pk}"
        db_retry(lambda: self._save_sizes(size_bytes), what=what)
        db_retry(
            lambda: recording_close(recording_id=self.recording.pk, status=RecordingStatus.FAILED),
            what=what,
        )

    def _save_sizes(self, size_bytes: int) -> None:
        Recording.objects.filter(pk=self.recording.pk).update(
            size_bytes=size_bytes,
            duration_s=self.data_bytes / (SAMPLE_RATE * BYTES_PER_SAMPLE),
            updated_at=timezone.now(),
        )
