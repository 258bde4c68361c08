"""Publishing live events to WebSocket/SSE subscribers (after the database commit).

Owned by the real-time delivery work (issue 4). Callers (the lifecycle event hook, the
transcription engine) use only these two functions; the wire format is built here.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def meeting_group(meeting_id: int) -> str:
    return f"meeting.{meeting_id}"


def _send(meeting_id: int, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(
        meeting_group(meeting_id), {"type": "meeting.event", "message": message}
    )


def publish_segments(*, meeting_id: int, kind: str, segments: list[dict[str, Any]]) -> None:
    """Publish `transcript.mutable` (`kind="mutable"`) or `transcript.finalized` segments.

    `segments` are already in the wire shape (see `transcripts.serializers`). Call after commit.
    """
    raise NotImplementedError  # issue 4


def publish_meeting_status(
    *, meeting_id: int, platform: str, native_id: str, status: str, ts: str
) -> None:
    """Publish a `meeting.status` message. Call after commit."""
    raise NotImplementedError  # issue 4
