"""Canonical tri-plane features are reused without gradients (stage 3), recomputed with them."""

from __future__ import annotations

import torch

from pgs.core.model.branch import Branch, BranchConfig
from pgs.core.run_config import FusionChoice

from .conftest import TEST_FUSION

CHANNELS = 5


def _branch() -> Branch:
    torch.manual_seed(0)
    config = BranchConfig(num_points=50, fusion=FusionChoice(name=TEST_FUSION))
    branch = Branch(config, audio_channels=CHANNELS)
    with torch.no_grad():
        branch.encoder.planes.uniform_(-1, 1)
    return branch.train()


def test_no_grad_in_training_mode_reuses_exact_features():
    branch = _branch()
    with torch.no_grad():
        first = branch.spatial_features()
        second = branch.spatial_features()
    assert second is first  # cached
    assert torch.equal(first, branch.encoder(branch.params["means"]).detach())


def test_gradients_recompute_and_changes_invalidate():
    branch = _branch()
    with torch.no_grad():
        cached = branch.spatial_features()
    live = branch.spatial_features()  # gradients on: never the cache
    assert live.requires_grad and live is not cached
    live.sum().backward()
    assert branch.params["means"].grad is not None
    optimizer = torch.optim.SGD([branch.params["means"]], lr=0.1)
    optimizer.step()  # in-place update: version counter moves
    with torch.no_grad():
        after = branch.spatial_features()
    assert after is not cached
    assert torch.equal(after, branch.encoder(branch.params["means"]).detach())
    assert not torch.equal(after, cached)
