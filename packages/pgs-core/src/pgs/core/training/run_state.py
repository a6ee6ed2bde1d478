"""A trainer's run state as a checkpoint, and back: everything needed to continue a run exactly.

Gaussians and networks, optimizer and density states (each strategy's `state_dict`), stage and
step, both frame samplers, the CPU and CUDA random states, the history, the run id.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import torch

from pgs.core.training.checkpoint import load_module_state

if TYPE_CHECKING:
    from pgs.core.training.trainer import Trainer


def trainer_state(trainer: Trainer) -> dict[str, Any]:
    """Everything needed to continue `trainer`'s run exactly (plain data for `save_checkpoint`)."""
    return {
        "config": trainer.config.model_dump(mode="json"),
        "stage_index": trainer.stage_index,
        "stage_step": trainer.stage_step,
        "global_step": trainer.global_step,
        "elapsed": trainer.elapsed,
        "model": trainer.head.state_dict(),
        "audio": {
            "channels": trainer.train_set.audio.channels,
            "layout": trainer.train_set.audio.layout,
            "encoder": trainer.train_set.audio.encoder,
            "params": dict(trainer.config.data.audio.params),
        },
        "branches": {
            name: {
                "step": bt.step,
                "gaussian_optimizers": {k: o.state_dict() for k, o in bt.gaussian_optimizers.items()},
                "network_optimizer": bt.network_optimizer.state_dict(),
                "density_state": bt.strategy.state_dict(bt.density_state),
            }
            for name, bt in trainer.branches.items()
        },
        "sampler": trainer.sampler.state_dict(),
        "mouth_sampler": trainer.mouth_sampler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if trainer.device.type == "cuda" else [],
        "history": json.dumps(trainer.history),
        "lpips_note": trainer._lpips_note or "",
        "run_id": trainer.run_id,
    }


def restore_trainer(trainer: Trainer, data: dict[str, Any]) -> None:
    """Put `trainer_state` output back into a freshly built `trainer` of the same config."""
    load_module_state(trainer.head, data["model"], "checkpoint")
    for name, saved in data["branches"].items():
        bt = trainer.branches[name]
        bt.gaussian_optimizers = trainer._gaussian_optimizers(bt.branch)
        for key, opt in bt.gaussian_optimizers.items():
            opt.load_state_dict(saved["gaussian_optimizers"][key])
        bt.network_optimizer.load_state_dict(saved["network_optimizer"])
        fresh = bt.strategy.initial_state(bt.branch.params, trainer.scene_extent)
        bt.density_state = bt.strategy.load_state_dict(fresh, saved["density_state"])
        bt.step = int(saved["step"])
    trainer.sampler.load_state_dict(data["sampler"])
    trainer.mouth_sampler.load_state_dict(data["mouth_sampler"])
    torch.set_rng_state(data["torch_rng"])
    cuda_states = data.get("cuda_rng") or []
    if cuda_states and trainer.device.type == "cuda":  # a CUDA run resumed on CUDA continues exactly
        torch.cuda.set_rng_state_all(cuda_states)
    trainer.stage_index = int(data["stage_index"])
    trainer.stage_step = int(data["stage_step"])
    trainer.global_step = int(data["global_step"])
    trainer.elapsed = float(data.get("elapsed", 0.0))
    trainer.history = json.loads(data.get("history", "[]"))
    trainer._lpips_note = data.get("lpips_note") or None


__all__ = ["restore_trainer", "trainer_state"]
