"""pgs-audio: audio loading and feature encoders aligned to video frames (``pgs.audio_encoders``).

Public API::

    from pgs.audio import load_audio, encode_file, save, load

    wave, sr = load_audio("clip.mp4", sample_rate=16000)     # [S] float32 mono
    feats = encode_file("aud.wav", encoder="mel", fps=25)    # AudioFeatures [F, 16, 80]
    save(feats, "aud_mel.npy"); again = load("aud_mel.npy")

Encoders (registry group ``pgs.audio_encoders``): ``mel``, ``mfcc`` (with a streaming variant),
``npy`` (precomputed DeepSpeech / HuBERT / wav2vec features), ``hubert``, ``wav2vec2``. The
public names load on first use (`pgs.core.lazy`, PEP 562): ``import pgs.audio`` imports no torch.
"""

from pgs.core.lazy import lazy_modules

_EXPORTS = {
    "pgs.audio.api": "create_encoder encode_file",
    "pgs.audio.features_io": "KNOWN_LAYOUTS detect_layout load load_features save save_features",
    "pgs.core.io.audio": "frame_count load_audio resample",
}

__getattr__, __dir__, __all__ = lazy_modules(__name__, _EXPORTS)
