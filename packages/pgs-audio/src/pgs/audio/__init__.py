"""pgs-audio: audio loading and feature encoders aligned to video frames (``pgs.audio_encoders``).

Public API::

    from pgs.audio import load_audio, encode_file, save, load

    wave, sr = load_audio("clip.mp4", sample_rate=16000)     # [S] float32 mono
    feats = encode_file("aud.wav", encoder="mel", fps=25)    # AudioFeatures [F, 16, 80]
    save(feats, "aud_mel.npy"); again = load("aud_mel.npy")

Encoders (registry group ``pgs.audio_encoders``): ``mel``, ``mfcc`` (with a streaming variant),
``npy`` (precomputed DeepSpeech / HuBERT / wav2vec features), ``hubert``, ``wav2vec2``.
"""

from pgs.audio.api import create_encoder, encode_file
from pgs.audio.features_io import KNOWN_LAYOUTS, detect_layout, load, load_features, save, save_features
from pgs.audio.io import frame_count, load_audio, resample

__all__ = [
    "KNOWN_LAYOUTS",
    "create_encoder",
    "detect_layout",
    "encode_file",
    "frame_count",
    "load",
    "load_audio",
    "load_features",
    "resample",
    "save",
    "save_features",
]
