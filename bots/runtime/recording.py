"""The meeting's audio, kept by the bot as a WAV file written incrementally.

The header is rewritten with the true sizes at every flush, so the file on disk is a valid
WAV of everything captured so far: a bot that dies keeps its recording (peers lost recordings
that were only uploaded at shutdown). Gaps in capture are filled with silence so the file stays
on the session clock.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from meetings.models import MeetingSession, Recording, RecordingStatus
from meetings.recordings import recording_close
from meetings.stream import BYTES_PER_SAMPLE, SAMPLE_RATE

HEADER_BYTES = 44
FLUSH_EVERY_S = 2.0


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


class RecordingWriter:
    """Appends session PCM to `RECORDINGS_DIR/<meeting>/<session>.wav` and its `Recording` row."""

    def __init__(self, session: MeetingSession) -> None:
        folder = Path(settings.RECORDINGS_DIR) / str(session.meeting_id)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{session.session_uid}.wav"
        self.file = self.path.open("wb")
        self.file.write(wav_header(0))
        self.data_bytes = 0
        self.last_flush = time.monotonic()
        self.recording = Recording.objects.create(
            meeting_id=session.meeting_id,
            session=session,
            status=RecordingStatus.IN_PROGRESS,
            file_path=str(self.path),
            content_type="audio/wav",
        )

    def write(self, pcm: bytes, *, t: float) -> None:
        expected = round(t * SAMPLE_RATE) * BYTES_PER_SAMPLE
        if expected > self.data_bytes:
            self.file.write(b"\0" * (expected - self.data_bytes))
            self.data_bytes = expected
        self.file.write(pcm)
        self.data_bytes += len(pcm)
        if time.monotonic() - self.last_flush >= FLUSH_EVERY_S:
            self.flush()

    def flush(self) -> None:
        self.file.flush()
        end = self.file.tell()
        self.file.seek(0)
        self.file.write(wav_header(self.data_bytes))
        self.file.seek(end)
        self.file.flush()
        self.last_flush = time.monotonic()
        Recording.objects.filter(pk=self.recording.pk).update(
            size_bytes=HEADER_BYTES + self.data_bytes,
            duration_s=self.data_bytes / (SAMPLE_RATE * BYTES_PER_SAMPLE),
            updated_at=timezone.now(),
        )

    def close(self, *, status: str = RecordingStatus.COMPLETED) -> None:
        if self.file.closed:
            return
        self.flush()
        self.file.close()
        recording_close(recording_id=self.recording.pk, status=status)
