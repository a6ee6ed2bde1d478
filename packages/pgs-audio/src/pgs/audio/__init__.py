"""pgs-audio: audio loading and feature encoders aligned to video frames (``pgs.audio_encoders``).

Public API::

    from pgs.audio import load_audio, encode_file, save, load

    wave, sr = load_audio("clip.mp4", sample_rate=16000)     # [S] float32 mono
    feats = encode_file("aud.wav", encoder="mel", fps=25)    # AudioFeatures [F, 16, 80]
    save(feats, "aud_mel.npy"); again = load("aud_mel.npy")

Encoders (registry group ``pgs.audio_encoders``): ``mel``, ``mfcc`` (with a streaming variant),
``npy`` (precomputed DeepSpeech / HuBERT / wav2vec features), ``hubert``, ``wav2vec2``.

Public names are re-exported lazily (PEP 562): importing the package imports neither torch nor numpy.
"""

from pgs.core.lazy import lazy_exports

_EXPORTS = {
    "create_encoder": "pgs.audio.api",
    "encode_file": "pgs.audio.api",
    "KNOWN_LAYOUTS": "pgs.audio.features_io",
    "detect_layout": "pgs.audio.features_io",
    "load": "pgs.audio.features_io",
    "load_features": "pgs.audio.features_io",
    "save": "pgs.audio.features_io",
    "save_features": "pgs.audio.features_io",
    "frame_count": "pgs.core.io.audio",
    "load_audio": "pgs.core.io.audio",
    "resample": "pgs.core.io.audio",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
