"""Writing rendered frames as an H.264 MP4 with the driving audio muxed in (PyAV; no system FFmpeg).

The audio track is decoded from any file PyAV reads (WAV, FLAC, MP3, M4A, the audio of an MP4),
re-encoded as AAC and cut to the video's duration. The file is written next to its destination
and renamed into place, so a failure never leaves a half-written video.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from pgs.core.errors import DataError
from pgs.core.io.atomic import atomic_path


def _even(n: int) -> int:
    return n + (n % 2)


def _audio_frames(path: Path, stream_out: object, duration: float) -> Iterable[object]:
    """Decode `path`'s first audio stream, resampled to the output stream's format, cut to `duration`."""
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise DataError(f"{path}: cannot open audio: {exc}") from None
    with container:
        if not container.streams.audio:
            raise DataError(f"{path}: has no audio stream")
        resampler = av.AudioResampler(
            format=stream_out.codec_context.format.name,  # type: ignore[attr-defined]
            layout=stream_out.codec_context.layout.name,  # type: ignore[attr-defined]
            rate=stream_out.codec_context.sample_rate,  # type: ignore[attr-defined]
        )
        limit = round(duration * stream_out.codec_context.sample_rate)  # type: ignore[attr-defined]
        written = 0
        try:
            for frame in container.decode(audio=0):
                frame.pts = None
                for out in resampler.resample(frame):
                    if written >= limit:
                        return
                    if written + out.samples > limit:
                        keep = limit - written
                        array = out.to_ndarray()[..., :keep]
                        trimmed = av.AudioFrame.from_ndarray(
                            np.ascontiguousarray(array), format=out.format.name, layout=out.layout.name
                        )
                        trimmed.sample_rate = out.sample_rate
                        out = trimmed
                    written += out.samples
                    yield out
        except av.error.FFmpegError as exc:
            raise DataError(f"{path}: cannot decode audio: {exc}") from None
        for out in resampler.resample(None):
            if written >= limit:
                return
            written += out.samples
            yield out


def write_mp4(
    frames: Iterable[np.ndarray],
    out: str | Path,
    fps: float = 25.0,
    audio: str | Path | None = None,
    audio_rate: int = 16000,
    crf: int = 18,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Encode frames as H.264 (yuv420p) with optional AAC audio.

    Args:
        frames: [H, W, 3] uint8 RGB images, all of one size (odd sizes are padded by one pixel).
        out: destination ``.mp4``.
        fps: video frame rate.
        audio: an audio (or video) file whose audio is muxed in, cut to the video duration.
        audio_rate: sample rate of the AAC track.
        crf: x264 constant rate factor (lower is better quality).
        progress: called with the number of frames written so far.

    Returns:
        `out`.

    Raises:
        DataError: no frames, frames of different sizes, unreadable audio.
    """
    import av

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    count = 0
    with atomic_path(out) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            video = None
            sound = None
            size: tuple[int, int] | None = None
            for image in frames:
                image = np.asarray(image)
                if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                    raise DataError(f"{out}: frames must be [H, W, 3] uint8, got {image.dtype} {image.shape}")
                if video is None:
                    size = image.shape[:2]
                    video = container.add_stream("libx264", rate=rate)
                    video.width, video.height = _even(size[1]), _even(size[0])
                    video.pix_fmt = "yuv420p"
                    video.options = {"crf": str(crf), "preset": "veryfast"}
                    if audio is not None:  # every stream must exist before the first packet
                        sound = container.add_stream("aac", rate=audio_rate)
                        sound.layout = "mono"
                elif image.shape[:2] != size:
                    raise DataError(f"{out}: frame {count} is {image.shape[:2]}, expected {size}")
                if image.shape[0] % 2 or image.shape[1] % 2:
                    image = np.pad(image, ((0, image.shape[0] % 2), (0, image.shape[1] % 2), (0, 0)), mode="edge")
                for packet in video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                    container.mux(packet)
                count += 1
                if progress is not None:
                    progress(count)
            if video is None:
                raise DataError(f"{out}: no frames to write")
            for packet in video.encode():
                container.mux(packet)
            if sound is not None:
                for frame in _audio_frames(Path(audio), sound, count / float(fps)):
                    for packet in sound.encode(frame):
                        container.mux(packet)
                for packet in sound.encode():
                    container.mux(packet)
    return out
