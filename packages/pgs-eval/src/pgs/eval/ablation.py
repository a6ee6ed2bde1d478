"""``pgs ablate`` as a function: train and evaluate the paper's Table 3 variants from one run config.

Each variant changes only the component names of the base config (density strategy of both
branches; fusion module of the face and of the inside-mouth branch, see `TABLE3_VARIANTS`) and
the output folder; everything else (data, stages, seed, losses, rasterizer) is shared, so rows
differ only by the ablated component. Variants train one after another into ``<out>/<slug>/``
(``checkpoints/``, ``report.json``, ``train.jsonl``, ``curves.png``), are evaluated self-driven
exactly like ``pgs eval`` (``<out>/<slug>/eval/``: metrics.json, table1.md, strips.png) and get a
Fig. 5 style density picture of their face Gaussians in the first held-out frame
(``<out>/<slug>/density.png``, all side by side in ``<out>/fig5_density.png``). The table goes
to ``<out>/table3.md`` and every row's report to ``<out>/ablation.json``.

A variant whose folder already holds a finished run with the same config is evaluated again
without retraining; an interrupted one continues from its ``checkpoints/last.pt``.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pgs.core.errors import ConfigError, DataError
from pgs.core.io.atomic import atomic_write_bytes, atomic_write_text
from pgs.eval.figures import density_picture_image, frame_strip_png
from pgs.eval.report import write_report
from pgs.eval.selfdriven import EvalOptions, SelfDrivenResult, evaluate_self_driven, face_means2d
from pgs.eval.tables import TABLE3_VARIANTS, AblationRow, AblationVariant, table3_markdown

if TYPE_CHECKING:
    from pgs.core.training.config import TrainConfig

#: ablation.json format identifier.
ABLATION_SCHEMA = "pgs-eval/ablation/1"

#: Short folder / command-line names of the Table 3 variants.
VARIANT_SLUGS: dict[str, str] = {
    TABLE3_VARIANTS[0].name: "gradient-concat",
    TABLE3_VARIANTS[1].name: "pixel-concat",
    TABLE3_VARIANTS[2].name: "mgf-no-mouth",
    TABLE3_VARIANTS[3].name: "mgf-no-face",
    TABLE3_VARIANTS[4].name: "full",
}


def variant_slug(variant: AblationVariant) -> str:
    """Folder name of a variant (`VARIANT_SLUGS`, else its name lower-cased with dashes)."""
    return VARIANT_SLUGS.get(variant.name) or re.sub(r"[^a-z0-9]+", "-", variant.name.lower()).strip("-")


def select_variants(names: Sequence[str] | None) -> list[AblationVariant]:
    """Variants by slug (``full``, ``gradient-concat``, ...) or full name; None: all five in Table 3 order.

    Raises:
        ConfigError: an unknown name (with the known ones).
    """
    if not names:
        return list(TABLE3_VARIANTS)
    by_key = {variant_slug(v): v for v in TABLE3_VARIANTS} | {v.name: v for v in TABLE3_VARIANTS}
    unknown = [n for n in names if n not in by_key]
    if unknown:
        known = ", ".join(variant_slug(v) for v in TABLE3_VARIANTS)
        raise ConfigError(f"unknown ablation variant(s) {unknown}; known: {known}")
    chosen = [by_key[n] for n in names]
    return [v for v in TABLE3_VARIANTS if v in chosen]  # table order, no duplicates


def _carried_params(group: str, old_name: str, new_name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Parameters kept when switching a component: all for the same name, else those the new config has."""
    from pgs.core.registry import registry

    if old_name == new_name:
        return dict(params)
    fields = registry(group).get(new_name).config_class.model_fields
    return {k: v for k, v in params.items() if k in fields}


