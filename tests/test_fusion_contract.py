"""Every registered fusion module (the toolkit's and installed plugins such as film) passes the contract."""

from __future__ import annotations

import pytest

from pgs.core.registry import registry
from pgs.core.testing import check_fusion

FUSION_NAMES = registry("pgs.fusion").names()


def test_the_toolkit_modules_are_registered() -> None:
    missing = {"mgf", "concat-mlp", "cross-attention"} - set(FUSION_NAMES)
    assert not missing, f"pgs-fusion modules not registered: {sorted(missing)} (pip install -e packages/pgs-fusion)"


@pytest.mark.parametrize("name", FUSION_NAMES)
def test_fusion_contract(name: str) -> None:
    check_fusion(registry("pgs.fusion").get(name))
