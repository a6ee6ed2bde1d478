"""Frames + audio -> SyncNet inputs -> LSE scores, following syncnet_python's ``evaluate``.

Video: 25 fps. Each frame becomes a 224x224 BGR image with raw 0-255 values (no mean/std),
quantised to 8 bits as the reference's decoded JPEG frames are. Two crops:

- ``"resize"``: the whole frame resized to 224x224 (Wav2Lip's ``calculate_scores_LRS.py`` /
  ``SyncNetInstance_calc_scores.py``, for frames that are already face crops, like rendered
  talking heads);
- ``"face-box"``: syncnet_python's ``crop_video`` around a face box: half-size ``bs`` = half the
  box's larger side, size and centre median-filtered over time (kernel 13, zero-padded ends as
  ``scipy.signal.medfilt``), the frame padded with grey 110, the crop
  ``[cy - bs, cy + bs (1 + 2 * 0.4)] x [cx - bs (1 + 0.4), cx + bs (1 + 0.4)]`` resized to 224.
  Our face box is the box of the 68 landmarks (brows to chin), not S3FD's detection box.

Audio: resampled to 16 kHz if needed, scaled to int16 values (x * 32768, rounded, as
``scipy.io.wavfile`` reads PCM16), MFCC (python_speech_features defaults, 100 Hz). Window i uses
frames ``[i, i + 5)`` and MFCC columns ``[4 i, 4 i + 20)``; ``N = min(F, floor(S / 640)) - 5``
windows are scored.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from pgs.core.errors import DataError
from pgs.eval.syncnet.mfcc import mfcc
from pgs.eval.syncnet.model import SyncNet
from pgs.eval.syncnet.scoring import VSHIFT, SyncScores, offset_distances, scores_from_distances

SYNC_FPS = 25.0
SYNC_RATE = 16000
SAMPLES_PER_FRAME = 640  # 16000 / 25
MFCC_PER_FRAME = 4
WINDOW_FRAMES = 5
MFCC_STEPS = 20
CROP = 224
CROP_SCALE = 0.4
PAD_VALUE = 110.0
MEDIAN_KERNEL = 13

Crop = Literal["resize", "face-box"]


def prepare_audio(audio: Tensor, sample_rate: int) -> np.ndarray:
    """[S] float waveform in [-1, 1] -> float64 int16-valued samples at 16 kHz."""
    if audio.dim() != 1 or audio.numel() == 0:
        raise DataError(f"audio: expected a mono waveform [S], got shape {list(audio.shape)}")
    if not bool(torch.isfinite(audio).all()):
        raise DataError("audio: contains NaN or infinite samples")
    wave = audio.detach().double().cpu()
    if sample_rate != SYNC_RATE:
        if sample_rate <= 0:
            raise DataError(f"audio: sample_rate must be positive, got {sample_rate}")
        import torchaudio.functional as AF

        wave = AF.resample(wave, int(sample_rate), SYNC_RATE)
    return (wave.clamp(-1.0, 1.0) * 32768.0).round().clamp(-32768, 32767).numpy()


def median_filter(values: np.ndarray, kernel: int = MEDIAN_KERNEL) -> np.ndarray:
    """1D median filter with zero padding at both ends (``scipy.signal.medfilt`` semantics)."""
    half = kernel // 2
    padded = np.concatenate([np.zeros(half), np.asarray(values, dtype=np.float64), np.zeros(half)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel)
    return np.median(windows, axis=1)


def face_box_params(landmarks: Tensor) -> np.ndarray:
    """Per-frame crop parameters (half-size, centre x, centre y) from landmarks, median-filtered.

    Args:
        landmarks: [F, P, 2] pixel coordinates; frames without finite points take the nearest
            frame's box.

    Returns:
        [F, 3] float64 (bs, cx, cy).
    """
    pts = landmarks.detach().double().cpu()
    ok = torch.isfinite(pts).all(dim=2)  # [F, P]
    have = ok.any(dim=1)
    if not bool(have.any()):
        raise DataError("landmarks: no frame has landmarks to place the SyncNet face crop")
    params = np.zeros((pts.shape[0], 3))
    usable = torch.nonzero(have).flatten()
    for f in range(pts.shape[0]):
        src = f if bool(have[f]) else int(usable[(usable - f).abs().argmin()])
        p = pts[src][ok[src]]
        lo, hi = p.min(dim=0).values, p.max(dim=0).values
        params[f] = [float(max(hi[0] - lo[0], hi[1] - lo[1])) / 2, float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2]
    return np.stack([median_filter(params[:, k]) for k in range(3)], axis=1)


def _to_bgr255(frames: Tensor) -> Tensor:
    """[B, H, W, 3] RGB [0, 1] -> [B, 3, H, W] BGR float with integer 0-255 values."""
    return (frames.float().clamp(0, 1) * 255.0).round().flip(-1).permute(0, 3, 1, 2)


def _resize(images: Tensor) -> Tensor:
    """Bilinear resize of [B, 3, h, w] to 224x224, rounded to 8-bit values (cv2.resize INTER_LINEAR on uint8)."""
    out = F.interpolate(images, size=(CROP, CROP), mode="bilinear", align_corners=False)
    return out.round().clamp(0, 255)


def crop_frames(frames: Tensor, crop: Crop, box_params: np.ndarray | None = None, first: int = 0) -> Tensor:
    """SyncNet input images.

    Args:
        frames: [B, H, W, 3] RGB in [0, 1].
        crop: ``"resize"`` or ``"face-box"``.
        box_params: [F, 3] from `face_box_params` (``"face-box"`` only), indexed by absolute frame.
        first: absolute index of ``frames[0]``.

    Returns:
        [B, 3, 224, 224] BGR, 0-255 values.
    """
    images = _to_bgr255(frames)
    if crop == "resize":
        return _resize(images)
    if box_params is None:
        raise DataError("crop 'face-box' needs landmarks to place the face box")
    out = []
    for b in range(images.shape[0]):
        bs, cx, cy = box_params[first + b]
        bsi = int(bs * (1 + 2 * CROP_SCALE))
        padded = F.pad(images[b : b + 1], (bsi, bsi, bsi, bsi), value=PAD_VALUE)
        my, mx = cy + bsi, cx + bsi
        y0, y1 = int(my - bs), int(my + bs * (1 + 2 * CROP_SCALE))
        x0, x1 = int(mx - bs * (1 + CROP_SCALE)), int(mx + bs * (1 + CROP_SCALE))
        face = padded[:, :, max(y0, 0) : y1, max(x0, 0) : x1]
        if face.shape[-1] < 2 or face.shape[-2] < 2:
            raise DataError(f"frame {first + b}: the SyncNet face crop is empty (face box too small)")
        out.append(_resize(face))
    return torch.cat(out)


def mfcc_windows(samples: np.ndarray) -> Tensor:
    """[13, T] MFCC matrix of 16 kHz int16-valued samples (float32 tensor)."""
    return torch.from_numpy(mfcc(samples, SYNC_RATE).T.copy()).float()


def sync_scores_for_frames(
    model: SyncNet,
    frames: Tensor,
    audio: Tensor,
    sample_rate: int,
    fps: float = SYNC_FPS,
    crop: Crop = "resize",
    landmarks: Tensor | None = None,
    batch_size: int = 16,
    vshift: int = VSHIFT,
) -> SyncScores:
    """LSE-D / LSE-C of frames driven by `audio`.

    Args:
        model: SyncNet with weights (`load_syncnet`).
        frames: [F, H, W, 3] RGB in [0, 1], 25 fps.
        audio: [S] mono waveform in [-1, 1].
        sample_rate: rate of `audio` (resampled to 16 kHz).
        fps: frame rate of `frames` (must be 25, as syncnet_python re-encodes to 25 fps).
        crop: ``"resize"`` (whole frame) or ``"face-box"`` (needs `landmarks`).
        landmarks: [F, P, 2] landmarks in pixels for the face box.
        batch_size: windows per forward pass.
        vshift: offsets searched on each side.

    Raises:
        DataError: wrong fps, a clip too short (needs at least 6 frames and 0.24 s), bad shapes.
    """
    if abs(fps - SYNC_FPS) > 1e-6:
        raise DataError(
            f"LSE: frames are {fps:g} fps, SyncNet needs 25 fps (syncnet_python re-encodes with ffmpeg -r 25); "
            "resample the video to 25 fps first"
        )
    if frames.dim() != 4 or frames.shape[-1] != 3:
        raise DataError(f"LSE: expected frames [F, H, W, 3], got {list(frames.shape)}")
    samples = prepare_audio(audio, sample_rate)
    length = min(int(frames.shape[0]), math.floor(len(samples) / SAMPLES_PER_FRAME))
    windows = length - WINDOW_FRAMES
    if windows < 1:
        raise DataError(
            f"LSE: clip too short ({frames.shape[0]} frames, {len(samples) / SYNC_RATE:.3f} s of audio); "
            "SyncNet needs at least 6 frames and 0.24 s"
        )
    box_params = None
    if crop == "face-box":
        if landmarks is None:
            raise DataError("LSE crop 'face-box' needs landmarks of the frames")
        box_params = face_box_params(landmarks)
    cc = mfcc_windows(samples)
    device = next(model.parameters()).device
    video_emb, audio_emb = [], []
    with torch.no_grad():
        for start in range(0, windows, batch_size):
            stop = min(windows, start + batch_size)
            images = crop_frames(frames[start : stop + WINDOW_FRAMES - 1], crop, box_params, first=start)
            clips = torch.stack([images[i : i + WINDOW_FRAMES] for i in range(stop - start)])  # [B, 5, 3, 224, 224]
            video_emb.append(model.forward_lips(clips.permute(0, 2, 1, 3, 4).to(device)).cpu())
            aud = torch.stack([cc[:, MFCC_PER_FRAME * i : MFCC_PER_FRAME * i + MFCC_STEPS] for i in range(start, stop)])
            audio_emb.append(model.forward_audio(aud[:, None].to(device)).cpu())
    return scores_from_distances(offset_distances(torch.cat(video_emb), torch.cat(audio_emb), vshift))


__all__ = [
    "Crop",
    "crop_frames",
    "face_box_params",
    "median_filter",
    "mfcc_windows",
    "prepare_audio",
    "sync_scores_for_frames",
]
