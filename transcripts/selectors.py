"""Reads of transcripts and share links (meetings are looked up by `meetings.selectors`)."""

from __future__ import annotations

from django.utils import timezone

from meetings.models import Meeting
from transcripts.models import Segment, ShareLink
from vexa_site.errors import NotFound

SHARE_NOT_FOUND = "Share link not found or expired"


def segment_list(*, meeting: Meeting) -> list[Segment]:
    """A meeting's segments in chronological order (drafts included), one indexed query."""
    return list(Segment.objects.filter(meeting=meeting).order_by("absolute_start_time", "id"))


def segment_first_matches(*, meetings: list[Meeting], text: str) -> dict[int, str]:
    """For each meeting, the text of its earliest final segment containing `text` (any case),
    in one query; meetings where it was not said are left out."""
    rows = (
        Segment.objects.filter(meeting__in=meetings, completed=True, text__icontains=text)
        .order_by("meeting_id", "absolute_start_time", "id")
        .values_list("meeting_id", "text")
    )
    first: dict[int, str] = {}
    for meeting_id, said in rows:
        first.setdefault(meeting_id, said)
    return first


def share_get_public(*, share_id: str) -> ShareLink:
    """A share link that still works (not revoked, not expired), with its meeting."""
    link = (
        ShareLink.objects.select_related("meeting")
        .filter(share_id=share_id, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if link is None:
        raise NotFound(SHARE_NOT_FOUND)
    return link
