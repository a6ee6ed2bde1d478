from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

FACE = {"spatial_dim": 36, "audio_dim": 32, "expression_dim": 6, "outputs": ["position", "scale", "rotation"]}
MOUTH = {
    "spatial_dim": 36,
    "audio_dim": 32,
    "expression_dim": 0,
    "outputs": ["position"],
    "position_axis_scale": [0.2, 1.0, 0.2],
}


@pytest.fixture(params=["face", "mouth"])
def branch(request: pytest.FixtureRequest) -> dict:
    return dict(FACE if request.param == "face" else MOUTH)


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    """These tests use small tensors: one intra-op thread avoids contention on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
