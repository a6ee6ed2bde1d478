"""Atomic writes: build a file or a folder under a temporary name beside the target, then rename.

The one place of the toolkit that writes outputs (reports, checkpoints, videos, PLY, images,
arrays, whole prepared folders); every package calls it instead of its own temp-then-rename.

- Readers see either the old target or the complete new one, never a half-written one.
- Temporary names are unique and carry the writer's PID: ``.NAME.pgs-tmp-PID-RANDOM``. A temp
  left by a process that died (kill -9, power loss) is removed by the next write beside it.
- Files and folders get the permissions a plain ``open``/``mkdir`` would give them (``0o666`` /
  ``0o777`` less the process umask), not ``mkstemp``'s 0600 or ``mkdtemp``'s 0700.
- Any exception, Ctrl-C and SIGTERM (which the CLI turns into `KeyboardInterrupt`) remove the
  temporary and leave the target untouched.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

TEMP_TAG = "pgs-tmp"
_TEMP_RE = re.compile(rf"^\.(?P<name>.+)\.{TEMP_TAG}-(?P<pid>\d+)-[0-9a-f]+(?P<suffix>\.[^.]*)?$")


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux ``/proc``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def temp_sibling(path: str | Path, suffix: str = "") -> Path:
    """A unique temporary name beside `path` that `remove_stale_temps` recognises.

    Args:
        path: the final file or folder.
        suffix: kept at the end (some writers pick the format by extension, e.g. ``.mp4``).
    """
    path = Path(path)
    return path.parent / f".{path.name}.{TEMP_TAG}-{os.getpid()}-{secrets.token_hex(4)}{suffix}"


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Remove the temporaries in `folder` whose writing process no longer exists.

    Returns:
        The paths removed.
    """
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        if match is None or pid_alive(int(match["pid"])):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
        except OSError:
            continue
    return removed


def _fsync_path(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | Path, keep_suffix: bool = True) -> Iterator[Path]:
    """Yield a temporary file path to write; on success it replaces `path` atomically.

    For writers that need a path rather than bytes (``torch.save``, PyAV, ``numpy.save``,
    matplotlib, PIL).

    Args:
        path: destination file; its folder must exist.
        keep_suffix: end the temporary name with `path`'s extension (writers that pick the
            format from it).

    Yields:
        The temporary path (does not exist yet).
    """
    path = Path(path)
    remove_stale_temps(path.parent)
    tmp = temp_sibling(path, path.suffix if keep_suffix else "")
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"{tmp}: the writer produced no file")
        _fsync_path(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write `data` to `path` so that readers see either the old file or the complete new one.

    Args:
        path: destination file; its folder must exist.
        data: the content.

    Returns:
        The destination path.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically (see `atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_folder(target: str | Path, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary folder to fill; on success it becomes `target`.

    The previous `target` (allowed only with `replace`) is removed only after the new folder
    is complete and renamed into place; on failure the temporary is removed and `target` is
    untouched. Callers decide *whether* a folder may be replaced (`pgs.core.io.run_folder`).

    Args:
        target: the final folder; its parent is created.
        replace: an existing `target` folder may be replaced.

    Raises:
        FileExistsError: `target` exists and `replace` is False, or it is not a folder.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target.parent)
    if target.exists() and (not replace or not target.is_dir()):
        raise FileExistsError(f"{target}: already exists")
    tmp = temp_sibling(target)
    tmp.mkdir(mode=0o777)  # mkdir applies the umask
    try:
        yield tmp
        swap_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def swap_into_place(new: str | Path, target: str | Path) -> Path:
    """Rename the complete folder `new` to `target`, then remove the previous `target`, if any.

    The previous folder is first renamed aside (a temporary name), so a failure in between puts it
    back and a crash leaves it recoverable under a name the next run removes.

    Returns:
        `target`.
    """
    new, target = Path(new), Path(target)
    old = None
    if target.exists():
        old = temp_sibling(target)
        target.rename(old)
    try:
        os.replace(new, target)
    except BaseException:
        if old is not None:
            old.rename(target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


__all__ = [
    "atomic_folder",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "current_umask",
    "pid_alive",
    "remove_stale_temps",
    "swap_into_place",
    "temp_sibling",
]