def variant_config(base: TrainConfig, variant: AblationVariant, output: Path) -> TrainConfig:
    """The base config with the variant's density and fusion names and its own output folder.

    Parameters of a replaced component are carried over where the new component has the same
    field (e.g. ``grad_threshold`` and the refine window between ``gradient`` and
    ``pixel-aware``); others are dropped.

    Raises:
        PluginError: a component of the variant is not installed.
        ConfigError: the result does not validate.
    """
    from pydantic import ValidationError

    from pgs.core.config import validation_problems
    from pgs.core.groups import DENSITY, FUSION
    from pgs.core.training.config import TrainConfig

    data = base.model_dump(mode="json")
    fusion = {"face": variant.face_fusion, "mouth": variant.mouth_fusion}
    for branch in ("face", "mouth"):
        old = data["density"][branch]
        data["density"][branch] = {
            "name": variant.density,
            "params": _carried_params(DENSITY, old["name"], variant.density, old.get("params", {})),
        }
        old = data["model"][branch]["fusion"]
        data["model"][branch]["fusion"] = {
            "name": fusion[branch],
            "params": _carried_params(FUSION, old["name"], fusion[branch], old.get("params", {})),
        }
    data["output"] = str(output)
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"variant {variant.name!r}: " + "; ".join(validation_problems(exc))) from None


@dataclass
class VariantResult:
    """One trained and evaluated variant.

    Attributes:
        variant: the configuration.
        folder: its run folder.
        evaluation: the self-driven evaluation.
        num_gaussians: face + mouth Gaussians after training.
        density_picture: [H + 14, W, 3] uint8 Fig. 5 style picture.
        retrained: False when a finished run was reused.
    """

    variant: AblationVariant
    folder: Path
    evaluation: SelfDrivenResult
    num_gaussians: int
    density_picture: np.ndarray
    retrained: bool

    @property
    def row(self) -> AblationRow:
        """The Table 3 row."""
        return AblationRow(self.variant, self.evaluation.report, self.num_gaussians)


def _saved_config(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """A config dict without the fields that do not change what is trained (device)."""
    return {k: v for k, v in config.items() if k != "device"}


def _train(config: TrainConfig, folder: Path, retrain: bool) -> tuple[Any, Any, Any, dict[str, Any], bool]:
    """Train (or reuse / continue) one variant; returns (head, train_set, val_set, report, trained)."""
    from pgs.core.training.trainer import Trainer

    final = folder / "checkpoints" / "final.pt"
    last = folder / "checkpoints" / "last.pt"
    if retrain and folder.exists():
        shutil.rmtree(folder)
    saved = _saved_config(folder)
    if folder.exists() and saved is not None and _comparable(saved) != _comparable(config.model_dump(mode="json")):
        raise ConfigError(
            f"{folder}: holds a run with a different config; pass --retrain to replace it or choose another --out"
        )
    if final.is_file() and (folder / "report.json").is_file():
        return (*_reuse(final, config), json.loads((folder / "report.json").read_text(encoding="utf-8")), False)
    trainer = Trainer.from_checkpoint(last, quiet=True) if last.is_file() else Trainer(config, quiet=True)
    result = trainer.run()
    if not result.finished:
        raise KeyboardInterrupt
    return trainer.head, trainer.train_set, trainer.val_set, result.report, True


def _reuse(final: Path, config: TrainConfig) -> tuple[Any, Any, Any]:
    from pgs.core.data.dataset import SpeakerDataset
    from pgs.core.inference import load_head

    loaded = load_head(final, config.device)
    audio = config.data.audio
    train_set = SpeakerDataset.open(
        config.data.folder, "train", audio=audio.name, audio_params=audio.params, require_aus=config.data.require_aus
    )
    val_set = SpeakerDataset.open(config.data.folder, "val", audio=train_set.audio, require_aus=config.data.require_aus)
    return loaded.head, train_set, val_set


def run_variant(
    base: TrainConfig, variant: AblationVariant, out: Path, options: EvalOptions, retrain: bool = False
) -> VariantResult:
    """Train, evaluate and picture one variant into ``out/<slug>/``."""
    folder = out / variant_slug(variant)
    config = variant_config(base, variant, folder)
    if options.device != config.device:
        config = config.resolved(device=options.device)
    head, train_set, val_set, report, trained = _train(config, folder, retrain)
    counts = report.get("num_gaussians") or {}
    total = int(sum(counts.values())) if isinstance(counts, dict) else int(counts or 0)
    evaluation = evaluate_self_driven(
        head,
        train_set,
        val_set,
        options,
        method=variant.name,
        train_time_s=report.get("training_seconds"),
        meta={"run": str(folder), "variant": variant_slug(variant), "num_gaussians": counts},
    )
    eval_dir = folder / "eval"
    write_report(evaluation.report, eval_dir)
    frame_strip_png(evaluation.predicted, evaluation.target, eval_dir / "strips.png")
    first = val_set[evaluation.indices[0]]
    means2d, image = face_means2d(head, first, options.device)
    height, width = int(image.shape[0]), int(image.shape[1])
    picture = density_picture_image(means2d, width, height, background=image, label=variant_slug(variant))
    _write_png(picture, folder / "density.png")
    return VariantResult(variant, folder, evaluation, total, picture, trained)


def _write_png(array: np.ndarray, path: Path) -> Path:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())


