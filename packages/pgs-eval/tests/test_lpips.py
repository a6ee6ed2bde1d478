from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from pgs.core.errors import DataError
from pgs.core.interfaces import EvaluationInputs
from pgs.eval.errors import MissingWeightsError
from pgs.eval.lpips_metric import LpipsConfig, LpipsEvaluator, build_lpips, lpips_distance


def _frames(seed: int, n: int = 2, size: int = 48) -> torch.Tensor:
    return torch.rand(n, size, size, 3, generator=torch.Generator().manual_seed(seed))


def test_random_backbone_gives_zero_for_identical_and_positive_otherwise() -> None:
    a, b = _frames(0), _frames(1)
    ev = LpipsEvaluator(LpipsConfig(region="full", random_backbone=True))
    same = ev.evaluate(EvaluationInputs(predicted=a, target=a.clone()))[0]
    diff = ev.evaluate(EvaluationInputs(predicted=a, target=b))[0]
    assert same.value == pytest.approx(0.0, abs=1e-7)
    assert diff.value > 1e-3
    assert not diff.higher_is_better
    assert "RANDOM backbone" in diff.protocol


def test_lpips_grows_with_distortion() -> None:
    model = build_lpips(random_backbone=True)
    a = _frames(2, 1, 64)
    noise = torch.randn(a.shape, generator=torch.Generator().manual_seed(3))
    small = lpips_distance(model, a, (a + 0.02 * noise).clamp(0, 1))
    large = lpips_distance(model, a, (a + 0.3 * noise).clamp(0, 1))
    assert 0 < small.item() < large.item()


def test_missing_backbone_is_a_clear_error_saying_how_to_get_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    a = _frames(0)
    for net, file_name in (("alex", "alexnet-owt-7be5be79.pth"), ("vgg", "vgg16-397923af.pth")):
        with pytest.raises(MissingWeightsError) as info:
            LpipsEvaluator(LpipsConfig(region="full", net=net)).evaluate(EvaluationInputs(predicted=a, target=a))
        message = str(info.value)
        assert file_name in message and "backbone_weights" in message
        assert str(tmp_path / "hub" / "checkpoints" / file_name) in message
    skipped = LpipsEvaluator(LpipsConfig(region="full", on_missing="skip")).evaluate(
        EvaluationInputs(predicted=a, target=a)
    )[0]
    assert skipped.value is None and skipped.note.startswith("weights not supplied")
    # an explicit path that does not exist is an error even with on_missing="skip"
    with pytest.raises(MissingWeightsError, match=r"nope\.pth"):
        LpipsEvaluator(
            LpipsConfig(region="full", on_missing="skip", backbone_weights=tmp_path / "nope.pth")
        ).evaluate(EvaluationInputs(predicted=a, target=a))


def test_backbone_weights_file_is_loaded_into_the_lpips_backbone(tmp_path: Path) -> None:
    import torchvision

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(123)
        reference = torchvision.models.alexnet(weights=None)
    path = tmp_path / "alexnet-owt-7be5be79.pth"
    torch.save(reference.state_dict(), path)
    model = build_lpips("alex", backbone_weights=path)
    conv_indices = [i for i, layer in enumerate(reference.features) if isinstance(layer, torch.nn.Conv2d)]
    loaded = {
        int(name): layer
        for block in model.net.children()
        for name, layer in block.named_children()
        if isinstance(layer, torch.nn.Conv2d)
    }
    assert sorted(loaded) == conv_indices
    for i in conv_indices:
        assert torch.equal(loaded[i].weight, reference.features[i].weight)
        assert torch.equal(loaded[i].bias, reference.features[i].bias)
    # and it differs from the random-backbone model
    random_model = build_lpips("alex", random_backbone=True)
    a, b = _frames(4, 1, 64), _frames(5, 1, 64)
    assert lpips_distance(model, a, b).item() != pytest.approx(lpips_distance(random_model, a, b).item())


def test_wrong_backbone_file_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(DataError, match=r"features\.0\.weight has shape"):
        build_lpips("alex", backbone_weights=path)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="cannot read"):
        build_lpips("alex", backbone_weights=garbage)


def test_tiny_region_is_a_clear_error() -> None:
    a = _frames(0, 1, 20)
    with pytest.raises(DataError, match="at least 32x32"):
        evaluator = LpipsEvaluator(LpipsConfig(region="full", random_backbone=True))
        evaluator.evaluate(EvaluationInputs(predicted=a, target=a))
