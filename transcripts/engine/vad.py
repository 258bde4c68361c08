"""Incremental voice activity detection with the Silero model that ships with faster-whisper.

Each 512-sample window's speech probability is computed once, as audio arrives (a few ms per
second of audio), so a pass can ask "is there speech after this word?" without re-running VAD
over the whole buffer.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

WINDOW = 512
CONTEXT = 64
SAMPLE_RATE = 16000
THRESHOLD = 0.5

_lock = threading.Lock()
_model: Any = None


def _vad_model() -> Any:
    global _model
    with _lock:
        if _model is None:
            from faster_whisper.vad import get_vad_model

            _model = get_vad_model()
        return _model


class SpeechProbabilities:
    """Speech probabilities of consecutive windows of one audio timeline (sample 0 = `origin`)."""

    def __init__(self) -> None:
        self.first_window = 0  # index of probs[0]
        self.probs: list[float] = []
        self._tail = np.zeros(0, dtype=np.float32)  # samples not yet a whole window
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    @property
    def end_sample(self) -> int:
        return (self.first_window + len(self.probs)) * WINDOW

    def push(self, audio: np.ndarray) -> None:
        """Append audio (float32) that directly follows what was pushed before."""
        data = np.concatenate([self._tail, audio]) if len(self._tail) else audio
        whole = len(data) // WINDOW * WINDOW
        self._tail = data[whole:].copy()
        if not whole:
            return
        windows = data[:whole].reshape(-1, WINDOW)
        contexts = np.concatenate([self._context[None], windows[:-1, -CONTEXT:]])
        self._context = windows[-1, -CONTEXT:].copy()
        batch = np.concatenate([contexts, windows], axis=1).astype(np.float32)
        model = _vad_model()
        h = np.zeros((1, 1, 128), dtype=np.float32)
        c = np.zeros((1, 1, 128), dtype=np.float32)
        output, _h, _c = model.session.run(None, {"input": batch, "h": h, "c": c})
        self.probs.extend(float(p) for p in np.asarray(output).reshape(-1))

    def drop_before(self, sample: int) -> None:
        """Forget windows that end before `sample` (the buffer was cut there)."""
        drop = max(0, min(len(self.probs), sample // WINDOW - self.first_window))
        if drop:
            del self.probs[:drop]
            self.first_window += drop

    def _indices(self, start_sample: int, end_sample: int) -> tuple[int, int]:
        """The `probs` indices of the windows that overlap [start, end)."""
        lo = max(0, start_sample // WINDOW - self.first_window)
        hi = min(len(self.probs), -(-end_sample // WINDOW) - self.first_window)
        return lo, hi

    def max_prob(self, start_sample: int, end_sample: int) -> float:
        lo, hi = self._indices(start_sample, end_sample)
        if hi <= lo:
            return 0.0
        return max(self.probs[lo:hi])

    def speech_fraction(self, start_sample: int, end_sample: int) -> float:
        lo, hi = self._indices(start_sample, end_sample)
        if hi <= lo:
            return 0.0
        window = self.probs[lo:hi]
        return sum(1 for p in window if p >= THRESHOLD) / len(window)

    def speech_seconds(self, start_sample: int, end_sample: int) -> float:
        lo, hi = self._indices(start_sample, end_sample)
        return sum(1 for p in self.probs[lo:hi] if p >= THRESHOLD) * WINDOW / SAMPLE_RATE

    def speech_spans(
        self, start_sample: int, end_sample: int, *, bridge_s: float = 0.3
    ) -> list[tuple[int, int]]:
        """Runs of speech windows in [start, end) as (start, end) samples; runs apart by less
        than `bridge_s` are one (the dips inside a word are not pauses)."""
        lo, hi = self._indices(start_sample, end_sample)
        bridge = round(bridge_s * SAMPLE_RATE / WINDOW)
        spans: list[list[int]] = []
        for i in range(lo, hi):
            if self.probs[i] < THRESHOLD:
                continue
            if spans and i - spans[-1][1] <= bridge:
                spans[-1][1] = i + 1
            else:
                spans.append([i, i + 1])
        return [
            ((self.first_window + a) * WINDOW, (self.first_window + b) * WINDOW) for a, b in spans
        ]

    def last_speech_end(self, start_sample: int, end_sample: int) -> int | None:
        """End sample of the last speech window in [start, end), or None if none."""
        lo, hi = self._indices(start_sample, end_sample)
        for i in range(hi - 1, lo - 1, -1):
            if self.probs[i] >= THRESHOLD:
                return (self.first_window + i + 1) * WINDOW
        return None
