"""Named run-config presets: YAML files shipped with pgs-core (``pgs/core/presets/NAME.yaml``).

A preset is a partial run config (any `TrainConfig` keys); the keys it leaves out keep their
defaults. Names use dashes (``real-cpu``) and map to files with underscores (``real_cpu.yaml``);
``examples/configs/`` links to the same files. A path to a YAML/JSON file works wherever a name does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pgs.core.config import read_config_file
from pgs.core.errors import ConfigError

#: Folder of the shipped preset files.
PRESET_DIR = Path(__file__).with_name("presets")


def preset_names() -> list[str]:
    """The shipped preset names (``real-cpu``, ...), sorted."""
    return sorted(p.stem.replace("_", "-") for p in PRESET_DIR.glob("*.yaml"))


def preset_path(name: str | Path) -> Path:
    """The file of preset `name` (a shipped name, or a path to a config file).

    Raises:
        ConfigError: neither a shipped preset nor an existing file; the message lists the names.
    """
    candidate = Path(name)
    if candidate.suffix.lower() in (".yaml", ".yml", ".json"):
        if not candidate.is_file():
            raise ConfigError("preset file not found", str(candidate))
        return candidate
    path = PRESET_DIR / f"{str(name).replace('-', '_')}.yaml"
    if not path.is_file():
        raise ConfigError(f"preset: unknown name {str(name)!r}; shipped presets: {', '.join(preset_names())}")
    return path


def load_preset(name: str | Path) -> dict[str, Any]:
    """The preset's run-config data (unvalidated; merge it, then validate with `TrainConfig`)."""
    return read_config_file(preset_path(name))


def merge(base: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    """A deep merge of two nested config mappings (values of `updates` win)."""
    out = dict(base)
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


__all__ = ["PRESET_DIR", "load_preset", "merge", "preset_names", "preset_path"]
