"""Markdown tables in the layout of the paper's Tables 1 (self-driven), 2 (cross-driven) and 3 (ablation).

Every table is followed by its protocol: the run, then one line per metric with how it was
computed. When rows computed a metric under different protocols, each distinct protocol is
listed with the rows that used it, so mismatched numbers are never silently side by side.
A value that was not computed shows its reason (``weights not supplied``) or ``n/a`` with a
numbered note; an infinite PSNR shows as ``∞``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pgs.core.interfaces import MetricValue
from pgs.eval.lse import WEIGHTS_NOT_SUPPLIED
from pgs.eval.report import EvaluationReport

#: Decimal places per metric.
DECIMALS: dict[str, int] = {
    "PSNR": 2,
    "SSIM": 4,
    "LPIPS": 4,
    "LMD": 3,
    "LSE-D": 3,
    "LSE-C": 3,
    "FPS": 1,
}

#: Table 1 metric columns (after Method), Time and FPS follow.
TABLE1_METRICS: tuple[str, ...] = ("PSNR", "SSIM", "LPIPS", "LMD", "LSE-D", "LSE-C")
#: Table 2 metric columns per driving audio.
TABLE2_METRICS: tuple[str, ...] = ("LSE-D", "LSE-C")
#: Table 3 metric columns.
TABLE3_METRICS: tuple[str, ...] = ("PSNR", "SSIM", "LPIPS", "LMD", "LSE-D", "LSE-C")

#: Direction arrows of the metrics (True: higher is better).
DIRECTIONS: dict[str, bool] = {
    "PSNR": True,
    "SSIM": True,
    "LPIPS": False,
    "LMD": False,
    "LSE-D": False,
    "LSE-C": True,
    "FPS": True,
}


def header(name: str) -> str:
    """Column title with its direction arrow, e.g. ``PSNR↑``."""
    if name not in DIRECTIONS:
        return name
    return f"{name}{'↑' if DIRECTIONS[name] else '↓'}"


def format_duration(seconds: float | None) -> str:
    """Training time as ``"45 s"``, ``"12 min"`` or ``"1.5 h"`` (``"–"`` when unknown)."""
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class _Notes:
    """Numbered notes collected while formatting cells."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def ref(self, text: str) -> int:
        if text not in self.items:
            self.items.append(text)
        return self.items.index(text) + 1


def format_cell(metric: MetricValue | None, notes: _Notes) -> str:
    """One table cell: the rounded value, ``∞``, ``weights not supplied`` or ``n/a`` with a note number."""
    if metric is None:
        return "–"
    if metric.value is None:
        if metric.note.startswith(WEIGHTS_NOT_SUPPLIED):
            return WEIGHTS_NOT_SUPPLIED
        return f"n/a [{notes.ref(metric.note or 'not computed')}]" if metric.note else "n/a"
    if math.isinf(metric.value):
        return "∞" if metric.value > 0 else "-∞"
    return f"{metric.value:.{DECIMALS.get(metric.name, 3)}f}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], align_left: int = 1) -> list[str]:
    sep = [":--" if i < align_left else "--:" for i in range(len(head))]
    return [_row(head), _row(sep), *(_row(r) for r in rows)]


def protocol_lines(labelled: Sequence[tuple[str, EvaluationReport]], names: Sequence[str]) -> list[str]:
    """One line per metric: its protocol, or each distinct protocol with the rows that used it."""
    protocols: dict[str, dict[str, list[str]]] = {}  # metric -> protocol -> row labels
    for name in names:
        for label, report in labelled:
            metric = report.get(name)
            if metric is not None:
                protocols.setdefault(name, {}).setdefault(metric.protocol, []).append(label)
    return protocol_summary(protocols, "rows")


def protocol_summary(protocols: Mapping[str, Mapping[str, Sequence[str]]], between: str) -> list[str]:
    """Markdown lines from ``metric -> protocol -> who used it``: the protocol, or each one with its users.

    Args:
        protocols: per metric, each distinct protocol text and the rows (or speakers) that used it.
        between: what the users are, for the "PROTOCOLS DIFFER between ..." line.
    """
    lines = []
    for name, by_protocol in protocols.items():
        if len(by_protocol) == 1:
            lines.append(f"- {name}: {next(iter(by_protocol))}")
        else:
            lines.append(f"- {name}: PROTOCOLS DIFFER between {between}:")
            lines += [f"  - {', '.join(users)}: {protocol}" for protocol, users in by_protocol.items()]
    return lines


