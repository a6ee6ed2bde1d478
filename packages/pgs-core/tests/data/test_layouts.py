"""The one table of published audio-feature layouts and file names."""

from __future__ import annotations

from pgs.core.data.layouts import (
    KNOWN_LAYOUTS,
    LAYOUT_FILES,
    PRECOMPUTED_AUDIO,
    feature_file_name,
    layout_for_shape,
    layout_of_shape,
)


def test_auto_search_order_prefers_the_named_files_then_the_old_fallback() -> None:
    assert PRECOMPUTED_AUDIO == ("aud_ds.npy", "aud_hu.npy", "aud_eo.npy", "aud.npy")
    assert set(PRECOMPUTED_AUDIO) == {name for files in LAYOUT_FILES.values() for name in files}
    assert set(LAYOUT_FILES) == set(KNOWN_LAYOUTS)


def test_shapes_name_their_layout() -> None:
    assert layout_of_shape(16, 29) == "deepspeech"
    assert layout_of_shape(2, 1024) == "hubert"
    assert layout_of_shape(16, 44) == "wav2vec"
    assert layout_of_shape(29, 16) is None  # transposed windows are not a layout
    assert layout_for_shape(2, 1024, "x.npy") == "hubert"
    assert layout_for_shape(4, 7, "x.npy") == "npy[4x7]:x.npy"


def test_encoder_feature_file_names() -> None:
    assert feature_file_name("hubert") == "aud_hu.npy"
    assert feature_file_name("deepspeech") == "aud_ds.npy"
    assert feature_file_name("wav2vec2") == "aud_wav2vec2.npy"
    assert feature_file_name("my-enc") == "aud_my_enc.npy"
