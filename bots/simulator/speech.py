"""Synthetic participants' speech: espeak-ng with a distinct voice each, as 16 kHz mono WAV.

Used by the demo, the tests and the benchmarks to script simulated meetings; speech is generated
when needed and never shipped as media. Needs the Debian packages espeak-ng and sox.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

VOICES = ("en-us+m3", "en-gb+f2", "en-us+m7", "en-gb+f4")


class SpeechToolsMissing(RuntimeError):
    """espeak-ng or sox is not installed (`make system-deps` installs both)."""


def _require_tools() -> None:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        raise SpeechToolsMissing("speech needs espeak-ng and sox (make system-deps)")


def make_speech_wav(text: str, path: Path, *, voice: str = VOICES[0], speed_wpm: int = 160) -> Path:
    """Speak `text` with espeak-ng into `path` (16 kHz, mono, 16-bit PCM)."""
    _require_tools()
    raw = path.with_suffix(".raw.wav")
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed_wpm), "-w", str(raw), text],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        # -R: sox dithers when it resamples, with a new random seed each run unless told to
        # repeat; the same text must give the same samples, or benchmarks and tests differ
        # from one run to the next by a few words.
        ["sox", "-R", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)],
        check=True,
        capture_output=True,
    )
    raw.unlink()
    return path


def make_silence_wav(path: Path, *, seconds: float) -> Path:
    _require_tools()
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(path), "trim", "0", str(seconds)],
        check=True,
        capture_output=True,
    )
    return path
