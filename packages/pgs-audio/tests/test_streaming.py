from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pgs_audio_testkit import round_half_up, speechlike

from pgs.audio import create_encoder
from pgs.core.errors import DataError


def _stream(enc, wave: torch.Tensor, sizes: list[int]) -> tuple[torch.Tensor, list[tuple[int, int]]]:  # type: ignore[no-untyped-def]
    stream = enc.streaming(enc.sample_rate)
    outs, log = [], []
    pos, j = 0, 0
    while pos < wave.shape[0]:
        size = sizes[j % len(sizes)]
        j += 1
        out = stream.push(wave[pos : pos + size])
        pos = min(pos + size, wave.shape[0])
        outs.append(out)
        log.append((pos, stream.frames_emitted))
    outs.append(stream.flush())
    return torch.cat(outs), log


@settings(max_examples=20, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=80, max_value=3000), min_size=1, max_size=6),
    kind=st.sampled_from(["mel", "mfcc"]),
    fps=st.sampled_from([25.0, 30.0, 60.0]),
    seconds=st.floats(min_value=0.1, max_value=2.0),
)
def test_streaming_equals_offline(sizes: list[int], kind: str, fps: float, seconds: float) -> None:
    enc = create_encoder(kind, fps=fps)
    wave = speechlike(seconds, seed=len(sizes))
    offline = enc.encode(wave, 16000).features
    online, _ = _stream(enc, wave, sizes)
    assert online.shape == offline.shape
    torch.testing.assert_close(online, offline, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fps", [25.0, 30.0])
def test_lookahead_is_bounded(fps: float) -> None:
    # 20 ms chunks: after pushing audio up to time T, every frame i with i/fps + lookahead <= T and
    # i < round(T * fps) is out, and none needing audio beyond T
    enc = create_encoder("mel", fps=fps)
    lookahead = enc.lookahead_seconds  # type: ignore[attr-defined]
    assert lookahead == pytest.approx(0.15 + 256 / 16000)
    wave = speechlike(3.0)
    _, log = _stream(enc, wave, [320])
    for received, emitted in log:
        t = received / 16000
        exists = round_half_up(received, 16000, fps)
        ready = sum(1 for i in range(200) if i / fps + lookahead <= t + 1e-9 and i < exists)
        assert emitted == ready
        # the delay of the newest frame never exceeds the look-ahead plus one chunk
        if emitted:
            assert t - (emitted - 1) / fps <= lookahead + 0.02 + 1 / fps


def test_memory_stays_bounded() -> None:
    enc = create_encoder("mel")
    stream = enc.streaming()
    wave = speechlike(10.0)
    for s in range(0, wave.shape[0], 320):
        stream.push(wave[s : s + 320])
        assert stream._buffer.shape[0] < 16000  # keeps well under 1 s of audio
    assert stream.flush().shape[0] + stream.frames_emitted >= 250


def test_stream_errors() -> None:
    enc = create_encoder("mfcc")
    with pytest.raises(ValueError, match="16000 Hz"):
        enc.streaming(48000)
    stream = enc.streaming()
    bad = speechlike(0.1)
    bad[10] = float("nan")
    with pytest.raises(DataError, match="NaN"):
        stream.push(bad)
    stream = enc.streaming()
    stream.push(speechlike(0.01))
    with pytest.raises(DataError, match="shorter than one video frame"):
        stream.flush()
    stream = enc.streaming()
    stream.push(speechlike(0.5))
    stream.flush()
    with pytest.raises(DataError, match="after flush"):
        stream.push(speechlike(0.1))
    assert stream.flush().shape == (0, 16, 13)
