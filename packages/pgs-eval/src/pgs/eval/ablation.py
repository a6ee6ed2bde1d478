"""``pgs ablate`` as a function: train and evaluate the paper's Table 3 variants from one run config.

Each variant changes only the component names of the base config (density strategy of both
branches; fusion module of the face and of the inside-mouth branch, see `TABLE3_VARIANTS`) and
the output folder; everything else (data, stages, seed, losses, rasterizer) is shared, so rows
differ only by the ablated component. It is a preset of ``pgs sweep`` (`pgs.eval.sweep`): one
speaker, the chosen variants, one seed (the config's) or several (``--seeds``). Variants train
(locally one after another, or as Ray tasks) into ``<out>/<slug>/`` (several seeds:
``<out>/<slug>/seed-<k>/``; ``checkpoints/``, ``report.json``, ``train.jsonl``, ``curves.png``,
``result.json``), are evaluated self-driven
exactly like ``pgs eval`` (``<out>/<slug>/eval/``: metrics.json, table1.md, strips.png) and get a
Fig. 5 style density picture of their face Gaussians in the first held-out frame
(``<out>/<slug>/density.png``, all side by side in ``<out>/fig5_density.png``). The table goes
to ``<out>/table3.md`` (mean ± 95 % CI cells with several seeds) and every run's report, the
per-variant intervals and the paired differences to ``<out>/ablation.json``; the sweep's own
``sweep.md``, ``sweep.json`` and ``sweep_points.png`` are written beside them.

A variant whose folder holds a finished run (``result.json``) with the same config and evaluation
options is skipped; one with ``final.pt`` is evaluated again without retraining; an interrupted
one continues from its ``checkpoints/last.pt``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pgs.core.errors import ConfigError, DataError
from pgs.core.io.atomic import atomic_write_bytes, atomic_write_text
from pgs.eval.report import EvaluationReport
from pgs.eval.selfdriven import EvalOptions
from pgs.eval.tables import (
    TABLE3_METRICS,
    TABLE3_VARIANTS,
    AblationRow,
    AblationVariant,
    protocol_lines,
    table3_markdown,
)

if TYPE_CHECKING:
    from pgs.core.training.config import TrainConfig
    from pgs.eval.sweep.aggregate import Summary, SweepFiles
    from pgs.eval.sweep.spec import Sweep

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
    """One trained and evaluated variant run (one seed).

    Attributes:
        variant: the configuration.
        seed: training seed.
        folder: its run folder.
        result: the run's ``result.json`` data (report, Gaussian counts, training facts).
        retrained: False when a finished run was reused.
    """

    variant: AblationVariant
    seed: int
    folder: Path
    result: dict[str, Any]
    retrained: bool

    @property
    def num_gaussians(self) -> int:
        """Face + mouth Gaussians after training."""
        return int(self.result.get("num_gaussians_total") or 0)

    @property
    def report(self) -> EvaluationReport:
        """The self-driven evaluation report."""
        return EvaluationReport.from_dict(self.result["report"], str(self.folder / "result.json"))

    @property
    def row(self) -> AblationRow:
        """The Table 3 row."""
        return AblationRow(self.variant, self.report, self.num_gaussians)


def _write_png(array: np.ndarray, path: Path) -> Path:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


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
        results: one per finished (variant, seed) run, in Table 3 order, then seed order.
        table: ``table3.md``.
        summary: ``ablation.json``.
        montage: ``fig5_density.png``.
        sweep: the sweep's files (``sweep.md``, ``sweep.json``, ``sweep_points.png``).
        failed: ``(run id, last error)`` of runs that failed after their retries.
    """

    folder: Path
    results: list[VariantResult]
    table: Path
    summary: Path
    montage: Path
    sweep: SweepFiles
    failed: list[tuple[str, str]]


