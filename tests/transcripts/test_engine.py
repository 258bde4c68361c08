"""The streaming engine in-process: real tiny.en model, real espeak-ng speech, no worker."""

from __future__ import annotations

import itertools
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from meetings.stream import BYTES_PER_SAMPLE, SAMPLE_RATE, StreamEntry, read_wav_pcm16k
from tests.speech import VOICES, make_silence_wav, make_speech_wav
from tests.transcripts.engine_support import (
    CLIPS,
    KEYWORDS,
    Clip,
    EntryMaker,
    make_clips,
    missing,
    recall,
    words_of,
)
from transcripts.engine import filters
from transcripts.engine.model import PassRequest, PassResult, Word, run_passes
from transcripts.engine.segments import SegmentOut, SegmentWriter
from transcripts.engine.speakers import SpeakerTimeline
from transcripts.engine.streaming import (
    BEHIND_S,
    CONFIRM_GUARD_S,
    CONFIRMING_EVERY_S,
    MAX_BUFFER_S,
    MIN_CONTEXT_S,
    Emission,
    EngineConfig,
    StreamingTranscriber,
)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    return make_clips(Path(tmp_path_factory.mktemp("speech")))


def run_one(request: PassRequest) -> PassResult:
    return run_passes([request])[0]


class Recorder:
    """Feeds entries one at a time (as a live stream arrives) and keeps every emission."""

    def __init__(self, engine: StreamingTranscriber) -> None:
        self.engine = engine
        self.emissions: list[Emission] = []

    def feed(self, entries: list[StreamEntry]) -> None:
        for entry in entries:
            self.emissions.extend(self.engine.feed([entry]))

    def poll(self) -> None:
        """What a session's loop does while passes run and no entry came."""
        self.emissions.extend(self.engine.feed([]))

    @property
    def finals(self) -> list[SegmentOut]:
        return [f for e in self.emissions for f in e.finals]

    @property
    def drafts(self) -> list[SegmentOut]:
        return [d for e in self.emissions for d in e.drafts]

    def text(self) -> str:
        return " ".join(f.text for f in self.finals)


def engine(**kwargs: object) -> StreamingTranscriber:
    return StreamingTranscriber("s1", run_pass=run_one, **kwargs)  # type: ignore[arg-type]


def test_the_padded_short_pass_matches_a_stock_transcription(clips: dict[str, Clip]) -> None:
    from transcripts.engine.model import get_model

    audio = np.frombuffer(clips["train"].pcm, np.int16).astype(np.float32) / 32768
    result = run_one(PassRequest(audio=audio))
    segments, _info = get_model().transcribe(audio, beam_size=1, without_timestamps=True)
    stock = " ".join(s.text for s in segments)
    assert recall(stock, result.text) >= 0.9
    assert result.words
    assert result.words[-1].end <= clips["train"].seconds + 0.1
    assert not result.stock_fallback


def test_a_word_with_an_apostrophe_is_one_word(tmp_path: Path) -> None:
    # Whisper's tokens split "o'clock" as " o" + "'clock": confirmed apart, clients showed
    # "o 'clock".
    path = make_speech_wav(
        "We meet at three o'clock, don't we?", tmp_path / "c.wav", voice=VOICES[0]
    )
    audio = np.frombuffer(read_wav_pcm16k(path), np.int16).astype(np.float32) / 32768
    result = run_one(PassRequest(audio=audio))
    texts = [w.text for w in result.words]
    assert any(t.strip().lower().startswith("o'clock") for t in texts), texts
    assert any(t.strip().lower().startswith("don't") for t in texts), texts
    assert all(t.startswith(" ") for t in texts), texts


def test_a_pass_with_a_prefix_returns_only_the_words_after_it(clips: dict[str, Clip]) -> None:
    pcm = clips["budget"].pcm + clips["garden"].pcm
    audio = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768
    result = run_one(PassRequest(audio=audio, prefix=clips["budget"].text))
    got = words_of(result.text)
    assert missing(result.text, "garden") == []
    assert not {"quarterly", "budget", "revenue"} & set(got), result.text
    # The new words are timed in the audio after the prefix's speech.
    assert result.words[0].start >= clips["budget"].seconds - 0.3
    assert result.words[-1].end <= clips["budget"].seconds + clips["garden"].seconds + 0.1


