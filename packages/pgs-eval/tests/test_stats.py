"""Student-t intervals and paired differences (`pgs.eval.stats`) against closed forms and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.eval.stats import (
    BETTER,
    NO_DIFFERENCE,
    TOO_FEW,
    WORSE,
    mean_interval,
    paired_difference,
    t_quantile,
    verdict,
)


@pytest.mark.parametrize("p", [0.6, 0.9, 0.975, 0.995])
def test_t_quantile_matches_closed_forms(p: float) -> None:
    # df = 1 is the Cauchy distribution: tan(pi (p - 1/2)); df = 2: (2p - 1) / sqrt(2 p (1 - p)).
    assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9)


def test_interval_by_hand() -> None:
    values = [30.0, 31.0, 33.0]
    interval = mean_interval(values)
    mean = 94.0 / 3.0
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / 2)
    assert interval.mean == pytest.approx(mean)
    assert interval.std == pytest.approx(std)
    # t_{0.975, 2} = 4.302652729911275 (df = 2 closed form)
    assert interval.half_width == pytest.approx(4.302652729911275 * std / math.sqrt(3), rel=1e-9)
    assert interval.low < mean < interval.high
    assert interval.format(2) == f"{mean:.2f} ± {interval.half_width:.2f}"


def test_one_value_has_no_interval() -> None:
    interval = mean_interval([2.5])
    assert (interval.mean, interval.half_width, interval.n) == (2.5, None, 1)
    assert interval.format(1) == "2.5 (n=1)" and not interval.excludes_zero()
    with pytest.raises(ValueError, match="finite"):
        mean_interval([1.0, float("nan")])
    with pytest.raises(ValueError, match="no values"):
        mean_interval([])


def test_coverage_is_95_percent_by_simulation() -> None:
    rng = np.random.default_rng(0)
    trials, covered = 4000, 0
    for sample in rng.normal(5.0, 2.0, size=(trials, 3)):
        interval = mean_interval(sample.tolist())
        covered += interval.low <= 5.0 <= interval.high
    # binomial standard error at 4000 trials is 0.0034
    assert abs(covered / trials - 0.95) < 0.015


def test_paired_difference_pairs_by_key_and_verdicts() -> None:
    a = {0: 31.0, 1: 29.0, 2: 33.0, 3: 40.0}
    b = {0: 30.0, 1: 28.2, 2: 31.9}  # seed 3 unpaired: ignored
    diff = paired_difference(a, b)
    assert diff is not None and diff.n == 3 and diff.values == pytest.approx((1.0, 0.8, 1.1))
    assert verdict(diff, higher_is_better=True) == BETTER  # the seed noise cancels in the pairs
    assert verdict(diff, higher_is_better=False) == WORSE
    unpaired = mean_interval([31.0, 29.0, 33.0]).half_width
    assert diff.half_width < unpaired / 5
    noisy = paired_difference({0: 1.0, 1: -1.0, 2: 0.5}, {0: 0.0, 1: 0.0, 2: 0.0})
    assert verdict(noisy, True) == NO_DIFFERENCE
    assert verdict(paired_difference({0: 1.0}, {0: 0.0}), True) == TOO_FEW
    assert paired_difference({0: 1.0}, {1: 1.0}) is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-50, 50, allow_nan=False), min_size=2, max_size=8),
    st.floats(-10, 10, allow_nan=False),
)
def test_interval_shifts_with_the_data(values: list[float], shift: float) -> None:
    base = mean_interval(values)
    moved = mean_interval([v + shift for v in values])
    assert moved.mean == pytest.approx(base.mean + shift, abs=1e-9)
    assert moved.half_width == pytest.approx(base.half_width, abs=1e-7)
    assert base.low <= base.mean <= base.high
