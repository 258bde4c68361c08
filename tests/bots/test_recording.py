"""The bot's recording: what the user downloads holds what was captured, on the session clock."""

from __future__ import annotations

import shutil
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from django.test import override_settings

from accounts.models import User
from bots.runtime.recording import RecordingWriter, decode_pcm16k
from meetings.models import MeetingSession, Recording
from meetings.stream import SAMPLE_RATE
from tests.meetings.builders import meeting_in


def tone(seconds: float, hz: float = 440.0) -> bytes:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * hz * t) * 8000).astype("<i2").tobytes()


def rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def span(pcm: bytes, first_s: float, last_s: float) -> bytes:
    return pcm[int(first_s * SAMPLE_RATE) * 2 : int(last_s * SAMPLE_RATE) * 2]


@pytest.fixture
def session(alice: User, tmp_path: Path) -> Iterator[MeetingSession]:
    with override_settings(RECORDINGS_DIR=tmp_path):
        yield MeetingSession.objects.create(meeting=meeting_in(alice, "active"))


def test_an_opus_recording_holds_the_audio_and_the_gaps_on_the_session_clock_in_a_tenth_of_wav(
    session: MeetingSession,
) -> None:
    writer = RecordingWriter(session)
    for second in range(2):
        writer.write(tone(1.0), t=float(second))
    writer.write(tone(1.0), t=4.0)  # the capture missed 2 s
    writer.close()

    recording = Recording.objects.get(pk=writer.recording.pk)
    pcm = decode_pcm16k(recording.file_path)
    path = Path(recording.file_path)
    assert (recording.status, recording.content_type, path.suffix) == (
        "completed",
        "audio/ogg",
        ".opus",
    )
    assert recording.duration_s == pytest.approx(5.0)
    assert len(pcm) / (2 * SAMPLE_RATE) == pytest.approx(5.0, abs=0.03)
    assert recording.size_bytes == path.stat().st_size
    assert recording.size_bytes < 5.0 * SAMPLE_RATE * 2 / 5
    assert rms(span(pcm, 0.1, 1.9)) == pytest.approx(rms(tone(1.0)), rel=0.1)
    assert rms(span(pcm, 2.1, 3.9)) < 50
    assert rms(span(pcm, 4.1, 4.9)) == pytest.approx(rms(tone(1.0)), rel=0.1)


def test_a_bot_that_dies_mid_meeting_leaves_an_opus_file_that_plays_to_its_last_flush(
    session: MeetingSession, tmp_path: Path
) -> None:
    writer = RecordingWriter(session)
    for second in range(10):
        writer.write(tone(1.0), t=float(second))
    writer.flush()
    # What a killed bot leaves: the file as it is, never closed.
    left = tmp_path / "left.opus"
    shutil.copy(writer.recording.file_path, left)
    writer.close()

    # Ogg holds back the page being filled: about a second.
    assert len(decode_pcm16k(left)) / (2 * SAMPLE_RATE) > 8.5
    assert Recording.objects.get(pk=writer.recording.pk).size_bytes > left.stat().st_size * 0.9


@override_settings(RECORDING_FORMAT="wav")
def test_a_wav_recording_is_the_exact_pcm_with_silence_in_the_gaps(
    session: MeetingSession,
) -> None:
    writer = RecordingWriter(session)
    writer.write(tone(1.0), t=0.0)
    writer.flush()
    with wave.open(writer.recording.file_path, "rb") as wav:
        assert wav.getnframes() == SAMPLE_RATE  # valid while still being written
    writer.write(tone(1.0), t=1.5)
    writer.close()

    recording = Recording.objects.get(pk=writer.recording.pk)
    with wave.open(recording.file_path, "rb") as wav:
        pcm = wav.readframes(wav.getnframes())
    assert recording.content_type == "audio/wav"
    assert pcm == tone(1.0) + b"\0\0" * (SAMPLE_RATE // 2) + tone(1.0)
    assert decode_pcm16k(recording.file_path) == pcm
    assert recording.duration_s == pytest.approx(2.5)


def test_a_pump_still_writing_when_the_bot_closes_the_recording_cannot_break_it(
    session: MeetingSession,
) -> None:
    """After a pump that would not stop in time, both threads reach the encoder (native code):
    the writer lets one at a time, and what comes after the close is dropped."""
    writer = RecordingWriter(session)
    writing = threading.Event()
    errors: list[BaseException] = []

    def pump() -> None:
        try:
            for index in range(400):
                writer.write(tone(0.1), t=index * 0.1)
                writing.set()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=pump)
    thread.start()
    writing.wait(timeout=5)
    writer.close()
    thread.join(timeout=30)

    recording = Recording.objects.get(pk=writer.recording.pk)
    assert errors == []
    assert recording.status == "completed"
    assert recording.size_bytes == Path(recording.file_path).stat().st_size
    decoded_s = len(decode_pcm16k(recording.file_path)) / (2 * SAMPLE_RATE)
    assert decoded_s == pytest.approx(recording.duration_s, abs=0.03)
    assert 0 < recording.duration_s < 40
