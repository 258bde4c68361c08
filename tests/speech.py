"""Test speech: espeak-ng with a distinct voice per speaker, converted to 16 kHz mono WAV.

Generated at test time into a temporary folder (never committed).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

VOICES = ("en-us+m3", "en-gb+f2", "en-us+m7", "en-gb+f4")


def make_speech_wav(text: str, path: Path, *, voice: str = VOICES[0], speed_wpm: int = 160) -> Path:
    """Speak `text` with espeak-ng into `path` (16 kHz, mono, 16-bit PCM)."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed_wpm), "-w", str(raw), text],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)],
        check=True,
        capture_output=True,
    )
    raw.unlink()
    return path


def make_silence_wav(path: Path, *, seconds: float) -> Path:
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(path), "trim", "0", str(seconds)],
        check=True,
        capture_output=True,
    )
    return path