def test_confirmed_speech_stays_in_the_next_passes_as_left_context(
    clips: dict[str, Clip],
) -> None:
    # tiny.en mishears a sentence heard alone that it gets right after a few seconds of the
    # same voice, so passes keep confirmed audio before the words they decide (bench/wer.py).
    passes: list[tuple[float, float, str]] = []

    def recording(request: PassRequest) -> PassResult:
        passes.append((live.cut_t, len(request.audio) / 16000, request.prefix))
        return run_one(request)

    live = StreamingTranscriber("s1", run_pass=recording)
    rec = Recorder(live)
    make = EntryMaker()
    pcm = clips["budget"].pcm + clips["garden"].pcm + clips["train"].pcm
    rec.feed([*make.audio(pcm), make.end()])

    assert missing(rec.text(), "budget", "garden", "train") == []
    garden_start = clips["budget"].seconds
    during_garden = [p for p in passes if p[0] + p[1] > garden_start + 1.0]
    # While the garden sentence is decided, the budget sentence's end is still in the audio,
    # as the decoder's prefix (it is not transcribed again).
    assert any("numbers" in prefix.lower() for _cut, _seconds, prefix in during_garden)
    context_s = settings.WHISPER_CONTEXT_S
    assert any(garden_start - cut >= context_s / 2 for cut, _s, _p in during_garden)
    assert max(seconds for _cut, seconds, _p in passes) <= MAX_BUFFER_S + 0.5
    got = words_of(rec.text())
    for word in KEYWORDS["budget"] + KEYWORDS["garden"] + KEYWORDS["train"]:
        assert got.count(word) == 1, rec.text()


def test_a_pass_that_starts_over_inside_its_prefix_adds_no_words(clips: dict[str, Clip]) -> None:
    # Now and then the decoder, forced through its prefix, transcribes the prefix's audio
    # again before going on. Real passes can't be made to do that on demand, so this one
    # is made to: its result gets the prefix's words again, timed inside the prefix's audio.
    restarted = 0

    def restarting(request: PassRequest) -> PassResult:
        nonlocal restarted
        result = run_one(request)
        prefix = request.prefix.split()
        if len(prefix) >= 3 and restarted < 5 and result.words:
            restarted += 1
            at = max(0.0, result.words[0].start - 0.5)
            again = [Word(" " + text, at, at, 0.5) for text in prefix]
            result.words = again + result.words
            result.text = request.prefix + " " + result.text
        return result

    rec = Recorder(StreamingTranscriber("s1", run_pass=restarting))
    make = EntryMaker()
    rec.feed([*make.audio(clips["garden"].pcm + clips["train"].pcm), make.end()])

    assert restarted == 5
    got = words_of(rec.text())
    assert missing(rec.text(), "garden", "train") == []
    for word in KEYWORDS["garden"] + KEYWORDS["train"]:
        assert got.count(word) == 1, rec.text()
    for a, b in itertools.pairwise(rec.finals):
        assert b.start >= a.end - 0.25


def test_it_streams_drafts_then_finals_with_stable_ids(clips: dict[str, Clip]) -> None:
    rec = Recorder(engine())
    make = EntryMaker()
    pcm = clips["budget"].pcm
    middle = len(pcm) // 4 * 2
    # The capture clock fell 0.3 s behind the wall clock by the middle (exaggerated).
    rec.feed([*make.audio(pcm[:middle]), make.clock(0.3), *make.audio(pcm[middle:]), make.end()])

    assert missing(rec.text(), "budget") == []
    first_draft = next(i for i, e in enumerate(rec.emissions) if e.drafts)
    first_final = next(i for i, e in enumerate(rec.emissions) if e.finals)
    assert first_draft < first_final
    # A final keeps the id its draft had: most finals were announced as drafts first.
    draft_ids = {d.segment_id for d in rec.drafts}
    final_ids = [f.segment_id for f in rec.finals]
    assert len(final_ids) == len(set(final_ids))
    assert sum(i in draft_ids for i in final_ids) >= len(final_ids) / 2
    # Once final, an id is never a draft again, and finals do not overlap in time.
    seen_final: set[str] = set()
    for emission in rec.emissions:
        assert not {d.segment_id for d in emission.drafts} & seen_final
        seen_final |= {f.segment_id for f in emission.finals}
    for a, b in zip(rec.finals, rec.finals[1:], strict=False):
        assert b.start >= a.end - 0.25
    # Clients merge segments by absolute_start_time (seed 002): an id keeps one start (and so
    # one drift) through all its versions, and no two ids share one.
    starts: dict[str, set[tuple[float, float]]] = {}
    for emission in rec.emissions:
        for out in (*emission.drafts, *emission.finals, *emission.removed_drafts):
            starts.setdefault(out.segment_id, set()).add((out.start, out.wall_offset_s))
    assert all(len(s) == 1 for s in starts.values()), starts
    assert len({next(iter(s)) for s in starts.values()}) == len(starts)
    # Wall time is the drift in force at a segment's start.
    middle_t = middle / 2 / SAMPLE_RATE
    assert {(f.start >= middle_t, f.wall_offset_s) for f in rec.finals} == {(False, 0), (True, 0.3)}
    assert all(w["probability"] > 0 for f in rec.finals for w in f.words)
    assert rec.emissions[-1].checkpoint
    assert rec.emissions[-1].checkpoint["finished"]


