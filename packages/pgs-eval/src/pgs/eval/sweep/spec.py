"""The sweep file and its expansion into runs: base config x variants x speakers x seeds.

A sweep file (YAML or JSON) names a base run config, the variants (Table 3 slugs, or a name with
dotted overrides), the speakers and the seeds; each combination becomes one `RunSpec` with its
own folder ``<output>/<speaker>/<variant>/seed-<k>/`` and a fully validated `TrainConfig`.
Relative paths in the sweep file (``base``, ``output``, speaker folders, weight files) are taken
from the sweep file's own folder, so the same file works from any working directory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pgs.core.config import read_config_file, validation_problems
from pgs.core.errors import ConfigError
from pgs.core.overrides import apply_settings as apply_overrides
from pgs.eval.selfdriven import EvalOptions

#: sweep.json format identifier.
SWEEP_SCHEMA = "pgs-eval/sweep/1"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Resources(_Section):
    """What one run asks the scheduler for (Ray task resources)."""

    cpus: float = Field(1.0, gt=0, description="CPUs per run (also its torch thread count, rounded down, >= 1).")
    gpus: float = Field(0.0, ge=0, description="GPUs per run (fractions share a GPU).")


class VariantEntry(_Section):
    """One variant: a Table 3 preset and/or dotted overrides of the base config."""

    name: str = Field(description="Folder and row name (letters, digits, '-', '_', '.').")
    preset: str | None = Field(
        None, description="Table 3 variant slug (gradient-concat, pixel-concat, mgf-no-mouth, mgf-no-face, full)."
    )
    set: dict[str, Any] = Field(
        default_factory=dict, description="Dotted overrides, e.g. {stages.static_iterations: 500}."
    )


class EvaluationEntry(_Section):
    """How each run is evaluated (as ``pgs eval``)."""

    region: str = Field("face", description="face or full.")
    max_frames: int | None = Field(None, ge=1, description="First N held-out frames (None: all).")
    fps_frames: int = Field(0, ge=0, description="Timed FPS frames (0: FPS not measured).")
    lpips_weights: str | None = Field(None, description="torchvision AlexNet weights for LPIPS.")
    syncnet_weights: str | None = Field(None, description="syncnet_v2.model for LSE-D / LSE-C.")
    landmarker: str | None = Field(None, description="MediaPipe face_landmarker.task for LMD on real speakers.")
    device: str | None = Field(None, description="Evaluation device (default: the run's training device).")
    audios: list[str] = Field(
        default_factory=list, description="Novel driving audios: cross-driven LSE per audio (Table 2)."
    )


class SweepFile(_Section):
    """The whole sweep file."""

    base: str | dict[str, Any] = Field(description="Base run config: a file path or an inline mapping.")
    output: str | None = Field(None, description="Sweep folder (default: runs/sweeps/<sweep file stem>).")
    speakers: dict[str, str] | None = Field(
        None, description="Speaker name -> processed-speaker folder (default: the base config's data.folder)."
    )
    variants: list[str | VariantEntry] | None = Field(
        None, description="Variants: Table 3 slugs or {name, preset, set} (default: the five Table 3 variants)."
    )
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, description="Training seeds.")
    set: dict[str, Any] = Field(default_factory=dict, description="Dotted overrides applied to every run.")
    resources: Resources = Field(default_factory=Resources)
    retries: int = Field(1, ge=0, description="Extra attempts of a failed run.")
    evaluation: EvaluationEntry = Field(default_factory=EvaluationEntry)
    compare: list[tuple[str, str]] | None = Field(
        None, description="Pairs [a, b] whose difference a - b gets a CI (default: the Table 3 pairs present)."
    )


@dataclass(frozen=True)
class Variant:
    """A resolved variant.

    Attributes:
        name: row and folder name.
        preset: Table 3 slug or None.
        overrides: dotted overrides applied after the preset.
        label: the row label of tables (the Table 3 name for presets without overrides).
    """

    name: str
    preset: str | None = None
    overrides: tuple[tuple[str, Any], ...] = ()
    label: str = ""


@dataclass(frozen=True)
class RunSpec:
    """One training run of a sweep (picklable: it travels to Ray workers).

    Attributes:
        run_id: ``speaker/variant/seed-k``.
        speaker: speaker name.
        variant: variant name.
        seed: training seed.
        folder: the run folder (= ``config["output"]``).
        config: the validated `TrainConfig` as JSON data.
        evaluation: how the run is evaluated.
        resources: scheduler resources.
        label: table row label of the variant.
        audios: (column name, file) of the novel driving audios (cross-driven, Table 2).
    """

    run_id: str
    speaker: str
    variant: str
    seed: int
    folder: Path
    config: dict[str, Any]
    evaluation: EvalOptions
    resources: Resources = field(default_factory=Resources)
    label: str = ""
    audios: tuple[tuple[str, Path], ...] = ()

    def evaluation_dict(self) -> dict[str, Any]:
        """The evaluation options as JSON data (the fingerprint a finished run is reused by)."""
        data = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self.evaluation).items()}
        if self.audios:
            data["audios"] = {name: str(path) for name, path in self.audios}
        return data


@dataclass
class Sweep:
    """An expanded sweep.

    Attributes:
        name: sweep name (file stem).
        output: sweep folder.
        runs: every run, ordered speaker, variant, seed.
        variants: the variants in order.
        speakers: speaker name -> folder.
        seeds: the seeds.
        retries: extra attempts of a failed run.
        compare: (a, b) pairs compared by paired differences.
    """

    name: str
    output: Path
    runs: list[RunSpec]
    variants: list[Variant]
    speakers: dict[str, Path]
    seeds: list[int]
    retries: int = 1
    compare: list[tuple[str, str]] = field(default_factory=list)


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _check_name(kind: str, name: str, source: str) -> None:
    if not _NAME.match(name):
        raise ConfigError(f"{source}: {kind} name {name!r} must be letters, digits, '.', '-' or '_' (it is a folder)")


def _resolve(path: str | Path, root: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else root / p


def _variants(entries: Sequence[str | VariantEntry] | None, source: str) -> list[Variant]:
    from pgs.eval.ablation import select_variants, variant_slug

    if entries is None:
        return [Variant(variant_slug(v), variant_slug(v), (), v.name) for v in select_variants(None)]
    out = []
    for entry in entries:
        item = VariantEntry(name=entry, preset=entry) if isinstance(entry, str) else entry
        _check_name("variant", item.name, source)
        label = item.name
        if item.preset is not None:
            try:
                (preset,) = select_variants([item.preset])
            except ConfigError as exc:
                raise ConfigError(f"{source}: variants: {exc}") from None
            label = preset.name if not item.set and item.name == variant_slug(preset) else item.name
            item = item.model_copy(update={"preset": variant_slug(preset)})
        out.append(Variant(item.name, item.preset, tuple(item.set.items()), label))
    names = [v.name for v in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: variants: duplicate names {sorted({n for n in names if names.count(n) > 1})}")
    if not out:
        raise ConfigError(f"{source}: variants: none given")
    return out


#: Default comparisons (a, b): what the row a adds over row b in Table 3.
TABLE3_PAIRS: tuple[tuple[str, str], ...] = (
    ("pixel-concat", "gradient-concat"),  # pixel-aware density control vs the 3DGS gradient
    ("full", "pixel-concat"),  # MGF in both branches vs concat-mlp
    ("mgf-no-mouth", "pixel-concat"),  # face MGF module alone
    ("mgf-no-face", "pixel-concat"),  # mouth MGF module alone
    ("full", "gradient-concat"),  # the whole method vs the baseline
)


def default_pairs(variants: Sequence[Variant]) -> list[tuple[str, str]]:
    """The Table 3 pairs present; otherwise every variant against the first."""
    names = [v.name for v in variants]
    pairs = [(a, b) for a, b in TABLE3_PAIRS if a in names and b in names]
    if pairs:
        return pairs
    return [(n, names[0]) for n in names[1:]]


def variant_train_config(base: dict[str, Any], variant: Variant, source: str) -> dict[str, Any]:
    """The base config data with the variant's Table 3 components and overrides applied (not yet validated)."""
    from pgs.eval.ablation import select_variants, variant_config

    data = base
    if variant.preset is not None:
        (preset,) = select_variants([variant.preset])
        validated = _validate(data, source)
        data = variant_config(validated, preset, validated.output).model_dump(mode="json")
    if variant.overrides:
        data = apply_overrides(data, variant.overrides, f"{source}: variant {variant.name}")
    return data


