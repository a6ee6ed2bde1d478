"""Writing rendered frames as an H.264 MP4 with the driving audio muxed in (PyAV; no system FFmpeg).

The audio track is decoded by `pgs.core.io.audio` (WAV, FLAC, MP3, M4A, the audio of an MP4),
resampled to the track's rate, cut to the video's duration and encoded as AAC. The file is written
next to its destination and renamed into place, so a failure never leaves a half-written video.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

from pgs.core.errors import DataError
from pgs.core.io.atomic import atomic_path
from pgs.core.progress import Progress, report

#: Samples per audio frame handed to the AAC encoder (it re-frames them as needed).
AUDIO_FRAME_SAMPLES = 1024


def _even(n: int) -> int:
    return n + (n % 2)


def _audio_frames(path: Path, stream_out: object, duration: float) -> Iterable[object]:
    """`path`'s audio (`pgs.core.io.audio.decode_audio`) as mono frames at the output rate, cut to `duration`."""
    import av

    from pgs.core.io.audio import decode_audio

    rate = int(stream_out.codec_context.sample_rate)  # type: ignore[attr-defined]
    samples, _ = decode_audio(path, rate)
    samples = np.clip(samples[: round(duration * rate)], -1.0, 1.0)
    for start in range(0, samples.size, AUDIO_FRAME_SAMPLES):
        frame = av.AudioFrame.from_ndarray(
            samples[None, start : start + AUDIO_FRAME_SAMPLES], format="fltp", layout="mono"
        )
        frame.sample_rate = rate
        yield frame


def write_mp4(
    frames: Iterable[np.ndarray],
    out: str | Path,
    fps: float = 25.0,
    audio: str | Path | None = None,
    audio_rate: int = 16000,
    crf: int = 18,
    progress: Progress | None = None,
) -> Path:
    """Encode frames as H.264 (yuv420p) with optional AAC audio.

    Args:
        frames: [H, W, 3] uint8 RGB images, all of one size (odd sizes are padded by one pixel).
        out: destination ``.mp4``.
        fps: video frame rate.
        audio: an audio (or video) file whose audio is muxed in, cut to the video duration.
        audio_rate: sample rate of the AAC track.
        crf: x264 constant rate factor (lower is better quality).
        progress: called as ``progress("encode", frames written so far, None)``.

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
                report(progress, "encode", count)
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
