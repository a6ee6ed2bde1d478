"""Registry behaviour against real entry points of throwaway distributions on sys.path."""

from __future__ import annotations

import sys

import pytest
from pydantic import Field

from pgs.core import groups
from pgs.core.config import ComponentConfig
from pgs.core.errors import ConfigError, PluginError
from pgs.core.interfaces import FusionModule
from pgs.core.registry import API_VERSION, ComponentSpec, Registry, registry


def test_listing_reads_metadata_without_importing(dists, fusion_source) -> None:
    dists.add(
        "lazy-plugin", {groups.FUSION: {"lazy-fusion": "lazy_mod:SPEC"}}, {"lazy_mod": fusion_source("lazy-fusion")}
    )
    reg = Registry(groups.FUSION)
    assert "lazy-fusion" in reg.names()
    entry = next(e for e in reg.entries() if e.name == "lazy-fusion")
    assert (entry.distribution, entry.version, entry.value) == ("lazy-plugin", "1.0", "lazy_mod:SPEC")
    assert "lazy_mod" not in sys.modules, "listing must not import plugin modules"
    spec = reg.get("lazy-fusion")
    assert "lazy_mod" in sys.modules
    assert spec.name == "lazy-fusion"


def test_create_validates_and_builds(dists, fusion_source) -> None:
    dists.add(
        "good-plugin", {groups.FUSION: {"good-fusion": "good_mod:SPEC"}}, {"good_mod": fusion_source("good-fusion")}
    )
    reg = Registry(groups.FUSION)
    module = reg.create("good-fusion", {"gain": 2.0, "hidden_dim": 8})
    assert isinstance(module, FusionModule)
    assert module.config.gain == 2.0 and module.config.hidden_dim == 8
    with pytest.raises(ConfigError) as info:
        reg.create("good-fusion", {"gain": -1.0, "hidden_dim": 0, "bogus": 1})
    text = str(info.value)
    assert "gain: Input should be greater than 0" in text
    assert "hidden_dim: Input should be greater than 0" in text
    assert "bogus: Extra inputs are not permitted" in text


def test_unknown_name_suggests_close_matches(dists, fusion_source) -> None:
    dists.add(
        "near-plugin", {groups.FUSION: {"alpha-fusion": "near_mod:SPEC"}}, {"near_mod": fusion_source("alpha-fusion")}
    )
    reg = Registry(groups.FUSION)
    with pytest.raises(PluginError) as info:
        reg.get("alpha-fusoin")
    message = str(info.value)
    assert "unknown fusion module 'alpha-fusoin'" in message
    assert "Did you mean 'alpha-fusion'" in message
    assert "pip install pgs-fusion" in message


def test_unknown_known_component_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(groups.KNOWN_COMPONENTS, groups.DENSITY, {"zz-strategy": "pgs-zz"})
    reg = Registry(groups.DENSITY)
    with pytest.raises(PluginError, match=r"'zz-strategy' is provided by pgs-zz: pip install pgs-zz"):
        reg.get("zz-strategy")


def test_duplicate_name_names_both_distributions(dists, fusion_source) -> None:
    dists.add("first-dist", {groups.FUSION: {"twin": "twin_a:SPEC"}}, {"twin_a": fusion_source("twin")})
    dists.add(
        "second-dist",
        {groups.FUSION: {"twin": "twin_b:SPEC", "single": "single_mod:SPEC"}},
        {"twin_b": fusion_source("twin"), "single_mod": fusion_source("single")},
    )
    reg = Registry(groups.FUSION)
    with pytest.raises(PluginError) as info:
        reg.get("twin")
    assert "first-dist" in str(info.value) and "second-dist" in str(info.value)
    assert reg.get("single").name == "single"  # the rest keeps working


