"""Training records: a JSONL log (one line per logged step) and a PNG of the training curves."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from pgs.core.io.atomic import atomic_path, atomic_write_text


class JsonlLog:
    """Appends one JSON object per line to a file; safe to reopen when a run resumes.

    Args:
        path: the ``.jsonl`` file.
        truncate_after_step: when resuming, drop lines logged after this step (they belong to
            the part of the interrupted run that the checkpoint does not contain).
    """

    def __init__(self, path: str | Path, truncate_after_step: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if truncate_after_step is not None and self.path.exists():
            kept = [r for r in read_jsonl(self.path) if int(r.get("global_step", -1)) <= truncate_after_step]
            atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        self._handle: TextIO = self.path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (non-finite floats are written as null)."""
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        self._handle.write(json.dumps(clean) + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the file."""
        self._handle.close()


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All records of a JSONL file (a torn last line from a crash is ignored)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def plot_curves(
    records: Iterable[dict[str, Any]], out: str | Path, keys: tuple[str, ...] = ("loss", "psnr", "num_gaussians")
) -> Path | None:
    """Plot `keys` against the global step, one panel per key, coloured by stage.

    Returns:
        The PNG path, or None when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    records = list(records)
    out = Path(out)
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.2), squeeze=False)
    stages = sorted(
        {r.get("stage", "") for r in records},
        key=lambda s: min(r["global_step"] for r in records if r.get("stage", "") == s),
    )
    for ax, key in zip(axes[0], keys, strict=True):
        for stage in stages:
            pts = [
                (r["global_step"], r[key]) for r in records if r.get("stage", "") == stage and r.get(key) is not None
            ]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, label=stage, linewidth=1)
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)
    return out
