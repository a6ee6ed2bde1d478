"""Contract checks for plugin authors: a third-party plugin's whole test can be one call.

Example (in a plugin's tests)::

    from pgs.core.testing import check_component_spec
    from my_plugin import SPEC

    def test_contract():
        check_component_spec(SPEC)

Group-specific checks (``check_fusion``, ``check_audio_encoder``, ``check_density``,
``check_evaluator``, ``check_rasterizer``) live in the submodules of this package and are
re-exported here. Each raises `ContractError` (an `AssertionError`) naming the broken rule.
"""

from pgs.core.testing.audio import check_audio_encoder
from pgs.core.testing.density import check_density
from pgs.core.testing.evaluator import check_evaluator
from pgs.core.testing.fusion import check_fusion
from pgs.core.testing.rasterizer import check_rasterizer
from pgs.core.testing.spec import ContractError, check_component_spec

__all__ = [
    "ContractError",
    "check_audio_encoder",
    "check_component_spec",
    "check_density",
    "check_evaluator",
    "check_fusion",
    "check_rasterizer",
]
