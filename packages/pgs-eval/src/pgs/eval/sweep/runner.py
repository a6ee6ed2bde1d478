"""One sweep run, start to end, in its own folder: train (or reuse, or resume), evaluate, record.

`execute_run` is what a Ray task (or the local executor) calls. It trains through the toolkit's
public trainer (`pgs.core.training.trainer.Trainer`, as ``pgs train``):

- a folder holding ``checkpoints/final.pt`` and ``report.json`` of the same config is not
  trained again (only evaluated);
- a folder holding ``checkpoints/last.pt`` continues from it (as ``pgs train --resume``);
- otherwise training starts fresh.

Then the head is evaluated self-driven exactly as ``pgs eval`` (``eval/metrics.json``,
``table1.md``, ``benchmark.md``, ``strips.png``), pictured Fig. 5 style (``density.png``), and a
``result.json`` with the report, Gaussian counts and training facts is written last: its presence
with the same config and evaluation options is what marks the run finished. While a process works
in a folder it holds an exclusive lock on ``.run.lock`` (released by the kernel when the process
dies), so a restarted sweep never trains the same folder twice at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pgs.core.errors import ConfigError, DataError, PgsError
from pgs.core.io.atomic import atomic_write_bytes, atomic_write_text
from pgs.core.io.run_folder import folder_lock
from pgs.eval.sweep.spec import RunSpec

#: result.json format identifier.
RUN_SCHEMA = "pgs-eval/sweep-run/1"
RESULT = "result.json"
STATUS = "status.json"


class RunBusyError(PgsError):
    """Another process holds the run folder's lock."""


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None when it is absent or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def comparable(config: dict[str, Any]) -> dict[str, Any]:
    """A config dict without the fields that do not change what is trained (device)."""
    return {k: v for k, v in config.items() if k != "device"}


def finished_result(run: RunSpec) -> dict[str, Any] | None:
    """The run's ``result.json`` when it exists for the same config and evaluation options, else None."""
    result = read_json(run.folder / RESULT)
    if result is None or result.get("schema") != RUN_SCHEMA:
        return None
    if comparable(result.get("config") or {}) != comparable(run.config):
        return None
    if result.get("evaluation") != run.evaluation_dict():
        return None
    return result


def config_conflict(run: RunSpec) -> str | None:
    """A message when the folder holds a run of another config (``config.json`` written by the trainer)."""
    saved = read_json(run.folder / "config.json")
    if saved is not None and comparable(saved) != comparable(run.config):
        return (
            f"{run.folder}: holds a run with a different config; pass --retrain to replace it or choose another --out"
        )
    return None


@contextlib.contextmanager
def run_lock(folder: Path) -> Iterator[None]:
    """Hold the writer lock of a run folder (`pgs.core.io.run_folder.folder_lock`).

    Raises:
        RunBusyError: another process works in the folder.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(folder_lock(folder))
        except DataError:
            raise RunBusyError(f"{folder}: another process is working on this run") from None
        yield


def _write_status(folder: Path, state: str, session: str, **extra: Any) -> None:
    status = {"state": state, "session": session, "pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}
    atomic_write_text(folder / STATUS, json.dumps({**status, **extra}) + "\n")


def _reuse(final: Path, config: Any) -> tuple[Any, Any, Any]:
    from pgs.core.data.dataset import SpeakerDataset
    from pgs.core.inference import load_head

    loaded = load_head(final, config.device)
    audio = config.data.audio
    train_set = SpeakerDataset.open(
        config.data.folder, "train", audio=audio.name, audio_params=audio.params, require_aus=config.data.require_aus
    )
    val_set = SpeakerDataset.open(config.data.folder, "val", audio=train_set.audio, require_aus=config.data.require_aus)
    return loaded.head, train_set, val_set


def train_run(config: Any, folder: Path) -> tuple[Any, Any, Any, dict[str, Any], bool, int | None]:
    """Train (or reuse, or resume) one run.

    Returns:
        (head, train_set, val_set, training report, trained, resumed_from_step).

    Raises:
        ConfigError: the folder holds a run of another config.
        KeyboardInterrupt: training was interrupted (its checkpoint is written).
    """
    from pgs.core.training.trainer import Trainer

    final = folder / "checkpoints" / "final.pt"
    last = folder / "checkpoints" / "last.pt"
    saved = read_json(folder / "config.json")
    if saved is not None and comparable(saved) != comparable(config.model_dump(mode="json")):
        raise ConfigError(
            f"{folder}: holds a run with a different config; pass --retrain to replace it or choose another --out"
        )
    if final.is_file() and (folder / "report.json").is_file():
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        return (*_reuse(final, config), report, False, None)
    resumed: int | None = None
    if last.is_file():  # as `pgs train --resume` (checkpoints are device independent: this run's device)
        trainer = Trainer(config, resume_from=_checkpoint(last), quiet=True)
        resumed = trainer.global_step
    else:
        trainer = Trainer(config, quiet=True)
    result = trainer.run()
    if not result.finished:
        raise KeyboardInterrupt
    return trainer.head, trainer.train_set, trainer.val_set, result.report, True, resumed


def _checkpoint(path: Path) -> dict[str, Any]:
    from pgs.core.training.checkpoint import load_checkpoint

    return load_checkpoint(path)


def _write_png(array: Any, path: Path) -> Path:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return atomic_write_bytes(path, buffer.getvalue())


def _cross_driven(run: RunSpec, options: Any, train_set: Any, eval_dir: Path) -> dict[str, Any]:
    """Cross-driven reports (Table 2) of the run's novel audios, also written to ``eval/cross_driven/``."""
    if not run.audios:
        return {}
    from pgs.core.inference import load_head
    from pgs.eval.selfdriven import evaluate_cross_driven

    loaded = load_head(run.folder / "checkpoints" / "final.pt", options.device)
    (eval_dir / "cross_driven").mkdir(parents=True, exist_ok=True)
    reports = {}
    for name, path in run.audios:
        cross = evaluate_cross_driven(loaded, path, train_set, options, method=run.label or run.variant, name=name)
        reports[name] = cross.report.to_dict()
        atomic_write_text(eval_dir / "cross_driven" / f"{name}.json", json.dumps(reports[name], indent=2) + "\n")
    return reports


