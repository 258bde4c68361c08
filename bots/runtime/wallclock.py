"""How far the capture's clock has drifted from the wall clock: the transcript's absolute times.

The capture counts samples (the page's audio clock, `../shared/BROWSER.md`), so `t` keeps the
recording and the transcript's relative times exact. That clock drifts from the wall clock,
though (-0.04 % to +0.18 % measured on this kind of host: up to 6.4 s an hour), and a segment's
`absolute_start_time` (the session's start plus `t`) drifted with it.

The bot stamps each chunk's arrival on the wall clock. Delivery only ever adds delay, so the
smallest lag between a chunk's arrival and its end on the capture clock, over a window of
`WINDOW_S`, is that window's estimate of how far the two clocks are apart. At each window
boundary the bot writes the estimate, relative to the first window's, as a `clock` entry in the
session's stream; transcription adds it to the `t` of what follows for absolute times.
"""

from __future__ import annotations

import math

WINDOW_S = 30.0
# Real clocks drift far less (0.18 % at most, measured). A window whose chunks all came late (a
# browser loop stalled throughout, the system clock stepped) moves the offset no faster.
MAX_DRIFT_RATE = 0.005


class WallClockSync:
    """The drift estimator of one session's capture (fed by the bot's audio pump)."""

    def __init__(self) -> None:
        self.window: int | None = None
        self.window_lag = math.inf
        self.base_lag: float | None = None
        self.offset_s = 0.0

    def observe(self, *, t: float, duration_s: float, arrived: float) -> float | None:
        """A chunk starting at capture time `t` arrived at wall time `arrived` (epoch seconds).

        Returns the offset (seconds to add to `t` from this chunk on) when the chunk opens a new
        window: the caller writes it to the stream before the chunk's audio.
        """
        window = math.floor(t / WINDOW_S)
        due: float | None = None
        if self.window is not None and window > self.window:
            if self.base_lag is None:
                self.base_lag = self.window_lag
            # Bounded, so one bad window (or a rejoin's gap of several) moves it only so far.
            step = MAX_DRIFT_RATE * WINDOW_S * (window - self.window)
            measured = self.window_lag - self.base_lag
            self.offset_s = min(max(measured, self.offset_s - step), self.offset_s + step)
            self.window_lag = math.inf
            due = round(self.offset_s, 4)
        if self.window is None or window > self.window:
            self.window = window
        self.window_lag = min(self.window_lag, arrived - (t + duration_s))
        return due