def assert_each_word_once(rec: Recorder, *names: str) -> None:
    """Every keyword of the named clips is in the finals exactly as often as it was said."""
    said = Counter(w for name in names for w in words_of(CLIPS[name]))
    heard = Counter(words_of(rec.text()))
    for word in (k for name in names for k in KEYWORDS[name]):
        assert heard[word] == said[word], (word, rec.text())


@pytest.mark.parametrize("second_session_at", [None, 5.0])
def test_overlapping_passes_keep_every_word_once(
    clips: dict[str, Clip], second_session_at: float | None
) -> None:
    """A lone session runs two passes at once; each was started before the other's words were
    confirmed, and the transcript still has every word once, in order, drafts before finals,
    also when a second session takes the other model worker midway (depth back to 1)."""
    with ThreadPoolExecutor(2) as pool:
        live = engine(submit_pass=lambda r: pool.submit(run_one, r), pipeline_depth=2)
        rec = Recorder(live)
        make = EntryMaker()
        overlapped = 0
        audio = clips["budget"].pcm + clips["silence"].pcm + clips["train"].pcm
        for entry in [*make.audio(audio), make.end()]:
            if second_session_at is not None and (entry.t or 0.0) >= second_session_at:
                live.pipeline_depth = 1
            rec.feed([entry])
            if len(live.in_flight) == 2:
                overlapped += 1
                live.wait(60.0)
                rec.poll()
    assert overlapped > (3 if second_session_at else 10)
    assert missing(rec.text(), "budget", "train") == []
    assert_each_word_once(rec, "budget", "train")
    assert words_of(rec.text())[-1] == "snow"
    first_draft = next(i for i, e in enumerate(rec.emissions) if e.drafts)
    first_final = next(i for i, e in enumerate(rec.emissions) if e.finals)
    assert first_draft < first_final
    final_ids = [f.segment_id for f in rec.finals]
    assert len(final_ids) == len(set(final_ids))
    for a, b in zip(rec.finals, rec.finals[1:], strict=False):
        assert b.start >= a.end - 0.25
    assert rec.emissions[-1].checkpoint
    assert rec.emissions[-1].checkpoint["finished"]


def test_a_loaded_engine_takes_its_finals_only_from_passes_with_left_context_and_beam(
    clips: dict[str, Clip],
) -> None:
    """With confirming passes (a worker serving many sessions), drafts come from cheap greedy
    passes over the unconfirmed audio alone; a pass with the left context (the confirmed words
    forced as its prefix) and beam search decides every final, and runs far less often."""
    requests: list[PassRequest] = []

    def recorded(request: PassRequest) -> PassResult:
        requests.append(request)
        return run_one(request)

    live = StreamingTranscriber("s1", run_pass=recorded, confirming_passes=True)
    rec = Recorder(live)
    make = EntryMaker()
    audio = clips["budget"].pcm + clips["silence"].pcm + clips["train"].pcm
    rec.feed([*make.audio(audio), make.end()])

    assert missing(rec.text(), "budget", "train") == []
    assert_each_word_once(rec, "budget", "train")
    first_draft = next(i for i, e in enumerate(rec.emissions) if e.drafts)
    first_final = next(i for i, e in enumerate(rec.emissions) if e.finals)
    assert first_draft < first_final
    final_ids = [f.segment_id for f in rec.finals]
    assert len(final_ids) == len(set(final_ids))
    assert sum(i in {d.segment_id for d in rec.drafts} for i in final_ids) >= len(final_ids) / 2

    passes = list(zip(live.history, requests, strict=True))
    drafts_only = [r for h, r in passes if not h["confirming"]]
    confirming = [r for h, r in passes if h["confirming"]]
    assert all(h["confirming"] for h, _r in passes if h.get("confirmed"))
    assert {(r.beam_size, r.prefix) for r in drafts_only} == {(1, "")}
    assert {r.beam_size for r in confirming} == {settings.WHISPER_BEAM_SIZE}
    # Confirming passes are forced through the confirmed words still in the buffer.
    assert any(r.prefix for r in confirming)
    assert len(confirming) * 2 < len(drafts_only)


