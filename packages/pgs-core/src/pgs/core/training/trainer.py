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

The trainer is the loop; its parts live in their own modules: `schedule` (stages, frame order),
`optimizers` (per-branch optimisers and the position LR), `objectives` (loss pieces beyond
Eqs. 11-13), `evaluation` (held-out region PSNRs), `run_state` (checkpoint state and back),
`interrupts` (Ctrl-C / SIGTERM), `bars` (progress), `launch` (output folder rules).

The trainer takes every component by registry name from one validated `TrainConfig`. Setting
up (config, data, plugins, rasterizer) happens before the output folder is created, so a bad
config, a missing folder or an unknown plugin leaves nothing behind. Checkpoints hold everything
needed to continue exactly (Gaussians, networks, optimizer and density states, stage and step,
sampler and RNG states).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
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
from pgs.core.io.atomic import atomic_write_text
from pgs.core.losses import photometric, psnr
from pgs.core.model.branch import Branch
from pgs.core.model.talking_head import TalkingHead, build_rasterizer, compose
from pgs.core.progress import Progress
from pgs.core.registry import registry
from pgs.core.training.bars import progress_bars
from pgs.core.training.checkpoint import load_checkpoint, save_checkpoint
from pgs.core.training.config import TrainConfig
from pgs.core.training.evaluation import evaluate_head, mean_image_psnr
from pgs.core.training.init import carved_gaussians, mouth_box
from pgs.core.training.interrupts import InterruptFlag
from pgs.core.training.log import JsonlLog, plot_curves, read_jsonl
from pgs.core.training.lpips_loss import LpipsLoss, load_lpips
from pgs.core.training.objectives import (
    face_target,
    lips_box,
    lips_l1,
    mask_window,
    mouth_alpha_prior,
    windowed_photometric,
)
from pgs.core.training.optimizers import (
    BranchTraining,
    gaussian_optimizers,
    network_optimizer,
    position_lr,
    set_network_lr,
)
from pgs.core.training.run_state import restore_trainer, trainer_state
from pgs.core.training.schedule import BRANCHES, STAGE_KEYS, FrameSampler, StagePlan, stage_plan

#: Checkpoint written when the last static stage ends: the static-only baseline (render it with
#: ``TalkingHead.render_frame(frame, static=True)``; the mouth branch has also finished stage 2 by then).
STATIC_CHECKPOINT = "static.pt"
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
        return gaussian_optimizers(branch, self.config, self.position_lr(0))

    def _network_optimizer(self, branch: Branch) -> torch.optim.Optimizer:
        return network_optimizer(branch, self.config)

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
            target = face_target(frame)
        bt.strategy.step_pre_backward(bt.branch.params, bt.gaussian_optimizers, bt.density_state, bt.step, render)
        ssim_weight = self.config.loss.ssim_weight
        if mouth:  # pred = target away from the inner mouth: the same loss on the mouth's window alone
            loss = windowed_photometric(pred[None], target[None], mask_window(frame.masks.mouth), ssim_weight)
        else:
            loss = photometric(pred[None], target[None], ssim_weight)  # Eqs. 11-12
        if not mouth and self.config.loss.lips_weight > 0:
            loss = loss + self.config.loss.lips_weight * lips_l1(pred, target, frame)
        if mouth and self.config.mouth_alpha_weight > 0:
            loss = loss + self.config.mouth_alpha_weight * mouth_alpha_prior(
                render.alpha[0, ..., 0], frame.masks.mouth
            )
        loss.backward()
        self._set_position_lr(bt)
        if deform:
            set_network_lr(bt, self.config)
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
        """Position LR at a branch's step of stages 1-2 (`pgs.core.training.optimizers.position_lr`)."""
        return position_lr(self.config, self.scene_extent, branch_step)

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
                from pgs.core.console import warning

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
        return evaluate_head(
            self.head, dataset or self.val_set, max_frames or self.config.eval_frames, self.device, static
        )

    def mean_image_baseline(self, max_frames: int = 200) -> dict[str, float]:
        """PSNR of the trivial predictor (the mean training image) on the held-out frames."""
        return mean_image_psnr(self.train_set, self.val_set, max_frames)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly (`pgs.core.training.run_state`)."""
        return trainer_state(self)

    def _load(self, data: dict[str, Any]) -> None:
        restore_trainer(self, data)

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
    def run(self, stop_after: int | None = None, progress: Progress | None = None) -> TrainResult:
        """Run (or continue) the schedule.

        Args:
            stop_after: stop (with a checkpoint) once the global step reaches this, as if interrupted.
            progress: called as ``progress("static/face", step, iterations)`` after each step (the
                toolkit's `Progress` type); default: rich bars on stderr unless quiet.

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
            self.history.append({"stage": "init", "global_step": 0, "seconds": 0.0, **self.evaluate(static=True)})
        try:
            with InterruptFlag() as flag, progress_bars(self.quiet, progress) as bars:
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
                    seconds = round(time.perf_counter() - started, 1)  # training time when the stage's steps end
                    metrics = self.evaluate(static=plan.stage == "static")
                    self.history.append(
                        {"stage": plan.label, "global_step": self.global_step, "seconds": seconds, **metrics}
                    )
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


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str))


# Re-exported for callers of the module that held them before it was split.
__all__ = [
    "STATIC_CHECKPOINT",
    "BranchTraining",
    "FrameSampler",
    "StagePlan",
    "TrainResult",
    "Trainer",
    "lips_box",
    "lips_l1",
    "stage_plan",
]
