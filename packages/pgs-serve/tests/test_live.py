"""The server on 127.0.0.1 with Python aiortc clients: frame rate, speech vs silence, sessions, bad input."""

from __future__ import annotations

import asyncio
import io
import time
import wave
from pathlib import Path

import aiohttp
import av
import numpy as np
import pytest

from pgs.serve.client import BusyError, LiveClient, frame_rate

pytestmark = pytest.mark.slow


def _mouth_box(speaker: Path) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of the lip landmarks of the replayed frame, 2 px margin."""
    import json

    lms = np.load(speaker / "landmarks.npy")
    img_id = json.loads((speaker / "transforms_train.json").read_text())["frames"][0]["img_id"]
    lips = lms[int(img_id), 48:68]
    x0, y0 = np.floor(lips.min(0)).astype(int) - 2
    x1, y1 = np.ceil(lips.max(0)).astype(int) + 3
    return max(x0, 0), max(y0, 0), x1, y1


#: Share of the machine's render capacity a session must get: the event loop (audio encoder,
#: video encoder, WebRTC) and the client in this same process take the rest.
CAPACITY_SHARE = 0.4
#: The floor where the machine has the capacity for more (the server paces at 25 fps).
FLOOR_FPS = 12.0


def _required_fps(server: object, *sessions: int) -> list[float]:
    """The frame rate each live session must at least reach on this machine, for each session count.

    `FLOOR_FPS` (about half the 25 fps pacing: CI runs another test worker beside these tests,
    whose load comes and goes) where the server's render thread has the capacity for it, else
    `CAPACITY_SHARE` of what that thread can render per session (median of 10 renders, measured
    now). The 25 fps goal itself is a benchmark figure (``benchmarks/bench_serve.py``), not a
    timed test: on one machine of this project's kind, idle, the median render of this tiny head
    measured anywhere from 11 to 44 ms.
    """
    per_render = float(np.median(server.render_seconds(10)))  # type: ignore[attr-defined]
    return [min(FLOOR_FPS, CAPACITY_SHARE / (n * per_render)) for n in sessions]


def _assert_paced(times: list[float], required: float, start: float, end: float | None = None) -> None:
    """Throughput of at least `required` fps, never above the 25 fps pacing, even spacing."""
    fps = frame_rate(times, start, end)
    t = np.asarray(times)
    t = t[(t >= start) & (t <= (end if end is not None else np.inf))]
    spacing = float(np.median(np.diff(t)))
    assert required <= fps <= 30.0, (fps, required)
    assert 0.030 <= spacing <= max(0.050, 1.0 / required), (spacing, required)


async def _wait_until(predicate: object, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)
    return False


def test_microphone_session_25fps_and_the_mouth_follows_speech(server: object, tiny: dict[str, Path]) -> None:
    """Stream the speaker's WAV as the microphone, then silence: ~25 fps, both tracks, mouth moves with speech."""
    speech = tiny["speaker"] / "aud.wav"
    (required,) = _required_fps(server, 1)

    async def run() -> LiveClient:
        client = await LiveClient(server.url, microphone=speech).connect()  # type: ignore[attr-defined]
        await asyncio.sleep(4.5)  # 2.4 s of speech, then the idle head
        stats = await client.server_stats()
        await client.close()
        client.received.stats = stats
        return client

    client = asyncio.run(run())
    got = client.received
    least = required * 4.4  # frames in the 4.5 s streamed
    assert len(got.frames) >= least, (len(got.frames), required)
    assert got.audio_frames >= 150  # 20 ms frames: about 50 per second
    _assert_paced(got.times, required, got.times[0] + 0.5)
    pts = np.asarray(got.pts)
    steps = np.diff(pts)
    assert (steps > 0).all() and (steps % 3600 == 0).all()  # on the 25 fps clock (90 kHz), drops skipped
    assert got.stats["frames_sent"] >= least and got.stats["latency_p95_ms"] < 1000
    x0, y0, x1, y1 = _mouth_box(tiny["speaker"])
    frames = np.stack(got.frames).astype(np.float32)
    idle = frames[-15:]  # long after the speech ended: constant pose, silence features
    reference = idle.mean(0)
    mouth = np.abs(frames[:, y0:y1, x0:x1] - reference[y0:y1, x0:x1]).mean(axis=(1, 2, 3))
    idle_noise = float(np.median(mouth[-15:]))  # video codec noise only
    shown = (pts >= 8 * 3600) & (pts < 50 * 3600)  # stream frames 8-49: while the WAV played
    speaking = float(np.median(mouth[shown]))
    assert speaking > 2.5 * idle_noise + 0.5, (speaking, idle_noise, mouth.round(2))