def _frames_line(reports: Sequence[EvaluationReport]) -> str:
    counts = sorted({r.frames for r in reports})
    return ", ".join(str(c) for c in counts)


def _finish(lines: list[str], notes: _Notes) -> str:
    if notes.items:
        lines.append("")
        lines += [f"[{i}] {text}" for i, text in enumerate(notes.items, start=1)]
    return "\n".join(lines) + "\n"


def table1_markdown(rows: Sequence[EvaluationReport], title: str = "Table 1: self-driven reconstruction") -> str:
    """Table 1 layout: Method | PSNR↑ | SSIM↑ | LPIPS↓ | LMD↓ | LSE-D↓ | LSE-C↑ | Time | FPS, then the protocol.

    Args:
        rows: one self-driven report per method.
        title: heading line.
    """
    notes = _Notes()
    head = ["Method", *(header(n) for n in TABLE1_METRICS), "Time", header("FPS")]
    body = [
        [
            r.method,
            *(format_cell(r.get(n), notes) for n in TABLE1_METRICS),
            format_duration(r.train_time_s),
            format_cell(r.get("FPS"), notes),
        ]
        for r in rows
    ]
    lines = [f"### {title}", "", *_table(head, body), ""]
    lines.append(f"Protocol: self-driven on held-out frames ({_frames_line(rows)} frames); Time = training time.")
    lines += protocol_lines([(r.method, r) for r in rows], [*TABLE1_METRICS, "FPS"])
    return _finish(lines, notes)


#: Benchmark columns: (metrics.json key, column title, decimals).
BENCHMARK_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("face_psnr", "face PSNR↑", 2),
    ("face_ssim", "face SSIM↑", 4),
    ("head_psnr", "head PSNR↑", 2),
    ("mouth_psnr", "mouth PSNR↑", 2),
    ("lmd", "LMD↓", 3),
    ("mouth_open_r", "mouth-open r↑", 3),
)
#: Benchmark baseline row labels by ``baselines`` key.
BASELINE_LABELS: dict[str, str] = {"mean_image": "mean training image", "static_only": "static only (no deformation)"}


def _number(value: object, decimals: int) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (int, float)) and math.isinf(value):
        return "∞"
    return f"{float(value):.{decimals}f}" if isinstance(value, (int, float)) else str(value)


def benchmark_markdown(report: EvaluationReport, title: str = "Benchmark: real-speaker quality") -> str:
    """The benchmark and its baselines as a markdown table, then the protocol of each column.

    Args:
        report: a self-driven report with `benchmark` (and `baselines`) filled.
        title: heading line.
    """
    head = ["Method", *(title_ for _, title_, _ in BENCHMARK_COLUMNS)]
    rows = [[report.method, *(_number(report.benchmark.get(k), d) for k, _, d in BENCHMARK_COLUMNS)]]
    for name, scores in report.baselines.items():
        cells = [_number(scores.get(k), d) if k in scores else "–" for k, _, d in BENCHMARK_COLUMNS]
        rows.append([BASELINE_LABELS.get(name, name), *cells])
    protocol = report.benchmark_protocol
    lines = [f"### {title}", "", *_table(head, rows), ""]
    lines.append(f"Protocol: {protocol.get('frames', f'{report.frames} held-out frames')}; n/a = not computed.")
    keys = [k for k, _, _ in BENCHMARK_COLUMNS] + ["lmd_detector_floor", *report.baselines]
    lines += [f"- {k}: {protocol[k]}" for k in keys if protocol.get(k)]
    if "lmd_detector_floor" in report.benchmark:
        lines.append(f"- lmd_detector_floor = {_number(report.benchmark['lmd_detector_floor'], 3)}")
    notes = protocol.get("notes") or {}
    lines += [f"- note ({k}): {v}" for k, v in notes.items()]
    return "\n".join(lines) + "\n"


