from __future__ import annotations

import pytest

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
