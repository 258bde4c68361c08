"""Absolute times: the session's `t` plus the capture clock's drift from the wall clock.

The bot writes `clock` entries (`bots.runtime.wallclock`): from `t` on, add `wall_offset`
seconds for wall time. The offset of a segment is the one in force at its start, a function of
the start alone (a point is written before the audio it applies to, and points only come after
the audio read so far), so a draft and its final, and a withdrawn draft, keep the same
`absolute_start_time`: clients merge by it (seed 002).
"""

from __future__ import annotations

import bisect
from typing import Any

# Points this far behind the buffer's cut are dropped from the checkpoint (one is kept before
# them): nothing emitted from then on starts that early.
KEEP_BEHIND_S = 60.0


class WallOffsets:
    """A step function of `t`: sorted (t, offset) points; 0 before the first."""

    def __init__(self, points: list[tuple[float, float]] | None = None) -> None:
        self.points: list[tuple[float, float]] = sorted(points or [])

    def add(self, *, t: float, offset_s: float) -> None:
        bisect.insort(self.points, (t, offset_s))

    def at(self, t: float) -> float:
        index = bisect.bisect_right(self.points, (t, float("inf")))
        return self.points[index - 1][1] if index else 0.0

    def dump(self, *, cut_t: float) -> list[list[float]]:
        keep_from = bisect.bisect_right(self.points, (cut_t - KEEP_BEHIND_S, float("inf")))
        return [[t, offset] for t, offset in self.points[max(keep_from - 1, 0) :]]

    @classmethod
    def load(cls, data: list[Any]) -> WallOffsets:
        return cls([(float(t), float(offset)) for t, offset in data])
