"""What the API knows of the live model without loading it: whether it is English-only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import override_settings

from transcripts.engine import model


def english_only(whisper_model: str) -> bool | None:
    with override_settings(WHISPER_MODEL=whisper_model):
        return model.model_is_english_only()


def test_the_bundled_tiny_en_is_english_only() -> None:
    with override_settings(WHISPER_MODEL=""):
        assert model.model_is_english_only() is True
        assert model.model_label() == "the bundled tiny.en"


@pytest.mark.parametrize(("tokens", "expected"), [(51864, True), (51865, False), (51866, False)])
def test_a_model_directory_is_judged_by_its_vocabulary_size(
    tmp_path: Path, tokens: int, expected: bool
) -> None:
    # vocabulary.json is how CTranslate2's converter writes it; .txt is the older layout.
    (tmp_path / "vocabulary.json").write_text(json.dumps([f"t{i}" for i in range(tokens)]))
    assert english_only(str(tmp_path)) is expected


def test_a_model_known_only_by_name_is_judged_by_its_name_or_not_at_all(tmp_path: Path) -> None:
    assert english_only("distil-small.en") is True
    # On a web host without the weights: unknown, so nothing is refused for it.
    assert english_only("large-v3") is None
    assert english_only(str(tmp_path)) is None  # a directory without a vocabulary


def test_short_passes_pad_the_encoder_to_a_few_input_sizes() -> None:
    # Every new input size is compiled and cached by the CPU kernels, which grew a worker by
    # 300 MB over a 10-minute meeting; the padding after the speech (the decoder loops without
    # it) is kept.
    sizes = set()
    for content_frames in range(0, model.STOCK_FRAMES + 1):
        frames = model._frames_for(content_frames, stock=False)
        assert frames >= min(content_frames + model.PAD_FRAMES, model.STOCK_FRAMES)
        sizes.add(frames)
    assert len(sizes) <= 81
    assert model._frames_for(0, stock=True) == model.STOCK_FRAMES