def ablation_sweep(
    base: TrainConfig,
    out: Path,
    variants: Sequence[AblationVariant],
    options: EvalOptions,
    seeds: Sequence[int] | None = None,
    retries: int = 0,
) -> Sweep:
    """The sweep `pgs ablate` runs: the variants on the base config's speaker.

    One seed (default: the config's) keeps the historical layout ``<out>/<slug>/``; several seeds
    go to ``<out>/<slug>/seed-<k>/``.
    """
    from pgs.eval.sweep.spec import Resources, Sweep, Variant, build_runs, default_pairs

    seeds = list(seeds) if seeds else [base.seed]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds: duplicates in {seeds}")
    if options.device != base.device:
        base = base.resolved(device=options.device)
    chosen = [Variant(variant_slug(v), variant_slug(v), (), v.name) for v in variants]
    folder = Path(base.data.folder)  # type: ignore[arg-type]
    speakers = {folder.name or "speaker": folder}

    def folder_of(speaker: str, variant: str, seed: int) -> Path:
        return out / variant if len(seeds) == 1 else out / variant / f"seed-{seed}"

    runs = build_runs(
        base.model_dump(mode="json"), chosen, speakers, seeds, options, Resources(), folder_of, "ablation"
    )
    return Sweep("ablation", out, runs, chosen, speakers, seeds, retries, default_pairs(chosen))


def _check_ablation(base: TrainConfig, chosen: Sequence[AblationVariant], out: Path) -> None:
    """Raise before any training when nothing is chosen, the speaker is missing or a variant is invalid."""
    if not chosen:
        raise ConfigError("no ablation variants selected")
    if base.data.folder is None:
        raise ConfigError("data.folder: required (a processed-speaker folder)")
    if not Path(base.data.folder).is_dir():
        raise DataError(f"{base.data.folder}: speaker folder not found")
    for variant in chosen:  # every variant validates (plugins installed) before the first training
        variant_config(base, variant, out / variant_slug(variant))


def run_ablation(
    base: TrainConfig,
    out: str | Path,
    variants: Sequence[AblationVariant] | None = None,
    options: EvalOptions | None = None,
    retrain: bool = False,
    on_variant: Callable[[AblationVariant, int, int], None] | None = None,
    seeds: Sequence[int] | None = None,
    executor: str = "local",
    address: str | None = None,
    num_cpus: int | None = None,
    retries: int = 0,
    quiet: bool = True,
) -> AblationOutputs:
    """Train and evaluate Table 3 variants through `pgs.eval.sweep` and write the table and pictures.

    Args:
        base: the run config the variants are derived from (data, stages, seed, ...).
        out: ablation folder.
        variants: which variants (default: all five).
        options: evaluation options (as ``pgs eval``).
        retrain: retrain variants whose folder already holds a run.
        on_variant: called as ``on_variant(variant, position, total)`` as each run starts (local)
            or is submitted (Ray).
        seeds: training seeds (default: the config's seed only).
        executor: ``local`` (default: this process, one run after another) or ``ray``.
        address: Ray cluster address (default: embedded Ray).
        num_cpus: CPUs of the embedded Ray.
        retries: extra attempts of a failed run.
        quiet: no live progress table.

    Raises:
        ConfigError / PluginError / DataError: before any training when a variant's config is
            invalid or a component is missing.
    """
    from pgs.eval.sweep import run_sweep

    options = options or EvalOptions()
    out = Path(out)
    chosen = list(variants) if variants is not None else list(TABLE3_VARIANTS)
    _check_ablation(base, chosen, out)
    sweep = ablation_sweep(base, out, chosen, options, seeds, retries)
    by_slug = {variant_slug(v): v for v in chosen}
    order = [r.run_id for r in sweep.runs]

    def started(run: Any) -> None:
        if on_variant is not None:
            on_variant(by_slug[run.variant], order.index(run.run_id), len(order))

    done = run_sweep(
        sweep,
        executor=executor,
        address=address,
        num_cpus=num_cpus,
        retries=retries,
        retrain=retrain,
        quiet=quiet,
        on_start=started,
    )
    results = [
        VariantResult(
            by_slug[s.run.variant], s.run.seed, s.run.folder, s.result, bool(s.result.get("trained")) and not s.reused
        )
        for s in done.outcome.states
        if s.result is not None
    ]
    failed = [(s.run.run_id, s.errors[-1] if s.errors else "failed") for s in done.outcome.failed]
    if not results:
        raise DataError(f"{out}: every ablation run failed: " + "; ".join(f"{r}: {e}" for r, e in failed))
    table = atomic_write_text(out / "table3.md", _table3(results, sweep, done.files.summary))
    summary_path = atomic_write_text(out / "ablation.json", _ablation_json(results, sweep, done.files, failed))
    first_seed = [r for r in results if r.seed == sweep.seeds[0]] or results
    pictures = [_read_png(r.folder / "density.png") for r in first_seed]
    montage = _write_png(density_montage(pictures), out / "fig5_density.png")
    return AblationOutputs(out, results, table, summary_path, montage, done.files, failed)


