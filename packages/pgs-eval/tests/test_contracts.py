from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pgs.core.interfaces import EvaluationInputs, Evaluator, MetricValue
from pgs.core.registry import ComponentSpec, registry
from pgs.core.testing import ContractError, check_evaluator
from pgs.eval.lpips_metric import LpipsConfig
from pgs.eval.lse import LseConfig
from pgs.eval.psnr import PsnrConfig


def test_all_six_evaluators_are_registered_by_entry_point() -> None:
    entries = {e.name: e for e in registry("pgs.evaluators").entries()}
    assert {"psnr", "ssim", "lpips", "lmd", "lse", "fps"} <= set(entries)
    assert all(entries[n].distribution == "pgs-eval" for n in ("psnr", "ssim", "lpips", "lmd", "lse", "fps"))


@pytest.mark.parametrize("name", ["psnr", "ssim", "lmd", "fps"])
def test_default_configs_pass_the_evaluator_contract(name: str) -> None:
    values = check_evaluator(registry("pgs.evaluators").get(name))
    assert values


def test_lpips_passes_the_contract_in_random_backbone_mode() -> None:
    values = check_evaluator(registry("pgs.evaluators").get("lpips"), LpipsConfig(random_backbone=True))
    assert values[0].name == "LPIPS" and values[0].value > 0


def test_lse_passes_the_contract_skipping_and_with_weights(tmp_path: Path) -> None:
    spec = registry("pgs.evaluators").get("lse")
    skipped = check_evaluator(spec, LseConfig(on_missing="skip"))
    assert [v.value for v in skipped] == [None, None]
    from pgs.eval.syncnet.model import SyncNet

    torch.manual_seed(0)
    net = SyncNet()
    with torch.no_grad():  # non-trivial running statistics, as trained weights have
        for module in net.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_var.uniform_(0.5, 1.5)
    torch.save(net.state_dict(), tmp_path / "syncnet_v2.model")
    scored = check_evaluator(spec, LseConfig(weights=tmp_path / "syncnet_v2.model", device="cpu"))
    assert all(v.value is not None for v in scored)


class _Broken(Evaluator):
    name = "broken"

    def __init__(self, config: PsnrConfig, mode: str = "nan") -> None:
        self.mode = mode

    def evaluate(self, inputs: EvaluationInputs) -> list[MetricValue]:
        if self.mode == "mutate":
            inputs.predicted.mul_(0.5)
            return [MetricValue("X", 1.0, True, "p")]
        if self.mode == "none-without-note":
            return [MetricValue("X", None, True, "p")]
        return [MetricValue("X", float("nan"), True, "p")]


@pytest.mark.parametrize(
    ("mode", "message"),
    [("nan", "NaN"), ("mutate", "modified inputs.predicted"), ("none-without-note", "without a note")],
)
def test_contract_catches_broken_evaluators(mode: str, message: str) -> None:
    spec = ComponentSpec("broken", "pgs.evaluators", PsnrConfig, lambda c: _Broken(c, mode), "a broken evaluator")
    with pytest.raises(ContractError, match=message):
        check_evaluator(spec)
