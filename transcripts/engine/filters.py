"""Whisper's known hallucinations on non-speech, and how to recognise them.

Whisper trained on subtitles says "Thank you." or "Thanks for watching!" over silence and
noise, and loops on a word. A hypothesis is dropped when the model itself doubts speech
(`no_speech_prob` high and low log-probability), and a word is dropped when VAD heard no speech
under it; the phrase list catches the classics when VAD is unsure. The words kept are clamped to the
speech VAD heard under them (`words_heard`).
"""

from __future__ import annotations

import functools
import re

from transcripts.engine.model import PassResult, Word
from transcripts.engine.vad import SAMPLE_RATE, SpeechProbabilities

NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
MAX_REPEATS = 3
# A word is kept only where VAD's speech probability around it reaches this.
WORD_SPEECH_MIN = 0.5
# Speech that ends less than this before the next word's start runs into that word.
RUNS_INTO_S = 0.3

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


def conditioning(text: str) -> str:
    """`text` as the model is conditioned on it (prompt, forced prefix)."""
    return text.replace("!", ".")


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


def words_heard(
    words: list[Word], result: PassResult, *, vad: SpeechProbabilities, origin_t: float
) -> list[Word]:
    """A pass's words (session times) less hallucinations and decoder loops, each clamped to
    the speech under it; `vad` covers the session's audio from `origin_t` on."""
    if not words:
        return []
    if is_silence_hypothesis(no_speech_prob=result.no_speech_prob, avg_logprob=result.avg_logprob):
        return []
    sample = functools.partial(_sample, origin_t=origin_t)
    # A word is kept only if VAD heard speech around it (hallucinations sit on silence).
    span = (sample(words[0].start), sample(words[-1].end))
    if is_stock_phrase(result.text) and vad.speech_fraction(*span) < 0.5:
        return []
    heard = [
        w
        for w in words
        if vad.max_prob(sample(w.start - 0.1), sample(w.end + 0.1)) >= WORD_SPEECH_MIN
    ]
    kept = [heard[i] for i in collapse_repeats([w.text for w in heard])]
    return [
        _clamped(
            word,
            after=kept[k + 1] if k + 1 < len(kept) else None,
            vad=vad,
            origin_t=origin_t,
        )
        for k, word in enumerate(kept)
    ]


def _sample(t: float, origin_t: float) -> int:
    return round((t - origin_t) * SAMPLE_RATE)


def _clamped(word: Word, *, after: Word | None, vad: SpeechProbabilities, origin_t: float) -> Word:
    """Alignment stretches a word next to a pause into the silence; VAD knows better. A true
    end lets a pause confirm the word sooner; a true start keeps a turn's first word (aligned up
    to 1.8 s early, on a loaded host) out of the previous speaker's interval, whose indicator is
    still held, and gives its segment the time it was said.

    A first word stretched across the whole pause also covers the last speaker's final
    syllable: where the speech under a word is apart by a pause and the word's own part runs
    into the next word, the word is that part."""
    spans = vad.speech_spans(_sample(word.start, origin_t), _sample(word.end, origin_t))
    if not spans:
        return word
    runs_into_next = after is not None and (
        after.start - (origin_t + spans[-1][1] / SAMPLE_RATE) < RUNS_INTO_S
    )
    if len(spans) > 1 and runs_into_next:
        spans = spans[-1:]
    heard_from = origin_t + spans[0][0] / SAMPLE_RATE
    heard_to = origin_t + spans[-1][1] / SAMPLE_RATE
    start = max(word.start, min(heard_from - 0.05, word.end - 0.05))
    end = max(start + 0.05, min(word.end, heard_to + 0.05))
    if (start, end) == (word.start, word.end):
        return word
    return Word(word.text, start, end, word.probability)