def _ablation_json(
    results: Sequence[VariantResult], sweep: Sweep, files: SweepFiles, failed: Sequence[tuple[str, str]]
) -> str:
    """``ablation.json``: one row per run, the overall intervals, the paired differences, the failures."""
    summary = {
        "schema": ABLATION_SCHEMA,
        "seeds": list(sweep.seeds),
        "rows": [
            {
                "variant": r.variant.name,
                "slug": variant_slug(r.variant),
                "seed": r.seed,
                "density": r.variant.density,
                "face_fusion": r.variant.face_fusion,
                "mouth_fusion": r.variant.mouth_fusion,
                "num_gaussians": r.num_gaussians,
                "run": str(r.folder),
                "retrained": r.retrained,
                "report": r.result["report"],
            }
            for r in results
        ],
        "summary": json.loads(files.json.read_text(encoding="utf-8"))["summary"]["overall"],
        "comparisons": [c.to_dict() for c in files.summary.comparisons if c.scope == "overall"],
        "failed": [{"run": r, "error": e} for r, e in failed],
    }
    return json.dumps(summary, indent=2) + "\n"


def _table3(results: Sequence[VariantResult], sweep: Sweep, summary: Summary) -> str:
    """``table3.md``: one seed: the Table 3 layout as before; several: mean ± 95 % CI cells over seeds."""
    from pgs.eval.sweep.aggregate import OVERALL, components, table3_ci

    if len(sweep.seeds) == 1:
        text = table3_markdown([r.row for r in results])
        return text + (
            "\nConfidence intervals: one seed per variant, so none (n < 2); `pgs ablate --seeds 0 1 2` "
            "gives mean ± 95 % CI and paired differences (sweep.md).\n"
        )
    rows = []
    for variant in sweep.variants:
        config = next((r.config for r in sweep.runs if r.variant == variant.name), {})
        rows.append((variant.name, variant.label, *components(config)))
    reports = [r.report for r in results]
    frames = ", ".join(str(c) for c in sorted({r.frames for r in reports}))
    lines = [
        f"### Table 3: ablation (mean ± 95 % CI over seeds {sweep.seeds})",
        "",
        *table3_ci(summary, OVERALL, rows),
        "",
        f"Protocol: each variant trained with each seed and evaluated self-driven ({frames} frames); "
        "cells: mean ± half-width of the Student-t 95 % interval; paired differences in sweep.md.",
        *protocol_lines([(f"{r.variant.name} (seed {r.seed})", r.report) for r in results], TABLE3_METRICS),
    ]
    return "\n".join(lines) + "\n"


__all__ = [
    "ABLATION_SCHEMA",
    "VARIANT_SLUGS",
    "AblationOutputs",
    "VariantResult",
    "ablation_sweep",
    "density_montage",
    "run_ablation",
    "select_variants",
    "variant_config",
    "variant_slug",
]
