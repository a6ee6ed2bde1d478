"""The folders the toolkit creates: a marker that names their kind, one writer at a time, safe outputs.

- **Marker.** Every folder a command creates (a training run, a prepared speaker, a synthetic
  speaker, a demo) holds ``.pgs-folder.json`` with its kind and a run id. ``--overwrite`` replaces
  only a folder whose marker has the same kind; a folder without one (the user's own files, or a
  folder of another kind) is never deleted or replaced.
- **Lock.** While a process writes a folder it holds an exclusive ``flock`` on a sibling
  ``.NAME.pgs-lock``; a second writer gets one clear error. The kernel releases the lock when the
  process dies, even by kill -9.
- **Output checks.** Before any work starts, an output file or folder is checked: not a file where
  a folder is expected (or the reverse), a writable parent, and no file replaced unless asked.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pgs.core.errors import DataError
from pgs.core.io.atomic import atomic_write_text

MARKER = ".pgs-folder.json"
KINDS = ("train", "prep", "synth", "demo", "eval", "ablate", "sweep")


def new_run_id() -> str:
    """A fresh run id (32 hex digits)."""
    return uuid.uuid4().hex


def read_marker(folder: str | Path) -> dict[str, Any] | None:
    """The marker of `folder`, or None when it has none (or an unreadable one)."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("kind"), str) else None


def write_marker(folder: str | Path, kind: str, run_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """Write the marker of `folder` (created if missing) and return its content.

    Args:
        folder: the folder the toolkit creates.
        kind: one of `KINDS`.
        run_id: the run's id (default: a new one).
        **extra: more JSON fields (e.g. ``replaces`` for a run that will replace another).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown folder kind {kind!r}; expected one of {KINDS}")
    from pgs.core import __version__

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "kind": kind,
        "run_id": run_id or new_run_id(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "pgs_version": __version__,
        **extra,
    }
    atomic_write_text(folder / MARKER, json.dumps(data, indent=2) + "\n")
    return data


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable_parent(path: str | Path, what: str = "output") -> None:
    """Raise `DataError` unless `path` could be created: its nearest existing ancestor is a writable folder."""
    path = Path(path)
    ancestor = _nearest_existing(path.parent)
    if not ancestor.is_dir():
        raise DataError(f"{what}: {path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise DataError(f"{what}: {path}: folder {ancestor} is not writable")


def check_output_folder(folder: str | Path, kind: str, overwrite: bool, what: str = "output") -> bool:
    """Check, before any work, that a command may create `folder` (or replace it).

    Args:
        folder: the output folder.
        kind: the kind of folder the command writes (see `KINDS`).
        overwrite: the user passed ``--overwrite``.
        what: the option or field that named the folder, for messages.

    Returns:
        True when `folder` holds a folder of this kind that will be replaced once the new one is
        complete; False when it is absent or empty.

    Raises:
        DataError: `folder` is a file; not writable; holds files not created as a `kind` folder;
            holds a `kind` folder and `overwrite` is False.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{what}: {folder} is a file, not a folder")
    if not folder.exists():
        check_writable_parent(folder, what)
        return False
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(f"{what}: folder {folder} is not writable")
    if not any(folder.iterdir()):
        return False
    marker = read_marker(folder)
    if marker is None:
        raise DataError(
            f"{what}: {folder} holds files pgs did not create; refusing to write into or replace it "
            "(choose another folder)"
        )
    if marker["kind"] != kind:
        raise DataError(
            f"{what}: {folder} holds a pgs {marker['kind']} folder, not a {kind} folder; refusing to replace it "
            "(choose another folder)"
        )
    if not overwrite:
        raise DataError(f"{what}: {folder} already holds a {kind} folder; choose another folder or pass --overwrite")
    if not os.access(folder.parent, os.W_OK | os.X_OK):
        raise DataError(f"{what}: folder {folder.parent} is not writable, so {folder} cannot be replaced")
    return True


def check_output_file(path: str | Path, overwrite: bool, what: str = "--out") -> None:
    """Check, before any work, that a command may write the file `path`.

    Raises:
        DataError: `path` is a folder; its folder is missing or not writable; it exists and
            `overwrite` is False.
    """
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{what}: {path} is a folder, not a file")
    if not path.parent.exists():
        raise DataError(f"{what}: {path}: folder {path.parent} does not exist")
    if not path.parent.is_dir():
        raise DataError(f"{what}: {path}: {path.parent} is a file, not a folder")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise DataError(f"{what}: {path}: folder {path.parent} is not writable")
    if path.exists() and not overwrite:
        raise DataError(f"{what}: {path} already exists; choose another file or pass --overwrite")


@contextlib.contextmanager
def build_in_place(target: str | Path, kind: str, replace: bool) -> Iterator[Path]:
    """Build a folder at `target` itself, keeping a replaced one aside until the new one is complete.

    For outputs whose files record their own paths (a demo's run config names its speaker
    folder), which a build-then-rename would break. The old folder waits in ``.NAME.pgs-previous``;
    it is removed once the new folder is complete, and put back if the build fails or is
    interrupted. After a crash (kill -9) it stays there, never removed automatically.

    Args:
        target: the folder; checked by `check_output_folder` first.
        kind: the marker kind written into the new folder.
        replace: `target` holds a folder of this kind to replace (`check_output_folder`'s answer).

    Raises:
        DataError: a ``.NAME.pgs-previous`` from an earlier crash is in the way.
    """
    target = Path(target)
    previous = target.parent / f".{target.name}.pgs-previous"
    if replace:
        if previous.exists():
            raise DataError(
                f"{previous}: left by an interrupted replacement of {target}; move it away (it holds the older "
                "folder) and run again"
            )
        target.rename(previous)
    try:
        write_marker(target, kind)
        yield target
    except BaseException:
        if replace:
            shutil.rmtree(target, ignore_errors=True)
            previous.rename(target)
        raise
    if replace:
        shutil.rmtree(previous, ignore_errors=True)


def _lock_path(folder: Path) -> Path:
    folder = folder.absolute()
    return folder.parent / f".{folder.name}.pgs-lock"


@contextlib.contextmanager
def folder_lock(folder: str | Path) -> Iterator[None]:
    """Hold the writer lock of `folder` (a sibling ``.NAME.pgs-lock``) for the duration.

    Raises:
        DataError: another live process holds it.
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): run unlocked
        yield
        return
    path = _lock_path(Path(folder))
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise DataError(
                f"{folder}: another pgs process (PID {holder}) is writing this folder; "
                "wait for it to finish or choose another folder"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a lock file that its previous holder unlinked meanwhile
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


__all__ = [
    "KINDS",
    "MARKER",
    "check_output_file",
    "check_output_folder",
    "build_in_place",
    "check_writable_parent",
    "folder_lock",
    "new_run_id",
    "read_marker",
    "write_marker",
]