def test_a_loaded_engine_holds_no_word_back_for_long_on_continuous_speech(
    clips: dict[str, Clip],
) -> None:
    """On a loaded host passes come a second apart and few end inside a pause; a confirming
    pass that stops after its prefix's sentence, or that a greedy draft disagrees with, must
    not hold the next sentences back (it once held a turn for 10 s)."""
    live = engine(confirming_passes=True, pass_interval_s=1.0)
    make = EntryMaker()
    audio = clips["garden"].pcm + clips["budget"].pcm + clips["train"].pcm
    held: list[float] = []
    finals: list[SegmentOut] = []
    for entry in make.audio(audio):
        for emission in live.feed([entry]):
            finals.extend(emission.finals)
            held += [(entry.t or 0.0) + 0.1 - w["end"] for f in emission.finals for w in f.words]
    for emission in live.feed([make.end()]):
        finals.extend(emission.finals)
    assert missing(" ".join(f.text for f in finals), "garden", "budget", "train") == []
    assert held
    assert max(held) < CONFIRMING_EVERY_S + 3.0, held


def test_a_loaded_engine_finalizes_a_sentence_at_the_first_pass_that_heard_the_pause_after_it(
    clips: dict[str, Clip], tmp_path: Path
) -> None:
    """Passes 2 s apart (a loaded host) rarely end inside a turn's pause: the draft before it
    already holds the next turn's words. VAD's pause still calls a confirming pass, and a
    turn's last word is final within a pass interval of that pause being heard (it was 3.3 s
    after the word, waiting for 4 s of speech)."""
    interval = 2.0
    live = engine(confirming_passes=True, pass_interval_s=interval)
    make = EntryMaker()
    gap = read_wav_pcm16k(make_silence_wav(tmp_path / "gap.wav", seconds=0.8))
    audio = clips["budget"].pcm + gap + clips["train"].pcm + gap + clips["garden"].pcm
    held: dict[str, float] = {}
    finals: list[SegmentOut] = []
    for entry in make.audio(audio):
        for emission in live.feed([entry]):
            finals.extend(emission.finals)
            for final in emission.finals:
                for word in final.words:
                    held[word["word"].strip()] = (entry.t or 0.0) + 0.1 - word["end"]
    for emission in live.feed([make.end()]):
        finals.extend(emission.finals)
    assert missing(" ".join(f.text for f in finals), "budget", "train") == []
    sentence_ends = {word: s for word, s in held.items() if word.endswith(".")}
    assert len(sentence_ends) >= 2, held
    assert max(sentence_ends.values()) <= interval + CONFIRM_GUARD_S, sentence_ends


def test_a_pass_reports_how_long_after_their_audio_arrived_its_new_words_showed(
    clips: dict[str, Clip],
) -> None:
    """What a worker weighs confirming passes by (`scheduler.drafts_shown`): each pass reports,
    for every word it shows for the first time, the time since that word's audio was fed; audio
    comes at capture pace and every pass takes half a second."""
    now = [0.0]
    pass_s = 0.5

    def slow_pass(request: PassRequest) -> PassResult:
        now[0] += pass_s
        return run_one(request)

    live = StreamingTranscriber("s1", run_pass=slow_pass, pass_interval_s=1.0, clock=lambda: now[0])
    make = EntryMaker()
    latencies: list[float] = []
    for entry in make.audio(clips["garden"].pcm + clips["silence"].pcm):
        now[0] += 0.1
        latencies += [s for e in live.feed([entry]) for s in e.draft_latencies_s]
    assert len(latencies) >= 6  # one per word ("My garden has tomatoes, carrots and ...")
    # Shown by the first pass after their audio came: within one pass interval of it.
    assert all(pass_s <= latency <= pass_s + 1.0 + 0.1 for latency in latencies), latencies
    assert all(not e.draft_latencies_s for e in live.feed([make.end()]))


def test_a_session_that_fell_behind_reads_less_audio_a_pass_and_loses_no_word(
    clips: dict[str, Clip],
) -> None:
    """On a host too slow for its sessions each pass came seconds after its audio; passes that
    kept reading left context cost as much as the audio they fell behind by, so the session
    stayed behind (four meetings: drafts 14-19 s late, where sessions that started with cheap
    passes settled at 4 s). Behind, the buffer keeps no left context."""
    pcm = clips["budget"].pcm + clips["garden"].pcm + clips["train"].pcm

    def run(pass_s: float) -> tuple[Recorder, list[float]]:
        now = [0.0]
        read_s: list[float] = []

        def timed_pass(request: PassRequest) -> PassResult:
            read_s.append(len(request.audio) / SAMPLE_RATE)
            now[0] += pass_s
            return run_one(request)

        live = StreamingTranscriber(
            "s1", run_pass=timed_pass, pass_interval_s=1.0, left_context_s=5.0,
            clock=lambda: now[0],
        )  # fmt: skip
        rec = Recorder(live)
        make = EntryMaker()
        for entry in make.audio(pcm):
            now[0] += 0.1
            rec.feed([entry])
        rec.feed([make.end()])
        return rec, read_s

    on_time, on_time_read = run(0.5)
    behind, behind_read = run(BEHIND_S + 1.0)

    assert not on_time.engine.behind
    assert behind.engine.behind
    assert sum(behind_read) < 0.8 * sum(on_time_read), (behind_read, on_time_read)
    # Every word once, counted: without left context tiny.en mishears a word or two, and which
    # ones depends on the CPU ("My garden has" became "My god, let us" on an AVX-512 host, while
    # the on-time run misheard "Boston"), but a span lost at a cut, or said twice, changes the
    # count (the cut at 6 s mid-sentence that was tried lost two words: "at three o'clock. The"
    # became "at the").
    said = words_of(" ".join(CLIPS[name] for name in ("budget", "garden", "train")))
    assert len(said) - 1 <= len(words_of(behind.text())) <= len(said) + 1, behind.text()
    assert recall(" ".join(said), behind.text()) >= 0.75, behind.text()


