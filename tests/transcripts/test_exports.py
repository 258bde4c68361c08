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