def _validate(data: dict[str, Any], source: str) -> Any:
    from pgs.core.training.config import TrainConfig

    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc), source) from None


def build_runs(
    base: dict[str, Any],
    variants: Sequence[Variant],
    speakers: Mapping[str, Path],
    seeds: Sequence[int],
    evaluation: EvalOptions | None,
    resources: Resources,
    folder_of: Any,
    source: str,
    audios: Sequence[tuple[str, Path]] = (),
) -> list[RunSpec]:
    """Every (speaker, variant, seed) run with its validated config.

    Args:
        base: base config data.
        variants: the variants.
        speakers: name -> folder.
        seeds: training seeds.
        evaluation: options; None: the defaults on each run's training device.
        resources: per-run resources.
        folder_of: ``folder_of(speaker, variant, seed) -> Path``.
        source: where the sweep came from (error messages).
        audios: (name, file) of novel driving audios evaluated cross-driven.

    Raises:
        ConfigError: a run's config does not validate (every run is checked before any starts).
    """
    runs = []
    for speaker, speaker_folder in speakers.items():
        for variant in variants:
            data = variant_train_config(base, variant, source)
            for seed in seeds:
                folder = folder_of(speaker, variant.name, seed)
                run_data = {**data, "seed": int(seed), "output": str(folder)}
                run_data["data"] = {**(run_data.get("data") or {}), "folder": str(speaker_folder)}
                config = _validate(run_data, f"{source} (variant {variant.name}, speaker {speaker}, seed {seed})")
                options = evaluation or EvalOptions(fps_frames=0, device=config.device)
                runs.append(
                    RunSpec(
                        run_id=f"{speaker}/{variant.name}/seed-{seed}",
                        speaker=speaker,
                        variant=variant.name,
                        seed=int(seed),
                        folder=Path(folder),
                        config=config.model_dump(mode="json"),
                        evaluation=options,
                        resources=resources,
                        label=variant.label or variant.name,
                        audios=tuple(audios),
                    )
                )
    return runs


