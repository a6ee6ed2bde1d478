"""The shared rich consoles, re-exported from `pgs.core.console` (library code imports that module)."""

from pgs.core.console import error, stderr, stdout, styled, warning

__all__ = ["error", "stderr", "stdout", "styled", "warning"]
