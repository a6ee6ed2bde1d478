"""Typed configuration: the pydantic base for component configs and the run-config file loader.

Component configs subclass `ComponentConfig` (unknown keys rejected, immutable, every field
described). Whole run configs are YAML or JSON files validated into a pydantic model by
`load_config`, which reports every problem at once with its dotted path, including problems
inside plugin parameters (``fusion.face.params.hidden_dim: Input should be greater than 0``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pgs.core.errors import ConfigError, PluginError

ModelT = TypeVar("ModelT", bound=BaseModel)


class ComponentConfig(BaseModel):
    """Base class of every component's hyperparameters: unknown keys are errors, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


class RunSection(BaseModel):
    """Base class of the sections of a run config (mutable while a config is being assembled)."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class ComponentChoice(RunSection):
    """A component chosen by registry name, with its parameters.

    Subclasses set `group` so that `load_config` validates `params` against the chosen plugin's
    config class and reports problems at their path in the file.
    """

    group: ClassVar[str] = ""
    #: Names resolved by the caller rather than the registry (e.g. ``"auto"``).
    special_names: ClassVar[frozenset[str]] = frozenset()

    name: str = Field(description="Registry name of the component (see `pgs plugins`).")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Parameters for the component's config class."
    )

    def build(self) -> Any:
        """Create the component through the registry of `group`."""
        from pgs.core.registry import registry

        return registry(self.group).create(self.name, self.params)


def validation_problems(error: ValidationError, location: str = "") -> list[str]:
    """Turn a pydantic `ValidationError` into ``"dotted.path: message"`` strings.

    Args:
        error: the pydantic error.
        location: a prefix for every path (the position of the validated object in a file).
    """
    problems = []
    for item in error.errors(include_url=False):
        parts = [location] if location else []
        parts += [str(p) for p in item["loc"]]
        path = ".".join(parts) or "<root>"
        problems.append(f"{path}: {item['msg']}")
    return problems


class DuplicateKeyError(ValueError):
    """A mapping in a config file names the same key twice (the second would silently win)."""


def _unique_keys_json(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKeyError(f"duplicate key {key!r} in the same mapping")
        seen[key] = value
    return seen


def _unique_keys_yaml_loader() -> type:
    """A `yaml.SafeLoader` that rejects a key repeated in one mapping, naming it and its line."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    line = key_node.start_mark.line + 1
                    raise DuplicateKeyError(f"duplicate key {key!r} at line {line} (a key may appear once per mapping)")
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (``.yaml``/``.yml``) or JSON (``.json``) file into a dict.

    Raises:
        ConfigError: the file is missing, unreadable, malformed (with line and column), or
            its top level is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError("file not found" if not path.exists() else "not a file", str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", str(path)) from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys_json)
        except DuplicateKeyError as exc:
            raise ConfigError(str(exc), str(path)) from None
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", str(path)
            ) from None
    else:
        import yaml

        try:
            data = yaml.load(text, Loader=_unique_keys_yaml_loader())
        except DuplicateKeyError as exc:
            raise ConfigError(str(exc), str(path)) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"malformed YAML{where}: {problem}", str(path)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"the top level must be a mapping of sections, got {type(data).__name__}", str(path)
        )
    return data


def _choice_fields(model: type[BaseModel], raw: Any, prefix: str) -> Iterator[tuple[str, type, Any]]:
    """Yield (path, ComponentChoice subclass, raw value) for every component choice in `raw`."""
    if not isinstance(raw, Mapping):
        return
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in raw:
            continue
        annotation = info.annotation
        path = f"{prefix}{key}"
        if isinstance(annotation, type) and issubclass(annotation, ComponentChoice):
            yield path, annotation, raw[key]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _choice_fields(annotation, raw[key], path + ".")


def component_problems(model: type[BaseModel], raw: Mapping[str, Any]) -> list[str]:
    """Validate every component choice's `params` in raw config data against its plugin.

    Returns:
        ``"path: message"`` problems: unknown plugin names and invalid parameters.
    """
    from pgs.core.registry import registry

    problems: list[str] = []
    for path, choice_cls, value in _choice_fields(model, raw, ""):
        if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
            continue  # the structural validation reports it
        params = value.get("params", {})
        if not isinstance(params, Mapping) or value["name"] in choice_cls.special_names:
            continue
        try:
            registry(choice_cls.group).validate_config(value["name"], params, f"{path}.params")
        except ConfigError as exc:
            problems += exc.problems
        except PluginError as exc:
            problems.append(f"{path}.name: {exc}")
    return problems


def validate_config_data(
    model: type[ModelT], data: Mapping[str, Any], source: str | None = None
) -> ModelT:
    """Validate raw config data, reporting structural and plugin-parameter problems together.

    Raises:
        ConfigError: with every problem and its dotted path.
    """
    problems: list[str] = []
    result: ModelT | None = None
    try:
        result = model.model_validate(dict(data))
    except ValidationError as exc:
        problems += validation_problems(exc)
    problems += component_problems(model, data)
    if problems or result is None:
        raise ConfigError(problems, source)
    return result


def load_config(path: str | Path, model: type[ModelT]) -> ModelT:
    """Load a YAML or JSON run config file into `model`.

    Raises:
        ConfigError: malformed file, or one entry per validation problem with its path.
    """
    return validate_config_data(model, read_config_file(path), str(path))


def config_defaults(model: type[BaseModel]) -> dict[str, Any]:
    """The defaults of `model` as plain data (for ``--print-config``)."""
    return model().model_dump(mode="json")


__all__ = [
    "ComponentChoice",
    "ComponentConfig",
    "RunSection",
    "component_problems",
    "config_defaults",
    "load_config",
    "read_config_file",
    "validate_config_data",
    "validation_problems",
]
