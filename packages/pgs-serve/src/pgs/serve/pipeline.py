"""One session's live pipeline: audio in, paced video frames and audio blocks out.

Timeline. A 50 Hz clock takes 20 ms of audio per tick from the session's inbox (speech from the
microphone or an uploaded file; zeros when there is none, so the idle head is driven by silence
features) and pushes it into the streaming encoder. Video frame ``i`` shows the audio around
``t_i = i / fps``; it is rendered as soon as the encoder has emitted feature frame
``i + lookahead_frames`` (default 0). The window's later frames (the model reads frames
``i-4 .. i+3``) are filled with the last final one, which trades exactness for latency:
``lookahead_frames=3`` gives the offline features exactly at 120 ms more delay. Each video frame
leaves together with the audio of ``[t_i, t_{i+1})``, so sound and picture stay in sync; head
poses replay in ping-pong whether or not anyone speaks.

When rendering falls behind, the frames waiting in line are dropped except the newest (their
audio still leaves), so latency stays bounded. Statistics: sustained FPS (frames sent in the last
2 s), audio-to-frame latency (from the arrival at the server of the audio sample at ``t_i`` to
the hand-over of frame ``i`` to the video track) and dropped frames.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from pgs.core.interfaces import AUDIO_WINDOW
from pgs.serve.engine import HeadEngine

log = logging.getLogger("pgs.serve")

#: Clock tick of the audio intake in seconds.
TICK = 0.02
#: A live source (microphone) holding more than this many seconds is trimmed to TRIM_TO.
MAX_LIVE_BACKLOG = 0.3
TRIM_TO = 0.06


@dataclass
class OutputFrame:
    """One video frame and the audio that leaves with it.

    Attributes:
        index: frame number in the session (pts = index / fps).
        image: [H, W, 3] uint8, or None when the frame was dropped.
        audio: [samples_per_frame] int16 mono at the engine's sample rate.
        latency: seconds from the arrival of the frame's audio to this hand-over (None if dropped).
    """

    index: int
    image: np.ndarray | None
    audio: np.ndarray
    latency: float | None


@dataclass
class _Chunk:
    samples: np.ndarray
    arrival: float | None  # None: counted as arriving when the clock takes it (file playback)


@dataclass
class SessionStats:
    """Counters of one session."""

    started: float = field(default_factory=time.monotonic)
    frames_sent: int = 0
    frames_dropped: int = 0
    latencies: collections.deque = field(default_factory=lambda: collections.deque(maxlen=500))
    sent_times: collections.deque = field(default_factory=lambda: collections.deque(maxlen=200))
    speaking: bool = False

    def as_dict(self) -> dict[str, float | int | bool | None]:
        """FPS over the last 2 s, latency p50/p95 (ms) over the last 500 frames, drop count."""
        now = time.monotonic()
        recent = [t for t in self.sent_times if now - t <= 2.0]
        span = min(2.0, now - self.started)
        fps = len(recent) / span if span > 0.2 else 0.0
        lat = np.asarray(self.latencies, dtype=np.float64) * 1000.0
        return {
            "fps": round(fps, 2),
            "latency_p50_ms": round(float(np.percentile(lat, 50)), 1) if lat.size else None,
            "latency_p95_ms": round(float(np.percentile(lat, 95)), 1) if lat.size else None,
            "frames_sent": self.frames_sent,
            "frames_dropped": self.frames_dropped,
            "speaking": self.speaking,
        }


class SessionPipeline:
    """Audio intake, streaming encoding and frame scheduling of one session.

    Args:
        engine: the shared head.
        emit: awaited with every `OutputFrame`, in frame order.
        lookahead_frames: future feature frames waited for before rendering (0-3).
    """

    def __init__(
        self, engine: HeadEngine, emit: Callable[[OutputFrame], Awaitable[None]], lookahead_frames: int = 0
    ) -> None:
        if not 0 <= lookahead_frames <= AUDIO_WINDOW // 2 - 1:
            raise ValueError(f"lookahead_frames must be 0..{AUDIO_WINDOW // 2 - 1}, got {lookahead_frames}")
        self.engine = engine
        self.emit = emit
        self.lookahead = lookahead_frames
        self.rate = engine.sample_rate
        self.spf = engine.samples_per_frame
        self.tick_samples = round(self.rate * TICK)
        self.stats = SessionStats()
        self._stream = engine.new_stream()
        steps, channels = engine.feature_shape
        self._features = torch.zeros(0, steps, channels)  # feature frames from _feat_base on
        self._feat_base = 0
        self._inbox: collections.deque[_Chunk] = collections.deque()
        self._inbox_live = 0  # samples of live chunks in the inbox
        self._file_until = 0.0  # monotonic time until which file playback owns the intake
        self._last_speech = -1e9
        self._pushed = 0  # samples pushed into the encoder so far
        self._audio = np.zeros(0, dtype=np.float32)  # pushed samples from _audio_base on
        self._audio_base = 0
        self._arrivals: collections.deque[tuple[int, float]] = collections.deque()  # (first sample, time)
        self._next_frame = 0  # next video frame to schedule
        self._jobs: asyncio.Queue[tuple[int, Tensor, np.ndarray, float]] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self.closed = False

    # ------------------------------------------------------------------ audio in
    def feed_live(self, samples: np.ndarray) -> None:
        """Add microphone samples (mono float32 at the engine's rate) as they arrive."""
        if self.closed or time.monotonic() < self._file_until:
            return
        self._inbox.append(_Chunk(np.asarray(samples, dtype=np.float32), time.monotonic()))
        self._inbox_live += len(samples)

    def say(self, samples: np.ndarray) -> float:
        """Play a whole utterance (mono float32 at the engine's rate) now, interrupting what is queued.

        Returns:
            Its duration in seconds.
        """
        samples = np.asarray(samples, dtype=np.float32)
        self._inbox.clear()
        self._inbox_live = 0
        self._inbox.append(_Chunk(samples, None))
        duration = len(samples) / self.rate
        self._file_until = time.monotonic() + duration
        return duration

    def _take(self, n: int, now: float) -> np.ndarray:
        """Take `n` samples from the inbox (zeros where it runs dry); records their arrival times."""
        if self._inbox_live > MAX_LIVE_BACKLOG * self.rate:
            self._trim_live(int(TRIM_TO * self.rate))
        out = np.zeros(n, dtype=np.float32)
        filled = 0
        while filled < n and self._inbox:
            chunk = self._inbox[0]
            k = min(n - filled, len(chunk.samples))
            out[filled : filled + k] = chunk.samples[:k]
            self._arrivals.append((self._pushed + filled, now if chunk.arrival is None else chunk.arrival))
            if chunk.arrival is not None:
                self._inbox_live -= k
            if k == len(chunk.samples):
                self._inbox.popleft()
            else:
                chunk.samples = chunk.samples[k:]
            filled += k
        if filled < n:
            self._arrivals.append((self._pushed + filled, now))
        if filled:
            self._last_speech = now
        self.stats.speaking = now - self._last_speech < 0.5
        return out

    def _trim_live(self, keep: int) -> None:
        """Drop the oldest live samples so that `keep` remain (the client sent a burst)."""
        excess = self._inbox_live - keep
        while excess > 0 and self._inbox:
            chunk = self._inbox[0]
            k = min(excess, len(chunk.samples))
            if k == len(chunk.samples):
                self._inbox.popleft()
            else:
                chunk.samples = chunk.samples[k:]
            excess -= k
            self._inbox_live -= k

    def _arrival_of(self, sample: int) -> float:
        """Arrival time of global sample `sample` (the last segment starting at or before it)."""
        when = self._arrivals[0][1] if self._arrivals else time.monotonic()
        for start, t in self._arrivals:
            if start > sample:
                break
            when = t
        return when

    # ------------------------------------------------------------------ clock
    def tick(self, now: float | None = None) -> None:
        """Take one tick of audio, encode it and queue every frame that became renderable."""
        now = time.monotonic() if now is None else now
        samples = self._take(self.tick_samples, now)
        self._audio = np.concatenate([self._audio, samples])
        self._pushed += len(samples)
        feats = self._stream.push(torch.from_numpy(samples))
        if feats.shape[0]:
            self._features = torch.cat([self._features, feats])
        available = self._feat_base + self._features.shape[0]  # feature frames 0 .. available-1 are final
        while self._next_frame + self.lookahead < available:
            i = self._next_frame
            start = i * self.spf
            if self._audio_base + self._audio.shape[0] < start + self.spf:
                break  # the frame's own audio block is not complete yet
            block = self._audio[start - self._audio_base : start - self._audio_base + self.spf]
            self._jobs.put_nowait((i, self._window(i, available), block.copy(), self._arrival_of(start)))
            self._next_frame += 1
        self._forget()

    def _window(self, i: int, available: int) -> Tensor:
        """The [AUDIO_WINDOW, steps, channels] window of frame `i`.

        Frames i-4 .. i+3; zeros before frame 0; frames later than the last final one replaced by it.
        """
        half = AUDIO_WINDOW // 2
        idx = torch.arange(i - half, i - half + AUDIO_WINDOW).clamp(max=available - 1)
        inside = idx >= 0
        local = (idx - self._feat_base).clamp(min=0)
        window = self._features.index_select(0, local)
        return window * inside[:, None, None].to(window.dtype)

    def _forget(self) -> None:
        """Drop features, audio and arrival records no later frame needs."""
        keep_feat = max(0, self._next_frame - AUDIO_WINDOW) - self._feat_base
        if keep_feat > 64:
            self._features = self._features[keep_feat:]
            self._feat_base += keep_feat
        keep_audio = self._next_frame * self.spf - self._audio_base
        if keep_audio > 16 * self.spf:
            self._audio = self._audio[keep_audio:]
            self._audio_base += keep_audio
        while len(self._arrivals) > 1 and self._arrivals[1][0] <= self._next_frame * self.spf:
            self._arrivals.popleft()

    async def _clock(self) -> None:
        start = time.monotonic()
        k = 0
        while not self.closed:
            k += 1
            due = start + k * TICK
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.5:  # the loop stalled: resynchronise instead of bursting
                start, k = time.monotonic(), 0
            self.tick()

    # ------------------------------------------------------------------ rendering
    async def _render_loop(self) -> None:
        while not self.closed:
            job = await self._jobs.get()
            while not self._jobs.empty():  # behind: send the older frames' audio only
                index, _, block, _ = job
                self.stats.frames_dropped += 1
                await self.emit(OutputFrame(index, None, _to_int16(block), None))
                job = self._jobs.get_nowait()
            index, window, block, arrival = job
            try:
                image = await self.engine.render_async(index, window)
            except Exception:  # one bad frame must not end the session (or touch the others)
                log.exception("frame %d failed to render; sending its audio only", index)
                self.stats.frames_dropped += 1
                await self.emit(OutputFrame(index, None, _to_int16(block), None))
                continue
            if self.closed:
                return
            now = time.monotonic()
            latency = now - arrival
            self.stats.latencies.append(latency)
            self.stats.sent_times.append(now)
            self.stats.frames_sent += 1
            await self.emit(OutputFrame(index, image, _to_int16(block), latency))

    def start(self) -> None:
        """Start the clock and the render loop on the running event loop."""
        self._tasks = [asyncio.ensure_future(self._clock()), asyncio.ensure_future(self._render_loop())]

    async def stop(self) -> None:
        """Stop both tasks (idempotent)."""
        self.closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []


def _to_int16(block: np.ndarray) -> np.ndarray:
    return (np.clip(block, -1.0, 1.0) * 32767.0).astype(np.int16)
