"""Dotted overrides of a run config: ``pgs train run.yaml stages.static_iterations=500``.

Each override is ``KEY=VALUE`` where ``KEY`` is a dotted path into the config
(``model.face.num_points``) and ``VALUE`` is read as a YAML scalar or flow collection
(``500``, ``2e-4``, ``true``, ``null``, ``[1, 2]``, ``{name: gradient}``, or plain text).
Overrides are merged into the config data before validation, so a wrong key or value is
reported by the same validation, at its path, as one in the file. The same rules serve
``pgs train``, ``pgs ablate`` and ``pgs sweep`` (whose sweep files hold ``set:`` mappings of
dotted keys, applied with `apply_settings`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pgs.core.errors import ConfigError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")


def is_override(text: str) -> bool:
    """Whether a command-line word is a ``KEY=VALUE`` override (not a file name)."""
    key, sep, _ = text.partition("=")
    return bool(sep) and _KEY.match(key) is not None


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b=3"`` -> ``("a.b", 3)``.

    Raises:
        ConfigError: not ``KEY=VALUE`` with a dotted key, or a value YAML cannot read.
    """
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or _KEY.match(key) is None:
        raise ConfigError(f"override {text!r}: expected KEY=VALUE with a dotted KEY such as stages.static_iterations")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"override {text!r}: cannot read the value: {problem}") from None
    return key, _number(value)


def _number(value: Any) -> Any:
    """YAML 1.1 reads ``2e-4`` (no dot) as text; a user means the number."""
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return value
    return value


def apply_settings(
    data: dict[str, Any], settings: Mapping[str, Any] | Sequence[tuple[str, Any]], source: str = ""
) -> dict[str, Any]:
    """A copy of `data` with each dotted key of `settings` set, in order (sections created as needed).

    Raises:
        ConfigError: a key runs through a value that is not a section (named with `source`).
    """
    out = copy.deepcopy(data)
    items = settings.items() if isinstance(settings, Mapping) else settings
    where = f"{source}: " if source else ""
    for key, value in items:
        parts = key.split(".")
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(
                    f"{where}override {key!r}: {'.'.join(parts[: depth + 1])} is {child!r}, not a section"
                )
            node = child
        node[parts[-1]] = value
    return out


def apply_overrides(data: dict[str, Any], overrides: Iterable[str], source: str = "") -> dict[str, Any]:
    """A copy of `data` with every ``KEY=VALUE`` text of `overrides` set, in order.

    Raises:
        ConfigError: a malformed override, or a path that runs through a value that is not a section.
    """
    return apply_settings(data, [parse_override(text) for text in overrides], source)


__all__ = ["apply_overrides", "apply_settings", "is_override", "parse_override"]