def test_a_later_pass_finishing_first_waits_for_the_earlier_one(clips: dict[str, Clip]) -> None:
    pending: list[tuple[PassRequest, Future[PassResult]]] = []

    def submit(request: PassRequest) -> Future[PassResult]:
        future: Future[PassResult] = Future()
        pending.append((request, future))
        return future

    live = engine(submit_pass=submit, pipeline_depth=2)
    rec = Recorder(live)
    make = EntryMaker()
    for entry in make.audio(clips["garden"].pcm):
        rec.feed([entry])
        if len(pending) == 2:
            (older, older_done), (newer, newer_done) = pending
            pending.clear()
            passes = live.passes
            newer_done.set_result(run_one(newer))
            rec.poll()
            assert live.passes == passes  # the newer result waits for the older one
            older_done.set_result(run_one(older))
            rec.poll()
            assert live.passes == passes + 2
    for request, future in pending:
        future.set_result(run_one(request))
    rec.feed([make.end()])
    uptos = [h["upto"] for h in live.history]
    assert uptos == sorted(uptos)
    assert missing(rec.text(), "garden") == []
    assert_each_word_once(rec, "garden")


def test_silence_yields_no_text(clips: dict[str, Clip]) -> None:
    rec = Recorder(engine())
    make = EntryMaker()
    rec.feed([*make.audio(clips["silence"].pcm), make.end()])
    assert rec.finals == []
    assert rec.drafts == []


def test_words_after_a_long_pause_and_the_tail_are_kept(clips: dict[str, Clip]) -> None:
    rec = Recorder(engine())
    make = EntryMaker()
    rec.feed(make.audio(clips["garden"].pcm))
    rec.feed(make.audio(clips["silence"].pcm + clips["silence"].pcm))
    rec.feed([*make.audio(clips["train"].pcm), make.end()])
    text = rec.text()
    assert missing(text, "garden", "train") == []
    assert words_of(text)[0] in ("my", "i")
    assert words_of(text)[-1] == "snow"
    assert "thank" not in words_of(text)


def test_speakers_follow_alternating_turns(clips: dict[str, Clip]) -> None:
    rec = Recorder(engine())
    make = EntryMaker()
    entries = [make.speaker("Alice", "start"), *make.audio(clips["garden"].pcm)]
    entries += [make.speaker("Alice", "stop"), make.speaker("Bob", "start")]
    entries += [*make.audio(clips["train"].pcm), make.speaker("Bob", "stop")]
    entries += [make.speaker("Alice", "start"), *make.audio(clips["budget"].pcm), make.end()]
    turns = [
        ("Alice", 0.0, clips["garden"].seconds),
        ("Bob", clips["garden"].seconds, clips["garden"].seconds + clips["train"].seconds),
        ("Alice", clips["garden"].seconds + clips["train"].seconds, make.t),
    ]
    rec.feed(entries)

    words = [w for f in rec.finals for w in f.words]
    assert missing(" ".join(w["word"] for w in words), "garden", "train", "budget") == []
    for word in words:
        middle = (word["start"] + word["end"]) / 2
        speaker = next(name for name, start, end in turns if start <= middle < end)
        assert word["speaker"] == speaker, word
    for final in rec.finals:
        # Segments never mix speakers: they are split where the speaker changes.
        assert {w["speaker"] for w in final.words} == {final.speaker}


def test_a_config_change_applies_to_later_audio_only(clips: dict[str, Clip]) -> None:
    rec = Recorder(engine(config=EngineConfig(language="en", task="transcribe")))
    make = EntryMaker()
    rec.feed(make.audio(clips["garden"].pcm))
    change_t = make.t
    rec.feed([make.config(language=None, task="translate")])
    rec.feed([*make.audio(clips["train"].pcm), make.end()])

    history = rec.engine.history
    before = [h for h in history if h["upto"] <= change_t + 1e-6]
    after = [h for h in history if h["cut_t"] >= change_t - 1e-6]
    assert before
    assert after
    assert {(h["language"], h["task"]) for h in before} == {("en", "transcribe")}
    assert {h["task"] for h in after} == {"translate"}
    assert {h["language"] for h in after} == {None} or rec.engine.detected_language == "en"
    # Everything said before the change was final before the change took effect.
    assert all(f.end <= change_t + 0.05 or f.start >= change_t - 0.05 for f in rec.finals)
    assert missing(rec.text(), "garden", "train") == []


