"""Streams per device: N live sessions' passes through the worker's own batcher and pass code.

    WHISPER_DEVICE=cuda WHISPER_BATCH_SIZE=32 WHISPER_NUM_WORKERS=2 \\
        python bench/gpu_streams.py --model random:large-v3-turbo --streams 16 32 64 128

`shared/GPU.md`'s target: one GPU serves >= 100 live streams with large-v3-turbo, each getting a
pass at least once a second, draft p50 <= 1 s. This measures it the way a transcription worker
runs: every stream is a thread that, like a session, starts a pass when `--interval` seconds of
new audio have come since its last one began (at once if that pass took longer), through
`scheduler.submit` (beam and left context by load, the batcher that puts the waiting sessions'
passes into one encoder + decoder + alignment call) and `model.run_passes` (padded short input,
prompt buckets, word alignment). Its window grows by the interval from 1 s to 5 s and is cut
back, as confirmed words leave the buffer; with left context in force (`context_for_load`), that
much audio more and its words as the forced prefix; the previous text as prompt.

Settings come from the environment as for a worker (`WHISPER_DEVICE`, `WHISPER_BATCH_SIZE`,
`WHISPER_NUM_WORKERS`, `WHISPER_COMPUTE_TYPE`, `WHISPER_BEAM_*`, `WHISPER_CONTEXT_*`).

`--model random:<arch>` builds a model of that architecture with random weights (no download,
nothing to carry): a pass's cost depends only on shapes, and the transcription models (1.6 GB
for large-v3-turbo) cannot reach a lent GPU. A random decoder never says end-of-text, so every
pass decodes its whole token allowance (4 + 6 tokens per second of audio, about twice what
speech takes) and its output would always look like a loop: with random weights the loop check
that re-runs a pass as a stock 30 s pass is switched off (a stand-in named here, used nowhere
else). The numbers are therefore an upper bound on decoder cost, and its audio is low noise.
Its vocabulary is tiny.en's tokenizer padded to the architecture's size, which CTranslate2 takes
for an English-only model: the decoder prompt is two tokens shorter than a multilingual model's
(`<|en|><|transcribe|>`), next to a 96-token previous-text prompt.
With a real model (`--model DIR`, or `WHISPER_MODEL`'s) the streams play espeak-ng conversations
(`bench/speech.py`): noise would loop the decoder into stock passes, which the engine never
runs on audio its VAD did not hear as speech.

Prints, per N: passes per second, each stream's pass rate, pass latency p50/p95 (submit to
result, queueing included), the mean batch, the process's CPU use, and a draft estimate: the
capture chunk (0.1 s) + half the time between a stream's passes + the pass latency p50 (a word
waits on average half a period for the next pass to start). A stream keeps up while it gets a
pass at least every max(interval, 1 s). Draws bench/out/gpu_streams.png.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vexa_site.settings")
os.environ.setdefault("DEBUG", "1")

try:  # the lent GPU has no PyAV; faster-whisper imports it only to decode files, unused here
    import av  # noqa: F401
except ImportError:
    import types

    sys.modules["av"] = types.ModuleType("av")

from django.conf import settings  # noqa: E402

from transcripts.engine import model as engine_model  # noqa: E402
from transcripts.engine import scheduler  # noqa: E402
from transcripts.engine.model import PassRequest  # noqa: E402

SAMPLE_RATE = 16000
CHUNK_S = 0.1
WORDS_PER_S = 2.5
SCRIPT = (
    "So the plan for the next quarter is to ship the new onboarding flow first and then look at "
    "retention numbers again in a month. I think the marketing campaign helped with new users "
    "but the churn in the second week is still too high and we need to understand why people "
    "leave before they invite their team. Let us schedule a review on Thursday with the data."
)
TEXT = SCRIPT.split()

# (d_model, encoder layers, decoder layers, attention heads, mel bins, vocabulary)
ARCHES: dict[str, tuple[int, int, int, int, int, int]] = {
    "tiny.en": (384, 4, 4, 6, 80, 51864),
    "tiny": (384, 4, 4, 6, 80, 51865),
    "base": (512, 6, 6, 8, 80, 51865),
    "small": (768, 12, 12, 12, 80, 51865),
    "medium": (1024, 24, 24, 16, 80, 51865),
    "large-v3": (1280, 32, 32, 20, 128, 51866),
    "large-v3-turbo": (1280, 32, 4, 20, 128, 51866),
}


def _linear(spec: Any, rows: int, cols: int, rng: np.random.Generator, *, bias: bool) -> None:
    spec.weight = (rng.standard_normal((rows, cols)) * 0.02).astype(np.float32)
    if bias:
        spec.bias = np.zeros(rows, dtype=np.float32)


def _norm(spec: Any, d: int) -> None:
    spec.gamma = np.ones(d, dtype=np.float32)
    spec.beta = np.zeros(d, dtype=np.float32)


def _attention(spec: Any, d: int, rng: np.random.Generator, *, cross: bool) -> None:
    _norm(spec.layer_norm, d)
    if cross:  # query; key+value (from the encoder); output
        _linear(spec.linear[0], d, d, rng, bias=True)
        _linear(spec.linear[1], 2 * d, d, rng, bias=True)
        _linear(spec.linear[2], d, d, rng, bias=True)
    else:  # query+key+value; output
        _linear(spec.linear[0], 3 * d, d, rng, bias=True)
        _linear(spec.linear[1], d, d, rng, bias=True)


def _ffn(spec: Any, d: int, rng: np.random.Generator) -> None:
    _norm(spec.layer_norm, d)
    _linear(spec.linear_0, 4 * d, d, rng, bias=True)
    _linear(spec.linear_1, d, 4 * d, rng, bias=True)


def make_random_model(arch: str, out_dir: Path, tokenizer_json: Path) -> Path:
    """A CTranslate2 Whisper model of `arch`'s shapes with random weights (float16 on disk)."""
    from ctranslate2.specs import whisper_spec

    d, enc_layers, dec_layers, heads, mels, vocab = ARCHES[arch]
    rng = np.random.default_rng(0)
    spec = whisper_spec.WhisperSpec(enc_layers, heads, dec_layers, heads)
    enc = spec.encoder
    enc.conv1.weight = (rng.standard_normal((d, mels, 3)) * 0.02).astype(np.float32)
    enc.conv1.bias = np.zeros(d, dtype=np.float32)
    enc.conv2.weight = (rng.standard_normal((d, d, 3)) * 0.02).astype(np.float32)
    enc.conv2.bias = np.zeros(d, dtype=np.float32)
    enc.position_encodings.encodings = (rng.standard_normal((1500, d)) * 0.02).astype(np.float32)
    _norm(enc.layer_norm, d)
    for layer in enc.layer:
        _attention(layer.self_attention, d, rng, cross=False)
        _ffn(layer.ffn, d, rng)
    dec = spec.decoder
    dec.embeddings.weight = (rng.standard_normal((vocab, d)) * 0.02).astype(np.float32)
    dec.position_encodings.encodings = (rng.standard_normal((448, d)) * 0.02).astype(np.float32)
    _norm(dec.layer_norm, d)
    for layer in dec.layer:
        _attention(layer.self_attention, d, rng, cross=False)
        _attention(layer.attention, d, rng, cross=True)
        _ffn(layer.ffn, d, rng)
    dec.projection.weight = dec.embeddings.weight
    # The vocabulary must match the tokenizer's ids (CTranslate2 finds the special tokens by
    # name); the rest, up to the architecture's size, are timestamp tokens.
    data = json.loads(tokenizer_json.read_text())
    by_id = {index: token for token, index in data["model"]["vocab"].items()}
    by_id.update({item["id"]: item["content"] for item in data["added_tokens"]})
    tokens = [by_id.get(i, f"<|unused{i}|>") for i in range(max(by_id) + 1)]
    tokens.extend(f"<|{i * 0.02:.2f}|>" for i in range(vocab - len(tokens)))
    spec.register_vocabulary(tokens[:vocab])
    spec.config.alignment_heads = [
        [layer, head] for layer in range(dec_layers // 2, dec_layers) for head in range(heads)
    ]
    spec.config.lang_ids = list(range(50259, 50359)) if vocab >= 51865 else []
    spec.config.suppress_ids = []
    spec.config.suppress_ids_begin = [220, 50257]
    spec.validate()
    spec.optimize(quantization="float16")
    spec.save(str(out_dir))
    (out_dir / "tokenizer.json").write_bytes(tokenizer_json.read_bytes())
    (out_dir / "preprocessor_config.json").write_text(
        json.dumps({"feature_size": mels, "sampling_rate": SAMPLE_RATE, "hop_length": 160})
    )
    return out_dir


def _shape_only_loops(tokens: list[int], text: str, max_new: int) -> bool:
    return False


class Stream(threading.Thread):
    """One live session's passes: a pass every `interval` of audio, or back to back when late."""

    def __init__(
        self, index: int, *, audio: np.ndarray, interval: float, start_at: float, stop_at: float
    ) -> None:
        super().__init__(daemon=True)
        self.audio = audio
        self.index = index
        self.interval = interval
        self.start_at = start_at
        self.stop_at = stop_at
        self.passes: list[tuple[float, float]] = []  # (began, latency)
        self.error: BaseException | None = None

    def run(self) -> None:
        rng = np.random.default_rng(self.index)
        # Where in its audio the stream is: each pass hears the `window` seconds before it.
        heard = rng.uniform(10.0, len(self.audio) / SAMPLE_RATE)
        tail = 1.0 + rng.uniform(0, 4.0)  # streams are at different points of an utterance
        due = self.start_at + rng.uniform(0, self.interval)
        try:
            with scheduler.ActiveSession():
                while True:
                    # Pacing only: audio arrives in real time, so a session's next pass is due
                    # when `interval` more of it has come.
                    wait = due - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    if time.monotonic() >= self.stop_at:
                        return
                    context = min(scheduler.context_for_load(), 7.0)
                    window = tail + context
                    words = int(context * WORDS_PER_S)
                    request = PassRequest(
                        audio=self._window(heard, window),
                        language="en",
                        prompt=" ".join(TEXT[-40:]),
                        prefix=" ".join(TEXT[:words]),
                    )
                    began = time.monotonic()
                    scheduler.submit(request)
                    self.passes.append((began, time.monotonic() - began))
                    tail = tail + self.interval if tail + self.interval <= 5.0 else 1.0
                    heard += self.interval
                    due = max(due + self.interval, time.monotonic())
        except BaseException as exc:  # reported by the main thread
            self.error = exc

    def _window(self, heard: float, seconds: float) -> np.ndarray:
        end = round(heard * SAMPLE_RATE) % len(self.audio)
        begin = end - round(seconds * SAMPLE_RATE)
        if begin >= 0:
            return self.audio[begin:end]
        return np.concatenate([self.audio[begin:], self.audio[:end]])


def measure(
    count: int, *, clips: list[np.ndarray], interval: float, seconds: float, warmup: float
) -> dict[str, Any]:
    began = time.monotonic()
    start_at = began + 0.2
    stop_at = start_at + warmup + seconds
    streams = [
        Stream(
            i,
            audio=clips[i % len(clips)],
            interval=interval,
            start_at=start_at,
            stop_at=stop_at,
        )
        for i in range(count)
    ]
    if scheduler._batcher is not None:
        scheduler._batcher.batches = []
    cpu0 = time.process_time()
    for stream in streams:
        stream.start()
    for stream in streams:
        stream.join()
    cpu = time.process_time() - cpu0
    wall = time.monotonic() - began
    for stream in streams:
        if stream.error is not None:
            raise stream.error
    window_from = start_at + warmup
    latencies = [lat for s in streams for (t, lat) in s.passes if t >= window_from]
    rates = [sum(1 for t, _lat in s.passes if t >= window_from) / seconds for s in streams]
    batcher = scheduler._batcher
    batches = list(batcher.batches) if batcher is not None else [1]
    p50 = float(np.percentile(latencies, 50)) if latencies else float("nan")
    p95 = float(np.percentile(latencies, 95)) if latencies else float("nan")
    slowest_rate = min(rates) if rates else 0.0
    period = 1.0 / max(statistics.median(rates), 1e-9) if rates else float("inf")
    return {
        "streams": count,
        "passes_per_s": len(latencies) / seconds,
        "rate_median": statistics.median(rates) if rates else 0.0,
        "rate_min": slowest_rate,
        "latency_p50": p50,
        "latency_p95": p95,
        "batch_mean": statistics.fmean(batches),
        "cpu_cores": cpu / wall,
        "draft_estimate": CHUNK_S + period / 2 + p50,
        "keeps_up": slowest_rate >= 0.95 / max(interval, 1.0),
    }


def audio_clips(*, random_weights: bool, folder: str) -> list[np.ndarray]:
    """What the streams play: noise for a random model, conversations for a real one."""
    if random_weights:
        rng = np.random.default_rng(0)
        return [(rng.standard_normal(SAMPLE_RATE * 60) * 0.01).astype(np.float32)]
    sys.path.insert(0, str(ROOT / "bench"))
    import django

    django.setup()
    from speech import conversation

    clips = []
    for seed in range(4):
        pcm, _script = conversation(Path(folder), seed=seed, turns=12)
        clips.append(np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0)
    return clips


def plot(rows: list[dict[str, Any]], title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = [r["streams"] for r in rows]
    ax.plot(x, [r["latency_p50"] for r in rows], "o-", label="pass latency p50")
    ax.plot(x, [r["latency_p95"] for r in rows], "o--", label="pass latency p95")
    ax.plot(x, [r["draft_estimate"] for r in rows], "s-", label="draft estimate")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xlabel("concurrent streams")
    ax.set_ylabel("seconds")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "gpu_streams.png", dpi=120)
    print(f"plot: {out / 'gpu_streams.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="", help="a model directory, or random:<arch>")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--interval", type=float, default=1.0, help="audio seconds per pass")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured, per N")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--tokenizer", default="", help="tokenizer.json for a random model")
    parser.add_argument("--json", default="", help="also write the rows here")
    args = parser.parse_args()

    workdir = tempfile.TemporaryDirectory()
    if args.model.startswith("random:"):
        arch = args.model.split(":", 1)[1]
        tokenizer = (
            Path(args.tokenizer)
            if args.tokenizer
            else Path(engine_model.model_path()) / "tokenizer.json"
        )
        made = time.monotonic()
        path = make_random_model(arch, Path(workdir.name), tokenizer)
        print(f"random {arch} model made in {time.monotonic() - made:.1f} s")
        settings.WHISPER_MODEL = str(path)
        engine_model.loops = _shape_only_loops
    elif args.model:
        settings.WHISPER_MODEL = args.model
    clips = audio_clips(random_weights=args.model.startswith("random:"), folder=workdir.name)
    model = engine_model.get_model()
    device = engine_model.resolved_device()
    title = (
        f"{args.model or 'WHISPER_MODEL'} on {device} ({model.model.compute_type}), batch "
        f"{settings.WHISPER_BATCH_SIZE} x {settings.WHISPER_NUM_WORKERS} workers, a pass every "
        f"{args.interval:g} s; beam {settings.WHISPER_BEAM_SIZE} up to "
        f"{settings.WHISPER_BEAM_MAX_SESSIONS}, context up to "
        f"{settings.WHISPER_CONTEXT_MAX_SESSIONS} sessions"
    )
    print(title)
    # The first calls build kernels and caches; nobody's latency should include that.
    engine_model.run_passes([PassRequest(audio=np.zeros(SAMPLE_RATE * 3, np.float32))] * 2)
    rows = []
    header = (
        f"{'streams':>7} {'passes/s':>8} {'rate p50':>8} {'rate min':>8} {'lat p50':>7} "
        f"{'lat p95':>7} {'batch':>5} {'cpu':>5} {'draft~':>6} keeps up"
    )
    print(header)
    for count in args.streams:
        row = measure(
            count, clips=clips, interval=args.interval, seconds=args.seconds, warmup=args.warmup
        )
        rows.append(row)
        print(
            f"{row['streams']:>7} {row['passes_per_s']:>8.1f} {row['rate_median']:>8.2f} "
            f"{row['rate_min']:>8.2f} {row['latency_p50']:>7.3f} {row['latency_p95']:>7.3f} "
            f"{row['batch_mean']:>5.1f} {row['cpu_cores']:>5.2f} {row['draft_estimate']:>6.2f} "
            f"{'yes' if row['keeps_up'] else 'NO'}",
            flush=True,
        )
    fit = [r["streams"] for r in rows if r["keeps_up"] and r["draft_estimate"] <= 1.0]
    print(f"most streams that keep up with draft <= 1.0 s: {max(fit) if fit else 0}")
    if args.json:
        Path(args.json).write_text(json.dumps({"title": title, "rows": rows}, indent=1))
    plot(rows, title)


if __name__ == "__main__":
    main()
