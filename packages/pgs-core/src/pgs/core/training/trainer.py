"""The three-stage trainer (Eqs. 11-13).

Stages, in order (TalkingGaussian trains the mouth before the face; so do we):

1. static initialisation, per branch: canonical Gaussians only, L1 + lambda D-SSIM against the
   branch's target (Eq. 11), density control on;
2. deformation, per branch: deformation networks plus positions, scales and rotations (colour and
   opacity fixed), same loss (Eq. 12), density control on;
3. fine-tune: both branches composed over the background (Eq. 10) against the full frame,
   L1 + lambda D-SSIM + gamma LPIPS (Eq. 13), only SH colours trained, density fixed.

Branch targets: the face learns the frame with the inner mouth painted as background; the mouth
learns the inner-mouth pixels with everything else painted as background. Both renders are
composed over the frame's background (torso over ``bc.jpg``) before the loss.

The trainer takes every component by registry name from one validated `TrainConfig`. Setting
up (config, data, plugins, rasterizer) happens before the output folder is created, so a bad
config, a missing folder or an unknown plugin leaves nothing behind. Checkpoints hold everything
needed to continue exactly (Gaussians, networks, optimizer and density states, stage and step,
sampler and RNG states).
"""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from pgs.core.data.dataset import Frame, SpeakerDataset
from pgs.core.data.prefetch import PREFETCH_DEPTH, FramePrefetcher
from pgs.core.devices import resolve_device
from pgs.core.errors import ConfigError, DataError
from pgs.core.gaussians import GaussianParams
from pgs.core.groups import DENSITY
from pgs.core.interfaces import DensityStrategy
from pgs.core.io.atomic import atomic_write_text
from pgs.core.losses import photometric, psnr
from pgs.core.model.branch import Branch
from pgs.core.model.talking_head import TalkingHead, build_rasterizer, compose
from pgs.core.registry import registry
from pgs.core.training.checkpoint import load_checkpoint, load_module_state, save_checkpoint
from pgs.core.training.config import TrainConfig
from pgs.core.training.init import carved_gaussians, mouth_box
from pgs.core.training.log import JsonlLog, plot_curves, read_jsonl
from pgs.core.training.lpips_loss import LpipsLoss, load_lpips

BRANCHES = ("mouth", "face")
#: Checkpoint written when the last static stage ends: the static-only baseline (render it with
#: ``TalkingHead.render_frame(frame, static=True)``; the mouth branch has also finished stage 2 by then).
STATIC_CHECKPOINT = "static.pt"
GAUSSIAN_KEYS = ("means", "quats", "log_scales", "opacity_logits", "sh")
#: Gaussian parameters each stage optimises (stage 2's come from ``stages.deform_gaussian_params``).
STAGE_KEYS: dict[str, tuple[str, ...]] = {
    "static": GAUSSIAN_KEYS,
    "deform": ("means", "quats", "log_scales"),
    "finetune": ("sh",),
}


@dataclass(frozen=True)
class StagePlan:
    """One stage of the schedule.

    Attributes:
        stage: ``static``, ``deform`` or ``finetune``.
        branch: ``mouth``, ``face`` or ``head`` (both, composed).
        iterations: steps in this stage.
    """

    stage: str
    branch: str
    iterations: int

    @property
    def label(self) -> str:
        """``stage/branch`` for logs and progress bars."""
        return f"{self.stage}/{self.branch}"


def stage_plan(config: TrainConfig) -> list[StagePlan]:
    """The schedule: static and deform per branch (mouth, then face), then the joint fine-tune."""
    s = config.stages
    plan = []
    for branch in BRANCHES:
        plan.append(StagePlan("static", branch, s.static_iterations))
        plan.append(StagePlan("deform", branch, s.deform_iterations))
    plan.append(StagePlan("finetune", "head", s.finetune_iterations))
    return plan


@dataclass
class BranchTraining:
    """Optimisation state of one branch."""

    branch: Branch
    strategy: DensityStrategy[Any]
    density_state: Any
    gaussian_optimizers: dict[str, torch.optim.Optimizer]
    network_optimizer: torch.optim.Optimizer
    step: int = 0  # steps taken in this branch's stages 1-2 (the strategy's clock)


