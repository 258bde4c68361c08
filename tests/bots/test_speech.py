"""The synthetic participants' speech used by the demo, the tests and the benchmarks."""

from __future__ import annotations

from pathlib import Path

from meetings.stream import read_wav_pcm16k
from tests.speech import VOICES, make_speech_wav


def test_the_same_text_gives_the_same_samples_every_time(tmp_path: Path) -> None:
    # sox dithers when it resamples espeak's 22.05 kHz to 16 kHz; unseeded, every run heard a
    # slightly different clip, and WER benchmarks moved by several words between runs.
    text = "The marketing campaign doubled the number of new users."
    first = read_wav_pcm16k(make_speech_wav(text, tmp_path / "a.wav", voice=VOICES[1]))
    second = read_wav_pcm16k(make_speech_wav(text, tmp_path / "b.wav", voice=VOICES[1]))
    assert len(first) > 16000 * 2
    assert first == second
