"""Errors of the evaluation package (`MissingWeightsError` lives in pgs-core, shared with the trainer)."""

from __future__ import annotations

from pgs.core.errors import MissingWeightsError

__all__ = ["MissingWeightsError"]
