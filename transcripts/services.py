"""Writes for transcript share links: public, expiring, revocable read-only URLs."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from meetings.models import Meeting
from transcripts.models import ShareLink
from vexa_site.errors import Conflict, NotFound

# 24 random bytes: 192 bits, well past guessing; token_urlsafe keeps it path-safe (32 chars).
SHARE_ID_BYTES = 24


def share_url(share_id: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/public/transcripts/{share_id}.txt"


def share_create(*, meeting: Meeting, ttl_seconds: int) -> ShareLink:
    """Create a public link to the meeting's transcript text, valid for `ttl_seconds`.

    A meeting whose data was deleted cannot be shared (409).
    """
    if (meeting.data or {}).get("redacted"):
        raise Conflict("Meeting data was deleted; there is no transcript to share")
    now = timezone.now()
    return ShareLink.objects.create(
        meeting=meeting,
        share_id=secrets.token_urlsafe(SHARE_ID_BYTES),
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )


def share_revoke(*, meeting: Meeting, share_id: str | None = None) -> int:
    """Revoke one share link of the meeting (`share_id`) or all of its live ones.

    Returns how many were revoked; naming a link that is not this meeting's is a 404.
    Revoking twice is harmless.
    """
    links = ShareLink.objects.filter(meeting=meeting)
    if share_id is not None:
        links = links.filter(share_id=share_id)
        if not links.exists():
            raise NotFound("Share link not found")
    return links.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def share_links_purge(*, expired_before: datetime, limit: int = 1000) -> int:
    """Delete up to `limit` share links that expired before `expired_before` (revoked ones
    included once they would have expired: until then revoking again stays harmless).
    Returns how many went."""
    ids = list(
        ShareLink.objects.filter(expires_at__lt=expired_before)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    ShareLink.objects.filter(pk__in=ids).delete()
    return len(ids)
