"""Published audio-feature layouts and their file names in a speaker folder (one table).

ER-NeRF / TalkingGaussian speaker folders hold per-frame audio features computed by external
extractors, one window per 25 fps video frame, as ``[frames, steps, channels]`` arrays:

| layout | shape | file(s) |
| --- | --- | --- |
| ``deepspeech`` | [N, 16, 29] | ``aud_ds.npy`` (older folders: ``aud.npy``) |
| ``hubert`` | [N, 2, 1024] | ``aud_hu.npy`` |
| ``wav2vec`` | [N, 16, 44] | ``aud_eo.npy`` |

pgs-core's dataset, pgs-audio's ``npy`` encoder and pgs-prep's feature writer all read this
module (which itself imports nothing).
"""

from __future__ import annotations

#: Published layouts: name -> (steps, channels).
KNOWN_LAYOUTS: dict[str, tuple[int, int]] = {
    "deepspeech": (16, 29),
    "hubert": (2, 1024),
    "wav2vec": (16, 44),
}

#: File names of each published layout in a speaker folder, the preferred one first.
LAYOUT_FILES: dict[str, tuple[str, ...]] = {
    "deepspeech": ("aud_ds.npy", "aud.npy"),
    "hubert": ("aud_hu.npy",),
    "wav2vec": ("aud_eo.npy",),
}

#: Precomputed feature files in the order ``audio: auto`` looks for them (preferred names first,
#: then the older fallbacks).
PRECOMPUTED_AUDIO: tuple[str, ...] = tuple(files[0] for files in LAYOUT_FILES.values()) + tuple(
    name for files in LAYOUT_FILES.values() for name in files[1:]
)

#: Frame rate of the published layouts (the extractors produce one window per 25 fps frame).
PUBLISHED_FPS = 25.0

#: Audio-encoder registry name -> feature file name, where ER-NeRF fixed one (the encoder computes
#: a published layout); other encoders' features are saved as ``aud_<name>.npy``.
ENCODER_FILES: dict[str, str] = {"deepspeech": LAYOUT_FILES["deepspeech"][0], "hubert": LAYOUT_FILES["hubert"][0]}

_BY_SHAPE: dict[tuple[int, int], str] = {shape: name for name, shape in KNOWN_LAYOUTS.items()}


def layout_of_shape(steps: int, channels: int) -> str | None:
    """The published layout with ``[steps, channels]`` windows, or None."""
    return _BY_SHAPE.get((int(steps), int(channels)))


def layout_for_shape(steps: int, channels: int, name: str) -> str:
    """Layout name of a precomputed array: a published one, else ``npy[<steps>x<channels>]:<name>``."""
    return layout_of_shape(steps, channels) or f"npy[{steps}x{channels}]:{name}"


def feature_file_name(encoder: str) -> str:
    """File name of an audio encoder's features in a speaker folder (`ENCODER_FILES`, else ``aud_<name>.npy``)."""
    return ENCODER_FILES.get(encoder, f"aud_{encoder.replace('-', '_')}.npy")


__all__ = [
    "ENCODER_FILES",
    "KNOWN_LAYOUTS",
    "LAYOUT_FILES",
    "PRECOMPUTED_AUDIO",
    "PUBLISHED_FPS",
    "feature_file_name",
    "layout_for_shape",
    "layout_of_shape",
]
