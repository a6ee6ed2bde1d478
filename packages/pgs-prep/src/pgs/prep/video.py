"""Video decoding with PyAV: probing, constant-rate resampling by timestamp, square crop and resize.

Frames are resampled to a constant output rate (25 fps) by timestamp: output frame k (time k/25
after the first frame) shows the source frame nearest in time, as ffmpeg's ``fps`` filter does.
A 25 fps source maps one to one; other constant rates and variable-frame-rate (VFR) sources are
resampled, and VFR is reported, never an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from pgs.core.errors import DataError


@dataclass(frozen=True)
class VideoInfo:
    """What `probe_video` finds.

    Attributes:
        path: the file.
        width, height: frame size in pixels.
        fps: the stream's average frame rate.
        num_frames: decoded-frame count from the packet timestamps.
        duration_s: time from the first frame to the end of the last.
        has_audio: whether the file has an audio stream.
        variable_frame_rate: frame durations differ by more than 1 %.
        codec: video codec name.
    """

    path: Path
    width: int
    height: int
    fps: float
    num_frames: int
    duration_s: float
    has_audio: bool
    variable_frame_rate: bool
    codec: str


def _open(path: Path):
    import av

    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: not a readable video file ({type(exc).__name__}: {exc})") from None


def _is_still_image(container: object) -> bool:
    """Whether FFmpeg opened the file with an image demuxer (PNG, JPEG, BMP, TIFF, WebP, ...)."""
    names = str(getattr(getattr(container, "format", None), "name", "")).split(",")
    return any(n == "image2" or n.endswith("_pipe") for n in names)


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Read the stream layout and packet timestamps (no decoding).

    Raises:
        DataError: missing file, not a media file, no video stream, or no frames.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: video file not found")
    with _open(p) as container:
        if not container.streams.video:
            raise DataError(f"{p}: has no video stream")
        if _is_still_image(container):
            raise DataError(f"{p}: is a still image ({container.format.name}), not a video; pgs prep needs a video")
        stream = container.streams.video[0]
        tb = stream.time_base or Fraction(1, 90000)
        pts = []
        try:
            for packet in container.demux(stream):
                if packet.pts is not None and packet.size > 0:
                    pts.append(packet.pts)
        except Exception as exc:
            raise DataError(f"{p}: cannot read video packets ({type(exc).__name__}: {exc})") from None
        if not pts:
            raise DataError(f"{p}: the video stream has no frames")
        times = np.sort(np.array(pts, dtype=np.float64)) * float(tb)
        rate = float(stream.average_rate) if stream.average_rate else 0.0
        durations = np.diff(times)
        if durations.size:
            med = float(np.median(durations))
            vfr = bool(med > 0 and (durations.max() - durations.min()) > 0.01 * med)
            if not rate > 0:
                rate = 1.0 / med if med > 0 else 25.0
        else:
            med, vfr = (1.0 / rate if rate > 0 else 0.04), False
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
        if width <= 0 or height <= 0:
            raise DataError(f"{p}: invalid frame size {width}x{height}")
        return VideoInfo(
            path=p, width=width, height=height, fps=rate or 25.0, num_frames=len(pts),
            duration_s=float(times[-1] - times[0] + med), has_audio=bool(container.streams.audio),
            variable_frame_rate=vfr, codec=stream.codec_context.name,
        )


def output_frame_count(info: VideoInfo, fps: float) -> int:
    """Number of frames at `fps` covering the video's duration (at least 1)."""
    return max(1, int(np.floor(info.duration_s * fps + 1e-6)))


def iter_frames(path: str | os.PathLike[str], fps: float = 25.0, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Decode RGB frames resampled to a constant `fps` by timestamp (nearest source frame).

    Args:
        path: the video.
        fps: output frame rate.
        max_frames: stop after this many output frames.

    Yields:
        [H, W, 3] uint8 RGB frames, one per output time k / fps.
    """
    p = Path(path)
    info = probe_video(p)
    total = output_frame_count(info, fps)
    if max_frames is not None:
        total = min(total, max_frames)
    step = 1.0 / fps
    emitted = 0
    t0: float | None = None
    prev: tuple[float, np.ndarray] | None = None
    with _open(p) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base or Fraction(1, 90000))
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = frame.pts * tb
                if t0 is None:
                    t0 = t
                t -= t0
                rgb = frame.to_ndarray(format="rgb24")
                if prev is not None:
                    # Output times closer to the previous frame than to this one show the previous frame.
                    mid = (prev[0] + t) / 2.0
                    while emitted < total and emitted * step < mid:
                        yield prev[1]
                        emitted += 1
                if emitted >= total:
                    return
                prev = (t, rgb)
        except Exception as exc:
            if emitted == 0 and prev is None:
                raise DataError(f"{p}: cannot decode video ({type(exc).__name__}: {exc})") from None
            raise DataError(f"{p}: decoding failed after {emitted} frames ({type(exc).__name__}: {exc})") from None
    while prev is not None and emitted < total:
        yield prev[1]
        emitted += 1


@dataclass(frozen=True)
class CropBox:
    """A square region of the source frame: left, top and side in pixels."""

    x0: int
    y0: int
    side: int


def centre_box(width: int, height: int) -> CropBox:
    """The largest centred square."""
    side = min(width, height)
    return CropBox((width - side) // 2, (height - side) // 2, side)


def face_box(centre_xy: tuple[float, float], face_height: float, width: int, height: int, scale: float) -> CropBox:
    """A square of side ``scale * face_height`` around the face centre.

    The square is shifted (and shrunk if needed) to stay inside the frame.
    """
    side = int(np.rint(min(scale * face_height, width, height)))
    side = max(side, 16)
    x0 = int(np.rint(centre_xy[0] - side / 2))
    y0 = int(np.rint(centre_xy[1] - side / 2))
    x0 = min(max(x0, 0), width - side)
    y0 = min(max(y0, 0), height - side)
    return CropBox(x0, y0, side)


def crop_resize(rgb: np.ndarray, box: CropBox | None, size: int | None) -> np.ndarray:
    """Crop to `box` (if any) and resize to ``size x size`` (if given; area filter when shrinking)."""
    import cv2

    out = rgb if box is None else rgb[box.y0 : box.y0 + box.side, box.x0 : box.x0 + box.side]
    if size is not None and (out.shape[0] != size or out.shape[1] != size):
        interp = cv2.INTER_AREA if out.shape[0] > size else cv2.INTER_CUBIC
        out = cv2.resize(out, (size, size), interpolation=interp)
    return np.ascontiguousarray(out)


__all__ = [
    "CropBox",
    "VideoInfo",
    "centre_box",
    "crop_resize",
    "face_box",
    "iter_frames",
    "output_frame_count",
    "probe_video",
]
