"""Recordings: reads (always within the caller's own meetings), closing, and deletion.

The bot writes a recording incrementally (`bots.runtime.recording`) and closes it through
`recording_close`; the rest only read and delete. Another user's recording is a 404, never a 403.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from bots.platforms import normalize_native_id
from meetings import events
from meetings.models import TERMINAL_STATUSES, Meeting, Recording, RecordingStatus
from meetings.services import files_remove
from vexa_site.errors import Conflict, NotFound

RECORDING_NOT_FOUND = "Recording not found"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class RecordingPage:
    recordings: list[Recording]
    total: int


def recordings_for(*, user: User) -> QuerySet[Recording]:
    return Recording.objects.filter(meeting__user=user).select_related("meeting", "session")


def recording_list(
    *,
    user: User,
    meeting_id: int | None = None,
    platform: str | None = None,
    native_meeting_id: str | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> RecordingPage:
    """One page of the user's recordings, newest first, with the filtered total."""
    queryset = recordings_for(user=user)
    if meeting_id is not None:
        queryset = queryset.filter(meeting_id=meeting_id)
    if platform:
        queryset = queryset.filter(meeting__platform=platform)
    if native_meeting_id:
        if platform:
            native_meeting_id = normalize_native_id(platform, native_meeting_id)
        queryset = queryset.filter(meeting__native_meeting_id=native_meeting_id)
    if status:
        queryset = queryset.filter(status=status)
    offset = (page - 1) * page_size
    return RecordingPage(
        recordings=list(queryset.order_by("-created_at", "-id")[offset : offset + page_size]),
        total=queryset.count(),
    )


def recording_get(*, user: User, recording_id: int) -> Recording:
    recording = recordings_for(user=user).filter(pk=recording_id).first()
    if recording is None:
        raise NotFound(RECORDING_NOT_FOUND)
    return recording


def recording_file(recording: Recording) -> Path:
    """The recording's file, which must lie inside RECORDINGS_DIR and exist."""
    root = Path(settings.RECORDINGS_DIR).resolve()
    path = Path(recording.file_path).resolve()
    if root not in path.parents or not path.is_file():
        raise NotFound("Recording file not found")
    return path


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive for one `Range: bytes=...` spec; None for the whole file.

    Raises `ValueError` when the range cannot be satisfied (HTTP 416).
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # multiple or unknown ranges: serve the whole file (allowed by RFC 9110)
    first_raw, last_raw = match.groups()
    if first_raw == "" and last_raw == "":
        return None
    if first_raw == "":
        length = int(last_raw)
        if length == 0:
            raise ValueError("empty suffix range")
        return max(0, size - length), size - 1
    first = int(first_raw)
    last = size - 1 if last_raw == "" else min(int(last_raw), size - 1)
    if first >= size or first > last:
        raise ValueError("range not satisfiable")
    return first, last


def recording_close(*, recording_id: int, status: str) -> bool:
    """Finish a recording still being written; a completed one emits `recording.completed`.

    The event is written in the same transaction (outbox), its payload the recording as
    `GET /recordings/{id}` shows it. Closing twice, or one the supervisor already failed, changes
    nothing and returns False.
    """
    from meetings.recordings_api import RecordingSerializer  # the API shape, for the payload

    now = timezone.now()
    with transaction.atomic():
        closed = Recording.objects.filter(
            pk=recording_id, status=RecordingStatus.IN_PROGRESS
        ).update(status=status, completed_at=now, updated_at=now)
        if not closed:
            return False
        if status == RecordingStatus.COMPLETED:
            recording = Recording.objects.select_related("meeting", "session").get(pk=recording_id)
            events.dispatch_output(
                events.output_event(
                    kind="recording.completed",
                    meeting_id=recording.meeting_id,
                    key=f"recording:{recording_id}:completed",
                    data={"recording": dict(RecordingSerializer(recording).data)},
                )
            )
    return True


def recording_delete(*, user: User, recording_id: int) -> None:
    """Delete a finished recording and its file; one still being written is a 409."""
    with transaction.atomic():
        recording = (
            Recording.objects.select_for_update(of=("self",))
            .filter(pk=recording_id, meeting__user=user)
            .first()
        )
        if recording is None:
            raise NotFound(RECORDING_NOT_FOUND)
        if recording.status == RecordingStatus.IN_PROGRESS:
            raise Conflict("Recording is still being written; stop the bot first")
        path = Path(recording.file_path)
        recording.delete()
        finished = Meeting.objects.filter(
            pk=recording.meeting_id, status__in=TERMINAL_STATUSES
        ).values_list("pk", flat=True)
        finished_ids = list(finished)
        transaction.on_commit(lambda: files_remove([path], finished_meeting_ids=finished_ids))
