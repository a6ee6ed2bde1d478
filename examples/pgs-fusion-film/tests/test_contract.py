from pgs.core.testing import check_fusion
from pgs_fusion_film import SPEC


def test_film_passes_the_fusion_contract() -> None:
    check_fusion(SPEC)
