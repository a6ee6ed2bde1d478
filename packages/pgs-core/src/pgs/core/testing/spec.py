"""Checks every component spec must pass, whatever its group."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from pgs.core import groups, interfaces
from pgs.core.registry import API_VERSION, ComponentSpec


class ContractError(AssertionError):
    """A plugin breaks a rule of its group's contract."""


#: The interface a component of each group must implement.
GROUP_INTERFACES: dict[str, type] = {
    groups.AUDIO_ENCODERS: interfaces.AudioEncoder,
    groups.FUSION: interfaces.FusionModule,
    groups.DENSITY: interfaces.DensityStrategy,
    groups.EVALUATORS: interfaces.Evaluator,
    groups.RASTERIZERS: interfaces.Rasterizer,
}


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ContractError(message)


def check_config_class(config_class: type[BaseModel], name: str) -> None:
    """The config rejects unknown keys, is frozen, has defaults and describes every field."""
    try:
        config = config_class()
    except ValidationError as exc:
        raise ContractError(f"{name}: config class must be constructible with defaults: {exc}") from None
    _require(config_class.model_config.get("extra") == "forbid", f"{name}: config must set extra='forbid'")
    _require(bool(config_class.model_config.get("frozen")), f"{name}: config must be frozen")
    undocumented = [f for f, info in config_class.model_fields.items() if not info.description]
    _require(not undocumented, f"{name}: config fields without a description: {undocumented}")
    try:
        config_class.model_validate({"__surely_not_a_field__": 1})
    except ValidationError:
        pass
    else:
        raise ContractError(f"{name}: config accepted an unknown key")
    round_trip = config_class.model_validate(config.model_dump())
    _require(round_trip == config, f"{name}: config does not survive model_dump/model_validate")


def check_component_spec(spec: ComponentSpec[Any, Any], config: BaseModel | None = None) -> Any:
    """Check the rules shared by every group and build one component.

    Args:
        spec: the plugin's `ComponentSpec`.
        config: config to build with (default: the config class's defaults).

    Returns:
        The built component, for group-specific checks.
    """
    _require(isinstance(spec, ComponentSpec), f"expected a ComponentSpec, got {type(spec).__name__}")
    _require(spec.api_version <= API_VERSION, f"{spec.name}: api_version {spec.api_version} > {API_VERSION}")
    _require(bool(spec.description.strip()), f"{spec.name}: description is empty")
    _require("\n" not in spec.description.strip(), f"{spec.name}: description must be one line")
    check_config_class(spec.config_class, spec.name)
    component = spec.factory(config if config is not None else spec.config_class())
    interface = GROUP_INTERFACES[spec.group]
    _require(
        isinstance(component, interface),
        f"{spec.name}: factory built a {type(component).__name__}, not a {interface.__name__}",
    )
    return component
