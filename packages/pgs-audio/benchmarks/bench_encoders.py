"""Encoding speed of every audio encoder on 60 s of audio on CPU, as a real-time factor.

Run with ``make bench`` or::

    .venv/bin/pytest packages/pgs-audio/benchmarks -o python_files='bench_*.py' --benchmark-enable

RTF = encoding time / audio duration (below 1: faster than real time). HuBERT / wav2vec2 run
their full published architectures with random weights (same cost as the real checkpoints).
Each result's ``extra_info`` holds the RTF and the ratio to the ``mel`` encoder timed in the same
session, which is the figure to compare across machines.
"""

from __future__ import annotations

import math

import pytest
import torch

from pgs.audio import create_encoder

SECONDS = 60.0
RATE = 16000
ENCODERS = {
    "mel": {},
    "mfcc": {},
    "hubert": {"random_init": True},  # large_asr: ER-NeRF's model size
    "wav2vec2": {"random_init": True},  # base
}
_TIMES: dict[str, float] = {}


def _audio() -> torch.Tensor:
    t = torch.arange(int(SECONDS * RATE), dtype=torch.float64) / RATE
    wave = 0.3 * torch.sin(2 * math.pi * 150 * t) * (0.5 + 0.5 * torch.sin(2 * math.pi * 4 * t)) ** 2
    noise = torch.randn(t.shape[0], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return (wave + 0.01 * noise).float()


@pytest.mark.bench
@pytest.mark.parametrize("name", list(ENCODERS))
def test_encode_60s(benchmark, name: str) -> None:  # type: ignore[no-untyped-def]
    """Offline encoding of 60 s with one encoder."""
    encoder = create_encoder(name, **ENCODERS[name])
    wave = _audio()
    rounds = 3 if name in ("mel", "mfcc") else 1
    feats = benchmark.pedantic(lambda: encoder.encode(wave, RATE), rounds=rounds, iterations=1, warmup_rounds=0)
    assert feats.num_frames == 1500
    seconds = benchmark.stats.stats.mean
    _TIMES[name] = seconds
    benchmark.extra_info["rtf"] = seconds / SECONDS
    if "mel" in _TIMES:
        benchmark.extra_info["ratio_to_mel"] = seconds / _TIMES["mel"]


@pytest.mark.bench
def test_streaming_mel_20ms_chunks(benchmark) -> None:  # type: ignore[no-untyped-def]
    """Streaming mel over 10 s pushed in 20 ms chunks."""
    encoder = create_encoder("mel")
    wave = _audio()[: 10 * RATE]

    def run() -> int:
        stream = encoder.streaming()  # type: ignore[attr-defined]
        frames = 0
        for start in range(0, wave.shape[0], 320):
            frames += stream.push(wave[start : start + 320]).shape[0]
        return frames + stream.flush().shape[0]

    assert benchmark.pedantic(run, rounds=2, iterations=1) == 250
    benchmark.extra_info["rtf"] = benchmark.stats.stats.mean / 10.0
    benchmark.extra_info["ms_per_20ms_chunk"] = benchmark.stats.stats.mean / 500 * 1000
