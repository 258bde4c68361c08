from __future__ import annotations

import pytest

from accounts.models import User
from tests.meetings.builders import add_segments, meeting_in
from transcripts import exports
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
