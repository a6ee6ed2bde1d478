"""Assemble a run config the way ``pgs train`` does: a file or a preset, then command-line overrides.

Order (later wins): the config file, or a preset (``--preset``; with only ``--data``, the default
preset); then ``KEY=VALUE`` overrides; then the ``--data`` / ``--output`` options. The result is
validated once, so every problem is reported at its dotted path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pgs.core.config import read_config_file, validate_config_data
from pgs.core.errors import ConfigError
from pgs.core.overrides import apply_overrides
from pgs.core.preset import load_preset, preset_path
from pgs.core.training.config import TrainConfig


def default_preset() -> str:
    """The preset ``pgs train --data DIR`` uses: ``paper`` on a CUDA machine, else ``real-cpu``.

    ``real-cpu`` is the recipe measured on a 2-core CPU (pgs-core README); ``paper`` is
    PGSTalker/TalkingGaussian's schedule, hours of work on a CPU.
    """
    import torch

    return "paper" if torch.cuda.is_available() else "real-cpu"


def assemble_config(
    config_file: Path | None = None,
    preset: str | Path | None = None,
    overrides: Sequence[str] = (),
    data: Path | None = None,
    output: Path | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[TrainConfig, str]:
    """The validated run config and a short description of where it came from.

    Args:
        config_file: a run config file (YAML or JSON).
        preset: a preset name or file (instead of `config_file`).
        overrides: ``KEY=VALUE`` dotted overrides (`pgs.core.overrides`).
        data: speaker folder (``data.folder``).
        output: output folder (``output``; default without a config file: ``runs/<data folder name>``).
        extra: further nested updates applied last (e.g. ``{"loss": {"lpips_required": False}}``).

    Raises:
        ConfigError: both or neither of a file and a source of data, bad overrides, or invalid values.
    """
    if config_file is not None and preset is not None:
        raise ConfigError("give a run config file or --preset, not both (use KEY=VALUE overrides to change a file)")
    if config_file is not None:
        raw, source = read_config_file(config_file), str(config_file)
    elif preset is not None or data is not None:
        name = preset if preset is not None else default_preset()
        raw, source = load_preset(name), f"preset {name} ({preset_path(name)})"
    else:
        raise ConfigError(
            "give a run config file, --data DIR (the default preset), --preset NAME, --print-config, "
            "or --resume CHECKPOINT"
        )
    raw = apply_overrides(raw, overrides)
    if data is not None:
        raw["data"] = {**raw.get("data", {}), "folder": str(data)}
    if output is not None:
        raw["output"] = str(output)
    elif config_file is None and "output" not in raw and data is not None:
        raw["output"] = str(Path("runs") / Path(data).name)
    for section, values in (extra or {}).items():
        raw[section] = {**raw.get(section, {}), **values} if isinstance(values, dict) else values
    where = source + (f" with {len(overrides)} override(s)" if overrides else "")
    return validate_config_data(TrainConfig, raw, where), where


__all__ = ["assemble_config", "default_preset"]