def _evaluation_options(ev: EvaluationEntry, root: Path, base: dict[str, Any], source: str) -> EvalOptions:
    """The sweep file's evaluation section as `EvalOptions` (weight files checked, paths resolved)."""
    for key in ("lpips_weights", "syncnet_weights", "landmarker"):
        value = getattr(ev, key)
        if value is not None and not _resolve(value, root).is_file():
            raise ConfigError(f"{source}: evaluation.{key}: {_resolve(value, root)}: file not found")
    if ev.region not in ("face", "full"):
        raise ConfigError(f"{source}: evaluation.region: must be face or full, got {ev.region!r}")
    device = ev.device or _validate({**base, "data": {**(base.get("data") or {}), "folder": None}}, source).device
    return EvalOptions(
        region=ev.region,  # type: ignore[arg-type]
        lpips_weights=_resolve(ev.lpips_weights, root) if ev.lpips_weights else None,
        syncnet_weights=_resolve(ev.syncnet_weights, root) if ev.syncnet_weights else None,
        landmarker=_resolve(ev.landmarker, root) if ev.landmarker else None,
        max_frames=ev.max_frames,
        fps_frames=ev.fps_frames,
        fps_warmup=min(10, ev.fps_frames),
        device=device,
    )


def _audios(ev: EvaluationEntry, root: Path, source: str) -> list[tuple[str, Path]]:
    """(unique column name, file) of the novel driving audios."""
    audios: list[tuple[str, Path]] = []
    for entry in ev.audios:
        audio = _resolve(entry, root)
        if not audio.is_file():
            raise ConfigError(f"{source}: evaluation.audios: {audio}: file not found")
        name, n = audio.stem or "audio", 2
        while name in [a for a, _ in audios]:
            name, n = f"{audio.stem}_{n}", n + 1
        audios.append((name, audio))
    return audios


