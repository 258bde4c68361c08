"""Test data built through the product's own code (lifecycle, models), never raw status writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from accounts.models import User
from bots.platforms import real_meeting_url
from bots.runtime.recording import RecordingWriter
from meetings import lifecycle
from meetings.models import Meeting, MeetingSession, MeetingStatus, Recording, RecordingStatus
from transcripts.models import Segment

S = MeetingStatus
START = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
PATHS: dict[str, list[str]] = {
    S.REQUESTED: [],
    S.JOINING: [S.JOINING],
    S.AWAITING_ADMISSION: [S.JOINING, S.AWAITING_ADMISSION],
    S.ACTIVE: [S.JOINING, S.AWAITING_ADMISSION, S.ACTIVE],
    S.STOPPING: [S.JOINING, S.AWAITING_ADMISSION, S.ACTIVE, S.STOPPING],
    S.COMPLETED: [S.JOINING, S.AWAITING_ADMISSION, S.ACTIVE, S.COMPLETED],
    S.FAILED: [S.JOINING, S.FAILED],
}


def meeting_in(
    user: User,
    status: str = S.REQUESTED,
    *,
    platform: str = "google_meet",
    native_meeting_id: str = "abc-defg-hij",
    data: dict[str, Any] | None = None,
    bot_config: dict[str, Any] | None = None,
) -> Meeting:
    """A meeting walked to `status` by `meetings.lifecycle`, as a bot would."""
    meeting = Meeting.objects.create(
        user=user,
        platform=platform,
        native_meeting_id=native_meeting_id,
        constructed_meeting_url=real_meeting_url(platform, native_meeting_id, None),
        data=dict(data or {}),
        bot_config=bot_config or {"bot_name": "Vexa Bot", "language": "en", "task": "transcribe"},
    )
    lifecycle.record_created(meeting)
    for step in PATHS[status]:
        lifecycle.transition(
            meeting_id=meeting.pk,
            to=step,
            source="bot_callback",
            completion_reason="meeting_ended" if step == S.COMPLETED else None,
        )
    meeting.refresh_from_db()
    return meeting


def add_segments(
    meeting: Meeting,
    rows: Sequence[tuple[float, float, str | None, str]],
    *,
    started_at: datetime | None = None,
    completed: bool = True,
) -> MeetingSession:
    """One bot session with segments `(start, end, speaker, text)` (seconds from its start)."""
    origin = started_at or meeting.start_time or meeting.created_at
    session = MeetingSession.objects.create(meeting=meeting, started_at=origin)
    for index, (start, end, speaker, text) in enumerate(rows):
        Segment.objects.create(
            meeting=meeting,
            session_uid=session.session_uid,
            segment_id=f"{session.session_uid}:{index}",
            start=start,
            end=end,
            text=text,
            speaker=speaker,
            language="en",
            completed=completed,
            absolute_start_time=origin + timedelta(seconds=start),
            absolute_end_time=origin + timedelta(seconds=end),
        )
    return session


def cookbook_standup(user: User) -> Meeting:
    """The cookbook's meeting: Team Standup at 2024-01-01 12:00:00, four lines."""
    meeting = meeting_in(user, S.COMPLETED, data={"name": "Team Standup"})
    Meeting.objects.filter(pk=meeting.pk).update(start_time=START)
    meeting.refresh_from_db()
    # Inserted out of order: the API must sort them.
    add_segments(
        meeting,
        [
            (10, 14.5, "Alice", "I've completed the feature implementation."),
            (0, 5.2, "Alice", "Hello everyone, welcome to today's meeting."),
            (15, 18, "Bob", "Great! What about the testing?"),
            (5, 9.75, "Bob", "Thanks for joining. Let's start with updates."),
        ],
        started_at=START,
    )
    return meeting


def recorded(user: User, *, native: str = "abc-defg-hij", seconds: float = 1.0) -> Recording:
    """A finished recording written by the bot's own writer (1 kHz-ish ramp, not silence) into
    `RECORDINGS_DIR`."""
    meeting = meeting_in(user, "completed", native_meeting_id=native)
    session = MeetingSession.objects.create(meeting=meeting)
    writer = RecordingWriter(session)
    samples = int(seconds * 16000)
    writer.write(bytes((i * 37) % 256 for i in range(samples * 2)), t=0.0)
    writer.close(status=RecordingStatus.COMPLETED)
    return Recording.objects.get(pk=writer.recording.pk)
