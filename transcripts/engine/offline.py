"""The post-meeting pass: re-transcribe stored recordings with a chosen model, keep speakers."""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from meetings import services as meeting_services
from meetings.models import Meeting, MeetingSession, Recording, RecordingStatus
from transcripts.engine.model import get_model, model_path, resolved_device
from transcripts.engine.store import transcript_ready
from transcripts.engine.wallclock import WallOffsets
from transcripts.models import Segment
from transcripts.services import sessions_hold

log = logging.getLogger(__name__)

_lock = threading.Lock()
_models: dict[str, Any] = {}


def offline_model(name: str | None) -> Any:
    """The live model, or another CTranslate2 model directory/name (loaded once, kept)."""
    if not name or name == model_path():
        return get_model()
    with _lock:
        if name not in _models:
            from faster_whisper import WhisperModel

            _models[name] = WhisperModel(
                name,
                device=resolved_device(),
                compute_type="default",
                local_files_only=True,
            )
        return _models[name]


# A live word or segment this far from a new one still names its speaker, when none overlaps.
NEAREST_WITHIN_S = 2.0
Span = tuple[float, float, str | None]


def speaker_among(spans: Iterable[Span], start: float, end: float) -> str | None:
    """The speaker of the spans overlapping [start, end] most, else of the nearest within
    `NEAREST_WITHIN_S`, else None."""
    best: tuple[float, str | None] = (0.0, None)
    nearest: tuple[float, str | None] = (float("inf"), None)
    for s, e, speaker in spans:
        if speaker is None:
            continue
        overlap = min(end, e) - max(start, s)
        if overlap > best[0]:
            best = (overlap, speaker)
        distance = max(s - end, start - e, 0.0)
        if distance < nearest[0]:
            nearest = (distance, speaker)
    if best[1] is not None:
        return best[1]
    return nearest[1] if nearest[0] <= NEAREST_WITHIN_S else None


class LiveSpeakers:
    """Who spoke when in the live transcript: `(start, end, speaker)` spans, by start. The
    post-meeting pass asks once per new word, so a lookup reads only the spans that can
    overlap it or be near enough (a scan of all of them made a two-hour meeting's pass
    quadratic)."""

    def __init__(self, spans: list[Span]) -> None:
        self.spans = sorted((span for span in spans if span[2] is not None), key=lambda s: s[0])
        self.starts = [s for s, _, _ in self.spans]
        self.longest_s = max((e - s for s, e, _ in self.spans), default=0.0)

    def at(self, start: float, end: float) -> str | None:
        """`speaker_among` the spans that can overlap [start, end] or be near enough."""
        first = bisect.bisect_left(self.starts, start - NEAREST_WITHIN_S - self.longest_s)
        last = bisect.bisect_right(self.starts, end + NEAREST_WITHIN_S)
        return speaker_among(self.spans[first:last], start, end)


def meeting_retranscribe(*, meeting_id: int, model: str | None = None) -> int:
    """Replace each recorded session's segments with an offline transcription of its recording.

    Speakers come from the live segments' word-level attribution (the stream's speaker events
    may have expired). Sessions without a completed recording keep their live segments. The
    outcome is noted in `data.retranscription` (`done` with the count, or `failed` with why).
    """
    try:
        total = _sessions_retranscribe(meeting_id=meeting_id, model=model)
    except Exception as exc:
        meeting_services.retranscription_note(
            meeting_id=meeting_id, state="failed", error=f"{type(exc).__name__}: {exc}"[:500]
        )
        raise
    meeting_services.retranscription_note(meeting_id=meeting_id, state="done", segments=total)
    return total


def _live_attribution(
    meeting: Meeting, session: MeetingSession
) -> tuple[LiveSpeakers, WallOffsets]:
    """Who spoke when in the session's live segments (by word where they have words), and the
    capture clock's drift as they were stamped with it (the stream's `clock` entries may have
    expired): the new segments take both."""
    spans: list[Span] = []
    wall = WallOffsets()
    for segment in Segment.objects.filter(meeting=meeting, session_uid=session.session_uid):
        stamped = (segment.absolute_start_time - session.started_at).total_seconds()
        wall.add(t=segment.start, offset_s=round(stamped - segment.start, 4))
        words = segment.words or []
        if words:
            spans.extend((w["start"], w["end"], w.get("speaker")) for w in words)
        else:
            spans.append((segment.start, segment.end, segment.speaker))
    return LiveSpeakers(spans), wall


