"""WebRTC media tracks of a session: the avatar's video and audio out, the microphone in.

The pipeline paces the frames (`pgs.serve.pipeline`); the tracks only hand them to aiortc with
timestamps derived from the frame number, so picture and sound share one clock. Each track keeps
a short queue; a peer that does not read a track (e.g. it negotiated video only) makes it drop its
oldest entries instead of growing without bound.
"""

from __future__ import annotations

import asyncio
import fractions
import logging

import av
import numpy as np
from aiortc import MediaStreamTrack

from pgs.serve.pipeline import OutputFrame

VIDEO_CLOCK = 90000
#: Audio leaves in 20 ms frames.
AUDIO_FRAME_SECONDS = 0.02
_QUEUE = 50


def _put_latest(queue: asyncio.Queue, item: object) -> None:
    if queue.full():
        try:
            queue.get_nowait()
        except asyncio.QueueEmpty:  # pragma: no cover - single consumer
            pass
    queue.put_nowait(item)


class AvatarVideoTrack(MediaStreamTrack):
    """The rendered frames (rgb24), timestamped ``index / fps`` on the 90 kHz video clock."""

    kind = "video"

    def __init__(self, fps: float) -> None:
        super().__init__()
        self.fps = fps
        self._queue: asyncio.Queue[av.VideoFrame] = asyncio.Queue(_QUEUE)

    def push(self, frame: OutputFrame) -> None:
        """Queue a rendered frame (dropped frames carry no image and are skipped)."""
        if frame.image is None:
            return
        video = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame.image), format="rgb24")
        video.pts = round(frame.index * VIDEO_CLOCK / self.fps)
        video.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        _put_latest(self._queue, video)

    async def recv(self) -> av.VideoFrame:
        """The next frame (waits for it)."""
        if self.readyState != "live":
            raise _media_error()
        return await self._queue.get()


class AvatarAudioTrack(MediaStreamTrack):
    """The sound of each frame (mono s16), in 20 ms frames timestamped in samples."""

    kind = "audio"

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.rate = sample_rate
        self.samples = round(sample_rate * AUDIO_FRAME_SECONDS)
        self._queue: asyncio.Queue[av.AudioFrame] = asyncio.Queue(_QUEUE * 2)

    def push(self, frame: OutputFrame) -> None:
        """Queue the frame's audio block, cut into 20 ms frames."""
        block = frame.audio
        start = frame.index * len(block)
        for offset in range(0, len(block), self.samples):
            part = block[offset : offset + self.samples]
            audio = av.AudioFrame.from_ndarray(part.reshape(1, -1), format="s16", layout="mono")
            audio.sample_rate = self.rate
            audio.pts = start + offset
            audio.time_base = fractions.Fraction(1, self.rate)
            _put_latest(self._queue, audio)

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms of sound (waits for it)."""
        if self.readyState != "live":
            raise _media_error()
        return await self._queue.get()


def _media_error() -> Exception:
    from aiortc.mediastreams import MediaStreamError

    return MediaStreamError()


async def consume_microphone(track: MediaStreamTrack, rate: int, feed: callable) -> None:  # type: ignore[valid-type]
    """Read a remote audio track until it ends, resampled to mono float32 at `rate`, into `feed`."""
    from aiortc.mediastreams import MediaStreamError

    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        try:
            for out in resampler.resample(frame):
                feed(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
        except (av.error.FFmpegError, ValueError) as exc:  # a malformed frame: stop listening, keep streaming
            logging.getLogger("pgs.serve").warning("microphone input ignored from now on: %s", exc)
            return
