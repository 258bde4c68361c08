"""Speech clips and stream-entry helpers shared by the engine and task tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from meetings.stream import BYTES_PER_SAMPLE, SAMPLE_RATE, StreamEntry, read_wav_pcm16k
from tests.speech import VOICES, make_silence_wav, make_speech_wav
from transcripts.engine.filters import normalize

# Words tiny.en hears reliably in these espeak voices (it misspells others now and then).
KEYWORDS = {
    "budget": ("quarterly", "budget", "monday", "please"),
    "garden": ("garden", "tomatoes", "flowers", "summer"),
    "train": ("morning", "train", "late", "again", "snow"),
}

CLIPS = {
    "budget": "The quarterly budget review starts on Monday. Please bring the revenue numbers.",
    "garden": "My garden has tomatoes, carrots and purple flowers this summer.",
    "train": "The morning train to Boston was late again because of the snow.",
}


@dataclass
class Clip:
    text: str
    pcm: bytes

    @property
    def seconds(self) -> float:
        return len(self.pcm) / (SAMPLE_RATE * BYTES_PER_SAMPLE)


def make_clips(folder: Path) -> dict[str, Clip]:
    clips: dict[str, Clip] = {}
    for i, (name, text) in enumerate(CLIPS.items()):
        path = make_speech_wav(text, folder / f"{name}.wav", voice=VOICES[i % len(VOICES)])
        clips[name] = Clip(text, read_wav_pcm16k(path))
    clips["silence"] = Clip("", read_wav_pcm16k(make_silence_wav(folder / "s.wav", seconds=4)))
    return clips


class EntryMaker:
    """Builds stream entries with increasing ids, the way `SessionStream` would store them."""

    def __init__(self) -> None:
        self.n = 0
        self.t = 0.0

    def _id(self) -> str:
        self.n += 1
        return f"{1000 + self.n}-0"

    def audio(self, pcm: bytes, *, chunk_s: float = 0.1) -> list[StreamEntry]:
        out = []
        step = int(SAMPLE_RATE * chunk_s) * BYTES_PER_SAMPLE
        for offset in range(0, len(pcm), step):
            chunk = pcm[offset : offset + step]
            out.append(StreamEntry(id=self._id(), type="audio", t=self.t, pcm=chunk))
            self.t += len(chunk) / (SAMPLE_RATE * BYTES_PER_SAMPLE)
        return out

    def speaker(self, name: str, state: str) -> StreamEntry:
        return StreamEntry(
            id=self._id(), type="speaker", t=self.t, name=name, participant_id=name, state=state
        )

    def config(self, *, language: str | None, task: str | None) -> StreamEntry:
        return StreamEntry(id=self._id(), type="config", t=self.t, language=language, task=task)

    def clock(self, wall_offset: float) -> StreamEntry:
        return StreamEntry(id=self._id(), type="clock", t=self.t, wall_offset=wall_offset)

    def end(self) -> StreamEntry:
        return StreamEntry(id=self._id(), type="end", reason="test")


def words_of(text: str) -> list[str]:
    return normalize(text).split()


def recall(expected: str, got: str) -> float:
    """Share of the expected words found in `got` (a bag-of-words check robust to tiny.en's
    spelling of espeak voices)."""
    want = words_of(expected)
    have = words_of(got)
    pool = list(have)
    found = 0
    for word in want:
        if word in pool:
            pool.remove(word)
            found += 1
    return found / max(1, len(want))


def missing(text: str, *clips: str) -> list[str]:
    """Keywords of `clips` absent from `text`."""
    got = words_of(text)
    return [k for clip in clips for k in KEYWORDS[clip] if k not in got]
