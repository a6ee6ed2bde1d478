"""The live progress table of a sweep: one row per run with its state and latest PSNR.

States shown: ``queued`` (waiting or submitted), ``running`` / ``evaluating`` (read from the run
folder's ``status.json`` written by this driver session's attempt), ``done``, ``failed``. PSNR: the
held-out PSNR of the evaluation once done; while training, the latest PSNR logged in
``train.jsonl`` (a training-step PSNR of the branch being trained, marked with its stage). The
table is rebuilt by rich's refresh thread, so it moves even while the local executor trains in the
main thread. Reading the run folders assumes the driver sees them (a shared filesystem on a cluster).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pgs.eval.sweep.driver import DONE, FAILED, RunState
from pgs.eval.sweep.runner import STATUS, read_json

#: Bytes read from the end of train.jsonl for its last line.
_TAIL = 8192


def latest_logged(path: Path) -> dict[str, Any] | None:
    """The last JSON line of `path` that has a ``psnr``, or None."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - _TAIL))
            lines = handle.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("psnr"), (int, float)):
            return record
    return None


def eval_psnr(result: dict[str, Any] | None) -> float | None:
    """Held-out PSNR of a ``result.json`` (None when absent or not finite)."""
    try:
        value = result["report"]["metrics"]["PSNR"]["value"] if result else None
    except (KeyError, TypeError):
        return None
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def shown_state(state: RunState, session: str) -> str:
    """The state to display: the driver's, refined to running / evaluating from this session's status.json."""
    if state.state in (DONE, FAILED):
        return state.state
    status = read_json(state.run.folder / STATUS)
    if status and status.get("session") == session and status.get("state") in ("running", "evaluating"):
        return str(status["state"])
    return state.state


def psnr_cell(state: RunState) -> str:
    """``"31.42 (eval)"``, ``"28.10 (deform/face 350)"`` or ``""``."""
    value = eval_psnr(state.result)
    if value is not None:
        return f"{value:.2f} (eval)"
    record = latest_logged(state.run.folder / "train.jsonl")
    if record is None:
        return ""
    return f"{record['psnr']:.2f} ({record.get('stage', '?')} {record.get('step', '')})".replace(" )", ")")


_STYLE = {"queued": "dim", "running": "cyan", "evaluating": "cyan", DONE: "green", FAILED: "red"}


def progress_table(states: Sequence[RunState], session: str, started: float) -> Any:
    """A rich Table of the runs with a one-line count caption."""
    from rich.table import Table

    shown = [shown_state(s, session) for s in states]
    counts = {k: shown.count(k) for k in ("queued", "running", "evaluating", DONE, FAILED)}
    caption = (
        f"{counts['queued']} queued, {counts['running'] + counts['evaluating']} running, {counts[DONE]} done, "
        f"{counts[FAILED]} failed; {time.perf_counter() - started:.0f} s"
    )
    table = Table(title="pgs sweep", caption=caption, expand=False)
    for column in ("run", "state", "attempt", "PSNR", "note"):
        table.add_column(column, no_wrap=column != "note")
    for s, state in zip(states, shown, strict=True):
        note = "finished earlier" if s.reused else (s.errors[-1] if s.errors else "")
        table.add_row(s.run.run_id, f"[{_STYLE.get(state, '')}]{state}[/]", str(s.attempts), psnr_cell(s), note[:80])
    return table


@contextlib.contextmanager
def live_progress(quiet: bool) -> Iterator[Callable[[list[RunState], str], None]]:
    """A context giving ``update(states, session)``; shows a live table on stderr unless quiet."""
    if quiet:
        yield lambda states, session: None
        return
    from rich.live import Live

    from pgs.core.console import stderr

    started = time.perf_counter()
    current: dict[str, Any] = {"states": [], "session": ""}

    def render() -> Any:
        return progress_table(current["states"], current["session"], started)

    with Live(get_renderable=render, console=stderr, refresh_per_second=1, transient=False):

        def update(states: list[RunState], session: str) -> None:
            current["states"], current["session"] = states, session

        yield update


__all__ = ["eval_psnr", "latest_logged", "live_progress", "progress_table", "psnr_cell", "shown_state"]
