"""Reads of transcripts and share links (meetings are looked up by `meetings.selectors`)."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
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
    in one query of one row per meeting (a common word must not fetch every line that has it);
    meetings where it was not said are left out."""
    first = (
        Segment.objects.filter(meeting=OuterRef("pk"), completed=True, text__icontains=text)
        .order_by("absolute_start_time", "id")
        .values("text")[:1]
    )
    rows = (
        Meeting.objects.filter(pk__in=[m.pk for m in meetings])
        .annotate(said=Subquery(first))
        .values_list("pk", "said")
    )
    return {pk: said for pk, said in rows if said is not None}


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
