"""Who speaks, from a platform's live captions, for people the page shows no tile for.

A gallery shows only so many tiles (peers' users report wrong speaker names from five people
on); whoever has no tile has no speaking indicator either. Live captions name every speaker: a
caption row appears after its author starts and is rewritten in place while they go on. Rows
trail the speech (the platform transcribes it first), so times are moved back by `lag_s`, and an
author counts as speaking until `hold_s` passes without their row changing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# guess: Teams' captions trail the words by about a second (a row's update, then the bot's scan).
CAPTION_LAG_S = 1.0
# A row unchanged this long means its author stopped (rows update several times a second).
CAPTION_HOLD_S = 1.0


@dataclass(frozen=True)
class CaptionEvent:
    """A speaker start or stop read from captions, at a capture-clock time `t`."""

    name: str
    state: str  # "start" | "stop"
    t: float


@dataclass
class CaptionSpeakers:
    """Turns successive caption scans into speaker start/stop events (pure; the bot feeds it)."""

    lag_s: float = CAPTION_LAG_S
    hold_s: float = CAPTION_HOLD_S
    rows: tuple[tuple[str, str], ...] | None = None  # the last scan; None before the first
    # author → (start time, clock of the last change seen)
    open: dict[str, tuple[float, float]] = field(default_factory=dict)

    def observe(
        self, rows: tuple[tuple[str, str], ...], clock: float, *, ignore: set[str]
    ) -> list[CaptionEvent]:
        """Events from one scan at `clock`; authors in `ignore` (people with a tile, the bot)
        are left to the tiles."""
        events: list[CaptionEvent] = []
        if self.rows is None:
            # Rows already there when captions came on are history, not speech now.
            self.rows = rows
            return events
        seen = set(self.rows)
        self.rows = rows
        for author, _text in (row for row in rows if row not in seen):
            if not author or author in ignore:
                continue
            if author in self.open:
                self.open[author] = (self.open[author][0], clock)
            else:
                start = max(0.0, clock - self.lag_s)
                self.open[author] = (start, clock)
                events.append(CaptionEvent(author, "start", start))
        for author, (start, last) in list(self.open.items()):
            if clock - last >= self.hold_s or author in ignore:
                stop = max(start, last - self.lag_s)
                events.append(CaptionEvent(author, "stop", stop))
                del self.open[author]
        return events