@dataclass
class FrameSampler:
    """Random frame order without replacement per epoch, from its own seeded generator."""

    num_frames: int
    seed: int
    generator: torch.Generator = field(init=False)
    order: Tensor = field(init=False)
    position: int = 0

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed)
        self.order = torch.randperm(self.num_frames, generator=self.generator)

    def next(self) -> int:
        """The next frame index."""
        if self.position >= self.num_frames:
            self.order = torch.randperm(self.num_frames, generator=self.generator)
            self.position = 0
        index = int(self.order[self.position])
        self.position += 1
        return index

    def state_dict(self) -> dict[str, Any]:
        """Plain-data state for checkpoints."""
        return {"generator": self.generator.get_state(), "order": self.order.clone(), "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.generator.set_state(state["generator"])
        self.order = state["order"].clone()
        self.position = int(state["position"])

    def peek(self, count: int) -> list[int]:
        """The next `count` indices `next` will return, without advancing (for frame prefetching)."""
        order, position, generator = self.order, self.position, None
        out: list[int] = []
        while len(out) < count:
            if position >= self.num_frames:
                if generator is None:  # a copy: the sampler's own generator must not move
                    generator = torch.Generator().manual_seed(0)
                    generator.set_state(self.generator.get_state())
                order = torch.randperm(self.num_frames, generator=generator)
                position = 0
            out.append(int(order[position]))
            position += 1
        return out


def _face_target(frame: Frame) -> Tensor:
    """The face branch's target: the frame with the inner mouth painted as background."""
    return torch.where(frame.masks.mouth[..., None], frame.background, frame.image)


def lips_box(frame: Frame, grow: float = 0.25) -> Tensor | None:
    """[H, W] bool box around the lips (landmarks 48-67 grown by `grow` x their width), or None.

    Falls back to the inner-mouth mask's box grown the same way when the frame has no landmarks,
    and to None when it has neither.
    """
    h, w = frame.image.shape[:2]
    if frame.landmarks is not None:
        pts = frame.landmarks[48:68]
        x0, y0 = pts.min(0).values.tolist()
        x1, y1 = pts.max(0).values.tolist()
    else:
        ys, xs = torch.nonzero(frame.masks.mouth, as_tuple=True)
        if ys.numel() == 0:
            return None
        x0, x1, y0, y1 = float(xs.min()), float(xs.max() + 1), float(ys.min()), float(ys.max() + 1)
    margin = grow * (x1 - x0)
    box = torch.zeros(h, w, dtype=torch.bool, device=frame.image.device)
    r0, r1 = max(int(y0 - margin), 0), min(math.ceil(y1 + margin), h)
    c0, c1 = max(int(x0 - margin), 0), min(math.ceil(x1 + margin), w)
    if r1 <= r0 or c1 <= c0:
        return None
    box[r0:r1, c0:c1] = True
    return box


def lips_l1(pred: Tensor, target: Tensor, frame: Frame) -> Tensor:
    """Mean absolute error inside the frame's `lips_box` (zero without one).

    Args:
        pred: [H, W, 3] prediction.
        target: [H, W, 3] target.
        frame: the frame (landmarks or inner-mouth mask).
    """
    box = lips_box(frame)
    if box is None:
        return pred.sum() * 0.0
    return (pred - target).abs()[box].mean()


def _mouth_alpha_prior(alpha: Tensor, mouth: Tensor, margin: int = 2) -> Tensor:
    """TalkingGaussian's mouth alpha prior: mean((1 - A) in the mouth box) + mean(A outside it).

    The box is the inner-mouth mask's bounding box grown by `margin` pixels (zero without a mouth).
    """
    rows = torch.nonzero(mouth.any(1)).flatten()
    cols = torch.nonzero(mouth.any(0)).flatten()
    box = torch.zeros_like(mouth)
    if rows.numel():
        h, w = mouth.shape
        box[
            max(int(rows[0]) - margin, 0) : min(int(rows[-1]) + margin + 1, h),
            max(int(cols[0]) - margin, 0) : min(int(cols[-1]) + margin + 1, w),
        ] = True
    return ((1.0 - alpha) * box).mean() + (alpha * ~box).mean()


class _InterruptFlag:
    """Turns Ctrl-C and SIGTERM into a flag checked between steps (main thread only).

    SIGTERM (Slurm, ``docker stop``, systemd) behaves like Ctrl-C: the run stops after the current
    step with a checkpoint. A second signal stops at once.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.raised = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _InterruptFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.raised:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.raised = True

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


@dataclass
class TrainResult:
    """What `Trainer.run` ended with.

    Attributes:
        finished: all stages done (False when stopped early or interrupted).
        interrupted: stopped by Ctrl-C.
        checkpoint: the last checkpoint written.
        report: the run report (also in ``report.json`` when finished).
    """

    finished: bool
    interrupted: bool
    checkpoint: Path | None
    report: dict[str, Any]


ProgressFactory = Callable[[StagePlan, int], Any]


class Trainer:
    """Trains a `TalkingHead` on one speaker folder.

    Args:
        config: the validated run config.
        resume_from: a checkpoint to continue from (its config is used; `config` must match it).
        quiet: no progress bars (logs and checkpoints are still written).
        run_id: the run's id, stored in checkpoints (default: the resumed checkpoint's, else none).
        output: the folder written (default ``config.output``; a run that replaces another is
            written beside it first, see `pgs.core.training.launch`).

    Raises:
        ConfigError / DataError / PluginError: before anything is written.
    """

    def __init__(
        self,
        config: TrainConfig,
        resume_from: dict[str, Any] | None = None,
        quiet: bool = False,
        run_id: str | None = None,
        output: Path | None = None,
    ) -> None:
        if config.data.folder is None:
            raise ConfigError("data.folder: required (a processed-speaker folder)")
        self.config = config
        self.quiet = quiet
        self.output = Path(output) if output is not None else config.output
        self.run_id = run_id or (resume_from or {}).get("run_id") or ""
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        audio = config.data.audio
        self.train_set = SpeakerDataset.open(
            config.data.folder,
            "train",
            audio=audio.name,
            audio_params=audio.params,
            require_aus=config.data.require_aus,
        )
        self.val_set = SpeakerDataset.open(
            config.data.folder, "val", audio=self.train_set.audio, require_aus=config.data.require_aus
        )
        if self.train_set.audio is None:
            raise DataError(f"{config.data.folder}: no audio features")
        self.rasterizer = build_rasterizer(config.rasterizer.name, config.rasterizer.params, device=self.device)
        self.head = TalkingHead.from_config(
            config.model,
            audio_channels=self.train_set.audio.channels,
            rasterizer=self.rasterizer,
            audio_layout=self.train_set.audio.layout,
            seed=config.seed,
        ).to(self.device)
        self.scene_extent = max(self.train_set.scene_extent, 1e-6)
        self.plan = stage_plan(config)
        self.sampler = FrameSampler(len(self.train_set), config.seed)
        self.mouth_frames = self._mouth_frames()
        self.mouth_sampler = FrameSampler(len(self.mouth_frames), config.seed + 1)
        self.prefetcher = FramePrefetcher(self.train_set)  # frames decoded ahead; order unchanged
        if resume_from is None and config.init == "carved":
            self._carve_initial_gaussians()
        self.branches = {name: self._branch_training(name) for name in BRANCHES}
        self.stage_index = 0
        self.stage_step = 0
        self.global_step = 0
        self.history: list[dict[str, Any]] = []
        self.elapsed = 0.0
        self._lpips: LpipsLoss | None = None
        self._lpips_note: str | None = None
        if resume_from is not None:
            self._load(resume_from)

    # ------------------------------------------------------------------ setup
    def _mouth_frames(self) -> list[int]:
        """Training frames with an open mouth (at least ``mouth_min_pixels`` inner-mouth pixels)."""
        frames = [
            i
            for i in range(len(self.train_set))
            if int(self.train_set.load_masks(i).mouth.sum()) >= self.config.mouth_min_pixels
        ]
        return frames or list(range(len(self.train_set)))

    def _carve_initial_gaussians(self) -> None:
        generator = torch.Generator().manual_seed(self.config.seed)
        boxes = {"face": None, "mouth": mouth_box(self.train_set)}
        for name, region in (("face", "head"), ("mouth", "mouth")):
            branch: Branch = getattr(self.head, name)
            cfg = branch.config
            branch.set_gaussians(
                carved_gaussians(
                    self.train_set,
                    region,
                    cfg.num_points,
                    cfg.init_extent,
                    cfg.sh_degree,
                    cfg.init_opacity,
                    generator,
                    box=boxes[name],
                )
            )

    def _branch_training(self, name: str) -> BranchTraining:
        branch: Branch = getattr(self.head, name)
        choice = getattr(self.config.density, name)
        strategy = registry(DENSITY).create(choice.name, choice.params)
        state = strategy.initial_state(branch.params, self.scene_extent)
        return BranchTraining(
            branch, strategy, state, self._gaussian_optimizers(branch), self._network_optimizer(branch)
        )

    def _gaussian_optimizers(self, branch: Branch) -> dict[str, torch.optim.Optimizer]:
        lr = self.config.stages.gaussian_lr
        rates = {
            "means": self.position_lr(0),
            "quats": lr.quats,
            "log_scales": lr.scales,
            "opacity_logits": lr.opacity,
            "sh": lr.sh_dc,
        }
        return {k: torch.optim.Adam([branch.params[k]], lr=rates[k], eps=1e-15) for k in GAUSSIAN_KEYS}

    def _network_optimizer(self, branch: Branch) -> torch.optim.Optimizer:
        lr = self.config.stages.network_lr
        grid = list(branch.encoder.parameters())
        attention = [p for n, p in branch.audio_net.named_parameters() if n.startswith("attention_")]
        taken = {id(p) for p in grid + attention}
        rest = [p for p in branch.network_parameters() if id(p) not in taken]
        groups = [{"params": grid, "lr": lr.grid, "weight_decay": 0.0}, {"params": rest, "lr": lr.net}]
        if attention:
            groups.append({"params": attention, "lr": lr.audio_attention})
        return torch.optim.AdamW(groups, betas=(0.9, 0.99), eps=1e-8, weight_decay=lr.weight_decay, foreach=True)

    # ------------------------------------------------------------------ one step
    def _frame(self, mouth: bool = False) -> Frame:
        if mouth:
            index = self.mouth_frames[self.mouth_sampler.next()]
            upcoming = [self.mouth_frames[i] for i in self.mouth_sampler.peek(PREFETCH_DEPTH)]
        else:
            index = self.sampler.next()
            upcoming = self.sampler.peek(PREFETCH_DEPTH)
        return self.prefetcher.get(index, upcoming).to(self.device)

    def _branch_step(self, plan: StagePlan) -> dict[str, float]:
        bt = self.branches[plan.branch]
        mouth = plan.branch == "mouth"
        frame = self._frame(mouth)
        deform = plan.stage == "deform"
        aus = None if mouth else frame.aus
        audio = frame.audio if deform else None
        counts = getattr(bt.strategy, "needs_pixel_counts", True)  # Eq. 5 counts only if the strategy reads them
        out = bt.branch.render(self.rasterizer, frame.camera, audio, aus if deform else None, with_pixel_counts=counts)
        render = out.render
        random_bg = self.config.loss.branch_background == "random"
        background = self._random_colour() if random_bg else frame.background
        pred = render.over(background)[0]
        if mouth:  # only inner-mouth pixels are learnt (elsewhere the prediction is replaced by the target)
            target = frame.image
            pred = torch.where(frame.masks.mouth[..., None], pred, target)
        elif random_bg:  # the head's pixels over a random colour: everything else must stay transparent
            target = torch.where(frame.masks.head[..., None], frame.image, background)
        else:
            target = _face_target(frame)
        bt.strategy.step_pre_backward(bt.branch.params, bt.gaussian_optimizers, bt.density_state, bt.step, render)
        loss = photometric(pred[None], target[None], self.config.loss.ssim_weight)  # Eqs. 11-12
        if not mouth and self.config.loss.lips_weight > 0:
            loss = loss + self.config.loss.lips_weight * lips_l1(pred, target, frame)
        if mouth and self.config.mouth_alpha_weight > 0:
            loss = loss + self.config.mouth_alpha_weight * _mouth_alpha_prior(
                render.alpha[0, ..., 0], frame.masks.mouth
            )
        loss.backward()
        self._set_position_lr(bt)
        before = self.config.density.order == "before-step"  # 3DGS: densify, then the optimizer step
        if not before:
            self._optimizer_step(bt, self._stage_keys(plan.stage), networks=deform)
        report = bt.strategy.step_post_backward(
            bt.branch.params, bt.gaussian_optimizers, bt.density_state, bt.step, render
        )
        if report.changed:
            bt.branch.clear_cache()
        if before:
            self._optimizer_step(bt, self._stage_keys(plan.stage), networks=deform)
        bt.step += 1
        region = frame.masks.mouth[None] if mouth else frame.masks.head[None]
        return {
            "loss": float(loss.detach()),
            "psnr": psnr(pred[None], target[None], region),
            "num_gaussians": bt.branch.num_gaussians,
        }

    def _random_colour(self) -> Tensor:
        """[3] background colour of this step, a function of (seed, global step) so that resume is exact."""
        generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.global_step)
        return torch.rand(3, generator=generator).to(self.device)

    def _stage_keys(self, stage: str) -> tuple[str, ...]:
        """Gaussian parameters trained in `stage` (stage 2's are configurable)."""
        if stage == "deform":
            return tuple(self.config.stages.deform_gaussian_params)
        return STAGE_KEYS[stage]

    def position_lr(self, branch_step: int) -> float:
        """Position LR at a branch's step of stages 1-2: 3DGS's exponential decay times its spatial scale.

        ``lr(t) = lr0^(1-t) * lr1^t`` with ``t = step / (static + deform iterations)``, ``lr1 = lr0 * means_decay``,
        both multiplied by ``position_lr_scale`` (the scene extent by default).
        """
        lr = self.config.stages.gaussian_lr
        scale = self.scene_extent if lr.position_lr_scale == "scene_extent" else float(lr.position_lr_scale)
        total = max(self.config.stages.static_iterations + self.config.stages.deform_iterations, 1)
        t = min(max(branch_step / total, 0.0), 1.0)
        return scale * lr.means * lr.means_decay**t

    def _set_position_lr(self, bt: BranchTraining) -> None:
        for group in bt.gaussian_optimizers["means"].param_groups:
            group["lr"] = self.position_lr(bt.step)

    def _optimizer_step(self, bt: BranchTraining, keys: tuple[str, ...], networks: bool) -> None:
        rest_factor = self.config.stages.gaussian_lr.sh_rest_factor
        sh = bt.branch.params["sh"]
        previous_rest = sh.detach()[:, 1:].clone() if "sh" in keys and sh.shape[1] > 1 else None
        for key in keys:
            bt.gaussian_optimizers[key].step()
        if previous_rest is not None:  # per-band LR: higher SH bands move at sh_rest_factor x the DC rate
            with torch.no_grad():
                sh[:, 1:] = previous_rest + (sh[:, 1:] - previous_rest) * rest_factor
        if networks:
            bt.network_optimizer.step()
        for opt in bt.gaussian_optimizers.values():
            opt.zero_grad(set_to_none=True)
        bt.network_optimizer.zero_grad(set_to_none=True)

    def _frozen_geometry(self, branch: Branch, frame: Frame, face: bool) -> GaussianParams:
        """Deformed Gaussians with geometry detached and live SH (stage 3 trains colours only)."""
        with torch.no_grad():
            deformed, _ = branch.deformed_gaussians(frame.audio, frame.aus if face else None, frame.camera.viewmats[0])
        return dataclasses.replace(deformed.detach(), sh=branch.params["sh"])

    def _finetune_step(self) -> dict[str, float]:
        frame = self._frame()
        face = self._frozen_geometry(self.head.face, frame, face=True)
        mouth = self._frozen_geometry(self.head.mouth, frame, face=False)
        face_render = self.rasterizer.render(face, frame.camera, with_pixel_counts=False)  # density is fixed
        mouth_render = self.rasterizer.render(mouth, frame.camera, with_pixel_counts=False)
        image = compose(face_render, mouth_render, frame.background)  # Eq. 10
        target = frame.image[None]
        loss = photometric(image, target, self.config.loss.ssim_weight)  # Eq. 13
        if self.config.loss.lips_weight > 0:
            loss = loss + self.config.loss.lips_weight * lips_l1(image[0], target[0], frame)
        lpips = self._lpips_loss()
        if lpips is not None and self.config.loss.lpips_weight > 0:
            loss = loss + self.config.loss.lpips_weight * lpips(image, target)
        loss.backward()
        for bt in self.branches.values():
            for group in bt.gaussian_optimizers["sh"].param_groups:
                group["lr"] = self.config.stages.finetune_sh_lr
            self._optimizer_step(bt, STAGE_KEYS["finetune"], networks=False)
        total = self.head.face.num_gaussians + self.head.mouth.num_gaussians
        return {"loss": float(loss.detach()), "psnr": psnr(image, target), "num_gaussians": total}

    def _lpips_loss(self) -> LpipsLoss | None:
        if self._lpips is None and self._lpips_note is None and self.config.loss.lpips_weight > 0:
            self._lpips, self._lpips_note = load_lpips(self.config.loss.lpips_backbone_weights, self.device)
            if self._lpips is None:
                if self.config.loss.lpips_required:
                    raise ConfigError(
                        f"loss.lpips_required: stage 3 needs LPIPS, which is not available: {self._lpips_note} "
                        "(or pass --allow-missing-lpips / set loss.lpips_required: false)"
                    )
                from pgs.core.cli.console import warning

                warning(f"stage 3 runs without LPIPS: {self._lpips_note}")
        return self._lpips

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self, dataset: SpeakerDataset | None = None, max_frames: int | None = None, static: bool = False
    ) -> dict[str, float]:
        """Held-out PSNR of the composed head: full frame, head, face and inner-mouth regions.

        Args:
            dataset: frames to render (default: the val split).
            max_frames: evenly spaced subset size (default: ``config.eval_frames``).
            static: render the canonical Gaussians (no deformation), as after a static stage.
        """
        dataset = dataset or self.val_set
        count = min(len(dataset), max_frames or self.config.eval_frames)
        indices = torch.linspace(0, len(dataset) - 1, count).round().long().unique().tolist()
        was_training = self.head.training
        self.head.eval()
        errors = _RegionErrors()
        with torch.no_grad():
            for i in indices:
                frame = dataset[i].to(self.device)
                out = self.head.render_frame(frame, static=static)
                errors.add(out.image[0].clamp(0, 1), frame)
                errors.add_mouth_branch(out.mouth.render.over(frame.background)[0].clamp(0, 1), frame)
        self.head.train(was_training)
        return errors.psnr()

    def mean_image_baseline(self, max_frames: int = 200) -> dict[str, float]:
        """PSNR of the trivial predictor (the mean training image) on the held-out frames."""
        step = max(1, len(self.train_set) // max_frames)
        mean = None
        count = 0
        for i in range(0, len(self.train_set), step):
            img = self.train_set.load_image(i)
            mean = img.clone() if mean is None else mean + img
            count += 1
        mean = mean / count
        errors = _RegionErrors()
        for i in range(len(self.val_set)):
            errors.add(mean, self.val_set[i])
        return errors.psnr()

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly."""
        return {
            "config": self.config.model_dump(mode="json"),
            "stage_index": self.stage_index,
            "stage_step": self.stage_step,
            "global_step": self.global_step,
            "elapsed": self.elapsed,
            "model": self.head.state_dict(),
            "audio": {
                "channels": self.train_set.audio.channels,
                "layout": self.train_set.audio.layout,
                "encoder": self.train_set.audio.encoder,
                "params": dict(self.config.data.audio.params),
            },
            "branches": {
                name: {
                    "step": bt.step,
                    "gaussian_optimizers": {k: o.state_dict() for k, o in bt.gaussian_optimizers.items()},
                    "network_optimizer": bt.network_optimizer.state_dict(),
                    "density_state": bt.strategy.state_dict(bt.density_state),
                }
                for name, bt in self.branches.items()
            },
            "sampler": self.sampler.state_dict(),
            "mouth_sampler": self.mouth_sampler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else [],
            "history": json.dumps(self.history),
            "lpips_note": self._lpips_note or "",
            "run_id": self.run_id,
        }

    def _load(self, data: dict[str, Any]) -> None:
        load_module_state(self.head, data["model"], "checkpoint")
        for name, saved in data["branches"].items():
            bt = self.branches[name]
            bt.gaussian_optimizers = self._gaussian_optimizers(bt.branch)
            for key, opt in bt.gaussian_optimizers.items():
                opt.load_state_dict(saved["gaussian_optimizers"][key])
            bt.network_optimizer.load_state_dict(saved["network_optimizer"])
            fresh = bt.strategy.initial_state(bt.branch.params, self.scene_extent)
            bt.density_state = bt.strategy.load_state_dict(fresh, saved["density_state"])
            bt.step = int(saved["step"])
        self.sampler.load_state_dict(data["sampler"])
        self.mouth_sampler.load_state_dict(data["mouth_sampler"])
        torch.set_rng_state(data["torch_rng"])
        cuda_states = data.get("cuda_rng") or []
        if cuda_states and self.device.type == "cuda":  # a CUDA run resumed on CUDA continues exactly
            torch.cuda.set_rng_state_all(cuda_states)
        self.stage_index = int(data["stage_index"])
        self.stage_step = int(data["stage_step"])
        self.global_step = int(data["global_step"])
        self.elapsed = float(data.get("elapsed", 0.0))
        self.history = json.loads(data.get("history", "[]"))
        self._lpips_note = data.get("lpips_note") or None

    @classmethod
    def from_checkpoint(cls, path: str | Path, quiet: bool = False) -> Trainer:
        """Rebuild a trainer from a checkpoint to continue its run."""
        data = load_checkpoint(path)
        config = TrainConfig.model_validate(data["config"])
        return cls(config, resume_from=data, quiet=quiet)

    def save(self, name: str = "last.pt") -> Path:
        """Write ``<output>/checkpoints/<name>`` atomically."""
        return save_checkpoint(self.state_dict(), self.output / "checkpoints" / name)

    # ------------------------------------------------------------------ the loop
    def run(self, stop_after: int | None = None, progress: ProgressFactory | None = None) -> TrainResult:
        """Run (or continue) the schedule.

        Args:
            stop_after: stop (with a checkpoint) once the global step reaches this, as if interrupted.
            progress: ``progress(plan, done) -> bar`` factory (default: rich bars unless quiet).

        Returns:
            `TrainResult`; ``report.json`` and ``curves.png`` are written when all stages are done.
        """
        if self.config.loss.lpips_required and self.config.stages.finetune_iterations > 0:
            self._lpips_loss()  # fail before hours of stages 1-2, not at stage 3
        out = self.output
        out.mkdir(parents=True, exist_ok=True)
        _write_json(out / "config.json", self.config.model_dump(mode="json"))
        log = JsonlLog(out / "train.jsonl", truncate_after_step=self.global_step)
        self.head.train()
        interrupted = False
        started = time.perf_counter() - self.elapsed
        if self.global_step == 0 and not self.history:  # the starting point, for the stage curves
            self.history.append({"stage": "init", "global_step": 0, **self.evaluate(static=True)})
        try:
            with _InterruptFlag() as flag, _progress_bars(self.quiet, progress) as bars:
                while self.stage_index < len(self.plan):
                    plan = self.plan[self.stage_index]
                    bar = bars(plan, self.stage_step)
                    while self.stage_step < plan.iterations:
                        if flag.raised or (stop_after is not None and self.global_step >= stop_after):
                            interrupted = flag.raised
                            self.elapsed = time.perf_counter() - started
                            return TrainResult(False, interrupted, self.save(), self._report(done=False))
                        stats = self._finetune_step() if plan.stage == "finetune" else self._branch_step(plan)
                        self.stage_step += 1
                        self.global_step += 1
                        if self.global_step % self.config.log_every == 0 or self.stage_step == plan.iterations:
                            log.write(
                                {"global_step": self.global_step, "stage": plan.label, "step": self.stage_step, **stats}
                            )
                        bar.update(self.stage_step, stats)
                        if self.global_step % self.config.checkpoint_every == 0:
                            self.elapsed = time.perf_counter() - started
                            self.save()
                    bar.close()
                    metrics = self.evaluate(static=plan.stage == "static")
                    self.history.append({"stage": plan.label, "global_step": self.global_step, **metrics})
                    self.stage_index += 1
                    self.stage_step = 0
                    self.elapsed = time.perf_counter() - started
                    self.save()
                    if plan == self._last_static_stage():
                        self.save(STATIC_CHECKPOINT)
        finally:
            log.close()
            self.prefetcher.close()
        self.elapsed = time.perf_counter() - started
        final = self.save("final.pt")
        report = self._report(done=True)
        plot_curves(read_jsonl(out / "train.jsonl"), out / "curves.png")
        _write_json(out / "report.json", report)
        return TrainResult(True, False, final, report)

    def _last_static_stage(self) -> StagePlan | None:
        """The plan entry after which ``checkpoints/static.pt`` is written (stage 1 done for both branches)."""
        statics = [p for p in self.plan if p.stage == "static"]
        return statics[-1] if statics else None

    def _report(self, done: bool) -> dict[str, Any]:
        return {
            "finished": done,
            "global_step": self.global_step,
            "training_seconds": round(self.elapsed, 2),
            "rasterizer": getattr(self.rasterizer, "name", type(self.rasterizer).__name__),
            "device": str(self.device),
            "num_gaussians": {n: bt.branch.num_gaussians for n, bt in self.branches.items()},
            "stages": self.history,
            "lpips": self._lpips_note or ("used" if self._lpips is not None else "not used (weight 0 or no stage 3)"),
            "audio_layout": self.train_set.audio.layout,
        }


def _psnr_from_mse(mse: float) -> float:
    return float("inf") if mse <= 0 else -10.0 * math.log10(mse)


@dataclass
class _RegionErrors:
    """Squared errors summed over frames: full frame, head (face, hair, mouth), face (face, mouth), inner mouth."""

    sums: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def _add(self, key: str, err: Tensor, region: Tensor | None) -> None:
        value = err if region is None else err[region]
        self.sums[key] = self.sums.get(key, 0.0) + float(value.sum())
        self.counts[key] = self.counts.get(key, 0) + value.numel()

    def add(self, prediction: Tensor, frame: Frame) -> None:
        """Accumulate one [H, W, 3] prediction against `frame`'s ground truth."""
        err = (prediction - frame.image) ** 2
        masks = frame.masks
        self._add("psnr", err, None)
        self._add("psnr_head", err, masks.head | masks.mouth)
        self._add("psnr_face", err, masks.face | masks.mouth)
        self._add("psnr_mouth", err, masks.mouth)

    def add_mouth_branch(self, prediction: Tensor, frame: Frame) -> None:
        """Accumulate the inside-mouth branch rendered alone [H, W, 3], scored in the inner-mouth mask."""
        self._add("psnr_mouth_branch", (prediction - frame.image) ** 2, frame.masks.mouth)

    def psnr(self) -> dict[str, float]:
        """PSNR in dB per accumulated region.

        Keys: ``psnr`` (full frame), ``psnr_head``, ``psnr_face``, ``psnr_mouth`` (the composite in those
        regions) and, when added, ``psnr_mouth_branch`` (the mouth branch alone in the inner-mouth mask).
        """
        keys = [k for k in ("psnr", "psnr_head", "psnr_face", "psnr_mouth", "psnr_mouth_branch") if k in self.sums]
        return {k: _psnr_from_mse(self.sums.get(k, 0.0) / max(self.counts.get(k, 0), 1)) for k in keys}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str))


