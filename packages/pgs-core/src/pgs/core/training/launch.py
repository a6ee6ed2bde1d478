"""Starting and resuming a training run safely: the rules of ``pgs train``'s output folder.

- **A new run** writes a run folder marked as ``train`` (`pgs.core.io.run_folder`), holding its
  writer lock for the whole run. Paths are made absolute first, so a later resume resolves them as
  this run did, whatever the current folder is then.
- **``--overwrite``** replaces only a ``train`` folder, and only after the new run has finished:
  the new run is written beside it, in ``.NAME.pgs-replacement``, and renamed into place at the
  end. If it fails or is interrupted, the old run is untouched; resuming the interrupted
  replacement finishes it and then replaces the old run.
- **A resume** continues in the folder that holds the checkpoint when that folder belongs to the
  checkpoint's run, else in the run's recorded output folder; ``--output`` picks a new folder
  (a fork of the run). A folder that holds a different run, or files pgs did not create, is
  never written.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgs.core.errors import DataError
from pgs.core.io.atomic import swap_into_place
from pgs.core.io.run_folder import (
    check_output_folder,
    folder_lock,
    new_run_id,
    read_marker,
    write_marker,
)
from pgs.core.training.checkpoint import load_checkpoint
from pgs.core.training.config import TrainConfig

REPLACEMENT_TAG = "pgs-replacement"


@dataclass
class Launched:
    """A run that was started or resumed.

    Attributes:
        trainer: the `Trainer` (its head, data and history).
        result: what `Trainer.run` returned.
        output: where the run's files are now (after a replacement, the replaced folder).
    """

    trainer: Any
    result: Any
    output: Path


def absolute_paths(config: TrainConfig) -> TrainConfig:
    """`config` with its output and data folders made absolute (against the current folder)."""
    data = config.data.model_dump()
    if config.data.folder is not None:
        data["folder"] = Path(config.data.folder).absolute()
    return config.resolved(output=Path(config.output).absolute(), data=data)


def replacement_folder(output: Path) -> Path:
    """Where a run that replaces `output` is written until it finishes."""
    return output.parent / f".{output.name}.{REPLACEMENT_TAG}"


def _check_unfinished(output: Path) -> None:
    """A ``train`` folder whose run never finished is continued, not silently replaced by a new run."""
    last = output / "checkpoints" / "last.pt"
    if last.exists() and not (output / "report.json").exists():
        raise DataError(
            f"output: {output} holds an unfinished run; continue it with `pgs train --resume {last}` "
            "or pass --overwrite to replace it"
        )


def start_run(config: TrainConfig, overwrite: bool = False, quiet: bool = False, **trainer_kwargs: Any) -> Launched:
    """Train `config` into its output folder under the rules of this module.

    Args:
        config: the validated run config.
        overwrite: replace a ``train`` folder at the output (after the new run has finished).
        quiet: no progress bars.
        **trainer_kwargs: passed to `Trainer.run` (``stop_after``, ``progress``).

    Raises:
        DataError / ConfigError: bad output folder or inputs, before anything is written.
    """
    from pgs.core.training.trainer import Trainer

    config = absolute_paths(config)
    output = config.output
    if output.exists() and read_marker(output) is not None and not overwrite:
        _check_unfinished(output)
    replacing = check_output_folder(output, "train", overwrite, what="output")
    with folder_lock(output):
        workdir = replacement_folder(output) if replacing else output
        if replacing and workdir.exists():
            _remove_own_replacement(workdir, output)
        run_id = new_run_id()
        trainer = Trainer(config, quiet=quiet, run_id=run_id, output=workdir)  # validates before writing
        existed = workdir.exists()  # an empty folder the user made: keep it, remove only what the run wrote
        write_marker(workdir, "train", run_id, **({"replaces": output.name} if replacing else {}))
        try:
            result = trainer.run(**trainer_kwargs)
        except Exception:
            if not (workdir / "checkpoints").exists():  # failed before its first checkpoint: leave nothing
                _remove_run_files(workdir, keep_folder=existed)
            raise
        if result.finished and replacing:
            return Launched(trainer, _finish_replacement(result, workdir, output, run_id), output)
    return Launched(trainer, result, workdir)


def _remove_run_files(workdir: Path, keep_folder: bool) -> None:
    """Remove a run folder this process created, or only its contents when the folder was there before."""
    if not keep_folder:
        shutil.rmtree(workdir, ignore_errors=True)
        return
    for child in workdir.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _remove_own_replacement(workdir: Path, output: Path) -> None:
    marker = read_marker(workdir)
    if marker is None or marker.get("kind") != "train" or marker.get("replaces") != output.name:
        raise DataError(f"{workdir}: exists and is not a pgs replacement run of {output}; remove it or rename it")
    shutil.rmtree(workdir)


def _finish_replacement(result: Any, workdir: Path, output: Path, run_id: str) -> Any:
    """Rename the finished replacement run over `output`; `result` then points into `output`."""
    write_marker(workdir, "train", run_id)  # drops ``replaces``: the run is now the folder's own
    swap_into_place(workdir, output)
    if result.checkpoint is not None:
        result.checkpoint = output / Path(result.checkpoint).relative_to(workdir)
    return result


def _home_of(checkpoint: Path) -> Path | None:
    """The run folder that holds `checkpoint` (``RUN/checkpoints/NAME.pt``), if it is laid out so."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else None