def table2_markdown(rows: Sequence[EvaluationReport], title: str = "Table 2: cross-driven lip sync") -> str:
    """Table 2 layout: Method | (per driving audio) LSE-D↓ | LSE-C↑, then the protocol.

    Args:
        rows: cross-driven reports; one per (method, audio), grouped by `EvaluationReport.audio`.
        title: heading line.
    """
    notes = _Notes()
    methods = list(dict.fromkeys(r.method for r in rows))
    audios = list(dict.fromkeys(r.audio for r in rows))
    lookup = {(r.method, r.audio): r for r in rows}
    head = ["Method"]
    for audio in audios:
        suffix = f" ({audio})" if audio else ""
        head += [f"{header(n)}{suffix}" for n in TABLE2_METRICS]
    body = []
    for method in methods:
        cells = [method]
        for audio in audios:
            report = lookup.get((method, audio))
            cells += [format_cell(report.get(n) if report else None, notes) for n in TABLE2_METRICS]
        body.append(cells)
    lines = [f"### {title}", "", *_table(head, body), ""]
    lines.append(
        f"Protocol: cross-driven by novel audio ({', '.join(a or 'unnamed' for a in audios)}; "
        f"{_frames_line(rows)} frames); LMD: n/a (no ground-truth frames for novel audio)."
    )
    lines += protocol_lines([(f"{r.method} / {r.audio or 'unnamed'}", r) for r in rows], TABLE2_METRICS)
    return _finish(lines, notes)


@dataclass(frozen=True)
class AblationVariant:
    """One Table 3 configuration.

    Attributes:
        name: row label.
        density: density strategy registry name.
        face_fusion: fusion module of the face branch.
        mouth_fusion: fusion module of the inside-mouth branch.
    """

    name: str
    density: str
    face_fusion: str
    mouth_fusion: str


#: The paper's Table 3 variants, in its order.
TABLE3_VARIANTS: tuple[AblationVariant, ...] = (
    AblationVariant("gradient + concat-mlp", "gradient", "concat-mlp", "concat-mlp"),
    AblationVariant("pixel-aware + concat-mlp", "pixel-aware", "concat-mlp", "concat-mlp"),
    AblationVariant("pixel-aware + MGF w/o mouth module", "pixel-aware", "mgf", "concat-mlp"),
    AblationVariant("w/o face module", "pixel-aware", "concat-mlp", "mgf"),
    AblationVariant("full (pixel-aware + MGF)", "pixel-aware", "mgf", "mgf"),
)


@dataclass(frozen=True)
class AblationRow:
    """One Table 3 row: a variant and its self-driven report.

    Attributes:
        variant: the configuration.
        report: its evaluation.
        num_gaussians: Gaussians at the end of training (face + mouth), if known.
    """

    variant: AblationVariant
    report: EvaluationReport
    num_gaussians: int | None = None


def table3_markdown(rows: Sequence[AblationRow], title: str = "Table 3: ablation") -> str:
    """Table 3 layout: Variant | Density | Fusion (face / mouth) | PSNR↑ ... LSE-C↑ [| Gaussians], then the protocol."""
    notes = _Notes()
    with_count = any(r.num_gaussians is not None for r in rows)
    head = ["Variant", "Density", "Fusion (face / mouth)", *(header(n) for n in TABLE3_METRICS)]
    if with_count:
        head.append("Gaussians")
    body = []
    for r in rows:
        cells = [
            r.variant.name,
            r.variant.density,
            f"{r.variant.face_fusion} / {r.variant.mouth_fusion}",
            *(format_cell(r.report.get(n), notes) for n in TABLE3_METRICS),
        ]
        if with_count:
            cells.append("–" if r.num_gaussians is None else f"{r.num_gaussians:,}")
        body.append(cells)
    lines = [f"### {title}", "", *_table(head, body, align_left=3), ""]
    frames = _frames_line([r.report for r in rows])
    lines.append(f"Protocol: each variant trained and evaluated self-driven ({frames} frames).")
    lines += protocol_lines([(r.variant.name, r.report) for r in rows], TABLE3_METRICS)
    return _finish(lines, notes)


__all__ = [
    "BASELINE_LABELS",
    "BENCHMARK_COLUMNS",
    "benchmark_markdown",
    "DECIMALS",
    "TABLE1_METRICS",
    "TABLE2_METRICS",
    "TABLE3_METRICS",
    "TABLE3_VARIANTS",
    "AblationRow",
    "AblationVariant",
    "format_cell",
    "format_duration",
    "header",
    "protocol_lines",
    "protocol_summary",
    "table1_markdown",
    "table2_markdown",
    "table3_markdown",
]
