"""Exception types shared by every toolkit package.

Every error a user can cause (a bad config, a missing file, an unknown plugin name) is raised as
a `PgsError` subclass with a message that names the file or field and the problem, so the CLI
can print it as one readable line and exit with code 2.
"""

from __future__ import annotations


class PgsError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class ConfigError(PgsError, ValueError):
    """A configuration value, file or combination is invalid.

    Attributes:
        problems: one ``"path: message"`` string per validation problem.
        source: the file the configuration came from, if any.
    """

    def __init__(self, problems: list[str] | str, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        if len(self.problems) == 1:
            message = f"{where}{self.problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"{where}{len(self.problems)} problems:\n{lines}"
        super().__init__(message)


class PluginError(PgsError, LookupError):
    """A plugin is unknown, duplicated, or failed to load."""


class DataError(PgsError, ValueError):
    """Input data (a dataset folder, audio file, image, checkpoint) is missing or malformed."""


class RenderError(PgsError, ValueError):
    """Invalid input to a rasterizer (shapes, NaN values, camera intrinsics, image size)."""


class BackendUnavailableError(PgsError, RuntimeError):
    """A backend was selected that cannot run here (for example gsplat without CUDA)."""


class MissingWeightsError(PgsError, FileNotFoundError):
    """A model weight file was not supplied or is not where it was said to be.

    The message names the file, where to obtain it and which config field takes its path.
    Weights are never downloaded at run time.
    """
