"""Passing parsed options on to library calls that take them under the same names."""

from __future__ import annotations

import argparse
from typing import Any


def pick(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """``{name: args.name}`` for each of `names`, to pass as keyword arguments (``f(**pick(args, "seed"))``).

    Raises:
        AttributeError: a name the parser does not define (a programming error, not a usage error).
    """
    return {name: getattr(args, name) for name in names}


__all__ = ["pick"]
