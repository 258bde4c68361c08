"""The streaming policy: stream entries in, draft and final segments out (no I/O here).

`StreamingTranscriber` is fed a session's stream entries in order. Every `pass_interval_s` of
new audio it decodes the unconfirmed tail of its buffer (one `PassRequest`). Words that two
consecutive passes agree on (LocalAgreement-2) are confirmed and leave as final segments at
once; the rest of the hypothesis is a draft. A pause heard by VAD after the hypothesis confirms
it without waiting for a second pass. Confirmed words stay in the buffer as left context (about
`left_context_s` of audio, back to a sentence end or pause): a pass is forced through them as
its decoder prefix and decodes only what follows. The buffer is cut at those boundaries, so
passes stay under `MAX_BUFFER_S`; confirmed text before the cut becomes the passes' prompt.

Segment ids are `<session_uid>:<seq>`: the open draft segment has the next unused `seq`, and
the same id becomes final when its words are confirmed, so a client replaces draft by final
(`segments.SegmentWriter`).

Time is the session's `t` (seconds since `MeetingSession.started_at`); audio gaps (a jump in
`t`) are filled with silence so the buffer stays one timeline.

`checkpoint()` is everything needed to continue after a crash: the stream position of the
first audio not yet finalized, the cut time, the next segment number, the config in force, the
speaker intervals, the capture clock's drift (`wallclock`) and the prompt. Output before the cut
was final and committed with that checkpoint, so a successor neither repeats nor misses it.
"""

from __future__ import annotations

import bisect
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from django.conf import settings

from meetings.stream import StreamEntry, entry_id_key
from transcripts.engine import filters
from transcripts.engine.model import PassRequest, PassResult, Word
from transcripts.engine.segments import SegmentOut, SegmentWriter
from transcripts.engine.speakers import SpeakerTimeline
from transcripts.engine.vad import SpeechProbabilities
from transcripts.engine.wallclock import WallOffsets

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
SENTENCE_END = (".", "?", "!", "…")
# Silence after the last heard word that confirms the hypothesis without a second pass.
PAUSE_S = 0.4
# Silence kept before speech when a silent buffer is dropped, so a first word's onset survives.
ONSET_MARGIN_S = 0.6
# Silence this long after the last confirmed word drops the left context.
SILENCE_RESET_S = 4.0
# The buffer is cut at the last confirmed word when it grows past this, sentence end or not
# (left context plus a sentence being decided).
MAX_BUFFER_S = 14.0
# With no agreement for this long, the oldest part of the hypothesis is confirmed anyway.
FORCE_CONFIRM_S = 20.0
# A pass applied this long after its newest audio reached the stream finds its session behind.
# Until it catches up, the buffer keeps no left context (it is cut at the last sentence end or
# pause), and a hypothesis unconfirmed for BEHIND_FORCE_CONFIRM_S is confirmed in part: a pass
# costs more the more audio it reads, so a session that fell behind with a full buffer stayed
# behind. Four meetings on a host whose transcription worker got a third of a core: drafts
# 14-19 s late (p50) before, 4.0-5.3 s now, live WER unchanged (bench/latency.py, 2026-12-07).
BEHIND_S = 4.0
BEHIND_FORCE_CONFIRM_S = 6.0
# A gap in `t` longer than this restarts the timeline instead of filling it with silence.
MAX_GAP_FILL_S = 10.0
PROMPT_CHARS = 200
# Words ending this close to the end of a pass's audio are not confirmed by that pass: with
# less right context two passes agree on a wrong word too often (bench/wer.py: ratio 1.57 at
# 0.4 s, 1.41 at 0.6 s, 1.43 at 0.8 s; final latency +0.12 s).
CONFIRM_GUARD_S = 0.6
# Nothing is confirmed by agreement until both passes had this much of the buffer.
MIN_CONTEXT_S = 1.5
# A pass runs only if VAD heard at least this much speech after the last confirmed word.
MIN_SPEECH_S = 0.15
# With confirming passes (a loaded worker), the longest run of unconfirmed speech between them
# (bench/latency.py, 8 sessions: draft p50 0.74 s at 4 s, 1.08 s at 2 s, WER ratio 1.01, 1.15).
CONFIRMING_EVERY_S = 4.0

PassRunner = Callable[[PassRequest], PassResult]
# Starts a pass and returns at once; the engine applies results in the order passes started.
PassSubmitter = Callable[[PassRequest], Future[PassResult]]