def test_plugin_failing_to_import_is_reported_and_others_work(dists, fusion_source) -> None:
    dists.add(
        "broken-dist",
        {groups.FUSION: {"broken": "broken_mod:SPEC", "fine": "fine_mod:SPEC"}},
        {"broken_mod": "raise ImportError('needs libfoo')\n", "fine_mod": fusion_source("fine")},
        version="2.3",
    )
    reg = Registry(groups.FUSION)
    assert {"broken", "fine"} <= set(reg.names())
    with pytest.raises(PluginError) as info:
        reg.get("broken")
    message = str(info.value)
    assert "broken = broken_mod:SPEC" in message and "broken-dist 2.3" in message
    assert "ImportError: needs libfoo" in message
    specs, failures = reg.load_all()
    assert "fine" in [s.name for s in specs]
    assert [f.entry.name for f in failures if f.entry.distribution == "broken-dist"] == ["broken"]


def test_entry_point_must_load_a_matching_spec(dists, fusion_source) -> None:
    dists.add(
        "odd-dist",
        {groups.FUSION: {"notspec": "odd_mod:THING", "renamed": "odd_mod:SPEC", "future": "odd_mod:FUTURE"}},
        {
            "odd_mod": fusion_source("other-name") + "\nTHING = 42\n"
            "import dataclasses\nFUTURE = dataclasses.replace(SPEC, name='future', api_version=99)\n"
        },
    )
    reg = Registry(groups.FUSION)
    with pytest.raises(PluginError, match="loads a int, expected a ComponentSpec"):
        reg.get("notspec")
    with pytest.raises(PluginError, match="spec named 'other-name', expected 'renamed'"):
        reg.get("renamed")
    with pytest.raises(PluginError, match=f"supports {API_VERSION}: upgrade pgs-core"):
        reg.get("future")


class _Cfg(ComponentConfig):
    width: int = Field(3, gt=0, description="A width.")


def _spec(name: str) -> ComponentSpec:
    return ComponentSpec(
        name=name,
        group=groups.EVALUATORS,
        config_class=_Cfg,
        factory=lambda c: c,
        description="in-process test component",
    )


def test_in_process_registration() -> None:
    reg = registry(groups.EVALUATORS)
    spec = reg.register(_spec("in-proc-eval"))
    try:
        assert "in-proc-eval" in reg.names()
        assert reg.get("in-proc-eval") is spec
        assert reg.create("in-proc-eval", {"width": 5}).width == 5
        with pytest.raises(PluginError, match="already registered"):
            reg.register(_spec("in-proc-eval"))
        replacement = reg.register(_spec("in-proc-eval"), replace=True)
        assert reg.get("in-proc-eval") is replacement
    finally:
        reg.unregister("in-proc-eval")
    assert "in-proc-eval" not in reg.names()
    with pytest.raises(PluginError):
        reg.unregister("in-proc-eval")


def test_spec_rejects_bad_definitions() -> None:
    with pytest.raises(ValueError, match="unknown plugin group"):
        ComponentSpec(name="x", group="pgs.nope", config_class=_Cfg, factory=lambda c: c, description="d")
    with pytest.raises(ValueError, match="invalid plugin name"):
        ComponentSpec(name="has space", group=groups.FUSION, config_class=_Cfg, factory=lambda c: c, description="d")
    with pytest.raises(TypeError, match="config_class"):
        ComponentSpec(name="x", group=groups.FUSION, config_class=dict, factory=lambda c: c, description="d")


def test_component_spec_of_reads_name_and_description_from_the_factory() -> None:
    class Cfg(ComponentConfig):
        pass

    class Named:
        name = "named-thing"
        description = "what it does"

        def __init__(self, config: Cfg) -> None:
            self.config = config

    spec = ComponentSpec.of(groups.EVALUATORS, Cfg, Named)
    assert spec == ComponentSpec(
        name="named-thing", group=groups.EVALUATORS, config_class=Cfg, factory=Named, description="what it does"
    )
    explicit = ComponentSpec.of(groups.FUSION, Cfg, Named, "other text", name="other-name")
    assert (explicit.name, explicit.description) == ("other-name", "other text")
    with pytest.raises(TypeError, match="pass name="):
        ComponentSpec.of(groups.FUSION, Cfg, lambda config: config, "text")
    with pytest.raises(TypeError, match="pass description="):
        ComponentSpec.of(groups.FUSION, Cfg, lambda config: config, name="anon")
