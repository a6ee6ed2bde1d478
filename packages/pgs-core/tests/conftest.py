"""pgs-core test fixtures: throwaway distributions with real entry points on sys.path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pgs.core.registry import refresh_all


@dataclass
class DistFactory:
    """Writes `<name>-<version>.dist-info` folders and modules into one sys.path entry."""

    root: Path
    modules: list[str] = field(default_factory=list)

    def add(
        self,
        dist: str,
        entry_points: dict[str, dict[str, str]],
        modules: dict[str, str] | None = None,
        version: str = "1.0",
    ) -> None:
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = []
        for group, entries in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{name} = {value}" for name, value in entries.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in (modules or {}).items():
            (self.root / f"{module}.py").write_text(source)
            self.modules.append(module)
        refresh_all()


@pytest.fixture
def dists(tmp_path: Path) -> Iterator[DistFactory]:
    """A sys.path entry for throwaway distributions, removed (with their modules) afterwards."""
    root = tmp_path / "site"
    root.mkdir()
    sys.path.insert(0, str(root))
    factory = DistFactory(root)
    try:
        yield factory
    finally:
        sys.path.remove(str(root))
        for module in factory.modules:
            sys.modules.pop(module, None)
        refresh_all()


FUSION_PLUGIN = '''
from pydantic import Field
from torch import nn
import torch
from pgs.core.config import ComponentConfig
from pgs.core.interfaces import Deformation, FusionConfig, FusionModule
from pgs.core.registry import ComponentSpec

class Config(FusionConfig):
    gain: float = Field(1.0, gt=0, description="Output gain.")

class Zero(FusionModule):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.proj = nn.Linear(config.spatial_dim, 3)

    def predict(self, spatial, audio, expression=None):
        return Deformation(d_xyz=self.proj(spatial) * 0.0)

SPEC = ComponentSpec(name=NAME, group="pgs.fusion", config_class=Config, factory=Zero,
                     description="test fusion")
'''


def fusion_plugin(name: str) -> str:
    """Source of a module defining a valid fusion `SPEC` named `name`."""
    return f"NAME = {name!r}\n" + FUSION_PLUGIN


@pytest.fixture
def fusion_source():
    """Function returning the source of a module that defines a valid fusion `SPEC` named `name`."""
    return fusion_plugin