@dataclass
class EngineConfig:
    """What the bot asked for; `language` None means detect."""

    language: str | None = None
    task: str = "transcribe"
    prompt: str = ""
    hotwords: str | None = None

    def dump(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "task": self.task,
            "prompt": self.prompt,
            "hotwords": self.hotwords,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> EngineConfig:
        return cls(
            language=data.get("language") or None,
            task=data.get("task") or "transcribe",
            prompt=data.get("prompt") or "",
            hotwords=data.get("hotwords") or None,
        )


@dataclass
class Emission:
    """The result of one step: segments that became final, the current drafts, draft ids that
    no longer exist, and (when finals were made or the buffer was cut) the new checkpoint,
    which must be stored in the same transaction as the finals."""

    finals: list[SegmentOut] = field(default_factory=list)
    drafts: list[SegmentOut] = field(default_factory=list)
    # Drafts that vanished (empty text): deleted from the database, published empty so that a
    # client keyed by `absolute_start_time` (the seed's merge rule) drops its copy.
    removed_drafts: list[SegmentOut] = field(default_factory=list)
    checkpoint: dict[str, Any] | None = None
    # How long after their audio arrived each word this step's pass showed first came out
    # (seconds): what a worker's load control weighs confirming passes by. Not output.
    draft_latencies_s: list[float] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.finals or self.drafts or self.removed_drafts or self.checkpoint)


@dataclass
class _Pass:
    """A pass started over the buffer up to `upto` when the buffer began at `cut_t`; its audio
    begins at `audio_t` (`cut_t`, or after the confirmed words for a draft-only pass)."""

    upto: float
    cut_t: float
    request: PassRequest
    audio_t: float
    # Whether its words may become final (every pass, unless the engine runs confirming passes).
    confirming: bool
    # The unconfirmed words known when it started (what it must agree with), and the next
    # segment number then (it moved if words were confirmed since).
    hypothesis: list[Word]
    seq: int
    # How much of the buffer the pass that made `hypothesis` had (left context included).
    hypothesis_heard_s: float = 0.0
    future: Future[PassResult] | None = None


@dataclass
class _AudioRef:
    entry_id: str
    start: float
    end: float
    arrived: float  # when the entry reached the stream, on the engine's clock


def _same(a: Word, b: Word) -> bool:
    return filters.normalize(a.text) == filters.normalize(b.text)


