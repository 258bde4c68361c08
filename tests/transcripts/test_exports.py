from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F

from accounts.models import User
from tests.meetings.builders import add_segments, meeting_in
from transcripts import exports
from transcripts.models import Segment
from transcripts.selectors import segment_list

pytestmark = pytest.mark.django_db


def test_word_level_finals_read_back_as_sentences(alice: User) -> None:
    meeting = meeting_in(alice, "completed", data={"name": "Launch"})
    add_segments(
        meeting,
        [
            (2.1, 2.4, "Alice", "Let's"),
            (2.5, 3.0, "Alice", "plan the"),
            (3.1, 3.6, "Alice", "launch."),
            (4.0, 4.4, "Alice", "Monday"),
            (4.5, 5.0, "Bob", "Sounds"),
            (5.1, 5.6, "Bob", "good"),
            (9.0, 9.5, "Bob", "Anything else?"),
        ],
    )
    segments = segment_list(meeting=meeting)
    text = exports.transcript_txt(meeting, segments)
    assert text.splitlines()[5:] == [
        "[00:00:02] Alice: Let's plan the launch.",
        "[00:00:04] Alice: Monday",
        "[00:00:04] Bob: Sounds good",
        "[00:00:09] Bob: Anything else?",
    ]
    srt = exports.transcript_srt(meeting, segments)
    assert "00:00:02,100 --> 00:00:03,600\nAlice: Let's plan the launch." in srt
    # The stored segments are untouched: the API still serves each one.
    assert len(segments) == 7


def test_a_speaker_name_over_several_lines_stays_on_its_line(alice: User) -> None:
    meeting = meeting_in(alice, "completed")
    add_segments(meeting, [(1.0, 2.0, "Alice\n(Host)", "Welcome."), (3.0, 4.0, " ", "Hi.")])
    segments = segment_list(meeting=meeting)
    assert exports.transcript_txt(meeting, segments).splitlines()[5:] == [
        "[00:00:01] Alice (Host): Welcome.",
        "[00:00:03] Unknown: Hi.",
    ]
    assert "\n\n2\n00:00:03,000 --> 00:00:04,000\nUnknown: Hi.\n" in exports.transcript_srt(
        meeting, segments
    )


def test_subtitles_stay_on_the_recording_when_absolute_times_carry_the_clocks_drift(
    alice: User,
) -> None:
    meeting = meeting_in(alice, "completed")
    session = add_segments(meeting, [(3600.0, 3601.5, "Alice", "An hour in.")])
    # Stamped 4.4 s after session start + `start`: the capture clock fell that far behind.
    drift = timedelta(seconds=4.4)
    Segment.objects.filter(session_uid=session.session_uid).update(
        absolute_start_time=F("absolute_start_time") + drift,
        absolute_end_time=F("absolute_end_time") + drift,
    )
    segments = segment_list(meeting=meeting)

    srt = exports.transcript_srt(meeting, segments)
    assert "01:00:00,000 --> 01:00:01,500\nAlice: An hour in." in srt
    assert "01:00:00.000 --> 01:00:01.500" in exports.transcript_vtt(meeting, segments)
    assert "[01:00:00] Alice: An hour in." in exports.transcript_txt(meeting, segments)
    # What was said when, on the wall clock (the dashboard's times).
    [utterance] = exports.utterances(segments)
    assert utterance.start == session.started_at + timedelta(seconds=3604.4)


def test_talk_times_count_each_speakers_words_and_leave_out_drafts(alice: User) -> None:
    meeting = meeting_in(alice, "completed")
    session = add_segments(
        meeting,
        [
            (0.0, 4.0, "Alice", "Good morning everyone."),  # words below: 1.2 s of speech
            (5.0, 6.0, "Bob", "Thanks."),  # no word timestamps: the segment's span
            (7.0, 8.0, None, "Hm."),
        ],
    )
    # Alice's segment spans a pause, and its last word overlapped Bob and went to him.
    Segment.objects.filter(segment_id=f"{session.session_uid}:0").update(
        words=[
            {"word": " Good", "start": 0.2, "end": 0.3, "speaker": "Alice"},
            {"word": " morning", "start": 0.3, "end": 0.9, "speaker": "Alice"},
            {"word": " everyone.", "start": 3.5, "end": 4.0, "speaker": "Bob"},
        ]
    )
    add_segments(meeting, [(9.0, 19.0, "Bob", "a long draft")], completed=False)

    times = exports.speaker_talk_times(segment_list(meeting=meeting))

    # In milliseconds and parts of 10,000: Alice's words add up to 0.7000000000000001 s.
    assert [(t.speaker, t.seconds, t.words, t.share) for t in times] == [
        ("Bob", 1.5, 2, 0.4688),
        ("Unknown", 1.0, 1, 0.3125),
        ("Alice", 0.7, 2, 0.2188),
    ]
    assert exports.speaker_talk_times([]) == []
