"""Ringing a running bot: "look at your meeting row again" (stop, config change).

The database is the truth; this only shortens the bot's poll. A lost message costs one poll
interval, never a wrong state. Owned by the bot runtime (issue 5).
"""

from __future__ import annotations

from vexa_site.redis import get_redis


def control_channel(meeting_id: int) -> str:
    return f"vexa:bot:{meeting_id}:control"


def notify_bot(*, meeting_id: int, reason: str) -> None:
    """Tell the bot of `meeting_id` to re-read its meeting. Call after commit."""
    get_redis().publish(control_channel(meeting_id), reason)