class StreamingTranscriber:
    """LocalAgreement-2 over a trimmed audio buffer, for one session."""

    def __init__(
        self,
        session_uid: str,
        *,
        run_pass: PassRunner,
        config: EngineConfig | None = None,
        state: dict[str, Any] | None = None,
        pass_interval_s: float = 0.3,
        max_backlog_s: float = 0.0,
        left_context_s: float | None = None,
        submit_pass: PassSubmitter | None = None,
        pipeline_depth: int = 1,
        confirming_passes: bool = False,
        clock: Callable[[], float] = time.monotonic,
        arrival: Callable[[StreamEntry], float] | None = None,
    ) -> None:
        self.session_uid = session_uid
        self.run_pass = run_pass
        self.pass_interval_s = pass_interval_s
        # With `submit_pass`, up to `pipeline_depth` passes run at once, started every
        # `pass_interval_s / pipeline_depth` of new audio: a lone session's passes with context
        # and beam run back to back on one core, so a word waited for the next pass to start
        # while the other core idled. A worker sets the depth by load (`scheduler`).
        self.submit_pass = submit_pass
        self.pipeline_depth = pipeline_depth
        self.in_flight: deque[_Pass] = deque()
        # Confirmed audio kept before the words being decided, its words forced as the decoder's
        # prefix: tiny.en mishears a sentence heard alone that it gets right after hearing the
        # same voice for a few seconds ("the number of [new] users"), see bench/wer.py. A worker
        # lowers it under load (`scheduler.context_for_load`).
        self.left_context_s = (
            float(settings.WHISPER_CONTEXT_S) if left_context_s is None else left_context_s
        )
        self.max_backlog_s = max_backlog_s
        # A loaded worker cannot afford left context and beam search on every pass. With
        # `confirming_passes`, most passes are draft-only (greedy, from the last confirmed word
        # on, no prefix); a pass with the left context and beam search runs at a pause and at
        # least every `CONFIRMING_EVERY_S` of speech, and only its words become final.
        self.confirming_passes = confirming_passes
        self._confirming_upto = 0.0
        self.clock = clock
        # When an entry's audio reached the stream, on `clock`: by default when it was fed; a
        # worker, whose loop is busy with a pass while audio waits in Redis, knows better.
        self.arrival: Callable[[StreamEntry], float] = arrival or (lambda _entry: self.clock())
        # Audio up to here was in an applied pass: words ending later are shown for the first
        # time by the next one.
        self._shown_upto = 0.0
        state = state or {}
        self.config: EngineConfig = (
            EngineConfig.load(state["config"]) if "config" in state else config or EngineConfig()
        )
        self.seq: int = int(state.get("seq", 0))
        self.cut_t: float = float(state.get("cut_t", 0.0))
        self.resume_after: str = str(state.get("after", "0-0"))
        self.last_event_id: str = str(state.get("last_event_id", "0-0"))
        self.prompt_text: str = str(state.get("prompt_text", ""))
        self.detected_language: str | None = state.get("language")
        self.speakers = SpeakerTimeline.load(state.get("speakers", []))
        self.wall = WallOffsets.load(state.get("wall", []))
        self.passes: int = int(state.get("passes", 0))
        self.finished: bool = bool(state.get("finished", False))
        # The buffer: samples from `cut_t` on (the timeline restarts at gaps too long to fill).
        self.audio = np.zeros(0, dtype=np.float32)
        self.refs: list[_AudioRef] = []
        self.vad = SpeechProbabilities()
        self.vad_origin_t = self.cut_t
        # Confirmed (already final) words still inside the buffer: a successor must not
        # emit them again, so they travel in the checkpoint.
        self.committed: list[Word] = [
            Word(w["word"], w["start"], w["end"], w["probability"])
            for w in state.get("committed", [])
        ]
        # Sentence ends and pauses between confirmed words in the buffer: where it may be cut.
        self.boundaries: list[float] = [float(b) for b in state.get("boundaries", [])]
        self._checkpoint_t = self.cut_t
        # Audio up to here has been through a pass; a successor's first pass waits for audio
        # past the confirmed words it was handed.
        self.processed_t = max(self.cut_t, self.committed[-1].end if self.committed else 0.0)
        self.hypothesis: list[Word] = []  # last pass's unconfirmed words
        self._hypothesis_heard_s = 0.0  # the buffer the pass that made it had
        self.recent_finals: list[Word] = list(self.committed[-5:])
        self.segments = SegmentWriter(
            session_uid,
            self.speakers,
            last_start=float(state.get("last_start", -1.0)),
            wall=self.wall,
        )
        self.last_language: str | None = self.detected_language
        self.history: list[dict[str, Any]] = []  # per-pass record, for tests and benchmarks
        # The last pass came more than BEHIND_S after its newest audio (see there).
        self.behind = False
        self._cut_changed = False

    # -- input -------------------------------------------------------------------------------
    @property
    def end_t(self) -> float:
        return self.cut_t + len(self.audio) / SAMPLE_RATE

    def feed(self, entries: list[StreamEntry]) -> list[Emission]:
        """Consume entries in stream order; run the passes the new audio calls for."""
        out: list[Emission] = []
        for entry in entries:
            if self.finished:
                break
            if entry.type == "audio":
                if entry.t is not None and entry.t - self.end_t > MAX_GAP_FILL_S:
                    log.info("session %s: audio gap, restarting the buffer", self.session_uid)
                    out.extend(self._flush(until=self.end_t))
                    self._restart_at(float(entry.t))
                self._append(entry)
                continue
            if entry_id_key(entry.id) <= entry_id_key(self.last_event_id):
                continue  # applied before a restart: its effect is in the checkpoint
            if entry.type == "speaker":
                self.speakers.event(
                    name=entry.name or entry.participant_id or "",
                    participant_id=entry.participant_id or "",
                    state=entry.state or "stop",
                    t=float(entry.t or 0.0),
                )
            elif entry.type == "clock" and entry.wall_offset is not None:
                self.wall.add(t=float(entry.t or 0.0), offset_s=entry.wall_offset)
            elif entry.type == "config":
                # The new settings apply to audio after the change: finish what came before.
                at = float(entry.t) if entry.t is not None else self.end_t
                out.extend(self._flush(until=min(at, self.end_t)))
                self.config = replace(
                    self.config,
                    language=None if entry.language in (None, "", "auto") else entry.language,
                    task=entry.task or self.config.task,
                )
                self.detected_language = None
            elif entry.type == "end":
                out.extend(self._flush(until=self.end_t))
                self.finished = True
            self.last_event_id = entry.id
            if entry.type in ("config", "end"):
                out.append(Emission(checkpoint=self.checkpoint()))
        out.extend(self._catch_up())
        return [e for e in out if e]

    def _append(self, entry: StreamEntry) -> None:
        pcm = np.frombuffer(entry.pcm or b"", dtype=np.int16).astype(np.float32) / 32768.0
        start = float(entry.t or 0.0)
        end = start + len(pcm) / SAMPLE_RATE
        if end <= self.end_t + 1e-6:
            return  # before the cut (re-read after a restart)
        if start < self.end_t:  # partly before the cut (the first entry after a resume)
            skip = round((self.end_t - start) * SAMPLE_RATE)
            pcm = pcm[skip:]
            start = self.end_t
        gap = start - self.end_t
        if gap > 1.0 / SAMPLE_RATE:
            self._push(np.zeros(round(gap * SAMPLE_RATE), dtype=np.float32))
        self._push(pcm)
        self.refs.append(_AudioRef(entry.id, start, end, self.arrival(entry)))

    def _push(self, samples: np.ndarray) -> None:
        self.audio = np.concatenate([self.audio, samples]) if len(self.audio) else samples
        self.vad.push(samples)

    def _restart_at(self, t: float) -> None:
        # After a flush: everything before is final, so the timeline may start over at `t`.
        self.audio = np.zeros(0, dtype=np.float32)
        self.cut_t = t
        self.processed_t = t
        self.vad = SpeechProbabilities()
        self.vad_origin_t = t
        self.committed = []
        self.boundaries = []
        self._cut_changed = True

    # -- passes ------------------------------------------------------------------------------
    def _catch_up(self) -> list[Emission]:
        if self.submit_pass is not None and (self.pipeline_depth > 1 or self.in_flight):
            return self._pipeline()
        out: list[Emission] = []
        while self.end_t - self.processed_t >= self.pass_interval_s:
            backlog = self.end_t - self.processed_t
            # When behind (a burst, a restart, an overloaded host), skip ahead: one pass covers
            # all but `max_backlog_s` of the waiting audio, so passes per second of audio fall
            # as load rises and latency stays bounded instead of growing.
            step = max(self.pass_interval_s, backlog - self.max_backlog_s)
            out.append(self._step(min(self.end_t, self.processed_t + step)))
        return out

    def _pipeline(self) -> list[Emission]:
        """Apply the passes that finished (in start order), then start passes while fewer than
        `pipeline_depth` run; with the depth lowered to 1, drain first and go on one by one."""
        out = self._collect(block=False)
        if self.pipeline_depth <= 1:
            out.extend(self.drain())
            return out + self._catch_up()
        spacing = self.pass_interval_s / self.pipeline_depth
        while len(self.in_flight) < self.pipeline_depth:
            backlog = self.end_t - self.processed_t
            if backlog < spacing:
                break
            upto = min(self.end_t, self.processed_t + max(spacing, backlog - self.max_backlog_s))
            planned = self._plan(upto, silent_ok=not self.in_flight)
            if planned is None:
                break  # silence after passes still running: decided once they are applied
            if isinstance(planned, Emission):
                out.append(planned)
                continue
            assert self.submit_pass is not None
            planned.future = self.submit_pass(planned.request)
            self.in_flight.append(planned)
        return out

    def _collect(self, *, block: bool) -> list[Emission]:
        out: list[Emission] = []
        while self.in_flight:
            future = self.in_flight[0].future
            assert future is not None
            if not (block or future.done()):
                break
            out.append(self._apply(self.in_flight.popleft(), future.result()))
        return out

    def drain(self) -> list[Emission]:
        """Wait for the passes still running and apply them."""
        return self._collect(block=True)

    def wait(self, timeout_s: float) -> None:
        """Block until the oldest running pass finishes, at most `timeout_s`."""
        if self.in_flight and self.in_flight[0].future is not None:
            futures_wait([self.in_flight[0].future], timeout=timeout_s)

    def _flush(self, *, until: float) -> list[Emission]:
        """Pass up to `until`, then confirm everything heard (end of session or config change)."""
        out = self.drain()
        out.extend(self._catch_up_to(until))
        emission = self._step(until, final=True) if until > self.cut_t else Emission()
        self._cut(until, emission)
        emission.checkpoint = self.checkpoint()
        out.append(emission)
        return out

    def _catch_up_to(self, until: float) -> list[Emission]:
        out: list[Emission] = []
        while until - self.processed_t >= self.pass_interval_s:
            step = max(self.pass_interval_s, until - self.processed_t - self.max_backlog_s)
            out.append(self._step(min(until, self.processed_t + step)))
        return out

    def _sample(self, t: float) -> int:
        return round((t - self.vad_origin_t) * SAMPLE_RATE)

    def _step(self, upto: float, *, final: bool = False) -> Emission:
        """One pass over the buffer up to `upto`; with `final`, confirm the whole hypothesis."""
        planned = self._plan(upto, silent_ok=True, final=final)
        assert planned is not None
        if isinstance(planned, Emission):
            return planned
        return self._apply(planned, self.run_pass(planned.request), final=final)

    def _plan(
        self, upto: float, *, silent_ok: bool, final: bool = False
    ) -> _Pass | Emission | None:
        """The pass over the buffer up to `upto`, or, when nothing was said since the last
        confirmed word, the no-pass step's emission (None if that must wait: `silent_ok` off)."""
        committed_end = self.committed[-1].end if self.committed else self.cut_t
        speech = self.vad.speech_seconds(self._sample(committed_end + 0.1), self._sample(upto))
        silent = speech < MIN_SPEECH_S and not self.hypothesis
        if silent and not silent_ok:
            return None
        self.processed_t = max(self.processed_t, upto)
        if silent:
            emission = Emission()
            # Nothing said since the last confirmed word: no pass; silence before anything
            # was confirmed, or a long one, is dropped (with the left context).
            silence = upto - committed_end
            if silence >= (SILENCE_RESET_S if self.committed else PAUSE_S):
                self._cut(max(committed_end, upto - ONSET_MARGIN_S), emission)
            self._publish_drafts(emission)
            self._attach_checkpoint(emission)
            return emission
        confirming = final or self._confirms(upto, committed_end)
        audio_t = self.cut_t if confirming else max(self.cut_t, committed_end)
        if confirming:
            self._confirming_upto = upto
        return _Pass(
            upto=upto,
            cut_t=self.cut_t,
            request=self._request(upto, audio_t=audio_t, confirming=confirming),
            audio_t=audio_t,
            confirming=confirming,
            hypothesis=self.hypothesis,
            seq=self.seq,
            hypothesis_heard_s=self._hypothesis_heard_s,
        )

    def _confirms(self, upto: float, committed_end: float) -> bool:
        """Whether the pass up to `upto` is one whose words may become final."""
        if not self.confirming_passes:
            return True
        if self.hypothesis and self._pause_after(self.hypothesis[-1], upto):
            return True
        if self._new_pause(committed_end, upto):
            return True
        return (
            upto - committed_end >= CONFIRMING_EVERY_S
            and upto - self._confirming_upto >= CONFIRMING_EVERY_S / 2
        )

    def _apply(self, planned: _Pass, result: PassResult, *, final: bool = False) -> Emission:
        """Turn a pass's words into finals and drafts (passes are applied in start order; one
        started before the previous one was applied repeats the words that one confirmed)."""
        upto = planned.upto
        emission = Emission()
        committed_end = self.committed[-1].end if self.committed else self.cut_t
        arrived = self._arrived(upto)
        self.behind = arrived is not None and self.clock() - arrived > BEHIND_S
        words, language = self._words(planned, result)
        if planned.cut_t < self.cut_t:
            # Cut since the pass started: what ends before the cut is final already.
            words = [w for w in words if w.end > self.cut_t]
        new = self._unconfirmed(words, committed_end)
        if final:
            # The last pass may drop a word at the very end of the audio that the previous
            # pass heard: keep the previous hypothesis's words beyond the new ones.
            confirmed = new + self._beyond(new, committed_end)
            rest = []
        elif not planned.confirming:
            confirmed, rest = [], new
        else:
            # Agreement is with the hypothesis known when this pass started, less what was
            # confirmed since: with passes overlapping, the one just applied heard only
            # `pass_interval_s / pipeline_depth` less audio, and two passes that close agree
            # on the same mistakes (bench/wer.py --pipeline 2).
            previous = planned.hypothesis
            if planned.seq != self.seq:
                previous = self._unconfirmed(previous, committed_end)
            agreed = 0
            for a, b in zip(new, previous, strict=False):
                if not _same(a, b):
                    break
                agreed += 1
            # The newest words are unreliable (cut mid-word, little right context): even if
            # two passes agree, they wait until more audio follows them.
            while agreed and new[agreed - 1].end > upto - CONFIRM_GUARD_S:
                agreed -= 1
            if min(upto - planned.cut_t, planned.hypothesis_heard_s) < MIN_CONTEXT_S:
                # Passes over a second or less of audio mishear the first words, and two passes
                # agree on them too often: a pass over 1.0 s of a meeting's first words ("Don't
                # worry") and one over 1.5 s confirmed "Don't" for "Good" in 6 runs of 19.
                agreed = 0
            if self.confirming_passes:
                # A confirming pass is trusted through the last sentence end or pause it heard
                # more audio after: with passes far apart on a loaded host few end in a pause,
                # one that disagrees with a greedy draft would hold a whole turn back, and one
                # that stops after its prefix's sentence would hold the next.
                agreed = max(agreed, self._settled(new, upto))
            confirmed, rest = new[:agreed], new[agreed:]
            if rest and self._pause_after(rest[-1], upto):
                confirmed, rest = new, []
            elif not confirmed and rest and upto - committed_end > self._force_confirm_s():
                half = max(1, len(rest) // 2)
                confirmed, rest = rest[:half], rest[half:]
        if not final:
            emission.draft_latencies_s = self._first_shown_latencies(new)
        self._shown_upto = max(self._shown_upto, upto)
        self.last_language = language
        if self.history:
            self.history[-1]["confirmed"] = " ".join(w.text.strip() for w in confirmed)
            self.history[-1]["rest"] = " ".join(w.text.strip() for w in rest)
        self.hypothesis = rest
        self._hypothesis_heard_s = upto - planned.cut_t
        self._finalize(confirmed, emission=emission, language=language)
        self._maybe_cut(emission, upto)
        self._publish_drafts(emission)
        self._attach_checkpoint(emission)
        return emission

    def _arrived(self, t: float) -> float | None:
        """When the audio at `t` reached the stream (None: not in the buffer)."""
        index = bisect.bisect_left(self.refs, t - 1e-6, key=lambda ref: ref.end)
        return self.refs[index].arrived if index < len(self.refs) else None

    def _first_shown_latencies(self, words: list[Word]) -> list[float]:
        """Now minus when the audio of each word shown for the first time arrived."""
        now = self.clock()
        arrivals = (self._arrived(word.end) for word in words if word.end > self._shown_upto)
        return [now - arrived for arrived in arrivals if arrived is not None]

    def _force_confirm_s(self) -> float:
        return BEHIND_FORCE_CONFIRM_S if self.behind else FORCE_CONFIRM_S

    def _beyond(self, new: list[Word], committed_end: float) -> list[Word]:
        """Words of the previous hypothesis that come after everything in `new`."""
        if not new:
            return [w for w in self.hypothesis if w.start >= committed_end - 0.05]
        matches = [i for i, w in enumerate(self.hypothesis) if _same(w, new[-1])]
        if matches:
            return self.hypothesis[matches[-1] + 1 :]
        recent = {filters.normalize(w.text) for w in new[-3:]}
        return [
            w
            for w in self.hypothesis
            if w.start >= new[-1].end - 0.05 and filters.normalize(w.text) not in recent
        ]

    def _attach_checkpoint(self, emission: Emission) -> None:
        # Finals always carry one (seq moved); a mere cut (silence dropped) at most every 5 s,
        # so a silent session does not write its row twice a second.
        if emission.finals or (self._cut_changed and self.cut_t - self._checkpoint_t >= 5.0):
            emission.checkpoint = self.checkpoint()

    def _request(self, upto: float, *, audio_t: float, confirming: bool) -> PassRequest:
        samples = self.audio[
            round((audio_t - self.cut_t) * SAMPLE_RATE) : round((upto - self.cut_t) * SAMPLE_RATE)
        ]
        committed = "".join(w.text for w in self.committed).strip()
        prompt_parts = [self.config.prompt, self.prompt_text]
        if not confirming:
            # Draft-only: the confirmed words in the buffer are left out of its audio, so they
            # are previous text (one decoder forward) instead of a prefix (a step per token).
            prompt_parts.append(committed)
        prompt = filters.conditioning(" ".join(p for p in prompt_parts if p).strip())
        beam_size = None  # the scheduler's, by load
        if self.confirming_passes:
            beam_size = int(settings.WHISPER_BEAM_SIZE) if confirming else 1
        return PassRequest(
            audio=samples,
            language=self.config.language or self.detected_language,
            task=self.config.task,
            prompt=prompt,
            hotwords=self.config.hotwords,
            beam_size=beam_size,
            prefix=filters.conditioning(committed) if confirming else "",
        )

    def _words(self, planned: _Pass, result: PassResult) -> tuple[list[Word], str]:
        self.passes += 1
        if self.config.language is None:
            if self.detected_language is None and result.language_probability >= 0.7:
                self.detected_language = result.language
            elif self.detected_language is not None and result.avg_logprob < -1.2:
                self.detected_language = None  # low confidence: detect again next pass
        # Times are relative to the pass's own audio, which began where the buffer did then.
        words = [w.shifted(planned.audio_t) for w in result.words]
        kept = filters.words_heard(words, result, vad=self.vad, origin_t=self.vad_origin_t)
        del self.history[:-200]
        self.history.append(
            {
                "upto": planned.upto,
                "cut_t": planned.cut_t,
                "text": result.text,
                "kept": " ".join(w.text.strip() for w in kept),
                "seconds": result.seconds,
                "language": planned.request.language,
                "task": planned.request.task,
                "stock": result.stock_fallback,
                "confirming": planned.confirming,
            }
        )
        return kept, result.language

    def _unconfirmed(self, words: list[Word], committed_end: float) -> list[Word]:
        """The words of a pass that follow the confirmed words still in the buffer.

        The pass was forced through those words (its prefix), so what it returns should follow
        them. Sometimes the decoder starts over and transcribes the prefix's audio again
        ("... users. Remember the marketing campaign ... users. Remember"): such words are
        aligned inside the prefix's audio, and what follows the prefix's last words is new.
        """
        if len(self.committed) >= 2:
            tail = [filters.normalize(w.text) for w in self.committed[-3:]]
            texts = [filters.normalize(w.text) for w in words]
            for i in range(len(texts) - len(tail), -1, -1):
                if texts[i : i + len(tail)] == tail:
                    words = words[i + len(tail) :]
                    break
        if self.committed:
            words = [w for w in words if w.end > committed_end]
        return self._drop_overlap(words)

    def _drop_overlap(self, new: list[Word]) -> list[Word]:
        """Words at the start of `new` that repeat the confirmed tail (time jitter at the seam)."""
        # Confirmed words just cut out of the buffer count too: a pass started before the cut
        # was forced through fewer words and hears them again.
        tail = [*(self.committed or self.recent_finals)[-5:]]
        if not tail or not new:
            return new
        for n in range(min(5, len(tail), len(new)), 0, -1):
            if new[0].start < tail[-1].end + 1.0 and all(
                _same(a, b) for a, b in zip(tail[-n:], new[:n], strict=True)
            ):
                return new[n:]
        return new

    def _settled(self, words: list[Word], upto: float) -> int:
        """How many of `words` come before the last sentence end or pause that the pass heard
        `CONFIRM_GUARD_S` of audio after."""
        for i in range(len(words) - 1, -1, -1):
            if words[i].end > upto - CONFIRM_GUARD_S:
                continue
            if words[i].text.strip().endswith(SENTENCE_END):
                return i + 1
            # Up to just before the next word's onset (its start is clamped to VAD's).
            gap_to = words[i + 1].start - 0.1 if i + 1 < len(words) else upto
            if self._pause_after(words[i], gap_to):
                return i + 1
        return 0

    def _new_pause(self, committed_end: float, upto: float) -> bool:
        """Whether VAD heard a pause after unconfirmed speech that a confirming pass up to
        `upto` would confirm through and the last one did not. On a loaded host the draft
        before a turn's end often already holds the next turn's first words, so the pause
        after its last word is never seen."""
        spans = self.vad.speech_spans(
            self._sample(committed_end + 0.1), self._sample(upto), bridge_s=PAUSE_S
        )
        for index, (start, end) in enumerate(spans):
            end_t = self.vad_origin_t + end / SAMPLE_RATE
            # A pause still going on at `upto` confirms the whole pass after `PAUSE_S`
            # (`_apply`); one the next speech ended, only through `_settled`.
            going_on = index == len(spans) - 1
            heard_after = PAUSE_S if going_on else CONFIRM_GUARD_S
            if (
                (end - start) / SAMPLE_RATE >= MIN_SPEECH_S
                and end_t > self._confirming_upto - PAUSE_S
                and upto - end_t >= heard_after
            ):
                return True
        return False

    def _pause_after(self, word: Word, upto: float) -> bool:
        if upto - word.end < PAUSE_S:
            return False
        return self.vad.last_speech_end(self._sample(word.end + 0.15), self._sample(upto)) is None

    # -- output ------------------------------------------------------------------------------
    def _finalize(
        self,
        words: list[Word],
        *,
        emission: Emission | None = None,
        language: str | None = None,
        force: bool = False,
    ) -> None:
        if force:
            self.hypothesis = []
        if not words:
            return
        emission = emission if emission is not None else Emission()
        finals = self.segments.finals(words, seq=self.seq, language=self.last_language)
        emission.finals.extend(finals)
        self.seq += len(finals)
        self.committed.extend(words)
        self.recent_finals = [*self.recent_finals, *words][-5:]
        self._cut_changed = True  # seq moved: the checkpoint must travel with these finals

    def _publish_drafts(self, emission: Emission) -> None:
        drafts, removed = self.segments.drafts(
            self.hypothesis,
            seq=self.seq,
            final_ids={f.segment_id for f in emission.finals},
            language=self.last_language,
        )
        emission.drafts.extend(drafts)
        emission.removed_drafts.extend(removed)

    def _maybe_cut(self, emission: Emission, upto: float) -> None:
        """Cut at a boundary that keeps `left_context_s` of confirmed audio before the words
        still being decided; past `MAX_BUFFER_S`, at the last confirmed word."""
        if not self.committed:
            return
        last = self.committed[-1]
        next_start = self.hypothesis[0].start if self.hypothesis else None
        here = last.end if next_start is None else min((last.end + next_start) / 2, last.end + 0.2)
        boundary = last.text.strip().endswith(SENTENCE_END) or (
            not self.hypothesis and self._pause_after(last, upto)
        )
        if boundary and (not self.boundaries or here > self.boundaries[-1]):
            self.boundaries.append(here)
        context_s = 0.0 if self.behind else self.left_context_s
        keep_from = [b for b in self.boundaries if b <= here - context_s]
        if keep_from:
            self._cut(max(keep_from), emission)
        if self.end_t - self.cut_t > MAX_BUFFER_S:
            later = [b for b in self.boundaries if b > self.cut_t]
            self._cut(later[-1] if later else max(self.cut_t, here), emission)

    def _cut(self, t: float, emission: Emission) -> None:
        """Drop buffered audio before `t` (everything before it is final)."""
        t = min(t, self.end_t)
        if t <= self.cut_t:
            return
        drop = round((t - self.cut_t) * SAMPLE_RATE)
        self.audio = self.audio[drop:]
        self.cut_t = t
        self.processed_t = max(self.processed_t, t)
        # Confirmed words cut out of the buffer become the prompt; words still in the buffer
        # must not be in it, or Whisper continues after them and skips or repeats them.
        gone = [w for w in self.committed if w.end <= t + 0.05]
        self.committed = self.committed[len(gone) :]
        self.boundaries = [b for b in self.boundaries if b > t]
        if gone:
            text = "".join(w.text for w in gone).strip()
            self.prompt_text = (self.prompt_text + " " + text).strip()[-PROMPT_CHARS:]
        self.vad.drop_before(self._sample(t))
        self.speakers.forget_before(t)
        kept: list[_AudioRef] = []
        for ref in self.refs:
            if ref.end <= t:
                self.resume_after = ref.entry_id
            else:
                kept.append(ref)
        self.refs = kept
        self._cut_changed = True
        del emission

    def checkpoint(self) -> dict[str, Any]:
        self._cut_changed = False
        self._checkpoint_t = self.cut_t
        return {
            "v": 1,
            "after": self.resume_after,
            "cut_t": round(self.cut_t, 6),
            "seq": self.seq,
            "last_event_id": self.last_event_id,
            "config": self.config.dump(),
            "language": self.detected_language,
            "prompt_text": self.prompt_text,
            "speakers": self.speakers.dump(),
            "wall": self.wall.dump(cut_t=self.cut_t),
            "committed": [
                {"word": w.text, "start": w.start, "end": w.end, "probability": w.probability}
                for w in self.committed
            ],
            "boundaries": [round(b, 6) for b in self.boundaries],
            "passes": self.passes,
            "last_start": self.segments.last_start,
            "finished": self.finished,
        }
