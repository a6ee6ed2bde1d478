"""Helpers shared by the pgs-audio tests (importable through conftest's sys.path entry)."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
SPEECH_WAV = DATA / "hdtf_RD_Radio34_002.wav"
SPEECH_MP4 = DATA / "hdtf_RD_Radio34_000.mp4"


def round_half_up(num_samples: int, sample_rate: int, fps: float) -> int:
    """Independent frame-count rule with exact rational arithmetic."""
    value = Fraction(num_samples) * Fraction(fps) / sample_rate
    return math.floor(value + Fraction(1, 2))


def speechlike(seconds: float, sample_rate: int = 16000, seed: int = 0) -> torch.Tensor:
    """Deterministic non-stationary test audio: harmonic tone with a syllable-rate envelope and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(h * phase) / h for h in range(1, 8))
    envelope = (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6))) ** 2
    wave = 0.3 * voiced * envelope + 0.01 * rng.standard_normal(t.shape)
    return torch.from_numpy(wave.astype(np.float32))


def write_media(
    path: Path,
    wave: np.ndarray | None,
    sample_rate: int,
    codec: str = "aac",
    with_video: bool = False,
    channels: int = 1,
) -> None:
    """Write an audio and/or video file with PyAV (wave: [channels, S] float32 or [S])."""
    with av.open(str(path), "w") as out:
        vstream = None
        if with_video:
            vstream = out.add_stream("mpeg4", rate=25)
            vstream.width, vstream.height, vstream.pix_fmt = 64, 64, "yuv420p"
        astream = None
        if wave is not None:
            astream = out.add_stream(codec, rate=sample_rate)
            astream.layout = "mono" if channels == 1 else "stereo"
        if vstream is not None:
            for i in range(10):
                img = np.full((64, 64, 3), i * 20, np.uint8)
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                for packet in vstream.encode(frame):
                    out.mux(packet)
            for packet in vstream.encode():
                out.mux(packet)
        if astream is not None:
            data = np.atleast_2d(np.asarray(wave, np.float32))
            fmt = astream.codec_context.format.name
            planar = fmt.endswith("p")
            block = 1024 if codec in ("aac", "libmp3lame") else 4096
            pts = 0
            for s in range(0, data.shape[1], block):
                piece = data[:, s : s + block]
                if fmt.startswith("s16"):
                    piece = np.clip(np.round(piece * 32767), -32768, 32767).astype(np.int16)
                elif fmt.startswith("s32"):
                    piece = np.clip(np.round(piece.astype(np.float64) * 2**31), -(2**31), 2**31 - 1).astype(np.int32)
                arr = piece if planar else piece.T.reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=fmt, layout=astream.layout.name)
                frame.sample_rate = sample_rate
                frame.pts = pts
                pts += piece.shape[1]
                for packet in astream.encode(frame):
                    out.mux(packet)
            for packet in astream.encode():
                out.mux(packet)