def _speakers(spec: SweepFile, base: dict[str, Any], root: Path, source: str) -> dict[str, Path]:
    """Speaker name -> existing folder: the file's ``speakers``, else the base config's data.folder."""
    if spec.speakers:
        speakers = {}
        for name, folder in spec.speakers.items():
            _check_name("speaker", name, source)
            speakers[name] = _resolve(folder, root)
    else:
        folder = (base.get("data") or {}).get("folder")
        if not folder:
            raise ConfigError(f"{source}: speakers: none given and the base config has no data.folder")
        speakers = {Path(folder).name or "speaker": Path(folder)}
    for name, path in speakers.items():
        if not path.is_dir():
            raise ConfigError(f"{source}: speakers.{name}: {path}: speaker folder not found")
    return speakers


def load_sweep(
    path: str | Path,
    output: Path | None = None,
    overrides: Sequence[tuple[str, Any]] = (),
) -> Sweep:
    """Read and expand a sweep file.

    Args:
        path: the sweep file.
        output: sweep folder (overrides the file's ``output``).
        overrides: dotted overrides of the base config from the command line (after the file's ``set``).

    Raises:
        ConfigError: malformed file, unknown variant, invalid run config, missing speaker folder.
    """
    path = Path(path)
    source = str(path)
    raw = read_config_file(path)
    try:
        spec = SweepFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc), source) from None
    root = path.resolve().parent
    if isinstance(spec.base, str):
        base_path = _resolve(spec.base, root)
        base = read_config_file(base_path)
    else:
        base = dict(spec.base)
    base = apply_overrides(base, spec.set, source)
    base = apply_overrides(base, list(overrides), "command line")
    speakers = _speakers(spec, base, root, source)
    out = output if output is not None else _resolve(spec.output or f"runs/sweeps/{path.stem}", root)
    variants = _variants(spec.variants, source)
    options = _evaluation_options(spec.evaluation, root, base, source)
    audios = _audios(spec.evaluation, root, source)
    runs = build_runs(
        base,
        variants,
        speakers,
        spec.seeds,
        options,
        spec.resources,
        lambda speaker, variant, seed: out / speaker / variant / f"seed-{seed}",
        source,
        audios,
    )
    names = {v.name for v in variants}
    compare = [tuple(p) for p in spec.compare] if spec.compare else default_pairs(variants)
    for a, b in compare:
        if a not in names or b not in names:
            raise ConfigError(f"{source}: compare: [{a}, {b}]: both must be variant names ({', '.join(sorted(names))})")
    if len(set(spec.seeds)) != len(spec.seeds):
        raise ConfigError(f"{source}: seeds: duplicates in {spec.seeds}")
    return Sweep(path.stem, out, runs, variants, speakers, list(spec.seeds), spec.retries, list(compare))  # type: ignore[arg-type]


__all__ = [
    "SWEEP_SCHEMA",
    "TABLE3_PAIRS",
    "EvaluationEntry",
    "Resources",
    "RunSpec",
    "Sweep",
    "SweepFile",
    "Variant",
    "VariantEntry",
    "build_runs",
    "default_pairs",
    "load_sweep",
    "variant_train_config",
]