def _resume_target(checkpoint: Path, config: TrainConfig, run_id: str, output: Path | None) -> Path:
    """The folder a resume writes, by the rules in the module docstring."""
    if output is not None:
        return output.absolute()
    home = _home_of(checkpoint)
    if home is not None:
        marker = read_marker(home)
        if marker is not None and marker.get("kind") == "train" and marker.get("run_id") == run_id and run_id:
            return home
        if marker is None and not run_id and (home / "config.json").is_file():
            return home  # a run written before run folders had markers
    recorded = Path(config.output)
    if not recorded.is_absolute() and home is not None:
        return home  # an older run recorded a relative path; the checkpoint's folder is that run
    return recorded.absolute()


def _check_resume_target(target: Path, run_id: str, checkpoint: Path) -> dict[str, Any] | None:
    """Refuse a target that holds anything but this run; return its marker (None for a new folder)."""
    if target.exists() and not target.is_dir():
        raise DataError(f"output: {target} is a file, not a folder")
    if not target.exists() or not any(target.iterdir()):
        check_output_folder(target, "train", overwrite=False, what="output")
        return None
    marker = read_marker(target)
    legacy = marker is None and not run_id and _home_of(checkpoint) == target
    if legacy:
        return None
    if marker is None or marker.get("kind") != "train":
        raise DataError(
            f"output: {target} does not hold this run (no pgs train marker); resume into a new folder with --output DIR"
        )
    if marker.get("run_id") != run_id:
        raise DataError(
            f"output: {target} holds a different run (run id {marker.get('run_id')}, checkpoint {checkpoint} is run "
            f"{run_id or 'without id'}); resume into a new folder with --output DIR"
        )
    return marker


def resume_run(checkpoint: Path, output: Path | None = None, quiet: bool = False, **trainer_kwargs: Any) -> Launched:
    """Continue the run of `checkpoint` under the rules of this module.

    Args:
        checkpoint: a checkpoint written by `Trainer.save`.
        output: write into this folder instead (it must be new or empty, or hold this run).
        quiet: no progress bars.
        **trainer_kwargs: passed to `Trainer.run`.

    Raises:
        DataError: unreadable checkpoint, or a target folder that does not hold this run.
    """
    from pgs.core.training.trainer import Trainer

    checkpoint = Path(checkpoint).absolute()
    data = load_checkpoint(checkpoint)
    try:
        config = TrainConfig.model_validate(data["config"])
    except Exception as exc:
        raise DataError(f"{checkpoint}: its run config is not valid for this toolkit version: {exc}") from None
    run_id = str(data.get("run_id") or "")
    target = _resume_target(checkpoint, config, run_id, output)
    marker = _check_resume_target(target, run_id, checkpoint)
    replaces = (marker or {}).get("replaces")
    lock_on = target.parent / replaces if replaces else target
    with folder_lock(lock_on):
        trainer = Trainer(config, resume_from=data, quiet=quiet, output=target)
        if marker is None:
            run_id = run_id or new_run_id()
            trainer.run_id = run_id
            write_marker(target, "train", run_id, resumed_from=str(checkpoint))
        result = trainer.run(**trainer_kwargs)
        if result.finished and replaces:
            final = target.parent / replaces
            final_marker = read_marker(final) if final.exists() else {"kind": "train"}
            if final_marker is None or final_marker.get("kind") != "train":
                raise DataError(f"{final}: no longer a pgs train folder; the finished run stays in {target}")
            return Launched(trainer, _finish_replacement(result, target, final, trainer.run_id), final)
    return Launched(trainer, result, target)


__all__ = ["Launched", "absolute_paths", "replacement_folder", "resume_run", "start_run"]
