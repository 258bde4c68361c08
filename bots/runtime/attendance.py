"""Who attended the call, and when: presence intervals per participant, from the page's tiles.

The bot sees a person from the moment their tile shows (or from its own admission, for people
already there) until it goes. A tile that goes for a moment (the gallery re-rendered, a list
briefly empty: peers' bots took that for "everyone left") is not a departure: a person counts
as gone only once absent for `LEAVE_GRACE_S` of watching, and their interval then ends when
they were last seen. Time the bot did not watch (a rejoin) is not counted as absence. People a
gallery shows no tile for are not seen here (their words still carry their caption names).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vexa_site.timestamps import iso_z

LEAVE_GRACE_S = 5.0
# Observations further apart than this are a gap in the watching (a rejoin), not absence.
WATCH_GAP_S = 1.0


@dataclass
class _Stay:
    name: str
    joined_at: datetime
    last_seen_at: datetime
    left_at: datetime | None = None
    absent_s: float = 0.0


@dataclass
class Attendance:
    """Presence intervals, oldest first; `observe` once per page scan in the call."""

    stays: list[_Stay] = field(default_factory=list)
    _open: dict[str, _Stay] = field(default_factory=dict)
    _observed_at: float | None = None

    @classmethod
    def resumed(cls, entries: Iterable[Any], *, wall: datetime) -> Attendance:
        """Take over what a lost bot stored (`data.attendance`): its ended stays as they are,
        and whoever it still saw as there from `wall` on, so that seeing them again goes on
        with the same stay."""
        attendance = cls()
        for entry in entries:
            try:
                left_raw = entry.get("left_at")
                stay = _Stay(
                    name=str(entry["name"]),
                    joined_at=datetime.fromisoformat(entry["joined_at"]),
                    last_seen_at=wall,
                    left_at=datetime.fromisoformat(left_raw) if left_raw else None,
                )
            except (AttributeError, KeyError, TypeError, ValueError):
                continue  # not a stay this module wrote
            attendance.stays.append(stay)
            if stay.left_at is None:
                attendance._open[stay.name] = stay
        return attendance

    def observe(self, shown: Iterable[str], *, now: float, wall: datetime) -> bool:
        """The names the page shows at monotonic `now` (wall time `wall`), in its order; True:
        a change (someone joined or counted as gone) worth storing."""
        names = dict.fromkeys(shown)
        step = 0.0 if self._observed_at is None else now - self._observed_at
        if step > WATCH_GAP_S:
            step = 0.0
        self._observed_at = now
        changed = False
        for name in names:
            stay = self._open.get(name)
            if stay is None:
                stay = self._open[name] = _Stay(name=name, joined_at=wall, last_seen_at=wall)
                self.stays.append(stay)
                changed = True
            stay.last_seen_at = wall
            stay.absent_s = 0.0
        for name, stay in list(self._open.items()):
            if name in names:
                continue
            stay.absent_s += step
            if stay.absent_s >= LEAVE_GRACE_S:
                stay.left_at = stay.last_seen_at
                del self._open[name]
                changed = True
        return changed

    def end_absent(self) -> bool:
        """The bot leaves: whoever is already missing (within the grace) did leave, when they
        were last seen. True if anyone was."""
        missing = [name for name, stay in self._open.items() if stay.absent_s]
        for name in missing:
            stay = self._open.pop(name)
            stay.left_at = stay.last_seen_at
        return bool(missing)

    def close(self, *, wall: datetime) -> None:
        """The bot leaves: whoever is still there was there until now (someone already missing,
        within the grace, until they were last seen)."""
        self.end_absent()
        for stay in self._open.values():
            stay.left_at = wall
        self._open.clear()

    def as_data(self) -> list[dict[str, Any]]:
        """`data.attendance`: `{name, joined_at, left_at}` (null while still there)."""
        return [
            {
                "name": stay.name,
                "joined_at": iso_z(stay.joined_at),
                "left_at": None if stay.left_at is None else iso_z(stay.left_at),
            }
            for stay in self.stays
        ]