def test_two_sessions_closing_one_leaves_the_other_untouched(server: object) -> None:
    two, one = _required_fps(server, 2, 1)

    async def run() -> tuple[LiveClient, LiveClient, float]:
        a = await LiveClient(server.url, keep_frames=False).connect()  # type: ignore[attr-defined]
        b = await LiveClient(server.url, keep_frames=False).connect()  # type: ignore[attr-defined]
        await asyncio.sleep(2.0)
        assert server.sessions() == 2  # type: ignore[attr-defined]
        with pytest.raises(BusyError, match="busy"):
            await LiveClient(server.url, keep_frames=False).connect()  # type: ignore[attr-defined]
        cut = time.monotonic()
        await a.close()  # a client that hangs up mid-stream
        assert await _wait_until(lambda: server.sessions() == 1, 10.0)  # type: ignore[attr-defined]
        await asyncio.sleep(2.0)
        await b.close()
        assert await _wait_until(lambda: server.sessions() == 0, 10.0)  # type: ignore[attr-defined]
        return a, b, cut

    _, b, cut = asyncio.run(run())
    _assert_paced(b.received.times, two, b.received.times[0] + 0.5, cut)
    _assert_paced(b.received.times, one, cut + 0.3)
    gaps = np.diff([t for t in b.received.times if t > cut])
    assert gaps.max() < max(0.3, 3.0 / one), gaps.max()  # no stall when the other session went away


def _wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
    return buffer.getvalue()


def test_bad_uploads_get_one_line_errors_and_the_session_goes_on(server: object, tiny: dict[str, Path]) -> None:
    async def post(http: aiohttp.ClientSession, url: str, payload: bytes, name: str = "audio") -> tuple[int, dict]:
        form = aiohttp.FormData()
        form.add_field(name, payload, filename="clip.wav")
        async with http.post(url, data=form) as response:
            return response.status, await response.json()

    async def run() -> LiveClient:
        client = await LiveClient(server.url, keep_frames=False).connect()  # type: ignore[attr-defined]
        base = f"{server.url}/session/{client.session}/speak"  # type: ignore[attr-defined]
        async with aiohttp.ClientSession() as http:
            cases = {
                "not audio": (b"this is not an audio file at all" * 10, "audio"),
                "low rate": (_wav_bytes(np.zeros(4000), 2000), "audio"),
                "wrong field": (_wav_bytes(np.zeros(16000), 16000), "sound"),
                "too short": (_wav_bytes(np.zeros(100), 16000), "audio"),
            }
            for label, (payload, field) in cases.items():
                status, body = await post(http, base, payload, field)
                assert status == 400, (label, status, body)
                assert "\n" not in body["error"] and body["error"].startswith("audio:"), (label, body)
            status, body = await post(http, f"{server.url}/session/nope/speak", _wav_bytes(np.zeros(16000), 16000))  # type: ignore[attr-defined]
            assert status == 404 and "no such session" in body["error"]
            async with http.post(f"{server.url}/offer", data=b"{not json") as response:  # type: ignore[attr-defined]
                assert response.status == 400
            # a good file at another rate is resampled and spoken
            status, body = await post(
                http, base, _wav_bytes(0.2 * np.random.default_rng(0).standard_normal(44100), 44100)
            )
            assert status == 200 and body["seconds"] == pytest.approx(1.0, abs=0.01)
        n = len(client.received.times)  # still streaming after the bad requests (rates: the tests above)
        assert await _wait_until(lambda: len(client.received.times) - n >= 10, 5.0), len(client.received.times) - n
        await client.close()
        return client

    asyncio.run(run())


def test_post_render_returns_an_mp4(server: object, tiny: dict[str, Path], tmp_path: Path) -> None:
    async def run() -> bytes:
        form = aiohttp.FormData()
        form.add_field("audio", (tiny["speaker"] / "aud.wav").read_bytes(), filename="aud.wav")
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{server.url}/render", data=form) as response:  # type: ignore[attr-defined]
                assert response.status == 200, await response.text()
                assert response.content_type == "video/mp4"
                return await response.read()

    data = asyncio.run(run())
    out = tmp_path / "render.mp4"
    out.write_bytes(data)
    with av.open(str(out)) as container:
        assert container.streams.audio, "the MP4 carries the audio"
        frames = sum(1 for _ in container.decode(video=0))
    with wave.open(str(tiny["speaker"] / "aud.wav")) as handle:
        expected = round(handle.getnframes() / handle.getframerate() * 25)
    assert frames == expected
