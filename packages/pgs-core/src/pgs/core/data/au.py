"""OpenFace action-unit CSV (``au.csv``).

OpenFace 2.x ``FeatureExtraction`` writes one row per video frame with a 1-based ``frame``
column and intensity columns ``AU01_r`` ... ``AU45_r``. Windows and older builds separate the
header with ``", "`` so the names start with a space (``' AU45_r'``, the usual KeyError of
TalkingGaussian-derived code); both variants are read here (names are stripped).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pgs.core.errors import DataError
from pgs.core.io.atomic import atomic_write_text
from pgs.core.model.expression import AU45_MAX, FACE_AU_COLUMNS

#: OpenFace's intensity columns, in its order.
OPENFACE_AU_COLUMNS: tuple[str, ...] = (
    "AU01_r", "AU02_r", "AU04_r", "AU05_r", "AU06_r", "AU07_r", "AU09_r", "AU10_r", "AU12_r",
    "AU14_r", "AU15_r", "AU17_r", "AU20_r", "AU23_r", "AU25_r", "AU26_r", "AU45_r",
)


@dataclass
class AuTable:
    """The numeric columns of an ``au.csv``.

    Attributes:
        path: the file.
        frames: [R] 1-based frame numbers (the ``frame`` column, or row order + 1 without one).
        columns: column name (stripped) -> [R] float64 values.
    """

    path: Path
    frames: np.ndarray
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def rows_for(self, img_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Row numbers of 0-based image ids (image i is OpenFace frame i + 1).

        Raises:
            DataError: an image has no row (the file is shorter than the video).
        """
        lookup = np.full(int(self.frames.max(initial=0)) + 1, -1, dtype=np.int64)
        lookup[self.frames] = np.arange(len(self.frames))
        ids = np.asarray(img_ids, dtype=np.int64) + 1
        rows = np.where(ids < len(lookup), lookup[np.minimum(ids, len(lookup) - 1)], -1)
        if (rows < 0).any():
            missing = ids[rows < 0] - 1
            raise DataError(
                f"{self.path}: {len(self)} AU rows but image ids {missing[:5].tolist()}"
                f"{' ...' if len(missing) > 5 else ''} have no row (frame = img_id + 1); "
                "au.csv must hold one row per video frame"
            )
        return rows

    def column(self, name: str) -> np.ndarray:
        """[R] values of a column.

        Raises:
            DataError: naming the column and the file.
        """
        if name not in self.columns:
            raise DataError(
                f"{self.path}: column {name!r} is missing (have {', '.join(sorted(self.columns)) or 'none'}); "
                "run OpenFace FeatureExtraction with AU output (-aus)"
            )
        return self.columns[name]

    def face_vectors(self, img_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """TalkingGaussian's face AU vectors ``[AU01, AU04, AU05, AU06, AU07, clip(AU45, 0, 2)]``.

        Returns:
            [F, 6] float32.
        """
        rows = self.rows_for(img_ids)
        out = np.stack([self.column(c)[rows] for c in FACE_AU_COLUMNS], axis=1).astype(np.float32)
        out[:, -1] = np.clip(out[:, -1], 0.0, AU45_MAX)
        return out


def read_au_csv(path: str | Path) -> AuTable:
    """Read an OpenFace ``au.csv`` (header names stripped of spaces).

    Raises:
        DataError: the file is missing, empty, ragged or holds a non-numeric value (with the row).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: AU file not found (run OpenFace FeatureExtraction on the video)")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read AU file: {exc}") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise DataError(f"{path}: empty AU file (no header)")
    header = [cell.strip() for cell in rows[0]]
    body = [r for r in rows[1:] if any(cell.strip() for cell in r)]
    if not body:
        raise DataError(f"{path}: AU file has a header but no rows")
    columns: dict[str, list[float]] = {name: [] for name in header if name}
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} values, the header has {len(header)}")
        for name, cell in zip(header, row, strict=True):
            if not name:
                continue
            try:
                columns[name].append(float(cell))
            except ValueError:
                raise DataError(f"{path}: line {line}, column {name!r}: {cell.strip()!r} is not a number") from None
    values = {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}
    if "frame" in values:
        frames = values["frame"].astype(np.int64)
        if (frames < 1).any():
            raise DataError(f"{path}: the frame column is 1-based; found {int(frames.min())}")
        if len(np.unique(frames)) != len(frames):
            raise DataError(f"{path}: repeated frame numbers (one face per frame expected)")
    else:
        frames = np.arange(1, len(body) + 1, dtype=np.int64)
    return AuTable(path, frames, values)


def au_csv_text(
    columns: Mapping[str, np.ndarray],
    fps: float = 25.0,
    leading_space: bool = True,
    confidence: np.ndarray | None = None,
    presence_from: float | None = None,
) -> str:
    """OpenFace FeatureExtraction CSV text (the one ``au.csv`` writer of the toolkit).

    Columns: ``frame`` (1-based), ``face_id``, ``timestamp``, ``confidence``, ``success``, then
    `columns` in the given order, then (with `presence_from`) one ``<AU>_c`` presence column per
    ``<AU>_r`` intensity column, as OpenFace writes them.

    Args:
        columns: name -> [F] values (written with two decimals).
        fps: frame rate for the timestamps.
        leading_space: separate fields with ``", "`` as OpenFace does (pandas then reads the names
            with a leading space, ``' AU45_r'``, as ER-NeRF's loader expects).
        confidence: [F] per-frame confidence in [0, 1]; None writes OpenFace's typical 0.98.
        presence_from: intensity from which an AU is called present (``_c`` = 1); None: no
            presence columns.

    Raises:
        ValueError: columns (or the confidence) of different lengths.
    """
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"AU columns have different lengths {sorted(lengths)}")
    n = lengths.pop()
    if confidence is not None and len(confidence) != n:
        raise ValueError(f"confidence has {len(confidence)} values for {n} AU rows")
    names = ["frame", "face_id", "timestamp", "confidence", "success", *columns]
    intensities = [name for name in columns if name.endswith("_r")] if presence_from is not None else []
    names += [f"{name[:-2]}_c" for name in intensities]
    sep = ", " if leading_space else ","
    lines = [sep.join(names)]
    for i in range(n):
        conf = "0.98" if confidence is None else f"{float(confidence[i]):.2f}"
        vals = [str(i + 1), "0", f"{i / fps:.3f}", conf, "1"]
        vals += [f"{float(v[i]):.2f}" for v in columns.values()]
        vals += ["1.00" if float(columns[name][i]) >= presence_from else "0.00" for name in intensities]  # type: ignore[operator]
        lines.append(sep.join(vals))
    return "\n".join(lines) + "\n"


def write_au_csv(path: str | Path, columns: Mapping[str, np.ndarray], fps: float = 25.0, **options: Any) -> Path:
    """Write `au_csv_text` to `path` atomically.

    Args:
        path: output file.
        columns: name -> [F] values.
        fps: frame rate for the timestamps.
        **options: `au_csv_text`'s ``leading_space``, ``confidence`` and ``presence_from``.

    Returns:
        `path`.
    """
    return atomic_write_text(Path(path), au_csv_text(columns, fps, **options))


__all__ = ["OPENFACE_AU_COLUMNS", "AuTable", "au_csv_text", "read_au_csv", "write_au_csv"]
