"""Plugin registry: components discovered through `importlib.metadata` entry points.

Every swappable part of the toolkit (audio encoders, fusion modules, density strategies,
evaluators, rasterizer backends, CLI commands) is an entry point in one of the groups of
`pgs.core.groups`. An entry point's value names a `ComponentSpec` (or a `CommandSpec` for the
`pgs.commands` group), for example in a plugin's ``pyproject.toml``::

    [project.entry-points."pgs.fusion"]
    film = "pgs_fusion_film:SPEC"

Listing (`Registry.names`, `Registry.entries`) reads distribution metadata only and imports
nothing; `Registry.get` imports one plugin on first use; `Registry.create` validates the
plugin's config and builds the component. Problems are reported as `PluginError` with what to do
about them: close matches and the distribution to install for an unknown name, both
distributions for a duplicate name, the entry point and distribution for a plugin that fails to
import (the other plugins keep working).
"""

from __future__ import annotations

import argparse
import difflib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from pgs.core.errors import ConfigError, PluginError
from pgs.core.groups import (
    ALL_GROUPS,
    COMMANDS,
    GROUP_KINDS,
    GROUP_PROVIDERS,
    KNOWN_COMPONENTS,
    check_group,
)

#: Version of the plugin API this pgs-core implements. A spec built for a newer major version
#: is rejected with a message asking to upgrade pgs-core.
API_VERSION = 1

ConfigT = TypeVar("ConfigT", bound=BaseModel)
ComponentT = TypeVar("ComponentT")

IN_PROCESS = "<registered in-process>"


@dataclass(frozen=True)
class ComponentSpec(Generic[ConfigT, ComponentT]):
    """What a plugin's entry point loads: how to configure and build one component.

    Attributes:
        name: registry name, e.g. ``"mgf"`` (lower case, digits and dashes).
        group: entry-point group, one of `pgs.core.groups.COMPONENT_GROUPS`.
        config_class: pydantic model of the component's hyperparameters.
        factory: builds the component from a validated config.
        description: one line shown by ``pgs plugins``.
        api_version: the `API_VERSION` the plugin was written against.
    """

    name: str
    group: str
    config_class: type[ConfigT]
    factory: Callable[[ConfigT], ComponentT]
    description: str
    api_version: int = API_VERSION

    def __post_init__(self) -> None:
        check_group(self.group)
        if self.group == COMMANDS:
            raise ValueError("commands are described by CommandSpec, not ComponentSpec")
        _check_name(self.name)
        if not (isinstance(self.config_class, type) and issubclass(self.config_class, BaseModel)):
            raise TypeError(f"{self.name}: config_class must be a pydantic BaseModel subclass")
        if not callable(self.factory):
            raise TypeError(f"{self.name}: factory must be callable")

    @classmethod
    def of(
        cls,
        group: str,
        config_class: type[ConfigT],
        factory: Callable[[ConfigT], ComponentT],
        description: str | None = None,
        *,
        name: str | None = None,
    ) -> ComponentSpec[ConfigT, ComponentT]:
        """The short form plugins register with: name and description default to the factory's own.

        ``SPEC = ComponentSpec.of(EVALUATORS, FpsConfig, FpsEvaluator)`` equals
        ``ComponentSpec(name=FpsEvaluator.name, group=EVALUATORS, config_class=FpsConfig,
        factory=FpsEvaluator, description=FpsEvaluator.description)``.

        Raises:
            TypeError: `name` or `description` not given and the factory has no such string attribute.
        """
        values = {"name": name, "description": description}
        for key, value in values.items():
            values[key] = getattr(factory, key, None) if value is None else value
            if not isinstance(values[key], str):
                raise TypeError(f"{getattr(factory, '__name__', factory)!r}: pass {key}=, the factory has no {key!r}")
        return cls(values["name"], group, config_class, factory, values["description"])


@dataclass(frozen=True)
class CommandSpec:
    """A ``pgs`` sub-command contributed through the `pgs.commands` group.

    Attributes:
        name: sub-command name (``pgs NAME``).
        help: one-line summary shown by ``pgs --help``.
        add_arguments: adds the command's arguments to its argparse parser.
        run: executes the command with parsed arguments and returns the exit code.
        description: longer text with examples for ``pgs NAME --help``.
        api_version: the `API_VERSION` the command was written against.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str = ""
    api_version: int = API_VERSION

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def group(self) -> str:
        """The entry-point group of every command."""
        return COMMANDS


@dataclass(frozen=True)
class PluginEntry:
    """One entry point as read from installed metadata, before anything is imported.

    Attributes:
        name: registry name.
        group: entry-point group.
        value: the entry point's ``module:attribute`` string (``IN_PROCESS`` if registered in code).
        distribution: the distribution that declares it.
        version: that distribution's version.
    """

    name: str
    group: str
    value: str
    distribution: str
    version: str

    def describe(self) -> str:
        """``'name = value' from distribution X 1.0`` for error messages."""
        if self.value == IN_PROCESS:
            return f"{self.name!r} ({IN_PROCESS})"
        return f"entry point '{self.name} = {self.value}' from distribution {self.distribution} {self.version}"


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded, with the reason."""

    entry: PluginEntry
    error: str


