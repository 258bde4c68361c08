"""The segment wire shape shared by REST (`GET /transcripts`), WebSocket and SSE.

Vexa's REST segments use `end`, its WebSocket segments `end_time`: both are emitted so that a
client merging the two (the seed's bootstrap pattern) finds the fields it expects in each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from transcripts.models import Segment
from vexa_site.timestamps import iso_z


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return iso_z(value)


def segment_wire(segment: Segment) -> dict[str, Any]:
    """One segment as every API surface shows it."""
    return {
        "segment_id": segment.segment_id,
        "start": segment.start,
        "end": segment.end,
        "end_time": segment.end,
        "text": segment.text,
        "speaker": segment.speaker,
        "language": segment.language,
        "completed": segment.completed,
        "absolute_start_time": iso(segment.absolute_start_time),
        "absolute_end_time": iso(segment.absolute_end_time),
        "session_uid": segment.session_uid,
        "created_at": iso(segment.created_at),
        "updated_at": iso(segment.updated_at),
    }
