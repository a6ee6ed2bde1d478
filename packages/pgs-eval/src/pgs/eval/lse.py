"""The ``lse`` evaluator: LSE-D and LSE-C of the predicted frames against the driving audio.

SyncNet weights (``syncnet_v2.model``) are supplied by path and never downloaded. Without them
(``weights`` unset) the evaluator reports both metrics as not computed with the note "weights not
supplied" (``on_missing="skip"``) or raises `MissingWeightsError` saying where to get the file
(``on_missing="error"``). A ``weights`` path that does not exist is always an error.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field

from pgs.core.config import ComponentConfig
from pgs.core.errors import DataError
from pgs.core.groups import EVALUATORS
from pgs.core.interfaces import EvaluationInputs, Evaluator, MetricValue
from pgs.core.registry import ComponentSpec
from pgs.eval.devices import resolve_device
from pgs.eval.errors import MissingWeightsError
from pgs.eval.regions import check_frames
from pgs.eval.syncnet.model import SYNCNET_WEIGHTS_HELP, SyncNet, load_syncnet
from pgs.eval.syncnet.pipeline import Crop, sync_scores_for_frames
from pgs.eval.syncnet.scoring import VSHIFT

#: The note of LSE values that were not computed because no weights were given.
WEIGHTS_NOT_SUPPLIED = "weights not supplied"


class LseConfig(ComponentConfig):
    """Config of the ``lse`` evaluator."""

    weights: Path | None = Field(
        None, description="SyncNet weight file (syncnet_python's syncnet_v2.model state dict)."
    )
    on_missing: Literal["error", "skip"] = Field(
        "error",
        description=(
            "When `weights` is unset: 'error' raises with where to get syncnet_v2.model; 'skip' reports LSE-D and "
            "LSE-C as not computed ('weights not supplied')."
        ),
    )
    crop: Crop = Field(
        "resize",
        description=(
            "'resize': whole frame resized to 224x224 (Wav2Lip's score scripts; for face-crop renders); "
            "'face-box': syncnet_python's crop around the landmark face box (needs landmarks)."
        ),
    )
    vshift: int = Field(VSHIFT, ge=1, le=50, description="AV offsets searched on each side, in frames.")
    batch_size: int = Field(16, gt=0, description="5-frame windows per SyncNet forward pass.")
    device: str = Field("auto", description="'auto' (CUDA when available), 'cpu', 'cuda', ...")


_MODELS: dict[tuple[str, str], SyncNet] = {}
_MODELS_LOCK = threading.Lock()


def _cached_model(path: Path, device: torch.device) -> SyncNet:
    key = (str(path.resolve()), str(device))
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = load_syncnet(path, device)
        return _MODELS[key]


class LseEvaluator(Evaluator):
    """LSE-D (lower is better) and LSE-C (higher is better) with SyncNet."""

    name = "lse"
    description = "LSE-D / LSE-C lip-sync scores with SyncNet (syncnet_python protocol; weights supplied by path)"

    def __init__(self, config: LseConfig) -> None:
        self.config = config

    def _protocol(self) -> str:
        crop = "whole frame resized to 224" if self.config.crop == "resize" else "syncnet_python face-box crop"
        return (
            f"SyncNet (syncnet_python) 5-frame windows, {crop}, MFCC 13x20 per 0.2 s, offsets +-{self.config.vshift}; "
            "LSE-D = min mean distance, LSE-C = median - min"
        )

    def evaluate(self, inputs: EvaluationInputs) -> list[MetricValue]:
        """Return ``[LSE-D, LSE-C]`` (values None with a note when weights are not supplied and skipped)."""
        cfg = self.config
        protocol = self._protocol()
        if cfg.weights is None:
            if cfg.on_missing == "error":
                raise MissingWeightsError(
                    f"LSE needs SyncNet weights (lse.weights), none supplied. {SYNCNET_WEIGHTS_HELP}"
                )
            return [
                MetricValue("LSE-D", None, False, protocol, WEIGHTS_NOT_SUPPLIED),
                MetricValue("LSE-C", None, True, protocol, WEIGHTS_NOT_SUPPLIED),
            ]
        check_frames(inputs.predicted, "predicted")
        if inputs.audio is None:
            raise DataError("LSE scores the predicted frames against their driving audio, but no audio was given")
        landmarks = inputs.predicted_landmarks if inputs.predicted_landmarks is not None else inputs.target_landmarks
        model = _cached_model(Path(cfg.weights), resolve_device(cfg.device))
        scores = sync_scores_for_frames(
            model,
            inputs.predicted,
            inputs.audio,
            inputs.sample_rate,
            fps=inputs.fps,
            crop=cfg.crop,
            landmarks=landmarks,
            batch_size=cfg.batch_size,
            vshift=cfg.vshift,
        )
        note = f"AV offset {scores.offset} frames over {scores.windows} windows"
        return [
            MetricValue("LSE-D", scores.lse_d, False, protocol, note),
            MetricValue("LSE-C", scores.lse_c, True, protocol, note),
        ]


SPEC = ComponentSpec.of(EVALUATORS, LseConfig, LseEvaluator)

__all__ = ["SPEC", "WEIGHTS_NOT_SUPPLIED", "LseConfig", "LseEvaluator"]
