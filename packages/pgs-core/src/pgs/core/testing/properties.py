"""Hypothesis property tests without repeated boilerplate (needs ``pip install pgs-core[test]``).

Example::

    from hypothesis import strategies as st
    from pgs.core.testing.properties import int_ranges, property_test

    @property_test(30, **int_ranges(seed=(0, 10_000), n=(1, 60)), spread=st.sampled_from([0.3, 1.0]))
    def test_something(seed, n, spread): ...

Not re-exported by `pgs.core.testing`, so that the contract checks need no hypothesis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

TestT = TypeVar("TestT", bound=Callable[..., Any])


def property_test(max_examples: int, **strategies: st.SearchStrategy[Any]) -> Callable[[TestT], TestT]:
    """``@settings(max_examples=..., deadline=None)`` and ``@given(**strategies)`` in one decorator.

    No deadline: examples are timed on shared CPUs and the first one may compile numba kernels.

    Args:
        max_examples: how many examples hypothesis draws.
        **strategies: the test's keyword arguments and their strategies.
    """

    def decorate(test: TestT) -> TestT:
        return settings(max_examples=max_examples, deadline=None)(given(**strategies)(test))

    return decorate


def int_ranges(**bounds: tuple[int, int]) -> dict[str, st.SearchStrategy[int]]:
    """``{name: st.integers(low, high)}`` for each ``name=(low, high)`` (both ends included)."""
    return {name: st.integers(low, high) for name, (low, high) in bounds.items()}


__all__ = ["int_ranges", "property_test"]