def _sessions_retranscribe(*, meeting_id: int, model: str | None) -> int:
    meeting = Meeting.objects.get(pk=meeting_id)
    whisper = offline_model(model)
    language = (meeting.bot_config or {}).get("language") or None
    task = (meeting.bot_config or {}).get("task") or "transcribe"
    total = 0
    recordings = Recording.objects.filter(
        meeting=meeting, status=RecordingStatus.COMPLETED, session__isnull=False
    ).select_related("session")
    for recording in recordings:
        session = recording.session
        assert session is not None
        pieces, info = whisper.transcribe(
            recording.file_path,
            language=None if language == "auto" else language,
            task=task,
            word_timestamps=True,
            vad_filter=True,
            beam_size=5,
        )
        heard = list(pieces)  # the whole pass, before any row is locked
        now = timezone.now()
        with transaction.atomic():
            # The live segments are read under the session's row, as every writer of its
            # segments holds it: a speaker renamed while the pass ran keeps the new name.
            sessions_hold(MeetingSession.objects.filter(pk=session.pk))
            live, wall = _live_attribution(meeting, session)
            rows: list[Segment] = []
            for index, seg in enumerate(heard):
                start, end = round(seg.start, 3), round(seg.end, 3)
                drift = wall.at(start)
                words = [
                    {
                        "word": w.word,
                        "start": round(w.start, 3),
                        "end": round(w.end, 3),
                        "probability": round(w.probability, 4),
                        "speaker": live.at(w.start, w.end),
                    }
                    for w in seg.words or []
                ]
                rows.append(
                    Segment(
                        meeting=meeting,
                        session_uid=session.session_uid,
                        segment_id=f"{session.session_uid}:offline:{index}",
                        start=start,
                        end=end,
                        text=seg.text.strip(),
                        speaker=live.at(seg.start, seg.end),
                        language=info.language,
                        completed=True,
                        absolute_start_time=session.started_at + timedelta(seconds=start + drift),
                        absolute_end_time=session.started_at + timedelta(seconds=end + drift),
                        words=words,
                        created_at=now,
                        updated_at=now,
                    )
                )
            Segment.objects.filter(meeting=meeting, session_uid=session.session_uid).delete()
            Segment.objects.bulk_create(rows)
            transcript_ready(
                session=session,
                source="offline",
                key=f"{session.session_uid}:offline:{now.isoformat()}",
            )
        total += len(rows)
        log.info("meeting %s: %d offline segments for %s", meeting_id, len(rows), session)
    return total


def retranscription_enqueue(*, user: Any, meeting_id: int, model: str | None) -> Meeting:
    """Queue the post-meeting pass for the user's own ended meeting (after commit).

    Another user's meeting is a 404; a live meeting or one without a completed recording a 409;
    a model not in `WHISPER_OFFLINE_MODELS` a 422.
    """
    from django.conf import settings

    from meetings.selectors import meeting_get
    from transcripts import tasks
    from vexa_site.errors import Conflict, InvalidInput

    meeting = meeting_get(user=user, meeting_id=meeting_id)
    if model and model not in settings.WHISPER_OFFLINE_MODELS and model != settings.WHISPER_MODEL:
        # The names the operator offers; WHISPER_MODEL is the default, usually a path on the host.
        offered = ", ".join(repr(name) for name in settings.WHISPER_OFFLINE_MODELS)
        choices = (
            f"leave it out for the default, or use one of {offered}"
            if offered
            else "this server offers only its default model: leave `model` out"
        )
        raise InvalidInput(
            [
                {
                    "loc": ["body", "model"],
                    "msg": f"Unknown model {model!r}: {choices}",
                    "type": "value_error.model",
                }
            ]
        )
    if meeting.is_live:
        raise Conflict("Meeting is still in progress")
    if not Recording.objects.filter(meeting=meeting, status=RecordingStatus.COMPLETED).exists():
        raise Conflict("Meeting has no completed recording")
    meeting_pk = meeting.pk
    meeting_services.retranscription_note(meeting_id=meeting_pk, state="queued", model=model)
    transaction.on_commit(lambda: tasks.retranscribe_meeting.delay(meeting_pk, model or None))
    return meeting
