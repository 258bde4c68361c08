"""A session's words out as segments: ids, starts, speakers, and drafts replaced or withdrawn.

Segment ids are `<session_uid>:<seq>`. The engine (`streaming.StreamingTranscriber`) owns `seq`:
its confirmed words leave as final segments numbered from it, and its unconfirmed words as drafts
numbered from the next unused one, so a draft's id becomes final when its words are confirmed
and a client replaces draft by final. Clients merge segments by `absolute_start_time` (seed 002),
so a segment keeps the start it got when its id was first used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transcripts.engine.model import Word
from transcripts.engine.speakers import SpeakerTimeline
from transcripts.engine.wallclock import WallOffsets

# A segment's start stays where its id was first used while its first word is this close to it.
PIN_SLACK_S = 0.5


@dataclass
class SegmentOut:
    """One segment version to upsert; times are session seconds."""

    segment_id: str
    start: float
    end: float
    text: str
    speaker: str | None
    language: str | None
    completed: bool
    words: list[dict[str, Any]]
    # Seconds to add to `start`/`end` for wall time (the capture clock's drift at `start`).
    wall_offset_s: float = 0.0


class SegmentWriter:
    """One segment per run of a speaker's words; remembers the drafts it published last, so only
    changed drafts go out again and vanished ones are withdrawn (published empty)."""

    def __init__(
        self,
        session_uid: str,
        speakers: SpeakerTimeline,
        *,
        last_start: float = -1.0,
        wall: WallOffsets | None = None,
    ) -> None:
        self.session_uid = session_uid
        self.speakers = speakers
        self.wall = wall or WallOffsets()
        self.draft_ids: list[str] = []
        self.draft_texts: dict[str, str] = {}
        self.pins: dict[str, float] = {}
        # Starts given up since the last publication (segment id, start): published empty.
        self.withdrawn: list[tuple[str, float]] = []
        # The latest start given: new starts strictly increase (checkpointed).
        self.last_start = last_start

    def finals(self, words: list[Word], *, seq: int, language: str | None) -> list[SegmentOut]:
        """Confirmed `words` as final segments numbered from `seq`, one per speaker run."""
        return [
            self._segment(seq + i, speaker, run, completed=True, language=language)
            for i, (speaker, run) in enumerate(self._runs(words))
        ]

    def drafts(
        self, words: list[Word], *, seq: int, final_ids: set[str], language: str | None
    ) -> tuple[list[SegmentOut], list[SegmentOut]]:
        """The unconfirmed `words` as drafts numbered from `seq`: those whose text changed since
        the last call, and the ones to remove (ids that vanished without becoming one of
        `final_ids`, or whose start moved on)."""
        drafts = [
            self._segment(seq + i, speaker, run, completed=False, language=language)
            for i, (speaker, run) in enumerate(self._runs(words))
        ]
        ids = [d.segment_id for d in drafts]
        vanished = [
            (i, self.pins[i])
            for i in self.draft_ids
            if i not in ids and i not in final_ids and i in self.pins
        ]
        removed = [
            SegmentOut(
                segment_id=i,
                start=start,
                end=start,
                text="",
                speaker=None,
                language=language,
                completed=False,
                words=[],
                wall_offset_s=self.wall.at(start),
            )
            for i, start in [*self.withdrawn, *vanished]
        ]
        self.withdrawn = []
        self.pins = {
            k: v for k, v in self.pins.items() if k in ids or int(k.rsplit(":", 1)[1]) >= seq
        }
        changed = [d for d in drafts if self.draft_texts.get(d.segment_id) != d.text]
        self.draft_ids = ids
        self.draft_texts = {d.segment_id: d.text for d in drafts}
        return changed, removed

    def _runs(self, words: list[Word]) -> list[tuple[str | None, list[Word]]]:
        """Consecutive words of one speaker (overlapping speech splits at word level)."""
        runs: list[tuple[str | None, list[Word]]] = []
        for word in words:
            speaker = self.speakers.speaker_for(word.start, word.end)
            if runs and (runs[-1][0] == speaker or speaker is None):
                runs[-1][1].append(word)
            elif runs and runs[-1][0] is None:
                runs[-1] = (speaker, [*runs[-1][1], word])
            else:
                runs.append((speaker, [word]))
        return runs

    def _start_of(self, segment_id: str, first_word_start: float) -> float:
        """A segment's start, fixed when its id is first used.

        A draft whose first word jitters by 20 ms between passes would leave ghosts in a client
        that merges by start; new starts also strictly increase. An id whose words moved on (a
        draft of several turns whose runs split and merged while confirming passes were
        awaited) gets its first word's start, or the segment would be stored and exported up to
        2 s early; the old start is withdrawn (published empty).
        """
        pinned = self.pins.get(segment_id)
        if pinned is not None and abs(first_word_start - pinned) <= PIN_SLACK_S:
            return pinned
        if pinned is None:
            start = round(max(first_word_start, self.last_start + 0.001), 3)
        else:
            self.withdrawn.append((segment_id, pinned))
            start = round(first_word_start, 3)
            while start in self.pins.values():
                start = round(start + 0.001, 3)  # two segments never share a start
        self.pins[segment_id] = start
        self.last_start = max(self.last_start, start)
        return start

    def _segment(
        self,
        seq: int,
        speaker: str | None,
        words: list[Word],
        *,
        completed: bool,
        language: str | None,
    ) -> SegmentOut:
        segment_id = f"{self.session_uid}:{seq}"
        start = self._start_of(segment_id, words[0].start)
        return SegmentOut(
            segment_id=segment_id,
            start=start,
            end=round(max(words[-1].end, start), 3),
            text="".join(w.text for w in words).strip(),
            speaker=speaker,
            language=language,
            completed=completed,
            words=[
                {
                    "word": w.text,
                    "start": round(w.start, 3),
                    "end": round(w.end, 3),
                    "probability": round(w.probability, 4),
                    "speaker": self.speakers.speaker_for(w.start, w.end) or speaker,
                }
                for w in words
            ],
            wall_offset_s=self.wall.at(start),
        )