def test_a_restarted_engine_resumes_from_the_checkpoint_without_gap_or_duplicate(
    clips: dict[str, Clip],
) -> None:
    make = EntryMaker()
    # The capture clock's drift, noted at the start (the successor gets it from the checkpoint)
    # and again before the second clip.
    entries = [make.clock(0.2), *make.audio(clips["garden"].pcm)]
    budget_t = make.t
    entries += [make.clock(0.5), *make.audio(clips["budget"].pcm), make.end()]
    first = Recorder(engine())
    # The first worker dies after the first half of the audio: keep what it had committed.
    half = len(entries) // 2
    first.feed(entries[:half])
    checkpoint = next(e.checkpoint for e in reversed(first.emissions) if e.checkpoint)
    committed_finals = []
    for emission in first.emissions:
        committed_finals.extend(emission.finals)
        if emission.checkpoint is checkpoint:
            break
    second = Recorder(engine(state=checkpoint))
    # The successor re-reads the stream after the checkpoint's position.
    after = checkpoint["after"]
    second.feed([e for e in entries if (int(e.id.split("-")[0]) > int(after.split("-")[0]))])

    finals = committed_finals + second.finals
    ids = [f.segment_id for f in finals]
    assert len(ids) == len(set(ids))
    text = " ".join(f.text for f in finals)
    assert len(missing(text, "garden", "budget")) <= 1, text
    got = words_of(text)
    for word in KEYWORDS["garden"] + KEYWORDS["budget"]:
        assert got.count(word) <= 1, text
    for a, b in itertools.pairwise(finals):
        assert b.start >= a.end - 0.25
    assert second.finals
    assert all(f.wall_offset_s == (0.5 if f.start >= budget_t else 0.2) for f in finals), [
        (f.start, f.wall_offset_s) for f in finals
    ]


def test_the_first_words_after_silence_wait_for_two_passes_that_each_heard_enough(
    clips: dict[str, Clip], tmp_path: Path
) -> None:
    """A meeting (or a turn after a long silence) starts with a short buffer, and passes over
    a second of audio mishear its first words: a pass over 1.0 s ("Don't worry") and one over
    1.5 s agreed on "Don't" for "Good morning" in 6 runs of 19. Words are confirmed by
    agreement only between passes that each had `MIN_CONTEXT_S` of the buffer."""
    make = EntryMaker()
    silence = read_wav_pcm16k(make_silence_wav(tmp_path / "lead.wav", seconds=1.0))
    live = engine(pass_interval_s=0.3)
    rec = Recorder(live)
    rec.feed([*make.audio(silence + clips["budget"].pcm), make.end()])
    assert missing(rec.text(), "budget") == []
    passes = [h for h in live.history if h["upto"] - h["cut_t"] > 0]
    first = next(i for i, h in enumerate(passes) if h.get("confirmed"))
    assert first > 0
    assert passes[first].get("rest"), passes[: first + 1]  # confirmed by agreement, not a pause
    partner = passes[first - 1]
    assert partner["upto"] - partner["cut_t"] >= MIN_CONTEXT_S - 1e-6, passes[: first + 1]


