"""Automatic leave: when a bot gives up waiting or leaves a call on its own.

Configurable per bot in `bot_config["automatic_leave"]`, in seconds (`waiting_room`,
`no_one_joined`, `everyone_left`, `silence`, `max_duration`, as `POST /bots` stores them; a
`_timeout_s` suffix is accepted too) or with Vexa's millisecond names (`waiting_room_timeout`,
`noone_joined_timeout`, `everyone_left_timeout`).
Defaults follow shared/PLATFORMS.md; `silence` (no audible sound in the call, people present or
not: a meeting everyone walked away from with their tiles still up) sits between Attendee's
600 s, which a long break would trip, and Recall's 3600 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULTS_S = {
    "waiting_room_timeout_s": 900.0,
    "no_one_joined_timeout_s": 120.0,
    "everyone_left_timeout_s": 60.0,
    "silence_timeout_s": 1800.0,
    "max_duration_s": 7200.0,
}
_SECONDS_NAMES = {
    "waiting_room": "waiting_room_timeout_s",
    "no_one_joined": "no_one_joined_timeout_s",
    "everyone_left": "everyone_left_timeout_s",
    "silence": "silence_timeout_s",
    "max_duration": "max_duration_s",
}
_VEXA_MS_NAMES = {
    "waiting_room_timeout": "waiting_room_timeout_s",
    "noone_joined_timeout": "no_one_joined_timeout_s",
    "no_one_joined_timeout": "no_one_joined_timeout_s",
    "everyone_left_timeout": "everyone_left_timeout_s",
    "max_duration": "max_duration_s",
}


@dataclass(frozen=True)
class AutomaticLeave:
    waiting_room_timeout_s: float = DEFAULTS_S["waiting_room_timeout_s"]
    no_one_joined_timeout_s: float = DEFAULTS_S["no_one_joined_timeout_s"]
    everyone_left_timeout_s: float = DEFAULTS_S["everyone_left_timeout_s"]
    silence_timeout_s: float = DEFAULTS_S["silence_timeout_s"]
    max_duration_s: float = DEFAULTS_S["max_duration_s"]

    @classmethod
    def from_config(cls, bot_config: dict[str, Any] | None) -> AutomaticLeave:
        raw = (bot_config or {}).get("automatic_leave") or {}
        values = dict(DEFAULTS_S)
        if isinstance(raw, dict):
            for key, value in raw.items():
                if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                    continue
                if key in values:
                    values[key] = float(value)
                elif key in _SECONDS_NAMES:
                    values[_SECONDS_NAMES[key]] = float(value)
                elif key in _VEXA_MS_NAMES:
                    values[_VEXA_MS_NAMES[key]] = float(value) / 1000.0
        return cls(**values)


class LeaveTimers:
    """Decides, from participant counts and sound over time, whether the bot should leave.

    `observe(count, now, heard_at=...)` returns a completion reason once a timer is due. Being
    alone must last the whole timeout: a momentary count of 0 (tiles re-rendering) never ends
    the meeting. `heard_at` is when the call was last audible (silence counts from admission).
    """

    def __init__(self, policy: AutomaticLeave, *, admitted_at: float) -> None:
        self.policy = policy
        self.admitted_at = admitted_at
        self.others_seen = False
        self.alone_since: float | None = admitted_at

    def observe(self, others: int, now: float, *, heard_at: float | None = None) -> str | None:
        if others > 0:
            self.others_seen = True
            self.alone_since = None
        elif self.alone_since is None:
            self.alone_since = now
        if now - self.admitted_at >= self.policy.max_duration_s:
            return "max_bot_time_exceeded"
        quiet_since = max(self.admitted_at, heard_at or self.admitted_at)
        if now - quiet_since >= self.policy.silence_timeout_s:
            return "silence_timeout"
        if self.alone_since is None:
            return None
        if not self.others_seen and now - self.admitted_at >= self.policy.no_one_joined_timeout_s:
            return "no_one_joined"
        if self.others_seen and now - self.alone_since >= self.policy.everyone_left_timeout_s:
            return "left_alone"
        return None
