"""Writes for transcripts: share links (public, expiring, revocable read-only URLs) and the
names the user gives the speakers."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from meetings.models import LIVE_STATUSES, Meeting, MeetingSession
from transcripts import realtime
from transcripts.exports import UNKNOWN_SPEAKER
from transcripts.models import Segment, ShareLink
from transcripts.serializers import segment_wire
from vexa_site.errors import Conflict, InvalidInput, NotFound

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


# `data.speaker_names`: a speaker as the transcription names them -> as the user named them.
SPEAKER_NAMES_KEY = "speaker_names"


def speaker_named(names: Mapping[str, str], speaker: str | None) -> str | None:
    """The speaker as the user named them (`names`); no speaker is `Unknown`'s."""
    if not names:
        return speaker
    return names.get(speaker or UNKNOWN_SPEAKER, speaker)


def speaker_names(meeting: Meeting) -> dict[str, str]:
    """The meeting's renames in force: as the transcription names a speaker -> as the user named
    them."""
    names = (meeting.data or {}).get(SPEAKER_NAMES_KEY)
    return names if isinstance(names, dict) else {}


def words_named(names: Mapping[str, str], words: list[Any]) -> list[Any]:
    """The words with their speakers as the user named them."""
    if not names:
        return words
    return [
        {**w, "speaker": speaker_named(names, w["speaker"])}
        if isinstance(w, dict) and "speaker" in w
        else w
        for w in words
    ]


def sessions_hold(sessions: QuerySet[MeetingSession]) -> None:
    """Lock the sessions' rows until the transaction ends (writers of their segments do)."""
    list(sessions.select_for_update().values_list("pk", flat=True))


def speaker_names_locked(*, meeting_id: int) -> dict[str, str]:
    """The meeting's speaker names, for a writer of its segments that holds its session's row
    (`select_for_update`): `speaker_rename` waits for that row, so what is read here is either
    the names after a rename, or the rename comes after the write and renames it too."""
    names = Meeting.objects.values_list("data__speaker_names", flat=True).get(pk=meeting_id)
    return names if isinstance(names, dict) else {}


def speaker_name_check(name: str) -> None:
    """Validator of a name given to a speaker: one line, since every export writes a speaker
    at the start of a line (a line break would start a made-up line or subtitle cue)."""
    if any(not ch.isprintable() for ch in name):
        raise ValidationError("A speaker's name is one line of printable characters.")


@dataclass(frozen=True)
class SpeakerRenamed:
    """A rename's outcome: the segments it changed and the meeting's names after it."""

    meeting: Meeting
    segments: int
    names: dict[str, str]


def speaker_rename(*, meeting_id: int, speaker: str, name: str) -> SpeakerRenamed:
    """Name `speaker` `name` throughout the meeting's transcript: its segments and words now,
    and what the live transcription or the post-meeting pass writes for them later (kept in
    `data.speaker_names`). `Unknown` is the speaker of lines nobody was found speaking; a name
    the transcript already has merges the two. The changed segments are published again (live
    clients replace them by `segment_id`), and a finished meeting's sessions send
    `transcript.ready` again (`source` `rename`). A speaker the transcript does not have is a
    422, a deleted meeting a 409. Who attended keeps the names the platform showed."""
    with transaction.atomic():
        # NO KEY UPDATE: a transcriber inserting segments (a key-share lock on this row) while
        # it holds its session's row, which this waits for next, must not wait for this one.
        meeting = Meeting.objects.select_for_update(no_key=True).get(pk=meeting_id)
        data = dict(meeting.data or {})
        if data.get("redacted"):
            raise Conflict("Meeting data was deleted; it can no longer be changed")
        # Writers of a session's segments hold its row while they read the names and write:
        # once every row is ours, none is about to write the old name.
        sessions_hold(MeetingSession.objects.filter(meeting_id=meeting_id))
        rename = {speaker: name}
        changed: list[Segment] = []
        heard: set[str] = set()
        now = timezone.now()
        for segment in Segment.objects.filter(meeting_id=meeting_id):
            heard.add(segment.speaker or UNKNOWN_SPEAKER)
            said, words = speaker_named(rename, segment.speaker), words_named(rename, segment.words)
            if said != segment.speaker or words != segment.words:
                segment.speaker, segment.words, segment.updated_at = said, words, now
                changed.append(segment)
        if not changed:
            spoke = ", ".join(sorted(heard)) or "none yet"
            raise InvalidInput(
                [
                    {
                        "loc": ["body", "speaker"],
                        "msg": f"No line of this transcript is said by {speaker!r} (its "
                        f"speakers: {spoke})",
                        "type": "value_error.speaker",
                    }
                ]
            )
        Segment.objects.bulk_update(changed, ["speaker", "words", "updated_at"], batch_size=100)
        before = data.get(SPEAKER_NAMES_KEY) or {}
        names = {raw: name if shown == speaker else shown for raw, shown in before.items()}
        names[speaker] = name
        names = {raw: shown for raw, shown in names.items() if raw != shown}
        data[SPEAKER_NAMES_KEY] = names
        meeting.data = data
        meeting.save(update_fields=["data", "updated_at"])
        if meeting.status not in LIVE_STATUSES:
            # A live meeting's sessions announce their transcript when they finish; a finished
            # one's integrators learn here that the stored transcript changed.
            from transcripts.engine.store import transcript_ready  # it imports this module

            uids = {s.session_uid for s in changed}
            for session in MeetingSession.objects.filter(
                meeting_id=meeting_id, session_uid__in=uids
            ):
                transcript_ready(
                    session=session,
                    source="rename",
                    key=f"{session.session_uid}:rename:{now.isoformat()}",
                )
        finals = [segment_wire(s) for s in changed if s.completed]
        drafts = [segment_wire(s) for s in changed if not s.completed]

        def publish() -> None:
            for kind, wire in (("finalized", finals), ("mutable", drafts)):
                realtime.publish_segments(meeting_id=meeting_id, kind=kind, segments=wire)

        transaction.on_commit(publish, robust=True)
    return SpeakerRenamed(meeting, len(changed), names)
