"""Benchmark speech: a few minutes of espeak-ng sentences in several voices, with pauses."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from bots.simulator.speech import VOICES, make_speech_wav

SENTENCES = [
    "The quarterly budget review starts on Monday.",
    "Please bring the revenue numbers and the hiring plan.",
    "Our team shipped the new dashboard yesterday, and customers like it.",
    "We still need to fix the login page before the release.",
    "My garden has tomatoes, carrots and purple flowers this summer.",
    "The morning train to Boston was late again because of the snow.",
    "Can you send me the slides after the meeting?",
    "I think we should hire two more engineers next quarter.",
    "The server crashed twice last week, so we added more memory.",
    "Let us meet again on Thursday at three o'clock.",
    "The marketing campaign doubled the number of new users.",
    "Remember to update the documentation for the public API.",
]


def speech_wav(text: str, path: Path, *, voice: str, speed_wpm: int = 165) -> Path:
    return make_speech_wav(text, path, voice=voice, speed_wpm=speed_wpm)


def conversation(folder: Path, *, seed: int = 0, turns: int = 12) -> tuple[bytes, list[dict]]:
    """PCM of `turns` sentences by alternating voices with 0.3-1.5 s pauses; and the script:
    [{"text", "speaker", "start", "end"}] in seconds."""
    import random

    from meetings.stream import read_wav_pcm16k

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    pcm = b""
    script: list[dict] = []
    for i in range(turns):
        text = SENTENCES[(i + seed) % len(SENTENCES)]
        # Seeds 0-3 keep one voice per sentence; each later group of four moves the voices on,
        # so a long benchmark hears every sentence in several voices.
        voice = VOICES[(i + seed + seed // len(VOICES)) % len(VOICES)]
        clip = read_wav_pcm16k(speech_wav(text, folder / f"s{seed}_{i}.wav", voice=voice))
        start = len(pcm) / 32000
        pcm += clip
        script.append(
            {"text": text, "speaker": f"Speaker {voice}", "start": start, "end": len(pcm) / 32000}
        )
        pause = rng.uniform(0.3, 1.5)
        pcm += b"\x00\x00" * int(16000 * pause)
    return pcm, script


@functools.cache
def _normalizer() -> Any:
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()  # builds its spelling tables once


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER after Whisper's own English normaliser (the one its WER figures use): "three" and
    "3", "OK" and "okay" are the same word, so only real mistakes count."""
    import jiwer

    normalize = _normalizer()
    return float(jiwer.wer(normalize(reference), normalize(hypothesis) or "-"))


def offline_text(pcm: bytes) -> str:
    """The same model's stock `transcribe()` of the whole conversation (beam 5, VAD off)."""
    import numpy as np

    from transcripts.engine.model import get_model

    audio = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768
    segments, _ = get_model().transcribe(audio, beam_size=5)
    return " ".join(s.text for s in segments)
