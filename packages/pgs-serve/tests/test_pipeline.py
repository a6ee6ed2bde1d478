"""`SessionPipeline` without WebRTC: windows against the offline encoder, audio alignment, latency, idle."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import torch

from pgs.audio.io import load_audio
from pgs.core.inference import ping_pong
from pgs.core.registry import registry
from pgs.serve.engine import HeadEngine
from pgs.serve.pipeline import TICK, SessionPipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(tiny: dict[str, Path]) -> HeadEngine:
    return HeadEngine(tiny["avatar"], "cpu")


def _drain(pipeline: SessionPipeline) -> list[tuple[int, torch.Tensor, np.ndarray, float]]:
    jobs = []
    while not pipeline._jobs.empty():
        jobs.append(pipeline._jobs.get_nowait())
    return jobs


async def _noop(frame: object) -> None:
    return None


@pytest.mark.parametrize("lookahead", [3, 1, 0])
def test_windows_match_the_offline_encoder(engine: HeadEngine, tiny: dict[str, Path], lookahead: int) -> None:
    """Lookahead 3 gives the offline windows exactly; lookahead L < 3 repeats frame i+L in the later slots."""
    speech, rate = load_audio(tiny["speaker"] / "aud.wav", engine.sample_rate)
    pipeline = SessionPipeline(engine, _noop, lookahead)
    pipeline.say(speech.numpy())
    ticks = int(len(speech) / (rate * TICK)) - 12  # stay inside the utterance
    jobs = []
    for k in range(ticks):
        pipeline.tick(now=k * TICK)
        jobs += _drain(pipeline)
    offline = registry("pgs.audio_encoders").create("mel").encode(speech, rate)
    assert len(jobs) >= 20
    spf = engine.samples_per_frame
    for index, window, block, arrival in jobs:
        expected = offline.window(index)
        if lookahead < 3:
            last = index + lookahead
            expected = expected.clone()
            for slot in range(4 + lookahead + 1, 8):
                expected[slot] = offline.features[last]
        torch.testing.assert_close(window, expected, atol=1e-4, rtol=1e-4)
        # the frame's own audio leaves with it, and its arrival is when the clock took it
        np.testing.assert_array_equal(block, speech.numpy()[index * spf : (index + 1) * spf])
        assert arrival == pytest.approx((index * spf // pipeline.tick_samples) * TICK)
    assert [j[0] for j in jobs] == list(range(len(jobs)))


def test_silence_idles_and_speech_interrupts(engine: HeadEngine) -> None:
    """Without input the windows are silence features; speech queued later shows up at once."""
    pipeline = SessionPipeline(engine, _noop, 1)
    silence = engine.silence_window()
    jobs = []
    for k in range(40):
        pipeline.tick(now=k * TICK)
        jobs += _drain(pipeline)
    assert len(jobs) >= 12
    for _, window, block, _ in jobs[4:]:  # after the zero-padded start
        torch.testing.assert_close(window, silence[4:5].expand_as(window), atol=1e-5, rtol=0)
        assert not block.any()
    tone = (0.3 * np.sin(np.arange(16000) * 2 * np.pi * 220 / 16000)).astype(np.float32)
    first_new = pipeline._pushed // engine.samples_per_frame
    pipeline.say(tone)
    later = []
    for k in range(40, 70):
        pipeline.tick(now=k * TICK)
        later += _drain(pipeline)
    speaking = [j for j in later if j[0] >= first_new + 1]
    assert speaking and all(np.abs(j[2]).max() > 0.1 for j in speaking)
    assert not torch.allclose(speaking[-1][1], silence[4:5].expand_as(speaking[-1][1]))


def test_a_microphone_burst_is_trimmed(engine: HeadEngine) -> None:
    """A live source that delivers far more than real time does not build up unbounded latency."""
    pipeline = SessionPipeline(engine, _noop, 1)
    pipeline.feed_live(np.zeros(engine.sample_rate * 2, dtype=np.float32))  # 2 s at once
    pipeline.tick(now=0.0)
    assert pipeline._inbox_live <= 0.1 * engine.sample_rate


def test_render_loop_drops_all_but_the_newest_when_behind(engine: HeadEngine) -> None:
    sent = []

    async def emit(frame: object) -> None:
        sent.append(frame)

    async def run() -> None:
        pipeline = SessionPipeline(engine, emit, 1)
        for k in range(30):  # ~0.6 s of audio queued at once, nothing rendered yet
            pipeline.tick(now=k * TICK)
        queued = pipeline._jobs.qsize()
        task = asyncio.ensure_future(pipeline._render_loop())
        for _ in range(200):
            await asyncio.sleep(0.01)
            if len(sent) >= queued:
                break
        pipeline.closed = True
        task.cancel()
        assert queued >= 5
        assert [f.index for f in sent] == list(range(queued))  # every frame's audio leaves, in order
        images = [f for f in sent if f.image is not None]
        assert len(images) == 1 and images[0].index == queued - 1
        assert pipeline.stats.frames_dropped == queued - 1

    asyncio.run(run())


def test_engine_replays_poses_in_ping_pong(engine: HeadEngine) -> None:
    window = engine.silence_window()
    n = len(engine.replay)
    a = engine.render(1, window)
    b = engine.render(2 * n - 3, window)  # ping_pong(2n-3, n) == 1
    assert ping_pong(2 * n - 3, n) == 1
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, engine.render(n - 1, window))


def test_a_checkpoint_serves_like_its_avatar(engine: HeadEngine, tiny: dict[str, Path]) -> None:
    """A .pt replays its training folder (decoded once at start): the same frames as the avatar file."""
    from pgs.core.errors import DataError

    by_checkpoint = HeadEngine(tiny["checkpoint"], "cpu", threads=1)
    assert len(by_checkpoint.replay) == len(engine.replay)
    window = engine.silence_window()
    np.testing.assert_array_equal(by_checkpoint.render(3, window), engine.render(3, window))
    with pytest.raises(DataError, match="CUDA is not available"):
        if not torch.cuda.is_available():
            HeadEngine(tiny["avatar"], "cuda")
        else:  # pragma: no cover - a GPU machine
            raise DataError("CUDA is not available (skipped: a GPU is present)")


def test_a_frame_that_fails_to_render_does_not_end_the_session(
    engine: HeadEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = []
    real = engine.render_async

    async def flaky(index: int, window: torch.Tensor) -> np.ndarray:
        if index == 2:
            raise RuntimeError("simulated render failure")
        return await real(index, window)

    async def emit(frame: object) -> None:
        sent.append(frame)

    monkeypatch.setattr(engine, "render_async", flaky)

    async def run() -> SessionPipeline:
        pipeline = SessionPipeline(engine, emit, 1)
        task = asyncio.ensure_future(pipeline._render_loop())
        k = 0
        while len(sent) < 6 and k < 400:  # feed ticks in real time so no frame is dropped for lag
            pipeline.tick(now=k * TICK)
            k += 1
            await asyncio.sleep(TICK)
        pipeline.closed = True
        task.cancel()
        return pipeline

    pipeline = asyncio.run(run())
    by_index = {f.index: f for f in sent}
    assert by_index[2].image is None and by_index[2].audio.shape == (engine.samples_per_frame,)
    assert any(f.image is not None for f in sent if f.index > 2)
    assert pipeline.stats.frames_dropped >= 1
