"""Who spoke when: intervals built from the bot's speaker start/stop events.

A word (or segment) belongs to the participant whose speaking interval overlaps it most, the
one who started last among equals (an interval still open because its stop comes late, as from
live captions, must not take the next speaker's words); with no overlap, to the nearest
interval within `NEAREST_S` (indicators lag the audio a little).

A turn's first word is the exception: platforms hold a speaking indicator on for a while after
the speech stops, and a polled indicator turns on a little after it starts, so the previous
speaker's held interval can overlap the new speaker's first word more than the new interval
does ("Alice: Thanks / Bob: Alice." on a loaded host). At such a hand-over (the older interval
ends within `HOLD_S` of the newer one's start), a word that begins after, or less than
`START_LAG_S` before, the newer start goes to the newer speaker. Overlapping speech (the older
speaker goes on talking) keeps the rule of the larger overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NEAREST_S = 0.75
START_LAG_S = 0.3
HOLD_S = 0.8
KEEP_S = 30.0


@dataclass
class Interval:
    name: str
    participant_id: str
    start: float
    end: float | None  # None: still speaking

    def overlap(self, start: float, end: float) -> float:
        stop = self.end if self.end is not None else float("inf")
        return max(0.0, min(end, stop) - max(start, self.start))

    def distance(self, start: float, end: float) -> float:
        stop = self.end if self.end is not None else float("inf")
        if end < self.start:
            return self.start - end
        if start > stop:
            return start - stop
        return 0.0


class SpeakerTimeline:
    def __init__(self, intervals: list[Interval] | None = None) -> None:
        self.intervals: list[Interval] = intervals or []

    def event(self, *, name: str, participant_id: str, state: str, t: float) -> None:
        key = participant_id or name
        open_ = [i for i in self.intervals if (i.participant_id or i.name) == key and i.end is None]
        if state == "start":
            if not open_:
                self.intervals.append(Interval(name, participant_id, t, None))
        else:
            for interval in open_:
                interval.end = max(t, interval.start)

    def speaker_for(self, start: float, end: float) -> str | None:
        if not self.intervals:
            return None
        overlapping = [i for i in self.intervals if i.overlap(start, end) > 0]
        if overlapping:
            newest = max(overlapping, key=lambda i: i.start)
            handed_over = all(
                i.end is not None and i.end <= newest.start + HOLD_S
                for i in overlapping
                if i is not newest
            )
            if handed_over and newest.start <= start + START_LAG_S:
                return newest.name
            return max(overlapping, key=lambda i: (i.overlap(start, end), i.start)).name
        nearest = min(self.intervals, key=lambda i: i.distance(start, end))
        if nearest.distance(start, end) <= NEAREST_S:
            return nearest.name
        return None

    def forget_before(self, t: float) -> None:
        self.intervals = [i for i in self.intervals if i.end is None or i.end >= t - KEEP_S]

    def dump(self) -> list[dict[str, Any]]:
        return [
            {"name": i.name, "pid": i.participant_id, "start": i.start, "end": i.end}
            for i in self.intervals
        ]

    @classmethod
    def load(cls, data: list[dict[str, Any]]) -> SpeakerTimeline:
        return cls([Interval(d["name"], d["pid"], float(d["start"]), d["end"]) for d in data or []])
