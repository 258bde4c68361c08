"""What the recording's format costs the post-meeting pass: WER of an offline `transcribe()`
over each format against the script, and the bytes an hour.

    DEBUG=1 python bench/recording_format.py [--conversations 8] [--noise 0.01]

Each conversation (bench/speech.py: distinct sentences, four espeak voices, pauses) is written
through the bot's own recording writer in each format, decoded back to 16 kHz as the post-meeting
pass reads it (`decode_pcm16k`), and transcribed by the same model (beam 5, VAD off). `--noise`
mixes pink noise at that amplitude (1.0 = full scale) into the speech first, since a codec's
losses show most on noisy audio. Prints the mean WER per format and draws
bench/out/recording_format.png.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vexa_site.settings")

import django

django.setup()

import numpy as np  # noqa: E402
from speech import conversation, offline_text  # noqa: E402
from speech import word_error_rate as wer  # noqa: E402

from bots.runtime import recording  # noqa: E402
from meetings.stream import SAMPLE_RATE  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
# (label, format, Opus bit rate)
FORMATS = [
    ("wav", "wav", 0),
    ("opus 24k", "opus", 24_000),
    ("opus 32k", "opus", 32_000),
    ("opus 48k", "opus", 48_000),
]


def pink_noise(samples: int, amplitude: float, seed: int) -> np.ndarray:
    """1/f noise by shaping white noise's spectrum; peak-normalised to `amplitude`."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1))
    noise = np.fft.irfft(spectrum, samples)
    return np.asarray(noise / np.max(np.abs(noise)) * amplitude * 32767)


def coded(pcm: bytes, folder: Path, fmt: str, bit_rate: int) -> tuple[bytes, int]:
    """`pcm` through the bot's writer in `fmt` and back: (decoded PCM, file bytes)."""
    path = folder / f"x.{fmt}"
    audio: recording._AudioFile
    if fmt == "wav":
        audio = recording._WavFile(path)
    else:
        recording.OPUS_BIT_RATE = bit_rate
        audio = recording._OggOpusFile(path)
    for offset in range(0, len(pcm), 3200):  # 0.1 s chunks, as the capture delivers them
        audio.write(pcm[offset : offset + 3200])
    audio.flush(len(pcm))
    audio.close()
    return recording.decode_pcm16k(path), path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=8)
    parser.add_argument("--noise", type=float, default=0.0)
    args = parser.parse_args()
    wers: dict[str, list[float]] = {label: [] for label, _, _ in FORMATS}
    bytes_per_s: dict[str, list[float]] = {label: [] for label, _, _ in FORMATS}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.conversations):
            pcm, script = conversation(Path(tmp) / str(seed), seed=seed)
            if args.noise > 0:
                samples = np.frombuffer(pcm, np.int16).astype(np.float64)
                mixed = samples + pink_noise(samples.size, args.noise, seed)
                pcm = np.clip(mixed, -32768, 32767).astype(np.int16).tobytes()
            reference = " ".join(t["text"] for t in script)
            seconds = len(pcm) / (2 * SAMPLE_RATE)
            line = []
            for label, fmt, bit_rate in FORMATS:
                decoded, size = coded(pcm, Path(tmp), fmt, bit_rate)
                wers[label].append(wer(reference, offline_text(decoded)))
                bytes_per_s[label].append(size / seconds)
                line.append(f"{label} {wers[label][-1]:.3f}")
            print(f"conversation {seed}: {seconds:.0f}s; WER " + ", ".join(line))
    for label, _, _ in FORMATS:
        print(
            f"{label}: mean WER {np.mean(wers[label]):.3f}, "
            f"{np.mean(bytes_per_s[label]) * 3600 / 1e6:.1f} MB an hour"
        )
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        OUT.mkdir(exist_ok=True)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        labels = [label for label, _, _ in FORMATS]
        ax.bar(labels, [float(np.mean(wers[label])) for label in labels])
        ax.set_ylabel("offline WER vs script")
        ax.set_title(f"recording format, noise {args.noise}")
        fig.tight_layout()
        fig.savefig(OUT / "recording_format.png", dpi=120)
        print(f"plot: {OUT / 'recording_format.png'}")
    except ImportError:
        print("matplotlib not installed: no plot")


if __name__ == "__main__":
    main()