def density_montage(pictures: Sequence[np.ndarray], gap: int = 4) -> np.ndarray:
    """Pictures side by side (same height), separated by `gap` dark columns."""
    if not pictures:
        raise DataError("no density pictures to put side by side")
    height = max(p.shape[0] for p in pictures)
    parts: list[np.ndarray] = []
    for i, picture in enumerate(pictures):
        if i:
            parts.append(np.full((height, gap, 3), 24, dtype=np.uint8))
        pad = np.full((height - picture.shape[0], picture.shape[1], 3), 24, dtype=np.uint8)
        parts.append(np.concatenate([picture, pad], axis=0))
    return np.concatenate(parts, axis=1)


@dataclass
class AblationOutputs:
    """What `run_ablation` wrote.

    Attributes:
        folder: the ablation folder.
        results: one per variant, in Table 3 order.
        table: ``table3.md``.
        summary: ``ablation.json``.
        montage: ``fig5_density.png``.
    """

    folder: Path
    results: list[VariantResult]
    table: Path
    summary: Path
    montage: Path


def run_ablation(
    base: TrainConfig,
    out: str | Path,
    variants: Sequence[AblationVariant] | None = None,
    options: EvalOptions | None = None,
    retrain: bool = False,
    on_variant: Callable[[AblationVariant, int, int], None] | None = None,
) -> AblationOutputs:
    """Train and evaluate Table 3 variants sequentially and write the table and pictures.

    Args:
        base: the run config the variants are derived from (data, stages, seed, ...).
        out: ablation folder.
        variants: which variants (default: all five).
        options: evaluation options (as ``pgs eval``).
        retrain: retrain variants whose folder already holds a run.
        on_variant: called as ``on_variant(variant, position, total)`` before each variant.

    Raises:
        ConfigError / PluginError / DataError: before any training when a variant's config is
            invalid or a component is missing.
    """
    options = options or EvalOptions()
    out = Path(out)
    chosen = list(variants) if variants is not None else list(TABLE3_VARIANTS)
    if not chosen:
        raise ConfigError("no ablation variants selected")
    if base.data.folder is None:
        raise ConfigError("data.folder: required (a processed-speaker folder)")
    if not Path(base.data.folder).is_dir():
        raise DataError(f"{base.data.folder}: speaker folder not found")
    for variant in chosen:  # every variant validates (plugins installed) before the first training
        variant_config(base, variant, out / variant_slug(variant))
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for position, variant in enumerate(chosen):
        if on_variant is not None:
            on_variant(variant, position, len(chosen))
        results.append(run_variant(base, variant, out, options, retrain))
    table = atomic_write_text(out / "table3.md", table3_markdown([r.row for r in results]))
    summary = {
        "schema": ABLATION_SCHEMA,
        "rows": [
            {
                "variant": r.variant.name,
                "slug": variant_slug(r.variant),
                "density": r.variant.density,
                "face_fusion": r.variant.face_fusion,
                "mouth_fusion": r.variant.mouth_fusion,
                "num_gaussians": r.num_gaussians,
                "run": str(r.folder),
                "retrained": r.retrained,
                "report": r.evaluation.report.to_dict(),
            }
            for r in results
        ],
    }
    summary_path = atomic_write_text(out / "ablation.json", json.dumps(summary, indent=2) + "\n")
    montage = _write_png(density_montage([r.density_picture for r in results]), out / "fig5_density.png")
    return AblationOutputs(out, results, table, summary_path, montage)


__all__ = [
    "ABLATION_SCHEMA",
    "VARIANT_SLUGS",
    "AblationOutputs",
    "VariantResult",
    "density_montage",
    "run_ablation",
    "run_variant",
    "select_variants",
    "variant_config",
    "variant_slug",
]
