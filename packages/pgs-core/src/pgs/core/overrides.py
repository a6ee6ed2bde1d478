"""Dotted command-line overrides of a run config: ``pgs train run.yaml stages.static_iterations=500``.

Each override is ``KEY=VALUE`` where ``KEY`` is a dotted path into the config
(``model.face.num_points``) and ``VALUE`` is read as a YAML scalar or flow collection
(``500``, ``2e-4``, ``true``, ``null``, ``[1, 2]``, ``{name: gradient}``, or plain text).
Overrides are merged into the config data before validation, so a wrong key or value is
reported by the same validation, at its path, as one in the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pgs.core.errors import ConfigError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")


def is_override(text: str) -> bool:
    """Whether a command-line word is a ``KEY=VALUE`` override (not a file name)."""
    key, sep, _ = text.partition("=")
    return bool(sep) and _KEY.match(key) is not None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b=3"`` -> ``(["a", "b"], 3)``.

    Raises:
        ConfigError: not ``KEY=VALUE``, or a value YAML cannot read.
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
    return key.split("."), _number(value)


def _number(value: Any) -> Any:
    """YAML 1.1 reads ``2e-4`` (no dot) as text; a user means the number."""
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return value
    return value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of the config mapping `data` with every ``KEY=VALUE`` of `overrides` set, in order.

    Raises:
        ConfigError: a malformed override, or a path that runs through a value that is not a mapping.
    """
    out = _copy(data)
    for text in overrides:
        path, value = parse_override(text)
        node = out
        for depth, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(path[: depth + 1])
                raise ConfigError(f"override {text!r}: {where} is {child!r}, not a section with fields")
            node = child
        node[path[-1]] = value
    return out


def _copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy(v) for v in data]
    return data


__all__ = ["apply_overrides", "is_override", "parse_override"]
