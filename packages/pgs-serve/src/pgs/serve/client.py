"""A Python WebRTC client of ``pgs serve`` (aiortc): the tests' and the benchmark's browser stand-in.

`LiveClient` offers a connection (optionally sending a WAV file as its microphone, played in real
time), receives the avatar's video and audio, and records when each frame arrived. The server's
own figures come over the ``stats`` data channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class BusyError(RuntimeError):
    """The server answered 503: every session slot is taken."""


@dataclass
class Received:
    """What a client got.

    Attributes:
        times: monotonic arrival time of each video frame.
        pts: each frame's presentation timestamp (90 kHz, from the first frame received).
        frames: the frames as [H, W, 3] uint8 (only when the client keeps them).
        audio_frames: audio frames received.
        stats: the last server figures from the data channel.
    """

    times: list[float] = field(default_factory=list)
    pts: list[int] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    audio_frames: int = 0
    stats: dict = field(default_factory=dict)


class LiveClient:
    """One WebRTC session with a ``pgs serve`` server.

    Args:
        base_url: e.g. ``http://127.0.0.1:8010``.
        microphone: an audio file sent as the microphone track (played in real time), or None.
        keep_frames: keep the decoded frames (tests) or only their times (benchmark).
        loop: play the microphone file over and over.
    """

    def __init__(
        self, base_url: str, microphone: str | Path | None = None, keep_frames: bool = True, loop: bool = False
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.microphone = microphone
        self.keep_frames = keep_frames
        self.loop = loop
        self.received = Received()
        self.session: str | None = None
        self._pc = None
        self._player = None
        self._tasks: list[asyncio.Task] = []

    async def connect(self) -> LiveClient:
        """Negotiate; returns once the answer is applied (frames then start to arrive).

        Raises:
            BusyError: the server has no free session.
            RuntimeError: any other refusal (its JSON error message).
        """
        import aiohttp
        from aiortc import RTCPeerConnection, RTCSessionDescription
        from aiortc.contrib.media import MediaPlayer

        pc = RTCPeerConnection()
        self._pc = pc
        if self.microphone is not None:
            self._player = MediaPlayer(str(self.microphone), loop=self.loop)
            pc.addTrack(self._player.audio)
        else:
            pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
        channel = pc.createDataChannel("stats")

        @channel.on("message")
        def on_message(message: str) -> None:
            with contextlib.suppress(ValueError):
                self.received.stats = json.loads(message)

        @pc.on("track")
        def on_track(track: object) -> None:
            self._tasks.append(asyncio.ensure_future(self._read(track)))

        await pc.setLocalDescription(await pc.createOffer())
        offer = {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{self.base_url}/offer", json=offer) as response:
                body = await response.json()
                if response.status == 503:
                    await pc.close()
                    raise BusyError(body.get("error", "busy"))
                if response.status != 200:
                    await pc.close()
                    raise RuntimeError(body.get("error", f"HTTP {response.status}"))
        self.session = body["session"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type=body["type"]))
        return self

    async def _read(self, track: object) -> None:
        from aiortc.mediastreams import MediaStreamError

        while True:
            try:
                frame = await track.recv()  # type: ignore[attr-defined]
            except MediaStreamError:
                return
            if getattr(track, "kind", "") == "audio":
                self.received.audio_frames += 1
                continue
            self.received.times.append(time.monotonic())
            self.received.pts.append(int(frame.pts or 0))
            if self.keep_frames:
                self.received.frames.append(frame.to_ndarray(format="rgb24"))

    async def speak(self, audio: str | Path) -> dict:
        """Upload an audio file for the avatar to say now; returns the JSON answer."""
        import aiohttp

        data = aiohttp.FormData()
        data.add_field("audio", Path(audio).read_bytes(), filename=Path(audio).name)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{self.base_url}/session/{self.session}/speak", data=data) as response:
                body = await response.json()
                if response.status != 200:
                    raise RuntimeError(body.get("error", f"HTTP {response.status}"))
                return body

    async def server_stats(self) -> dict:
        """``GET /session/{id}/stats``."""
        import aiohttp

        async with aiohttp.ClientSession() as http:
            async with http.get(f"{self.base_url}/session/{self.session}/stats") as response:
                return await response.json()

    async def close(self) -> None:
        """Hang up (the server frees the slot when the connection closes)."""
        for task in self._tasks:
            task.cancel()
        if self._player is not None and self._player.audio is not None:
            self._player.audio.stop()
        if self._pc is not None:
            await self._pc.close()


def frame_rate(times: list[float], start: float | None = None, end: float | None = None) -> float:
    """Frames per second between `start` and `end` (monotonic times; default: the whole span)."""
    t = np.asarray(times)
    if start is not None:
        t = t[t >= start]
    if end is not None:
        t = t[t <= end]
    if t.size < 2:
        return 0.0
    return float((t.size - 1) / (t[-1] - t[0]))


async def run_sessions_async(url: str, sessions: int, seconds: float, microphone: str | Path) -> list[dict]:
    """Open `sessions` clients sending `microphone` (looped) for `seconds`; the figures of each.

    Returns:
        Per session: ``fps`` (received after a 2 s warm-up, client side), ``latency_p50_ms`` and
        ``latency_p95_ms`` (server side), ``frames_received``, ``frames_sent``, ``frames_dropped``.
    """
    clients = [LiveClient(url, microphone=microphone, keep_frames=False, loop=True) for _ in range(sessions)]
    for client in clients:
        await client.connect()
    await asyncio.sleep(seconds)
    results = []
    for client in clients:
        stats = await client.server_stats()
        times = client.received.times
        results.append(
            {
                "fps": round(frame_rate(times, times[0] + 2.0), 2) if times else 0.0,
                "latency_p50_ms": stats.get("latency_p50_ms"),
                "latency_p95_ms": stats.get("latency_p95_ms"),
                "frames_received": len(times),
                "frames_sent": stats.get("frames_sent"),
                "frames_dropped": stats.get("frames_dropped"),
            }
        )
    for client in clients:
        await client.close()
    return results


def run_sessions(url: str, sessions: int, seconds: float, microphone: str | Path) -> list[dict]:
    """`run_sessions_async` on a new event loop (e.g. in a separate client process)."""
    return asyncio.run(run_sessions_async(url, sessions, seconds, microphone))
