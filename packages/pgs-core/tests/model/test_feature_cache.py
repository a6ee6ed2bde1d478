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


def test_the_trainers_fused_optimizer_steps_invalidate_the_cache():
    """Fused Adam/AdamW write parameters without bumping their version counters; the trainer's bump them.

    Without that, an evaluation between two training steps kept the first step's features (seen as a
    2 dB lower held-out PSNR than the same checkpoint reloaded).
    """
    from pgs.core.training.config import TrainConfig
    from pgs.core.training.optimizers import gaussian_optimizers, network_optimizer

    branch = _branch()
    config = TrainConfig()
    optimizers = [*gaussian_optimizers(branch, config, 1e-2).values(), network_optimizer(branch, config)]
    for changed in ("means", "planes"):
        branch.eval()
        cached = branch.spatial_features()
        branch.train()
        features = branch.encoder(branch.params["means"])
        (features.square().sum() if changed == "planes" else branch.params["means"].square().sum()).backward()
        for optimizer in optimizers:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        branch.eval()
        after = branch.spatial_features()
        fresh = branch.encoder(branch.params["means"]).detach()
        assert torch.equal(after, fresh), changed
        assert not torch.equal(after, cached), changed