class _Bar:
    """A per-stage progress handle (no-op when quiet)."""

    def __init__(self, progress: Any = None, task: Any = None) -> None:
        self.progress = progress
        self.task = task

    def update(self, completed: int, stats: dict[str, float]) -> None:
        if self.progress is not None:
            self.progress.update(
                self.task,
                completed=completed,
                loss=f"{stats['loss']:.4f}",
                psnr=f"{stats['psnr']:.2f}",
                count=int(stats["num_gaussians"]),
            )

    def close(self) -> None:
        if self.progress is not None:
            self.progress.update(self.task, visible=True)


class _progress_bars:  # noqa: N801 - used as a context manager like a function
    """Context manager yielding ``bars(plan, done) -> _Bar`` (rich progress, or no-op)."""

    def __init__(self, quiet: bool, factory: ProgressFactory | None) -> None:
        self.quiet = quiet
        self.factory = factory
        self.progress: Any = None

    def __enter__(self) -> Callable[[StagePlan, int], Any]:
        if self.factory is not None:
            return self.factory
        if self.quiet:
            return lambda plan, done: _Bar()
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from pgs.core.cli.console import stderr

        self.progress = Progress(
            TextColumn("{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]} psnr {task.fields[psnr]} dB N {task.fields[count]}"),
            TimeElapsedColumn(),
            console=stderr,
        )
        self.progress.__enter__()

        def bars(plan: StagePlan, done: int) -> _Bar:
            task = self.progress.add_task(
                plan.label, total=max(plan.iterations, 1), completed=done, loss="-", psnr="-", count="-"
            )
            return _Bar(self.progress, task)

        return bars

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)


__all__ = ["STATIC_CHECKPOINT", "BranchTraining", "FrameSampler", "StagePlan", "TrainResult", "Trainer", "stage_plan"]