def _check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise ValueError(f"invalid plugin name {name!r}: use letters, digits, '-', '_' or '.'")


def _distribution_of(ep: EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return ("<unknown distribution>", "?")
    return (dist.metadata["Name"] or dist.name, dist.version)


@dataclass
class Registry:
    """The components of one entry-point group.

    Args:
        group: one of `pgs.core.groups.ALL_GROUPS`.
    """

    group: str
    _entries: dict[str, list[PluginEntry]] | None = field(default=None, repr=False)
    _eps: dict[tuple[str, str, str], EntryPoint] = field(default_factory=dict, repr=False)
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False)
    _in_process: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        check_group(self.group)

    @property
    def kind(self) -> str:
        """Human-readable component kind, e.g. ``"fusion module"``."""
        return GROUP_KINDS[self.group]

    # ------------------------------------------------------------------ discovery (metadata only)
    def refresh(self) -> None:
        """Forget discovered entry points and loaded plugins (after installing or editing sys.path)."""
        with self._lock:
            self._entries = None
            self._eps.clear()
            self._loaded.clear()

    def _discover(self) -> dict[str, list[PluginEntry]]:
        with self._lock:
            if self._entries is None:
                found: dict[str, list[PluginEntry]] = {}
                seen: set[tuple[str, str, str]] = set()
                for ep in entry_points(group=self.group):
                    dist, version = _distribution_of(ep)
                    key = (ep.name, ep.value, dist)
                    if key in seen:  # the same distribution visible twice on sys.path
                        continue
                    seen.add(key)
                    entry = PluginEntry(ep.name, self.group, ep.value, dist, version)
                    found.setdefault(ep.name, []).append(entry)
                    self._eps[key] = ep
                self._entries = found
            return self._entries

    def entries(self) -> list[PluginEntry]:
        """Every entry point of the group plus in-process registrations, sorted by name.

        Reads metadata only; imports nothing.
        """
        with self._lock:
            out = [e for group in self._discover().values() for e in group]
            out += [
                PluginEntry(n, self.group, IN_PROCESS, IN_PROCESS, "") for n in self._in_process
            ]
        return sorted(out, key=lambda e: (e.name, e.distribution))

    def names(self) -> list[str]:
        """Sorted unique component names. Reads metadata only; imports nothing."""
        return sorted({e.name for e in self.entries()})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    # ------------------------------------------------------------------ loading
    def get(self, name: str) -> Any:
        """Load and return the spec registered under `name` (imports its module on first use).

        Raises:
            PluginError: unknown name, the name is declared by two distributions, or the plugin
                failed to import or does not load a valid spec.
        """
        with self._lock:
            if name in self._in_process:
                return self._in_process[name]
            if name in self._loaded:
                return self._loaded[name]
            candidates = self._discover().get(name, [])
            if not candidates:
                raise PluginError(self._unknown_message(name))
            if len(candidates) > 1:
                both = "; ".join(e.describe() for e in candidates)
                raise PluginError(
                    f"{self.kind} {name!r} is declared more than once in group {self.group}: {both}. "
                    "Uninstall one of these distributions."
                )
            entry = candidates[0]
            spec = self._load_entry(entry)
            self._loaded[name] = spec
            return spec

    def _load_entry(self, entry: PluginEntry) -> Any:
        ep = self._eps[(entry.name, entry.value, entry.distribution)]
        try:
            spec = ep.load()
        except Exception as exc:
            raise PluginError(
                f"{self.kind} {entry.name!r} failed to load ({entry.describe()}): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        self._check_spec(spec, entry.describe(), entry.name)
        return spec

    def _check_spec(self, spec: Any, where: str, name: str) -> None:
        expected = CommandSpec if self.group == COMMANDS else ComponentSpec
        if not isinstance(spec, expected):
            raise PluginError(
                f"{where} loads a {type(spec).__name__}, expected a {expected.__name__}"
            )
        if spec.name != name:
            raise PluginError(f"{where} loads a spec named {spec.name!r}, expected {name!r}")
        if spec.group != self.group:
            raise PluginError(f"{where} loads a spec for group {spec.group}, expected {self.group}")
        if spec.api_version > API_VERSION:
            raise PluginError(
                f"{where} needs plugin API version {spec.api_version}, but this pgs-core supports "
                f"{API_VERSION}: upgrade pgs-core (pip install -U pgs-core)"
            )

    def load_all(self) -> tuple[list[Any], list[PluginFailure]]:
        """Load every plugin of the group; failures are collected, not raised.

        Returns:
            (loaded specs, failures), each sorted by name.
        """
        specs: list[Any] = []
        failures: list[PluginFailure] = []
        for name in self.names():
            try:
                specs.append(self.get(name))
            except PluginError as exc:
                entry = next(e for e in self.entries() if e.name == name)
                failures.append(PluginFailure(entry, str(exc)))
        return specs, failures

    # ------------------------------------------------------------------ building
    def validate_config(
        self, name: str, params: Mapping[str, Any] | BaseModel | None, location: str = ""
    ) -> BaseModel:
        """Validate `params` against component `name`'s config class.

        Args:
            name: component name.
            params: a mapping of hyperparameters, an instance of the config class, or None for
                the defaults.
            location: dotted path of `params` in a larger config, prefixed to every problem.

        Raises:
            ConfigError: listing every problem with its path.
            PluginError: the component is unknown or fails to load.
        """
        spec = self.get(name)
        if isinstance(params, spec.config_class):
            return params
        if isinstance(params, BaseModel):
            params = params.model_dump()
        try:
            return spec.config_class.model_validate(dict(params or {}))
        except ValidationError as exc:
            from pgs.core.config import validation_problems

            raise ConfigError(validation_problems(exc, location)) from None

    def create(self, name: str, config: Mapping[str, Any] | BaseModel | None = None) -> Any:
        """Validate `config` for component `name` and build the component."""
        if self.group == COMMANDS:
            raise PluginError("commands are run by the CLI, not created")
        cfg = self.validate_config(name, config)
        return self.get(name).factory(cfg)

    # ------------------------------------------------------------------ in-process registration
    def register(self, spec: Any, *, replace: bool = False) -> Any:
        """Register a spec in this process (notebooks, tests, scripts).

        Args:
            spec: a `ComponentSpec` (or `CommandSpec` for the commands group).
            replace: allow replacing a component of the same name.

        Returns:
            `spec`, so this can be used as ``SPEC = registry.register(ComponentSpec(...))``.

        Raises:
            PluginError: the name is already taken and `replace` is False.
        """
        self._check_spec(spec, f"in-process spec {getattr(spec, 'name', spec)!r}", spec.name)
        with self._lock:
            if not replace and spec.name in self.names():
                owners = [e.describe() for e in self.entries() if e.name == spec.name]
                raise PluginError(
                    f"{self.kind} {spec.name!r} is already registered ({'; '.join(owners)}); "
                    "pass replace=True to override it in this process"
                )
            self._in_process[spec.name] = spec
        return spec

    def unregister(self, name: str) -> None:
        """Remove an in-process registration (entry points cannot be unregistered)."""
        with self._lock:
            if name not in self._in_process:
                raise PluginError(f"{self.kind} {name!r} was not registered in-process")
            del self._in_process[name]

    # ------------------------------------------------------------------ messages
    def _unknown_message(self, name: str) -> str:
        installed = self.names()
        known = KNOWN_COMPONENTS.get(self.group, {})
        parts = [f"unknown {self.kind} {name!r}."]
        close = difflib.get_close_matches(name, sorted(set(installed) | set(known)), n=3, cutoff=0.6)
        if close:
            parts.append(f"Did you mean {', '.join(repr(c) for c in close)}?")
        parts.append(f"Installed: {', '.join(installed) if installed else 'none'}.")
        if name in known:
            parts.append(f"{name!r} is provided by {known[name]}: pip install {known[name].split()[0]}")
        else:
            provider = GROUP_PROVIDERS[self.group]
            parts.append(f"The toolkit's {self.kind}s come with {provider} (pip install {provider}).")
        return " ".join(parts)


_REGISTRIES: dict[str, Registry] = {}
_REGISTRIES_LOCK = threading.Lock()


def registry(group: str) -> Registry:
    """The process-wide `Registry` of `group` (created on first use)."""
    check_group(group)
    with _REGISTRIES_LOCK:
        if group not in _REGISTRIES:
            _REGISTRIES[group] = Registry(group)
        return _REGISTRIES[group]


def run_plugin_command(name: str, argv: list[str]) -> None:
    """Run a ``pgs`` sub-command contributed by a plugin package, as the CLI would.

    Args:
        name: the command (``prep``, ``eval``).
        argv: its arguments.

    Raises:
        PgsError: the command failed (its message is kept), or exited with a non-zero code.
    """
    import argparse

    from pgs.core.errors import PgsError
    from pgs.core.groups import COMMANDS

    spec = registry(COMMANDS).get(name)
    parser = argparse.ArgumentParser(prog=f"pgs {name}")
    spec.add_arguments(parser)
    code = int(spec.run(parser.parse_args(argv)))
    if code != 0:
        raise PgsError(f"pgs {name} exited with code {code}")


def refresh_all() -> None:
    """Re-read entry points of every group (after installing a plugin at run time)."""
    for group in ALL_GROUPS:
        registry(group).refresh()


__all__ = [
    "run_plugin_command",
    "API_VERSION",
    "CommandSpec",
    "ComponentSpec",
    "PluginEntry",
    "PluginFailure",
    "Registry",
    "refresh_all",
    "registry",
]
