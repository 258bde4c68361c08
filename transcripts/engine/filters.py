"""Whisper's known hallucinations on non-speech, and how to recognise them.

Whisper trained on subtitles says "Thank you." or "Thanks for watching!" over silence and
noise, and loops on a word. A hypothesis is dropped when the model itself doubts speech
(`no_speech_prob` high and low log-probability), and a word is dropped when VAD heard no speech
under it; the phrase list catches the classics when VAD is unsure.
"""

from __future__ import annotations

import re

NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
MAX_REPEATS = 3

PHRASES = {
    "thank you",
    "thank you very much",
    "thanks for watching",
    "thank you for watching",
    "thanks for watching and see you next time",
    "please subscribe",
    "subscribe to my channel",
    "like and subscribe",
    "bye",
    "you",
    "the end",
    "so",
    "okay",
    "oh",
    "hmm",
    "music",
    "applause",
    "silence",
}

_norm_re = re.compile(r"[^\w' ]+")


def normalize(text: str) -> str:
    """Lower-case, punctuation-free: the form words are compared in (LocalAgreement too)."""
    return " ".join(_norm_re.sub(" ", text.lower()).split())


def is_silence_hypothesis(*, no_speech_prob: float, avg_logprob: float) -> bool:
    return no_speech_prob > NO_SPEECH_PROB and avg_logprob < LOW_LOGPROB


def is_stock_phrase(text: str) -> bool:
    return normalize(text) in PHRASES


def collapse_repeats(words: list[str]) -> list[int]:
    """Indexes of words to keep: a word repeated more than `MAX_REPEATS` times in a row is a
    decoder loop, so only its first occurrence stays."""
    result: list[int] = []
    i = 0
    while i < len(words):
        j = i
        while j + 1 < len(words) and normalize(words[j + 1]) == normalize(words[i]):
            j += 1
        count = j - i + 1
        result.extend(range(i, i + (count if count <= MAX_REPEATS else 1)))
        i = j + 1
    return result
