"""Means with Student-t confidence intervals over seeds, and paired differences between variants.

A run's metric is one number per seed; the interval of the mean over n seeds is
``mean ± t_{1 - (1 - level) / 2, n - 1} * s / sqrt(n)`` with ``s`` the sample standard deviation
(n - 1 in the denominator). A paired difference pairs two variants' runs that share everything
else (speaker and seed), so the seed-to-seed variation common to both cancels. A variant is
called better only when the whole interval of its difference lies on the better side of 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Confidence level of every interval.
LEVEL = 0.95

#: Verdict words of a paired difference.
BETTER = "better"
WORSE = "worse"
NO_DIFFERENCE = "no difference beyond noise"
TOO_FEW = "too few seeds (n < 2)"


def t_quantile(p: float, df: int) -> float:
    """Quantile ``p`` of Student's t distribution with `df` degrees of freedom (scipy)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    from scipy.stats import t

    return float(t.ppf(p, df))


@dataclass(frozen=True)
class Interval:
    """A mean over seeds with its confidence interval.

    Attributes:
        mean: the sample mean.
        half_width: ``t * s / sqrt(n)``; None when n < 2 (no interval).
        n: number of values.
        std: sample standard deviation (None when n < 2).
        values: the values, in seed order.
    """

    mean: float
    half_width: float | None
    n: int
    std: float | None
    values: tuple[float, ...]

    @property
    def low(self) -> float | None:
        """Lower end of the interval."""
        return None if self.half_width is None else self.mean - self.half_width

    @property
    def high(self) -> float | None:
        """Upper end of the interval."""
        return None if self.half_width is None else self.mean + self.half_width

    def excludes_zero(self) -> bool:
        """True when the interval exists and does not contain 0."""
        low, high = self.low, self.high
        return low is not None and high is not None and (low > 0 or high < 0)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict: mean, ci_low, ci_high, half_width, std, n, values, level."""
        return {
            "mean": self.mean,
            "ci_low": self.low,
            "ci_high": self.high,
            "half_width": self.half_width,
            "std": self.std,
            "n": self.n,
            "values": list(self.values),
            "level": LEVEL,
        }

    def format(self, decimals: int) -> str:
        """``"33.12 ± 0.45"`` (``"33.12 (n=1)"`` without an interval)."""
        if self.half_width is None:
            return f"{self.mean:.{decimals}f} (n={self.n})"
        return f"{self.mean:.{decimals}f} ± {self.half_width:.{decimals}f}"


def mean_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """Mean and two-sided Student-t interval of `values`.

    Raises:
        ValueError: no values, or a value that is not finite.
    """
    data = [float(v) for v in values]
    if not data:
        raise ValueError("no values to average")
    if not all(math.isfinite(v) for v in data):
        raise ValueError(f"values must be finite, got {data}")
    n = len(data)
    mean = sum(data) / n
    if n < 2:
        return Interval(mean, None, n, None, tuple(data))
    std = math.sqrt(sum((v - mean) ** 2 for v in data) / (n - 1))
    half = t_quantile(1.0 - (1.0 - level) / 2.0, n - 1) * std / math.sqrt(n)
    return Interval(mean, half, n, std, tuple(data))


def paired_difference(a: Mapping[object, float], b: Mapping[object, float]) -> Interval | None:
    """Interval of ``a[k] - b[k]`` over the keys both have (e.g. seeds); None when they share none."""
    keys = [k for k in a if k in b]
    if not keys:
        return None
    return mean_interval([a[k] - b[k] for k in keys])


def verdict(difference: Interval, higher_is_better: bool) -> str:
    """`BETTER` / `WORSE` (for the first of the pair) when the interval excludes 0, else `NO_DIFFERENCE`."""
    if difference.half_width is None:
        return TOO_FEW
    if not difference.excludes_zero():
        return NO_DIFFERENCE
    return BETTER if (difference.mean > 0) == higher_is_better else WORSE


__all__ = [
    "BETTER",
    "LEVEL",
    "NO_DIFFERENCE",
    "TOO_FEW",
    "WORSE",
    "Interval",
    "mean_interval",
    "paired_difference",
    "t_quantile",
    "verdict",
]
