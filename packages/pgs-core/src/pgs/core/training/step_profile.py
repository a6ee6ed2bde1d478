"""Where a training step's time goes: the step timed whole, and its parts timed alone on its inputs.

Used by the training-step benchmark (``packages/pgs-core/benchmarks/bench_train_step.py``) and by
``scripts/gpu_check.sh``. A `Trainer` is built on a prepped clip with a chosen number of Gaussians
and density control off (so N stays fixed), then, alternately:

- one real step (`Trainer._branch_step` for stage 2 of a branch, `Trainer._finetune_step` for the
  stage-3 composite), timed whole;
- each part of a step, timed alone on the same kind of inputs: ``data`` (fetching the next frame),
  ``triplane`` (tri-plane features of the canonical centres, forward + backward), ``networks``
  (audio net, AU net and fusion, forward + backward), ``rasterizer`` (render of the deformed
  Gaussians + backward of the composed image), ``loss`` (L1 + D-SSIM + lips term, forward +
  backward). ``other`` is the step minus their sum (optimizer steps, density hooks, Python).

Shares are part medians over the step median of one run, so they hold on a loaded machine where
absolute seconds do not. Parts timed alone miss the overlap a real step may have (none on a CPU:
PyTorch runs one op at a time here).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from pgs.core.gaussians import GaussianParams
from pgs.core.losses import photometric
from pgs.core.preset import load_preset, merge
from pgs.core.training.config import TrainConfig
from pgs.core.training.trainer import StagePlan, Trainer, lips_l1

PARTS = ("data", "triplane", "networks", "rasterizer", "loss")


def profile_config(
    data: Path,
    output: Path,
    face_points: int,
    mouth_points: int,
    device: str | None = None,
    preset: str = "real-cpu",
) -> TrainConfig:
    """The `preset` run config with fixed Gaussian counts and density control off.

    Args:
        data: prepped speaker folder.
        output: run folder (checkpoints are not written by the profile).
        face_points: face Gaussians (carved initialisation, kept: no densification or pruning).
        mouth_points: inside-mouth Gaussians.
        device: torch device (None: the run config's default).
        preset: base run config (shipped name or file).
    """
    off = {"refine_from": 0, "refine_until": 1}  # statistics and refinement only at steps < 1: never
    updates = {
        "data": {"folder": str(data)},
        "model": {"face": {"num_points": face_points}, "mouth": {"num_points": mouth_points}},
        "density": {"face": {"params": off}, "mouth": {"params": off}},
        "output": str(output),
    }
    if device is not None:
        updates["device"] = device
    return TrainConfig.model_validate(merge(load_preset(preset), updates))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], Any], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def _leaf(t: torch.Tensor) -> torch.Tensor:
    return t.detach().clone().requires_grad_(True)


class StepProfiler:
    """Times the steps of one stage of a `Trainer` and their parts.

    Args:
        trainer: a built trainer (`profile_config`); its state advances as steps are taken.
        stage: ``deform`` (stage 2 of `branch`) or ``finetune`` (stage 3, both branches composed).
        branch: ``face`` or ``mouth`` for ``deform``.
    """

    def __init__(self, trainer: Trainer, stage: str = "deform", branch: str = "face") -> None:
        if stage not in ("deform", "finetune"):
            raise ValueError(f"stage must be 'deform' or 'finetune', got {stage!r}")
        self.trainer = trainer
        self.stage = stage
        self.branch = branch if stage == "deform" else "head"
        self.plan = StagePlan(stage, self.branch, 1 << 30)
        self.device = trainer.device

    def step(self) -> None:
        """One real training step of the stage."""
        t = self.trainer
        t._finetune_step() if self.stage == "finetune" else t._branch_step(self.plan)
        t.global_step += 1

    # ------------------------------------------------------------------ parts, each alone
    def _branches(self) -> list[Any]:
        head = self.trainer.head
        return [head.face, head.mouth] if self.stage == "finetune" else [getattr(head, self.branch)]

    def _part_data(self) -> float:
        return _timed(lambda: self.trainer._frame(mouth=self.branch == "mouth"), self.device)

    def _part_triplane(self) -> float:
        def run() -> None:
            for b in self._branches():
                if self.stage == "finetune":  # stage 3: no gradients (geometry and networks frozen)
                    with torch.no_grad():
                        b.spatial_features()
                    continue
                feats = b.encoder(b.params["means"])
                feats.backward(torch.ones_like(feats))

        out = _timed(run, self.device)
        self._zero_grads()
        return out

    def _part_networks(self, frame: Any) -> float:
        if self.stage == "finetune":  # stage 3 runs the networks without gradients
            with torch.no_grad():
                spatials = [b.encoder(b.params["means"]) for b in self._branches()]

            def run() -> None:
                with torch.no_grad():
                    for b, spatial in zip(self._branches(), spatials, strict=True):
                        b.fusion(spatial, b.audio_feature(frame.audio), b.expression_feature(frame.aus))

            return _timed(run, self.device)
        b = self._branches()[0]
        with torch.no_grad():
            spatial = b.encoder(b.params["means"])

        def run_grad() -> None:
            raw = b.fusion(_leaf(spatial), b.audio_feature(frame.audio), b.expression_feature(frame.aus))
            total = raw.d_xyz.sum()
            for extra in (raw.d_scale, raw.d_rot):
                if extra is not None:
                    total = total + extra.sum()
            total.backward()

        out = _timed(run_grad, self.device)
        self._zero_grads()
        return out

    def _part_rasterizer(self, frame: Any) -> float:
        rasterizer = self.trainer.rasterizer
        inputs = []
        with torch.no_grad():
            for b in self._branches():
                g, _ = b.deformed_gaussians(frame.audio, frame.aus if b.config.kind == "face" else None)
                inputs.append(g)
        leaves = [GaussianParams(**{k: _leaf(v) for k, v in g.as_dict().items()}) for g in inputs]
        grad = torch.rand(frame.image[None].shape, generator=torch.Generator().manual_seed(0)).to(self.device)

        def run() -> None:
            images = [rasterizer.render(g, frame.camera).over(frame.background) for g in leaves]
            torch.autograd.backward(images, [grad] * len(images))

        return _timed(run, self.device)

    def _part_loss(self, frame: Any) -> float:
        pred = _leaf(frame.image[None].flip(-1))
        target = frame.image[None]
        cfg = self.trainer.config.loss

        def run() -> None:
            loss = photometric(pred, target, cfg.ssim_weight)
            if cfg.lips_weight > 0 and self.branch != "mouth":
                loss = loss + cfg.lips_weight * lips_l1(pred[0], target[0], frame)
            loss.backward()

        return _timed(run, self.device)

    def _zero_grads(self) -> None:
        for b in self._branches():
            for p in b.parameters():
                p.grad = None

    def parts(self) -> dict[str, float]:
        """Each part timed once, alone (seconds)."""
        frame = self.trainer.train_set[0].to(self.device)
        return {
            "data": self._part_data(),
            "triplane": self._part_triplane(),
            "networks": self._part_networks(frame),
            "rasterizer": self._part_rasterizer(frame),
            "loss": self._part_loss(frame),
        }

    # ------------------------------------------------------------------ the run
    def fill_frame_cache(self) -> None:
        """Draw every training frame once, so steps see the decoded-frame cache as after the first epoch."""
        for _ in range(len(self.trainer.train_set)):
            self.trainer._frame(mouth=self.branch == "mouth")

    def run(self, rounds: int = 10, warmup: int = 2) -> dict[str, Any]:
        """Alternate real steps and part timings; medians, shares of the step median.

        Frames come from the decoded-frame cache (`fill_frame_cache` first): the steady state of
        a run, whose first epoch alone decodes.

        Returns:
            ``{"step_s", "steps_per_s", "parts_s": {part: s}, "shares": {part: fraction},
            "rounds", "num_gaussians": {branch: N}}`` with ``other`` = step minus the parts.
        """
        self.fill_frame_cache()
        for _ in range(warmup):
            self.step()
            self.parts()
        steps: list[float] = []
        parts: dict[str, list[float]] = {k: [] for k in PARTS}
        for _ in range(rounds):
            steps.append(_timed(self.step, self.device))
            for key, value in self.parts().items():
                parts[key].append(value)
        step = statistics.median(steps)
        medians = {k: statistics.median(v) for k, v in parts.items()}
        medians["other"] = step - sum(medians.values())
        return {
            "stage": self.plan.label,
            "rounds": rounds,
            "step_s": step,
            "steps_per_s": 1.0 / step,
            "parts_s": medians,
            "shares": {k: v / step for k, v in medians.items()},
            "num_gaussians": {n: bt.branch.num_gaussians for n, bt in self.trainer.branches.items()},
        }


def profile_clip(
    data: Path,
    output: Path,
    face_points: int = 20_000,
    mouth_points: int = 3_000,
    rounds: int = 10,
    device: str | None = None,
    stages: tuple[str, ...] = ("deform", "finetune"),
) -> dict[str, Any]:
    """Profile stage 2 (face) and stage 3 on one prepped clip.

    Returns:
        ``{"size": [W, H], "device", "rasterizer", "stages": {"deform/face": ..., "finetune/head": ...}}``.
    """
    trainer = Trainer(profile_config(data, output, face_points, mouth_points, device), quiet=True)
    trainer.head.train()
    out: dict[str, Any] = {
        "size": list(trainer.train_set.image_size),
        "device": str(trainer.device),
        "rasterizer": getattr(trainer.rasterizer, "name", type(trainer.rasterizer).__name__),
        "stages": {},
    }
    for stage in stages:
        profiler = StepProfiler(trainer, stage, "face")
        result = profiler.run(rounds=rounds)
        out["stages"][result["stage"]] = result
    return out


def format_profile(result: dict[str, Any]) -> str:
    """A few lines: step time and shares per stage."""
    lines = []
    w, h = result["size"]
    for label, r in result["stages"].items():
        shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in r["shares"].items())
        n = r["num_gaussians"]
        lines.append(
            f"{w}x{h} {label} (face {n['face']}, mouth {n['mouth']}, {result['rasterizer']} on {result['device']}): "
            f"{r['step_s'] * 1000:.1f} ms/step; {shares}"
        )
    return "\n".join(lines)


__all__ = ["PARTS", "StepProfiler", "format_profile", "profile_clip", "profile_config"]
