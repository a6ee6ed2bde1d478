"""PGSTalker toolkit core: interfaces, plugin registry, Gaussians, rendering, model, training, data, CLI.

`pgs` is a PEP 420 namespace package shared by every toolkit distribution; this module is the
root of the `pgs-core` distribution only. Importing it is cheap: submodules load on demand.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pgs-core")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