def _evaluate(run: RunSpec, options: Any, head: Any, train_set: Any, val_set: Any, report: dict[str, Any]) -> Any:
    """Self-driven evaluation as ``pgs eval`` into ``eval/``, plus ``density.png``; returns the report."""
    from pgs.eval.figures import density_picture_image, frame_strip_png
    from pgs.eval.report import write_report
    from pgs.eval.selfdriven import evaluate_self_driven, face_means2d

    meta = {"run": str(run.folder), "variant": run.variant, "speaker": run.speaker, "seed": run.seed}
    evaluation = evaluate_self_driven(
        head,
        train_set,
        val_set,
        options,
        method=run.label or run.variant,
        train_time_s=report.get("training_seconds"),
        meta={**meta, "num_gaussians": report.get("num_gaussians") or {}},
    )
    eval_dir = run.folder / "eval"
    write_report(evaluation.report, eval_dir)
    frame_strip_png(evaluation.predicted, evaluation.target, eval_dir / "strips.png")
    first = val_set[evaluation.indices[0]]
    means2d, image = face_means2d(head, first, options.device)
    picture = density_picture_image(
        means2d, int(image.shape[1]), int(image.shape[0]), background=image, label=run.variant
    )
    _write_png(picture, run.folder / "density.png")
    return evaluation.report


def execute_run(run: RunSpec, session: str = "", threads: int | None = None) -> dict[str, Any]:
    """Train, evaluate and picture one run in ``run.folder``; returns (and writes) its ``result.json`` data.

    Args:
        run: the run.
        session: the driver's session id (recorded in ``status.json`` so the progress table can tell
            this attempt from a stale one).
        threads: torch intra-op threads (Ray workers: the run's CPUs); None leaves them as they are.

    Raises:
        RunBusyError: another process works in the folder.
        PgsError: bad data or config; KeyboardInterrupt: interrupted (checkpoint written).
    """
    import torch

    from pgs.core.devices import resolve_device
    from pgs.core.training.config import TrainConfig

    if threads is not None:
        torch.set_num_threads(max(1, threads))
    config = TrainConfig.model_validate(run.config)
    options = run.evaluation
    if options.device == "auto":  # resolved where the run executes (a Ray worker may have a GPU)
        options = dataclasses.replace(options, device=str(resolve_device("auto")))
    with run_lock(run.folder):
        _write_status(run.folder, "running", session)
        head, train_set, val_set, report, trained, resumed = train_run(config, run.folder)
        _write_status(run.folder, "evaluating", session)
        evaluation = _evaluate(run, options, head, train_set, val_set, report)
        cross = _cross_driven(run, options, train_set, run.folder / "eval")
        counts = report.get("num_gaussians") or {}
        result = {
            "schema": RUN_SCHEMA,
            "run_id": run.run_id,
            "speaker": run.speaker,
            "variant": run.variant,
            "label": run.label,
            "seed": run.seed,
            "folder": str(run.folder),
            "config": run.config,
            "evaluation": run.evaluation_dict(),
            "report": evaluation.to_dict(),
            "cross_driven": cross,
            "num_gaussians": counts,
            "num_gaussians_total": int(sum(counts.values())) if isinstance(counts, dict) else int(counts or 0),
            "training": {
                "seconds": report.get("training_seconds"),
                "global_step": report.get("global_step"),
                "stages": report.get("stages", []),
            },
            "trained": trained,
            "resumed_from_step": resumed,
            "host": socket.gethostname(),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        atomic_write_text(run.folder / RESULT, json.dumps(result, indent=2) + "\n")
        _write_status(run.folder, "done", session)
    return result


__all__ = [
    "RESULT",
    "RUN_SCHEMA",
    "STATUS",
    "RunBusyError",
    "comparable",
    "config_conflict",
    "execute_run",
    "finished_result",
    "read_json",
    "run_lock",
    "train_run",
]
