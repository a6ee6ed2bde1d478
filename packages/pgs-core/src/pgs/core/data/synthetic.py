"""Synthetic speaker: a procedural 3D Gaussian head written as a processed-speaker folder.

`generate_speaker` builds a head from a few thousand Gaussians (skin ellipsoid with hair, eyes
with irises, brows, nose, lips, upper and lower teeth, a dark inner mouth), drives it with a
generated speech-like signal (the jaw opening follows the syllable envelope), blinks on a
schedule, raises the brows now and then, films it under small head-pose changes and writes the
ER-NeRF / TalkingGaussian folder format that `SpeakerDataset` reads:

``gt_imgs/``, ``parsing/`` (TalkingGaussian colours), ``teeth_mask/``, ``torso_imgs/`` (RGBA),
``bc.jpg``, ``aud.wav`` (16 kHz), ``au.csv`` (OpenFace columns; AU45 = 2 x blink, so
TalkingGaussian's ``clip(AU45, 0, 2) / 2`` recovers the blink), ``transforms_train.json`` /
``transforms_val.json`` (last 1/11 is val), plus the exact ground truth:
``landmarks.npy`` [F, 68, 2] (iBUG 68 points projected from the model's own 3D points, in the
rasterizer's pixel convention: pixel (i, j) covers [i, i+1) x [j, j+1)), ``landmarks3d.npy``
[F, 68, 3] (world coordinates) and ``synthetic.json`` (parameters, per-frame mouth opening,
blink and brow raise).

World frame (TalkingGaussian's): the head sits at the origin, y up, facing +z; the camera moves
(about 0.7 units away) and ``transform_matrix`` is the OpenGL camera-to-world
``[[R^T, -R^T t], [0, 1]]`` of a head pose (R, t). Landmarks are projected with the tracker's
OpenGL formula ``u = cx - f X/Z, v = cy + f Y/Z`` (camera looks down -Z), independently of
`pgs.core.cameras`, so the loader's camera conversion can be checked against them.

The folder is generated into a temporary sibling and renamed into place at the end: a failure or
interruption never leaves a half-written dataset.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pgs.core.cameras import Cameras, cameras_from_transforms, project_opengl
from pgs.core.data.au import OPENFACE_AU_COLUMNS, write_au_csv
from pgs.core.data.dataset import train_val_split
from pgs.core.data.images import write_image
from pgs.core.data.parsing import Region, parsing_from_labels
from pgs.core.gaussians import GaussianParams
from pgs.core.interfaces import Rasterizer
from pgs.core.io.atomic import atomic_folder
from pgs.core.io.audio import write_wav
from pgs.core.io.run_folder import check_output_folder, folder_lock, write_marker
from pgs.core.progress import Progress, report
from pgs.core.rendering.sh import rgb_to_sh0

SAMPLE_RATE = 16000

# Head geometry (world units ~ metres).
_AX, _AY, _AZ = 0.072, 0.095, 0.082  # ellipsoid semi-axes
_MOUTH_Y = -0.045  # mouth centre height
_MOUTH_W = 0.024  # mouth half width
_UPPER_LIP = 0.0065  # upper lip thickness at the centre
_LOWER_LIP = 0.0075  # lower lip thickness at the centre
_JAW_DROP = 0.014  # lower-lip travel at full opening
_EYE_X, _EYE_Y = 0.028, 0.022
_EYE_W, _EYE_H = 0.0135, 0.0062
_BROW_Y = 0.041

# Region codes of the Gaussians (label render channels).
_SKIN, _HAIR, _CAVITY, _TEETH = 0, 1, 2, 3


# ====================================================================================== signals


@dataclass
class SpeakerSignals:
    """Per-frame driving signals and the waveform.

    Attributes:
        audio: [S] mono waveform at `SAMPLE_RATE`.
        envelope: [S] syllable envelope in [0, 1].
        mouth: [F] jaw opening in [0, 1] (mean envelope over each frame, smoothed).
        blink: [F] eyelid closure in [0, 1].
        brow: [F] brow raise in [0, 1].
        yaw, pitch, roll: [F] head rotation in radians.
        trans: [F, 3] head translation in OpenGL camera coordinates.
    """

    audio: np.ndarray
    envelope: np.ndarray
    mouth: np.ndarray
    blink: np.ndarray
    brow: np.ndarray
    yaw: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    trans: np.ndarray


def speech_like_audio(duration: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude-modulated harmonic "speech": syllables (0.12-0.3 s) in words, pauses between phrases.

    Returns:
        (waveform [S] in [-1, 1], envelope [S] in [0, 1]) at `SAMPLE_RATE`.
    """
    n = round(duration * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    envelope = np.zeros(n)
    formant = np.full(n, 500.0)
    pos = rng.uniform(0.15, 0.4)
    while pos < duration:
        for _ in range(int(rng.integers(3, 9))):  # one phrase
            dur = rng.uniform(0.12, 0.3)
            start, stop = int(pos * SAMPLE_RATE), min(n, int((pos + dur) * SAMPLE_RATE))
            if start >= n:
                break
            phase = np.linspace(0.0, math.pi, stop - start, endpoint=False)
            envelope[start:stop] = np.maximum(envelope[start:stop], rng.uniform(0.5, 1.0) * np.sin(phase) ** 2)
            formant[start:stop] = rng.uniform(350.0, 850.0)
            pos += dur + rng.uniform(0.0, 0.06)
        pos += rng.uniform(0.25, 0.7)
    f0 = 135.0 + 25.0 * np.sin(2 * math.pi * 0.6 * t) + 10.0 * np.sin(2 * math.pi * 2.3 * t)
    phase = 2 * math.pi * np.cumsum(f0) / SAMPLE_RATE
    wave = np.zeros(n)
    for k in range(1, 25):
        freq = k * f0
        gain = np.exp(-(((freq - formant) / 250.0) ** 2)) + 0.5 * np.exp(-(((freq - 1800.0) / 400.0) ** 2)) + 0.3 / k
        wave += gain * np.sin(k * phase)
    wave *= envelope
    wave += 0.003 * rng.standard_normal(n)
    wave *= 0.6 / max(1e-6, float(np.abs(wave).max()))
    return wave.astype(np.float32), envelope


def make_signals(num_frames: int, fps: float, rng: np.random.Generator) -> SpeakerSignals:
    """Audio, mouth opening, blinks, brow raises and head pose for `num_frames` frames."""
    duration = num_frames / fps
    audio, envelope = speech_like_audio(duration, rng)
    bounds = np.round(np.arange(num_frames + 1) / fps * SAMPLE_RATE).astype(np.int64)
    mouth = np.array([envelope[a:b].mean() if b > a else 0.0 for a, b in itertools.pairwise(bounds)])
    mouth = np.convolve(np.pad(mouth, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    mouth = np.clip(mouth / max(1e-6, mouth.max()), 0.0, 1.0) if mouth.max() > 0 else mouth
    t = np.arange(num_frames) / fps
    blink = np.zeros(num_frames)
    start = rng.uniform(0.8, 2.0)
    while start < duration:
        dur = rng.uniform(0.2, 0.32)
        inside = (t >= start) & (t < start + dur)
        blink[inside] = np.maximum(blink[inside], np.sin(math.pi * (t[inside] - start) / dur) ** 2)
        start += dur + rng.uniform(2.2, 4.5)
    brow = np.zeros(num_frames)
    start = rng.uniform(0.5, 3.0)
    while start < duration:
        dur = rng.uniform(0.6, 1.2)
        inside = (t >= start) & (t < start + dur)
        brow[inside] = np.maximum(brow[inside], rng.uniform(0.5, 1.0) * np.sin(math.pi * (t[inside] - start) / dur))
        start += dur + rng.uniform(1.5, 4.0)
    ph = rng.uniform(0, 2 * math.pi, size=6)
    deg = math.pi / 180.0
    yaw = 4.0 * deg * np.sin(2 * math.pi * t / 4.3 + ph[0])
    pitch = 2.5 * deg * np.sin(2 * math.pi * t / 3.1 + ph[1])
    roll = 1.5 * deg * np.sin(2 * math.pi * t / 5.9 + ph[2])
    trans = np.stack(
        [
            0.004 * np.sin(2 * math.pi * t / 3.7 + ph[3]),
            0.003 * np.sin(2 * math.pi * t / 4.9 + ph[4]),
            -0.7 + 0.006 * np.sin(2 * math.pi * t / 6.1 + ph[5]),
        ],
        axis=1,
    )
    return SpeakerSignals(audio, envelope, mouth, blink, brow, yaw, pitch, roll, trans)


def head_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """[3, 3] rotation ``Rz(roll) @ Ry(yaw) @ Rx(pitch)``."""
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ ry @ rx


def pose_c2w(rot: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """TalkingGaussian's OpenGL camera-to-world ``[[R^T, -R^T t], [0, 0, 0, 1]]`` of a head pose."""
    c2w = np.eye(4)
    c2w[:3, :3] = rot.T
    c2w[:3, 3] = -rot.T @ trans
    return c2w


# ====================================================================================== geometry


def _surface_z(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Front surface depth of the head ellipsoid at (x, y) (0 outside its outline)."""
    r = 1.0 - (x / _AX) ** 2 - (y / _AY) ** 2
    return _AZ * np.sqrt(np.clip(r, 0.0, None))


def _ellipsoid_normal(p: np.ndarray) -> np.ndarray:
    n = p / np.array([_AX**2, _AY**2, _AZ**2])
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def _quat_z_to(normals: np.ndarray) -> np.ndarray:
    """Quaternions (w, x, y, z) rotating +z onto each normal (normals not equal to -z)."""
    q = np.stack([1.0 + normals[:, 2], -normals[:, 1], normals[:, 0], np.zeros(len(normals))], axis=1)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _lip_profile(x: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - (x / _MOUTH_W) ** 2, 0.0, None)


def lip_contours(x: np.ndarray, opening: float) -> dict[str, np.ndarray]:
    """Heights (relative to the mouth centre) of the four lip contours at `x` for a jaw opening in [0, 1].

    Keys: ``upper_outer``, ``upper_inner``, ``lower_inner``, ``lower_outer``.
    """
    prof = _lip_profile(x)
    d = opening * _JAW_DROP
    upper_inner = 0.15 * d * prof
    lower_inner = -0.85 * d * prof
    bow = 0.0012 * np.exp(-((np.abs(x) - 0.006) / 0.004) ** 2)
    return {
        "upper_outer": upper_inner + _UPPER_LIP * prof ** 0.8 + bow * prof,
        "upper_inner": upper_inner,
        "lower_inner": lower_inner,
        "lower_outer": lower_inner - _LOWER_LIP * prof ** 0.8,
    }


def jaw_offset(x: np.ndarray, opening: float) -> np.ndarray:
    """Downward displacement of skin below the mouth (matches the lower lip's)."""
    return 0.85 * opening * _JAW_DROP * _lip_profile(np.clip(x, -_MOUTH_W, _MOUTH_W))


@dataclass
class _Parts:
    """Canonical Gaussians of each part: positions, scales, quats, colours, region codes."""

    means: np.ndarray
    scales: np.ndarray
    quats: np.ndarray
    colors: np.ndarray
    region: np.ndarray
    kind: np.ndarray  # part name index, see _KINDS


_KINDS = ("skin", "hair", "eye_white", "iris", "brow", "nose", "upper_lip", "lower_lip", "teeth_up", "teeth_low",
          "cavity", "chin")


def _grid_in(xs: np.ndarray, ys: np.ndarray, inside: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    gx, gy = np.meshgrid(xs, ys)
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    return pts[inside(pts[:, 0], pts[:, 1])]


class _PartsBuilder:
    """Collects the head's Gaussians part by part (`add`); `build` concatenates them into `_Parts`."""

    def __init__(self) -> None:
        self.means: list[np.ndarray] = []
        self.scales: list[np.ndarray] = []
        self.quats: list[np.ndarray] = []
        self.colors: list[np.ndarray] = []
        self.region: list[np.ndarray] = []
        self.kind: list[np.ndarray] = []

    def add(self, p: np.ndarray, s: np.ndarray | float, q: np.ndarray | None, c: np.ndarray, r: int, k: str) -> None:
        """Add N Gaussians.

        Args:
            p: [N, 3] positions.
            s: [N, 3], [3] or scalar scales.
            q: [N, 4] quaternions (None: identity).
            c: [N, 3] or [3] colours.
            r: region code.
            k: part name (one of `_KINDS`).
        """
        n = len(p)
        self.means.append(p)
        self.scales.append(np.broadcast_to(np.asarray(s, dtype=np.float64), (n, 3)).copy())
        if q is None:
            q = np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
        self.quats.append(q)
        self.colors.append(np.broadcast_to(c, (n, 3)).copy() if np.ndim(c) == 1 else c)
        self.region.append(np.full(n, r))
        self.kind.append(np.full(n, _KINDS.index(k)))

    def build(self) -> _Parts:
        """Every part added so far, in order."""
        return _Parts(
            np.concatenate(self.means), np.concatenate(self.scales), np.concatenate(self.quats),
            np.concatenate(self.colors), np.concatenate(self.region), np.concatenate(self.kind),
        )


def _add_skin_and_hair(parts: _PartsBuilder, rng: np.random.Generator, num_skin: int) -> None:
    """Skin, chin and hair discs on the head ellipsoid (draws the skin and hair colour noise from `rng`)."""
    # Skin and hair: Fibonacci points on the ellipsoid (num_skin of them on the visible part).
    m = int(num_skin / 0.6)
    i = np.arange(m) + 0.5
    phi = np.arccos(1 - 2 * i / m)
    theta = math.pi * (1 + 5**0.5) * i
    unit = np.stack([np.sin(phi) * np.cos(theta), np.cos(phi), np.sin(phi) * np.sin(theta)], axis=1)  # y = pole
    pts = unit * np.array([_AX, _AY, _AZ])
    # Cull what the cameras never see (they stay within a few degrees of +z): back and underside.
    pts = pts[(_ellipsoid_normal(pts)[:, 2] > -0.3) & (pts[:, 1] > -0.9 * _AY)]
    rel = pts[:, 0:2] - np.array([0.0, _MOUTH_Y])
    mouth_hole = (np.abs(rel[:, 0]) < _MOUTH_W * 1.02) & (rel[:, 1] > -0.0085) & (rel[:, 1] < 0.0075)
    pts = pts[~mouth_hole | (pts[:, 2] < 0.03)]
    normals = _ellipsoid_normal(pts)
    spacing = math.sqrt(4.0 * math.pi * _AX * _AY / num_skin)
    hair = (pts[:, 1] > 0.058 + 0.01 * (pts[:, 2] / _AZ)) | ((pts[:, 2] < -0.01) & (pts[:, 1] > -0.02))
    hair |= (np.abs(pts[:, 0]) > 0.066) & (pts[:, 1] > 0.0)
    skin_tone = np.array([0.86, 0.66, 0.54]) + 0.03 * rng.standard_normal((len(pts), 1))
    cheek = np.exp(-(((np.abs(pts[:, 0]) - 0.04) / 0.015) ** 2 + ((pts[:, 1] + 0.015) / 0.015) ** 2))
    skin_tone = skin_tone + cheek[:, None] * np.array([0.05, -0.04, -0.03])
    lower = pts[:, 1] < _MOUTH_Y - 0.006
    # Smaller discs around the mouth so the skin never covers the opening.
    near = np.hypot(np.clip(np.abs(pts[:, 0]) - _MOUTH_W, 0, None), pts[:, 1] - _MOUTH_Y)
    shrink = np.clip(near / 0.02, 0.25, 1.0)
    skin_scale = np.stack([0.75 * spacing * shrink] * 2 + [np.full(len(pts), 0.15 * spacing)], axis=1)
    q = _quat_z_to(normals)
    hair_col = np.array([0.16, 0.1, 0.07]) + 0.03 * rng.standard_normal((len(pts), 1))
    for sel, col, reg, name in (
        (~hair & ~lower, skin_tone, _SKIN, "skin"),
        (~hair & lower, skin_tone, _SKIN, "chin"),
        (hair, hair_col, _HAIR, "hair"),
    ):
        lift = 0.004 * normals[sel] if reg == _HAIR else 0.0
        parts.add(pts[sel] + lift, skin_scale[sel], q[sel], col[sel], reg, name)


def _add_eyes_and_brows(parts: _PartsBuilder) -> None:
    """Eye whites, irises and brows of both eyes."""
    # Eyes: white, iris, pupil slightly in front of the skin.
    for sx in (-1.0, 1.0):
        cx = sx * _EYE_X
        white = _grid_in(np.linspace(cx - _EYE_W, cx + _EYE_W, 13), np.linspace(_EYE_Y - _EYE_H, _EYE_Y + _EYE_H, 7),
                         lambda x, y, cx=cx: ((x - cx) / _EYE_W) ** 2 + ((y - _EYE_Y) / _EYE_H) ** 2 <= 1.0)
        z = _surface_z(white[:, 0], white[:, 1]) + 0.0025
        parts.add(np.column_stack([white, z]), [0.0014, 0.0013, 0.0004], None, np.array([0.95, 0.95, 0.93]), _SKIN,
            "eye_white")
        ang = np.linspace(0, 2 * math.pi, 10, endpoint=False)
        ring = np.column_stack([cx + 0.0032 * np.cos(ang), _EYE_Y + 0.0032 * np.sin(ang)])
        iris = np.concatenate([[[cx, _EYE_Y]], ring])
        z = _surface_z(iris[:, 0], iris[:, 1]) + 0.0032
        parts.add(
            np.column_stack([iris, z]), [0.0021, 0.0021, 0.0004], None, np.array([0.22, 0.13, 0.08]), _SKIN, "iris"
        )
        # Brow: an arc of elongated dark Gaussians.
        bx = np.linspace(cx - sx * 0.012, cx + sx * 0.018, 12)
        by = _BROW_Y + 0.004 * np.sin(np.linspace(0.3, 2.6, 12))
        z = _surface_z(bx, by) + 0.0015
        parts.add(
            np.column_stack([bx, by, z]), [0.0022, 0.0012, 0.0006], None, np.array([0.15, 0.09, 0.06]), _SKIN, "brow"
        )


def _add_nose(parts: _PartsBuilder) -> None:
    """The nose ridge and nostrils."""
    # Nose: a ridge and nostrils.
    ny = np.linspace(0.018, -0.022, 14)
    bump = 0.012 * np.clip((0.02 - ny) / 0.04, 0, 1) ** 1.5
    ridge = np.column_stack([np.zeros_like(ny), ny, _surface_z(np.zeros_like(ny), ny) + bump])
    parts.add(ridge, [0.0035, 0.003, 0.003], None, np.array([0.88, 0.67, 0.55]), _SKIN, "nose")
    nx = np.array([-0.008, 0.008])
    nostrils = np.column_stack([nx, [-0.024, -0.024], _surface_z(nx, np.full(2, -0.024)) + 0.006])
    parts.add(nostrils, [0.0025, 0.0014, 0.0008], None, np.array([0.35, 0.2, 0.17]), _SKIN, "nose")


def _add_mouth(parts: _PartsBuilder) -> None:
    """Lips (stored as (x, t) grids, posed per frame), both rows of teeth and the mouth cavity."""
    # Lips (canonical closed shape; deformed per frame), as (x, t) grids across the lip band.
    lx = np.linspace(-_MOUTH_W, _MOUTH_W, 31)
    lt = np.linspace(0.0, 1.0, 5)
    gx, gt = np.meshgrid(lx, lt)
    for name, col in (("upper_lip", np.array([0.72, 0.3, 0.3])), ("lower_lip", np.array([0.76, 0.34, 0.33]))):
        p = np.column_stack([gx.ravel(), gt.ravel(), np.zeros(gx.size)])  # (x, t) stored; y computed per frame
        parts.add(p, [0.0018, 0.0013, 0.0006], None, col, _SKIN, name)

    # Teeth: upper row behind the upper lip, lower row moves with the jaw.
    tx = np.linspace(-0.017, 0.017, 14)
    for name, y0 in (("teeth_up", -0.0004), ("teeth_low", 0.0012)):
        p = np.column_stack([tx, np.full_like(tx, y0), np.zeros_like(tx)])
        parts.add(p, [0.0014, 0.0022, 0.0008], None, np.array([0.96, 0.95, 0.9]), _TEETH, name)

    # Cavity: a dark plane behind the lips covering the widest opening.
    cav = _grid_in(np.linspace(-_MOUTH_W, _MOUTH_W, 17), np.linspace(-_JAW_DROP - 0.002, 0.004, 9),
                   lambda x, y: np.ones_like(x, dtype=bool))
    parts.add(np.column_stack([cav, np.zeros(len(cav))]), [0.0022, 0.0022, 0.001], None, np.array([0.32, 0.08, 0.08]),
        _CAVITY, "cavity")


def build_head(rng: np.random.Generator, num_skin: int = 2200) -> _Parts:
    """The canonical head (mouth closed, eyes open, brows at rest)."""
    parts = _PartsBuilder()
    _add_skin_and_hair(parts, rng, num_skin)
    _add_eyes_and_brows(parts)
    _add_nose(parts)
    _add_mouth(parts)
    return parts.build()


def pose_head(parts: _Parts, mouth: float, blink: float, brow: float) -> np.ndarray:
    """World positions of every Gaussian for one frame (jaw, lids, brows applied)."""
    p = parts.means.copy()
    k = parts.kind

    def sel(name: str) -> np.ndarray:
        return k == _KINDS.index(name)

    chin = sel("chin")
    p[chin, 1] -= jaw_offset(p[chin, 0], mouth) * np.clip((p[chin, 2] - 0.02) / 0.03, 0.0, 1.0)
    for name in ("eye_white", "iris"):
        s = sel(name)
        p[s, 1] = _EYE_Y + (p[s, 1] - _EYE_Y) * (1.0 - blink)
    p[sel("brow"), 1] += 0.004 * brow
    for name, upper in (("upper_lip", True), ("lower_lip", False)):
        s = sel(name)
        x, t = p[s, 0], p[s, 1]
        c = lip_contours(x, mouth)
        inner, outer = (c["upper_inner"], c["upper_outer"]) if upper else (c["lower_inner"], c["lower_outer"])
        y = _MOUTH_Y + inner + t * (outer - inner)
        p[s, 1] = y
        p[s, 2] = _surface_z(x, y) + 0.0025 - 0.002 * (1 - _lip_profile(x))
    for name, drop in (("teeth_up", 0.0), ("teeth_low", 1.0)):
        s = sel(name)
        y = _MOUTH_Y + p[s, 1] - drop * jaw_offset(p[s, 0], mouth)
        p[s, 1] = y
        p[s, 2] = _surface_z(p[s, 0], y) - 0.003
    s = sel("cavity")
    p[s, 1] = _MOUTH_Y + p[s, 1]
    p[s, 2] = _surface_z(p[s, 0], p[s, 1]) - 0.006
    return p


def blink_scale(parts: _Parts, blink: float) -> np.ndarray:
    """Per-Gaussian scales with the eye Gaussians flattened vertically by the blink."""
    s = parts.scales.copy()
    eye = (parts.kind == _KINDS.index("eye_white")) | (parts.kind == _KINDS.index("iris"))
    s[eye, 1] *= max(1.0 - blink, 0.03)
    return s


def landmarks_3d(mouth: float, blink: float, brow: float) -> np.ndarray:
    """The 68 iBUG points on the model's surface for one frame: [68, 3] world coordinates.

    Mouth points 48-67 lie exactly on the lip contours that place the lip Gaussians; eyes, brows,
    nose and jaw points are on the corresponding parts of the model.
    """
    pts = np.zeros((68, 3))
    # Jaw 0-16: around the lower face from image left (x < 0) to image right, through the chin.
    ang = np.linspace(math.pi, 2 * math.pi, 17)
    jx = 0.93 * _AX * np.cos(ang)
    jy = 0.01 + 0.095 * np.sin(ang)
    jy = jy - jaw_offset(jx, mouth) * (jy < _MOUTH_Y - 0.006)
    pts[0:17, 0], pts[0:17, 1] = jx, jy
    # Brows 17-26 (image left to right).
    for j, sx in enumerate((-1.0, 1.0)):
        bx = np.linspace(sx * _EYE_X - 0.014, sx * _EYE_X + 0.014, 5)
        pts[17 + 5 * j : 22 + 5 * j, 0] = bx
        pts[17 + 5 * j : 22 + 5 * j, 1] = _BROW_Y + 0.003 + 0.004 * brow
    # Nose bridge 27-30 and base 31-35.
    pts[27:31, 0], pts[27:31, 1] = 0.0, np.linspace(0.018, -0.012, 4)
    pts[31:36, 0], pts[31:36, 1] = np.linspace(-0.012, 0.012, 5), -0.024
    # Eyes 36-47: corner, two upper-lid points, corner, two lower-lid points.
    for j, sx in enumerate((-1.0, 1.0)):
        cx = sx * _EYE_X
        xs = np.array([-1.0, -0.4, 0.4, 1.0, 0.4, -0.4]) * _EYE_W
        lid = _EYE_H * (1.0 - blink) * np.sqrt(np.clip(1 - (xs / _EYE_W) ** 2, 0, None))
        ys = _EYE_Y + np.array([0.0, 1, 1, 0.0, -1, -1]) * lid
        pts[36 + 6 * j : 42 + 6 * j, 0] = cx + xs
        pts[36 + 6 * j : 42 + 6 * j, 1] = ys
    # Mouth 48-59 outer, 60-67 inner, from the lip contours.
    w = _MOUTH_W
    outer_x = np.array([-1.0, -2 / 3, -1 / 3, 0.0, 1 / 3, 2 / 3, 1.0, 2 / 3, 1 / 3, 0.0, -1 / 3, -2 / 3]) * w
    c = lip_contours(outer_x, mouth)
    outer_y = np.concatenate([c["upper_outer"][:7], c["lower_outer"][7:]])
    pts[48:60, 0], pts[48:60, 1] = outer_x, _MOUTH_Y + outer_y
    wi = 0.85 * w
    inner_x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 0.5, 0.0, -0.5]) * wi
    c = lip_contours(inner_x, mouth)
    inner_y = np.concatenate([c["upper_inner"][:4], [0.5 * (c["upper_inner"][4] + c["lower_inner"][4])],
                              c["lower_inner"][5:]])
    inner_y[0] = 0.5 * (c["upper_inner"][0] + c["lower_inner"][0])
    pts[60:68, 0], pts[60:68, 1] = inner_x, _MOUTH_Y + inner_y
    # Depth: on the surface (lips in front of it, as their Gaussians).
    pts[:, 2] = _surface_z(pts[:, 0], pts[:, 1])
    pts[48:68, 2] += 0.0025 - 0.002 * (1 - _lip_profile(pts[48:68, 0]))
    return pts


def _gaussians(parts: _Parts, means: np.ndarray, scales: np.ndarray, colors: np.ndarray) -> GaussianParams:
    f32 = torch.float32
    sh = rgb_to_sh0(torch.from_numpy(colors).to(f32))[:, None, :]
    return GaussianParams(
        means=torch.from_numpy(means).to(f32),
        quats=torch.from_numpy(parts.quats).to(f32),
        log_scales=torch.from_numpy(np.log(scales)).to(f32),
        opacity_logits=torch.full((len(means),), 5.0),
        sh=sh,
    )


# ====================================================================================== images


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([0.55 + 0.2 * yy, 0.6 + 0.1 * xx, 0.68 - 0.15 * yy], axis=-1)
    for _ in range(4):
        c = rng.uniform(0, 1, 2)
        base += rng.uniform(-0.08, 0.08, 3) * np.exp(-((xx - c[0]) ** 2 + (yy - c[1]) ** 2) / 0.05)[..., None]
    return np.clip(base, 0, 1)


def _torso(size: int, focal: float) -> tuple[np.ndarray, np.ndarray]:
    """RGBA torso image [H, W, 4] float and its labels [H, W] (NECK, TORSO or BACKGROUND)."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    c = size / 2.0
    chin_v = c + focal * 0.07 / 0.7
    neck = (np.abs(xx - c) < focal * 0.036 / 0.7) & (yy > chin_v - 0.05 * size)
    shoulders = ((xx - c) / (0.48 * size)) ** 2 + ((yy - 1.18 * size) / (0.3 * size)) ** 2 < 1.0
    labels = np.full((size, size), int(Region.BACKGROUND))
    labels[neck] = int(Region.NECK)
    labels[shoulders] = int(Region.TORSO)
    rgba = np.zeros((size, size, 4))
    rgba[neck] = [0.78, 0.58, 0.47, 1.0]
    shade = np.clip(1.0 - (yy - chin_v) / size, 0.7, 1.0)[..., None]
    rgba[neck, :3] *= shade[neck]
    rgba[shoulders] = [0.2, 0.28, 0.45, 1.0]
    return rgba, labels


def _to_u8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


# ====================================================================================== generator


def _default_rasterizer() -> Rasterizer:
    from pgs.core.model.talking_head import build_rasterizer

    return build_rasterizer("auto")


def generate_speaker(
    out_dir: str | Path,
    num_frames: int = 250,
    size: int = 256,
    fps: float = 25.0,
    seed: int = 0,
    rasterizer: Rasterizer | None = None,
    num_skin: int = 2200,
    au_leading_space: bool = True,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Generate a synthetic speaker folder (see the module docstring for what it contains).

    Args:
        out_dir: folder to create (its parent must exist).
        num_frames: video frames (default 250 = 10 s at 25 fps); at least 11 so val is not empty.
        size: image width and height in pixels.
        fps: video frame rate.
        seed: random seed (the same seed gives the same speaker, audio and schedule).
        rasterizer: backend (default: `build_rasterizer("auto")`).
        num_skin: Gaussians on the skin/hair ellipsoid (the head has about 600 more).
        au_leading_space: write the au.csv header as OpenFace on Windows (``", "``).
        overwrite: replace an existing `out_dir`.
        progress: called as ``progress("render", done, total)`` after each frame.

    Returns:
        `out_dir`.

    Raises:
        DataError: `out_dir` is not writable, holds anything but a synthetic speaker, or holds one
            and not `overwrite` (see `pgs.core.io.run_folder`).
        ValueError: bad sizes.
    """
    out_dir = Path(out_dir)
    if num_frames < 11:
        raise ValueError(f"num_frames must be at least 11 (the last 1/11 is the val split), got {num_frames}")
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    replace = check_output_folder(out_dir, "synth", overwrite, what="output")
    rasterizer = rasterizer or _default_rasterizer()
    with folder_lock(out_dir), atomic_folder(out_dir, replace=replace or out_dir.exists()) as tmp:
        write_marker(tmp, "synth")
        _write_speaker(tmp, num_frames, size, fps, seed, rasterizer, num_skin, au_leading_space, progress)
    return out_dir


def _write_speaker(
    folder: Path,
    num_frames: int,
    size: int,
    fps: float,
    seed: int,
    rasterizer: Rasterizer,
    num_skin: int,
    au_leading_space: bool,
    progress: Progress | None,
) -> None:
    """Write every file of a synthetic speaker into `folder` (arguments: see `generate_speaker`)."""
    rng = np.random.default_rng(seed)  # drawn in order: signals, head, background, AU noise
    sig = make_signals(num_frames, fps, rng)
    parts = build_head(rng, num_skin)
    focal = 2.4 * size
    cx = cy = size / 2.0
    for sub in ("gt_imgs", "parsing", "torso_imgs", "teeth_mask"):
        (folder / sub).mkdir()
    bc = _background(size, rng)
    write_image(folder / "bc.jpg", _to_u8(bc), atomic=False)
    c2ws, lms2d, lms3d = _cameras_and_landmarks(sig, focal, cx, cy)
    cameras = cameras_from_transforms(torch.from_numpy(c2ws), focal, cx, cy, size, size)
    _render_frames(folder, sig, parts, cameras, bc, focal, rasterizer, progress)
    np.save(folder / "landmarks.npy", lms2d)
    np.save(folder / "landmarks3d.npy", lms3d)
    write_wav(folder / "aud.wav", sig.audio, SAMPLE_RATE)
    _write_aus(folder / "au.csv", sig, fps, rng, au_leading_space)
    _write_transforms(folder, c2ws, focal, cx, cy)
    _write_meta(folder, sig, size, fps, seed, len(parts.means))


def _cameras_and_landmarks(
    sig: SpeakerSignals, focal: float, cx: float, cy: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each frame's camera and its 68 landmarks.

    Returns:
        ([F, 4, 4] OpenGL camera-to-world, [F, 68, 2] float32 landmark pixels, [F, 68, 3] float32
        world landmarks).
    """
    num_frames = len(sig.mouth)
    c2ws = np.zeros((num_frames, 4, 4))
    lms2d = np.zeros((num_frames, 68, 2), dtype=np.float32)
    lms3d = np.zeros((num_frames, 68, 3), dtype=np.float32)
    for i in range(num_frames):
        rot = head_rotation(sig.yaw[i], sig.pitch[i], sig.roll[i])
        c2ws[i] = pose_c2w(rot, sig.trans[i])
        pts3 = landmarks_3d(sig.mouth[i], sig.blink[i], sig.brow[i])
        lms3d[i] = pts3
        w2c = np.linalg.inv(c2ws[i])
        lms2d[i] = project_opengl(pts3 @ w2c[:3, :3].T + w2c[:3, 3], focal, cx, cy)
    return c2ws, lms2d, lms3d


def _render_frames(
    folder: Path, sig: SpeakerSignals, parts: _Parts, cameras: Cameras, bc: np.ndarray, focal: float,
    rasterizer: Rasterizer, progress: Progress | None,
) -> None:
    """Render each frame's ``gt_imgs``, ``parsing``, ``teeth_mask`` and ``torso_imgs`` files.

    Args:
        folder: the speaker folder (its sub-folders exist).
        sig: the per-frame signals.
        parts: the canonical head.
        cameras: F cameras.
        bc: [H, W, 3] background in [0, 1].
        focal: focal length in pixels (places the torso).
        rasterizer: backend.
        progress: called as ``progress("render", done, total)`` after each frame.
    """
    num_frames, size = len(sig.mouth), bc.shape[0]
    torso_rgba, torso_labels = _torso(size, focal)
    torso_u8 = _to_u8(torso_rgba)
    bg = torso_rgba[..., :3] * torso_rgba[..., 3:] + bc * (1.0 - torso_rgba[..., 3:])
    label_colors = np.zeros((len(parts.means), 3))
    for code in (_SKIN, _HAIR, _CAVITY):
        label_colors[parts.region == code, code] = 1.0
    for i in range(num_frames):
        means = pose_head(parts, sig.mouth[i], sig.blink[i], sig.brow[i])
        scales = blink_scale(parts, sig.blink[i])
        cam = cameras[i : i + 1]
        with torch.no_grad():
            color = rasterizer.render(_gaussians(parts, means, scales, parts.colors), cam, sh_degree=0)
            label = rasterizer.render(_gaussians(parts, means, scales, label_colors), cam, sh_degree=0)
        rgb = color.color[0].double().numpy()
        alpha = color.alpha[0].double().numpy()
        write_image(folder / "gt_imgs" / f"{i}.jpg", _to_u8(rgb + (1.0 - alpha) * bg), atomic=False)
        lab = label.color[0].double().numpy()
        weights = np.concatenate([lab, label.alpha[0].double().numpy() - lab.sum(-1, keepdims=True)], axis=-1)
        winner = weights.argmax(-1)
        head = label.alpha[0, ..., 0].numpy() > 0.5
        region_of = np.array([int(Region.FACE), int(Region.HAIR), int(Region.MOUTH), int(Region.MOUTH)])
        labels = np.where(head, region_of[winner], torso_labels)
        write_image(folder / "parsing" / f"{i}.png", parsing_from_labels(labels), atomic=False)
        np.save(folder / "teeth_mask" / f"{i}.npy", head & (winner == _TEETH))
        write_image(folder / "torso_imgs" / f"{i}.png", torso_u8, atomic=False)
        report(progress, "render", i + 1, num_frames)


def _write_transforms(folder: Path, c2ws: np.ndarray, focal: float, cx: float, cy: float) -> None:
    """``transforms_train.json`` and ``transforms_val.json`` (`train_val_split`) from [F, 4, 4] `c2ws`."""
    num_frames = len(c2ws)
    split = train_val_split(num_frames)
    for name, ids in (("train", range(split)), ("val", range(split, num_frames))):
        data = {
            "focal_len": focal,
            "cx": cx,
            "cy": cy,
            "frames": [{"img_id": i, "aud_id": i, "transform_matrix": c2ws[i].tolist()} for i in ids],
        }
        (folder / f"transforms_{name}.json").write_text(json.dumps(data, indent=1))


def _write_meta(folder: Path, sig: SpeakerSignals, size: int, fps: float, seed: int, num_gaussians: int) -> None:
    """``synthetic.json``: the generator's settings and the per-frame ground-truth signals."""
    num_frames = len(sig.mouth)
    meta: dict[str, Any] = {
        "generator": "pgs.core.data.synthetic.generate_speaker",
        "num_frames": num_frames,
        "size": size,
        "fps": fps,
        "seed": seed,
        "num_gaussians": num_gaussians,
        "sample_rate": SAMPLE_RATE,
        "landmarks_convention": "pixels; pixel (i, j) covers [i, i+1) x [j, j+1) (rasterizer convention)",
        "mouth_opening": np.round(sig.mouth, 5).tolist(),
        "blink": np.round(sig.blink, 5).tolist(),
        "brow_raise": np.round(sig.brow, 5).tolist(),
    }
    (folder / "synthetic.json").write_text(json.dumps(meta))


def _write_aus(path: Path, sig: SpeakerSignals, fps: float, rng: np.random.Generator, leading_space: bool) -> None:
    n = len(sig.mouth)
    cols = {name: np.zeros(n) for name in OPENFACE_AU_COLUMNS}
    noise = rng.uniform(0.0, 0.05, size=(len(OPENFACE_AU_COLUMNS), n))
    for j, name in enumerate(OPENFACE_AU_COLUMNS):
        cols[name] = noise[j]
    cols["AU01_r"] = 2.0 * sig.brow + noise[0]
    cols["AU02_r"] = 1.6 * sig.brow + noise[1]
    cols["AU04_r"] = 0.2 * (1.0 - sig.brow)
    cols["AU25_r"] = 3.0 * sig.mouth
    cols["AU26_r"] = 2.5 * sig.mouth
    cols["AU45_r"] = 2.0 * sig.blink  # TalkingGaussian: blink = clip(AU45, 0, 2) / 2
    write_au_csv(path, cols, fps=fps, leading_space=leading_space)


__all__ = [
    "SAMPLE_RATE",
    "SpeakerSignals",
    "generate_speaker",
    "head_rotation",
    "landmarks_3d",
    "lip_contours",
    "make_signals",
    "pose_c2w",
    "speech_like_audio",
]
