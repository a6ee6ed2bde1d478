"""Errors of the evaluation package."""

from __future__ import annotations

from pgs.core.errors import PgsError


class MissingWeightsError(PgsError, FileNotFoundError):
    """A metric needs a model weight file that was not supplied or is not where it was said to be.

    The message names the file, where to obtain it and which config field takes its path.
    Weights are never downloaded at run time.
    """


__all__ = ["MissingWeightsError"]
