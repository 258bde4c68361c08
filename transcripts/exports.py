"""Transcript exports: plain text (the share-link layout), SubRip, WebVTT and JSON.

Times in txt are offsets from the meeting's start (`[HH:MM:SS]`); srt/vtt cue times are the same
offsets with milliseconds. An offset is the segment's session start (wall clock, so several bot
sessions of one meeting line up) plus its `start` in the session (the capture's clock, the
recording's): subtitles stay on the recording, which `absolute_start_time` leaves by the
capture clock's drift (`bots.runtime.wallclock`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.http import HttpResponse

from meetings.models import Meeting, MeetingSession, Platform
from meetings.serializers import meeting_wire
from transcripts.models import Segment
from transcripts.serializers import segment_wire

UNKNOWN_SPEAKER = "Unknown"


@dataclass(frozen=True)
class ExportFormat:
    extension: str
    content_type: str


FORMATS: dict[str, ExportFormat] = {
    "txt": ExportFormat("txt", "text/plain; charset=utf-8"),
    "srt": ExportFormat("srt", "application/x-subrip; charset=utf-8"),
    "vtt": ExportFormat("vtt", "text/vtt; charset=utf-8"),
    "json": ExportFormat("json", "application/json"),
}


def _origin(meeting: Meeting, segments: Sequence[Segment]) -> datetime:
    """Time zero of a transcript: when the bot was admitted, else the first words."""
    if meeting.start_time is not None:
        return meeting.start_time
    if segments:
        return min(s.absolute_start_time for s in segments)
    return meeting.created_at


def _offset(origin: datetime, moment: datetime) -> float:
    return max(0.0, (moment - origin).total_seconds())


def hms(seconds: float) -> str:
    """`HH:MM:SS` of whole seconds, as the txt transcript's lines show times."""
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _cue_time(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def meeting_title(meeting: Meeting) -> str:
    name = (meeting.data or {}).get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    return f"{Platform(meeting.platform).label} {meeting.native_meeting_id}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


# Live transcription finalizes words as soon as two passes agree, so one spoken sentence can
# arrive as several short segments. Readers (share links, subtitles) get the sentence back:
# consecutive segments of one speaker join until a sentence ends, a pause, or a length cap.
# A finished session's stored segments are joined by the same rule (`engine.store`).
SENTENCE_END = (".", "?", "!", "…")
JOIN_MAX_GAP_S = 1.5
JOIN_MAX_SPAN_S = 20.0


def continues_sentence(
    *, text: str, start: datetime, end: datetime, same_speaker: bool, next_start: datetime,
    next_end: datetime,
) -> bool:  # fmt: skip
    """Whether the next segment goes on with this one's sentence (same speaker, no sentence end,
    a short gap, and the two within the length cap)."""
    return (
        same_speaker
        and not text.endswith(SENTENCE_END)
        and (next_start - end).total_seconds() <= JOIN_MAX_GAP_S
        and (next_end - start).total_seconds() <= JOIN_MAX_SPAN_S
    )


@dataclass
class Utterance:
    """Joined segments: `start`/`end` on the wall clock (absolute times), `at`/`until` on the
    recording's (the session's start plus the segments' `start`/`end`); `start_s` is where
    the first one starts in its session's recording (`session_uid`)."""

    start: datetime
    end: datetime
    speaker: str
    text: str
    at: datetime
    until: datetime
    session_uid: str = ""
    start_s: float = 0.0


def utterances(
    segments: Sequence[Segment], session_starts: dict[str, datetime] | None = None
) -> list[Utterance]:
    """Segments joined into readable utterances (the stored segments stay as they are);
    `session_starts` by `session_uid` (else the absolute times stand in for the recording's)."""
    out: list[Utterance] = []
    for s in segments:
        text = _one_line(s.text)
        if not text:
            continue
        # One line: a name the platform showed over several would forge a line or a cue.
        speaker = _one_line(s.speaker or "") or UNKNOWN_SPEAKER
        session_start = (session_starts or {}).get(s.session_uid)
        at, until = (
            (s.absolute_start_time, s.absolute_end_time)
            if session_start is None
            else (
                session_start + timedelta(seconds=s.start),
                session_start + timedelta(seconds=s.end),
            )
        )
        last = out[-1] if out else None
        if last is not None and continues_sentence(
            text=last.text,
            start=last.start,
            end=last.end,
            same_speaker=last.speaker == speaker,
            next_start=s.absolute_start_time,
            next_end=s.absolute_end_time,
        ):
            last.text = f"{last.text} {text}"
            last.end = max(last.end, s.absolute_end_time)
            last.until = max(last.until, until)
            continue
        out.append(
            Utterance(
                s.absolute_start_time,
                s.absolute_end_time,
                speaker,
                text,
                at,
                until,
                session_uid=s.session_uid,
                start_s=s.start,
            )
        )
    return out


@dataclass(frozen=True)
class SpeakerTime:
    """One speaker's part of a transcript: seconds of speech, words, and their share of all the
    speech (0-1)."""

    speaker: str
    seconds: float
    words: int
    share: float


def speaker_talk_times(segments: Sequence[Segment]) -> list[SpeakerTime]:
    """Who spoke how much in the final segments, most first. With word timestamps only the words
    count (a segment spans its speaker's pauses), each for the speaker it was given (overlapping
    speech splits at words); without, the segment's span and its words."""
    seconds: dict[str, float] = {}
    words: dict[str, int] = {}
    for s in segments:
        if not s.completed:
            continue
        timed = [w for w in s.words or [] if isinstance(w, dict) and "start" in w and "end" in w]
        spans = (
            [(w.get("speaker") or s.speaker, float(w["end"]) - float(w["start"]), 1) for w in timed]
            if timed
            else [(s.speaker, s.end - s.start, len(s.text.split()))]
        )
        for who, span_s, count in spans:
            name = who or UNKNOWN_SPEAKER
            seconds[name] = seconds.get(name, 0.0) + max(0.0, span_s)
            words[name] = words.get(name, 0) + count
    total = sum(seconds.values())
    return sorted(
        (
            # Rounded: sums of float spans read 7.597999999999999 s.
            SpeakerTime(
                name, round(spoken, 3), words[name], round(spoken / total, 4) if total else 0.0
            )
            for name, spoken in seconds.items()
        ),
        key=lambda t: (-t.seconds, t.speaker),
    )


def _session_starts(meeting: Meeting) -> dict[str, datetime]:
    return dict(
        MeetingSession.objects.filter(meeting=meeting).values_list("session_uid", "started_at")
    )


def transcript_header(meeting: Meeting, segments: Sequence[Segment]) -> str:
    """The txt transcript's first lines: what it is, the meeting's title and date, a blank line."""
    origin = _origin(meeting, segments)
    return (
        f"Meeting Transcript\n\nTitle: {meeting_title(meeting)}\n"
        f"Date: {origin.strftime('%Y-%m-%d %H:%M:%S')}\n\n"
    )


class Cue(NamedTuple):
    """One utterance on the transcript's clock: `start`/`end` in seconds from its time zero."""

    start: float
    end: float
    speaker: str
    text: str

    def line(self) -> str:
        """The txt transcript's line for it: `[HH:MM:SS] Speaker: text`."""
        return f"[{hms(self.start)}] {self.speaker}: {self.text}"


def cues(meeting: Meeting, segments: Sequence[Segment]) -> list[Cue]:
    """The segments as utterances on the transcript's clock (time zero: `_origin`)."""
    origin = _origin(meeting, segments)
    out = []
    for u in utterances(segments, _session_starts(meeting)):
        start = _offset(origin, u.at)
        out.append(Cue(start, max(start, _offset(origin, u.until)), u.speaker, u.text))
    return out


def transcript_txt(meeting: Meeting, segments: Sequence[Segment]) -> str:
    """The cookbook's layout: header, blank line, then `[HH:MM:SS] Speaker: text` lines."""
    return transcript_header(meeting, segments) + "".join(
        f"{cue.line()}\n" for cue in cues(meeting, segments)
    )


def transcript_srt(meeting: Meeting, segments: Sequence[Segment]) -> str:
    blocks = [
        f"{n}\n{_cue_time(start, ',')} --> {_cue_time(end, ',')}\n{speaker}: {text}\n"
        for n, (start, end, speaker, text) in enumerate(cues(meeting, segments), start=1)
    ]
    return "\n".join(blocks)


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def transcript_vtt(meeting: Meeting, segments: Sequence[Segment]) -> str:
    blocks = ["WEBVTT\n"]
    for start, end, speaker, text in cues(meeting, segments):
        blocks.append(
            f"{_cue_time(start, '.')} --> {_cue_time(end, '.')}\n"
            f"<v {_vtt_escape(speaker)}>{_vtt_escape(text)}\n"
        )
    return "\n".join(blocks)


def transcript_document(meeting: Meeting, segments: Sequence[Segment]) -> dict[str, Any]:
    """`GET /transcripts/...`'s body: the meeting, its `data`, and the segments in order."""
    return {**meeting_wire(meeting), "segments": [segment_wire(s) for s in segments]}


def export_filename(meeting: Meeting, fmt: str) -> str:
    safe_native = "".join(c if c.isalnum() or c in "-_" else "_" for c in meeting.native_meeting_id)
    return f"transcript_{meeting.platform}_{safe_native}_{meeting.pk}.{FORMATS[fmt].extension}"


def export_response(meeting: Meeting, segments: Sequence[Segment], fmt: str) -> HttpResponse:
    """The transcript in `fmt` (a key of `FORMATS`) as a download."""
    if fmt == "json":
        content = json.dumps(transcript_document(meeting, segments), indent=2)
    elif fmt == "txt":
        content = transcript_txt(meeting, segments)
    elif fmt == "srt":
        content = transcript_srt(meeting, segments)
    else:
        content = transcript_vtt(meeting, segments)
    response = HttpResponse(content, content_type=FORMATS[fmt].content_type)
    response["Content-Disposition"] = f'attachment; filename="{export_filename(meeting, fmt)}"'
    return response