def test_exclamation_marks_in_confirmed_text_do_not_condition_later_passes(
    clips: dict[str, Clip],
) -> None:
    """Whisper goes on in the style of the text it is conditioned on: after one confirmed
    "Good morning everyone!", every later sentence of a bot's recording ended in "!" (24 of 32
    drafts), where an offline pass wrote periods. The confirmed words a pass is forced through,
    and its prompt, read "!" as "." (the stored words keep what the model said)."""
    make = EntryMaker()
    entries = [*make.audio(clips["garden"].pcm), *make.audio(clips["budget"].pcm), make.end()]
    first = Recorder(engine())
    first.feed(entries[: len(entries) // 2])
    checkpoint = next(e.checkpoint for e in reversed(first.emissions) if e.checkpoint)
    assert checkpoint["committed"], checkpoint
    # What a worker that heard an exclamation would have handed on.
    checkpoint["committed"][-1]["word"] = checkpoint["committed"][-1]["word"].rstrip(".,") + "!"
    checkpoint["prompt_text"] = (checkpoint["prompt_text"] + " Wow!").strip()
    requests: list[PassRequest] = []

    def recorded(request: PassRequest) -> PassResult:
        requests.append(request)
        return run_one(request)

    second = StreamingTranscriber("s1", run_pass=recorded, state=checkpoint)
    after = int(checkpoint["after"].split("-")[0])
    Recorder(second).feed([e for e in entries if int(e.id.split("-")[0]) > after])
    assert requests
    assert all("!" not in r.prefix and "!" not in r.prompt for r in requests)
    assert any(r.prefix.endswith(".") for r in requests)
    assert any("Wow." in r.prompt for r in requests)


def test_the_hallucination_filters() -> None:
    assert filters.is_stock_phrase("Thank you.")
    assert filters.is_stock_phrase("Thanks for watching!")
    assert not filters.is_stock_phrase("Thank you for the budget numbers.")
    assert filters.collapse_repeats(["so", "so", "so", "so", "so", "go"]) == [0, 5]
    assert filters.collapse_repeats(["no", "no", "way"]) == [0, 1, 2]
    assert filters.is_silence_hypothesis(no_speech_prob=0.9, avg_logprob=-1.5)
    assert not filters.is_silence_hypothesis(no_speech_prob=0.9, avg_logprob=-0.3)


def test_a_speaker_reported_late_as_from_live_captions_still_gets_their_words(
    clips: dict[str, Clip],
) -> None:
    rec = Recorder(engine())
    make = EntryMaker()
    entries = [make.speaker("Alice", "start"), *make.audio(clips["garden"].pcm)]
    entries.append(make.speaker("Alice", "stop"))
    bob_from = make.t
    train = make.audio(clips["train"].pcm)
    # Captions name Bob a second after he began, and end his turn two seconds after he stopped.
    late = StreamEntry(
        id="", type="speaker", t=bob_from, name="Bob", participant_id="caption:Bob", state="start"
    )
    entries += [*train[:10], late, *train[10:]]
    alice_from = make.t
    entries.append(make.speaker("Alice", "start"))
    budget = make.audio(clips["budget"].pcm)
    stop = StreamEntry(
        id="", type="speaker", t=alice_from, name="Bob", participant_id="caption:Bob", state="stop"
    )
    entries += [*budget[:20], stop, *budget[20:], make.end()]
    # Stream ids follow the order the entries arrive in.
    entries = [replace(e, id=f"{2000 + i}-0") for i, e in enumerate(entries)]
    turns = [("Alice", 0.0, bob_from), ("Bob", bob_from, alice_from), ("Alice", alice_from, make.t)]
    rec.feed(entries)

    words = [w for f in rec.finals for w in f.words]
    assert missing(" ".join(w["word"] for w in words), "garden", "train", "budget") == []
    wrong = [
        (w["word"], w["speaker"])
        for w in words
        if w["speaker"]
        != next(name for name, start, end in turns if start <= (w["start"] + w["end"]) / 2 < end)
    ]
    assert wrong == []


def test_a_turns_first_word_goes_to_the_new_speaker_while_the_last_ones_indicator_is_held() -> None:
    timeline = SpeakerTimeline()
    timeline.event(name="Alice", participant_id="a", state="start", t=0.9)
    # Bob's tile lit 0.2 s after he began ("Thanks" at 4.26-4.56 s); Alice's was held until 4.6 s.
    timeline.event(name="Bob", participant_id="b", state="start", t=4.45)
    timeline.event(name="Alice", participant_id="a", state="stop", t=4.6)
    timeline.event(name="Bob", participant_id="b", state="stop", t=6.3)

    assert timeline.speaker_for(4.26, 4.56) == "Bob"
    assert timeline.speaker_for(3.7, 4.0) == "Alice"  # Alice's last word, before Bob began
    assert timeline.speaker_for(4.8, 5.1) == "Bob"


def test_overlapping_speech_keeps_each_word_with_the_speaker_it_overlaps_most() -> None:
    timeline = SpeakerTimeline()
    timeline.event(name="Alice", participant_id="a", state="start", t=1.0)
    timeline.event(name="Bob", participant_id="b", state="start", t=5.1)  # "yeah" over Alice
    timeline.event(name="Bob", participant_id="b", state="stop", t=5.4)
    timeline.event(name="Alice", participant_id="a", state="stop", t=9.0)

    assert timeline.speaker_for(4.95, 5.25) == "Alice"  # Alice's word as Bob cut in
    assert timeline.speaker_for(5.12, 5.38) == "Bob"


@pytest.mark.parametrize("early", ["into_the_pause", "across_the_pause"])
def test_a_turns_first_word_aligned_early_stays_with_its_speaker(
    clips: dict[str, Clip], early: str
) -> None:
    # On a loaded host Whisper's alignment put a turn's first word up to 1.8 s early, in the
    # pause, where the last speaker's held indicator claimed it ("Alice: My / Bob: garden ..."),
    # or across the whole pause from the last speaker's final syllable on. Real passes can't be
    # made to do that on demand, so this one is made to.
    def early_first_word(request: PassRequest) -> PassResult:
        result = run_one(request)
        quiet = np.abs(request.audio) < 1e-4
        gap = 0
        for i, silent in enumerate(quiet):
            gap = gap + 1 if silent else 0
            if gap >= int(1.2 * SAMPLE_RATE) and i + 1 < len(quiet) and not quiet[i + 1]:
                said = (i + 1) / SAMPLE_RATE
                first = next((k for k, w in enumerate(result.words) if w.start >= said - 0.3), None)
                if first is not None:
                    w = result.words[first]
                    pause_began = (i + 1 - gap) / SAMPLE_RATE
                    at = said - 1.2 if early == "into_the_pause" else pause_began - 0.15
                    result.words[first] = Word(w.text, max(0.0, at), w.end, w.probability)
        return result

    train = clips["train"].pcm
    samples = np.frombuffer(train, np.int16)
    onset = int(np.argmax(np.abs(samples) > 300))
    lit = (onset + int(0.2 * SAMPLE_RATE)) * BYTES_PER_SAMPLE
    silence = b"\x00\x00" * int(0.5 * SAMPLE_RATE)
    make = EntryMaker()
    entries = [make.speaker("Alice", "start"), *make.audio(clips["garden"].pcm + silence)]
    entries += [make.speaker("Alice", "stop"), *make.audio(silence * 2 + train[:lit])]
    entries += [make.speaker("Bob", "start"), *make.audio(train[lit:]), make.speaker("Bob", "stop")]
    rec = Recorder(StreamingTranscriber("s1", run_pass=early_first_word))
    rec.feed([*entries, make.end()])

    assert missing(rec.text(), "garden", "train") == []
    alice = " ".join(f.text for f in rec.finals if f.speaker == "Alice")
    bob = [f for f in rec.finals if f.speaker == "Bob"]
    assert words_of(alice)[-1] == "summer"
    assert words_of(" ".join(f.text for f in bob))[:2] == ["the", "morning"]
    bob_said_at = (len(clips["garden"].pcm) + 3 * len(silence)) / BYTES_PER_SAMPLE / SAMPLE_RATE
    assert bob[0].start >= bob_said_at + onset / SAMPLE_RATE - 0.2


def test_a_word_goes_to_whoever_started_last_when_an_earlier_turn_is_still_open() -> None:
    timeline = SpeakerTimeline()
    # Bob's stop comes late (live captions report it a second or two after his last words).
    timeline.event(name="Bob", participant_id="caption:Bob", state="start", t=6.8)
    timeline.event(name="Alice", participant_id="Alice", state="start", t=9.5)
    alice_word = timeline.speaker_for(9.6, 9.9)
    bob_word = timeline.speaker_for(7.0, 7.4)
    timeline.event(name="Bob", participant_id="caption:Bob", state="stop", t=8.5)

    assert (alice_word, bob_word) == ("Alice", "Bob")
    assert timeline.speaker_for(9.6, 9.9) == "Alice"


def test_a_draft_id_whose_words_moved_on_takes_their_start_and_withdraws_the_old_one() -> None:
    """A draft of two turns keeps ids seq, seq+1 while confirming passes are awaited; when the
    second id comes to hold later words, its start follows them (it is stored and exported),
    and the old start is published empty so a client keyed by absolute_start_time drops it."""
    speakers = SpeakerTimeline()
    for name, state, t in (("Alice", "start", 0.0), ("Alice", "stop", 2.0), ("Bob", "start", 2.0)):
        speakers.event(name=name, participant_id=name, state=state, t=t)
    writer = SegmentWriter("s1", speakers)
    alice = Word(" Thanks", 0.5, 1.0, 0.9)

    def publish(*words: Word) -> tuple[list[SegmentOut], list[SegmentOut]]:
        return writer.drafts([alice, *words], seq=0, final_ids=set(), language="en")

    first, _ = publish(Word(" so", 2.2, 2.5, 0.9))
    second, second_removed = publish(Word(" Right", 4.0, 4.4, 0.9), Word(" then", 4.4, 4.8, 0.9))
    _, jitter_removed = publish(Word(" Right", 4.2, 4.5, 0.9), Word(" then", 4.5, 4.8, 0.9))

    assert [(d.speaker, d.start) for d in first] == [("Alice", 0.5), ("Bob", 2.2)]
    assert [(d.segment_id, d.start, d.text) for d in second] == [("s1:1", 4.0, "Right then")]
    assert [(r.segment_id, r.start, r.text) for r in second_removed] == [("s1:1", 2.2, "")]
    # Passes place a word a little differently each time: that keeps the start.
    assert jitter_removed == []
    assert writer.pins["s1:1"] == 4.0
