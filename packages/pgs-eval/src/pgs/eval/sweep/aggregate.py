"""Sweep results -> Tables 1 and 3 with mean ± 95 % CI over seeds, paired differences, a points plot.

Per speaker, a variant's metric is averaged over its seeds with a Student-t interval
(`pgs.eval.stats`). Overall, each seed's value is first averaged over the speakers (only seeds
that every speaker finished count), then over seeds: the interval describes seed-to-seed noise
of the speaker average, as the paper's numbers are speaker averages. Paired differences ``a - b``
pair runs of the same speaker and seed (overall: the per-seed speaker averages) and say
``better`` / ``worse`` only when the interval excludes 0, else ``no difference beyond noise``.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgs.core.io.atomic import atomic_write_bytes, atomic_write_text
from pgs.eval.stats import LEVEL, Interval, mean_interval, paired_difference, verdict
from pgs.eval.sweep.spec import SWEEP_SCHEMA, Sweep
from pgs.eval.tables import (
    DECIMALS,
    DIRECTIONS,
    TABLE1_METRICS,
    TABLE2_METRICS,
    TABLE3_METRICS,
    format_duration,
    header,
    protocol_summary,
)

#: Scope name of the speaker-averaged summary.
OVERALL = "overall"
#: Metrics that are not in the report's metric list: (key, decimals).
EXTRA_METRICS: dict[str, int] = {"Gaussians": 0, "Time": 1, "face_psnr": 2, "mouth_psnr": 2}
#: Metrics compared by paired differences (those with a direction; the benchmark's face_psnr is
#: Table 1's PSNR under the default face region, so only mouth_psnr is added).
COMPARED: tuple[str, ...] = ("PSNR", "SSIM", "LPIPS", "LMD", "LSE-D", "LSE-C", "mouth_psnr")
_EXTRA_DIRECTIONS = {"face_psnr": True, "mouth_psnr": True}


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def run_metrics(result: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of one ``result.json``: report metrics, Gaussians, Time (s), benchmark PSNRs."""
    report = result.get("report") or {}
    out: dict[str, float] = {}
    for name, entry in (report.get("metrics") or {}).items():
        value = _finite(entry.get("value") if isinstance(entry, dict) else None)
        if value is not None:
            out[name] = value
    bench = report.get("benchmark") or {}
    for key in ("face_psnr", "mouth_psnr"):
        value = _finite(bench.get(key))
        if value is not None:
            out[key] = value
    for audio, cross in (result.get("cross_driven") or {}).items():  # Table 2: "LSE-D (audio)"
        for name in TABLE2_METRICS:
            entry = (cross.get("metrics") or {}).get(name)
            value = _finite(entry.get("value") if isinstance(entry, dict) else None)
            if value is not None:
                out[cross_metric(name, audio)] = value
    gaussians = _finite(result.get("num_gaussians_total"))
    if gaussians is not None:
        out["Gaussians"] = gaussians
    seconds = _finite((result.get("training") or {}).get("seconds"))
    if seconds is not None:
        out["Time"] = seconds
    return out


def cross_metric(name: str, audio: str) -> str:
    """Key of a cross-driven metric: ``"LSE-D (audio)"``."""
    return f"{name} ({audio})"


def base_metric(metric: str) -> str:
    """``"LSE-D (audio)"`` -> ``"LSE-D"``; other names unchanged."""
    return metric.split(" (", 1)[0]


def higher_is_better(metric: str) -> bool | None:
    """Direction of a metric (None: no direction, not compared)."""
    base = base_metric(metric)
    return DIRECTIONS.get(base, _EXTRA_DIRECTIONS.get(base))


def decimals(metric: str) -> int:
    """Decimal places of a metric in tables."""
    base = base_metric(metric)
    return DECIMALS.get(base, EXTRA_METRICS.get(base, 3))


def compared_metrics(by_variant: dict[str, dict[str, Any]]) -> list[str]:
    """`COMPARED`, then the cross-driven ``LSE-D (audio)`` / ``LSE-C (audio)`` keys present."""
    cross = sorted({m for ms in by_variant.values() for m in ms if " (" in m and base_metric(m) in TABLE2_METRICS})
    return [*COMPARED, *cross]


Values = dict[str, dict[str, dict[str, dict[int, float]]]]  # speaker -> variant -> metric -> seed -> value


def collect(results: Sequence[dict[str, Any]]) -> Values:
    """Speaker -> variant -> metric -> seed -> value from finished runs' result data."""
    values: Values = {}
    for result in results:
        metrics = run_metrics(result)
        by_metric = values.setdefault(result["speaker"], {}).setdefault(result["variant"], {})
        for name, value in metrics.items():
            by_metric.setdefault(name, {})[int(result["seed"])] = value
    return values


def overall_values(values: Values, speakers: Sequence[str]) -> dict[str, dict[str, dict[int, float]]]:
    """Variant -> metric -> seed -> mean over speakers (seeds every speaker has)."""
    out: dict[str, dict[str, dict[int, float]]] = {}
    variants = {v for s in speakers for v in values.get(s, {})}
    for variant in variants:
        metrics = {m for s in speakers for m in values.get(s, {}).get(variant, {})}
        for metric in metrics:
            per_speaker = [values.get(s, {}).get(variant, {}).get(metric, {}) for s in speakers]
            seeds = set(per_speaker[0]).intersection(*per_speaker[1:]) if per_speaker else set()
            if seeds:
                out.setdefault(variant, {})[metric] = {
                    seed: sum(p[seed] for p in per_speaker) / len(per_speaker) for seed in sorted(seeds)
                }
    return out


@dataclass(frozen=True)
class Comparison:
    """A paired difference ``a - b`` of one metric in one scope.

    Attributes:
        a: first variant.
        b: second variant.
        scope: speaker name or ``overall``.
        metric: metric name.
        difference: interval of the per-seed differences.
        verdict: for `a`: better / worse / no difference beyond noise / too few seeds.
    """

    a: str
    b: str
    scope: str
    metric: str
    difference: Interval
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "a": self.a,
            "b": self.b,
            "scope": self.scope,
            "metric": self.metric,
            "higher_is_better": higher_is_better(self.metric),
            **self.difference.to_dict(),
            "verdict": self.verdict,
        }


@dataclass
class Summary:
    """Aggregated sweep results.

    Attributes:
        intervals: scope (speaker or ``overall``) -> variant -> metric -> interval.
        comparisons: paired differences of the compared pairs, per scope and directed metric.
        scopes: ``overall`` then the speakers.
    """

    intervals: dict[str, dict[str, dict[str, Interval]]]
    comparisons: list[Comparison]
    scopes: list[str]


def summarize(results: Sequence[dict[str, Any]], speakers: Sequence[str], pairs: Sequence[tuple[str, str]]) -> Summary:
    """Intervals per scope, variant and metric, and the paired differences of `pairs`."""
    values = collect(results)
    scoped: dict[str, dict[str, dict[str, dict[int, float]]]] = {OVERALL: overall_values(values, speakers)}
    for speaker in speakers:
        scoped[speaker] = values.get(speaker, {})
    intervals: dict[str, dict[str, dict[str, Interval]]] = {}
    comparisons: list[Comparison] = []
    for scope, by_variant in scoped.items():
        intervals[scope] = {
            variant: {metric: mean_interval(list(seeds.values())) for metric, seeds in by_metric.items() if seeds}
            for variant, by_metric in by_variant.items()
        }
        for a, b in pairs:
            for metric in compared_metrics(by_variant):
                direction = higher_is_better(metric)
                va = by_variant.get(a, {}).get(metric)
                vb = by_variant.get(b, {}).get(metric)
                if direction is None or not va or not vb:
                    continue
                diff = paired_difference(va, vb)
                if diff is not None:
                    comparisons.append(Comparison(a, b, scope, metric, diff, verdict(diff, direction)))
    scopes = [OVERALL, *speakers] if len(speakers) > 1 else [OVERALL]
    return Summary(intervals, comparisons, scopes)


# ------------------------------------------------------------------------------------------ markdown


def _cell(interval: Interval | None, metric: str) -> str:
    if interval is None:
        return "–"
    if metric == "Time":
        text = format_duration(interval.mean)
        return text if interval.half_width is None else f"{text} ± {format_duration(interval.half_width)}"
    return interval.format(decimals(metric))


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], left: int) -> list[str]:
    sep = [":--" if i < left else "--:" for i in range(len(head))]
    return [_row(head), _row(sep), *(_row(r) for r in rows)]


def components(config: dict[str, Any]) -> tuple[str, str]:
    """(density, ``face fusion / mouth fusion``) of a run config's data."""
    density = config.get("density", {})
    model = config.get("model", {})
    dens = {density.get(b, {}).get("name", "?") for b in ("face", "mouth")}
    fusion = f"{model.get('face', {}).get('fusion', {}).get('name', '?')} / " + str(
        model.get("mouth", {}).get("fusion", {}).get("name", "?")
    )
    return " / ".join(sorted(dens)), fusion


def table1_ci(summary: Summary, scope: str, rows: Sequence[tuple[str, str]]) -> list[str]:
    """Table 1 layout with mean ± CI cells; `rows` are (variant, label)."""
    head = ["Method", *(header(m) for m in TABLE1_METRICS), "Time", header("FPS"), "n"]
    body = []
    for variant, label in rows:
        cells = summary.intervals.get(scope, {}).get(variant, {})
        n = max((i.n for i in cells.values()), default=0)
        body.append([label, *(_cell(cells.get(m), m) for m in (*TABLE1_METRICS, "Time", "FPS")), str(n)])
    return _table(head, body, 1)


def table3_ci(summary: Summary, scope: str, rows: Sequence[tuple[str, str, str, str]]) -> list[str]:
    """Table 3 layout with mean ± CI cells; `rows` are (variant, label, density, fusion)."""
    head = ["Variant", "Density", "Fusion (face / mouth)", *(header(m) for m in TABLE3_METRICS), "Gaussians", "n"]
    body = []
    for variant, label, density, fusion in rows:
        cells = summary.intervals.get(scope, {}).get(variant, {})
        n = max((i.n for i in cells.values()), default=0)
        body.append([label, density, fusion, *(_cell(cells.get(m), m) for m in (*TABLE3_METRICS, "Gaussians")), str(n)])
    return _table(head, body, 3)


def table2_ci(summary: Summary, scope: str, rows: Sequence[tuple[str, str]], audios: Sequence[str]) -> list[str]:
    """Table 2 layout (per driving audio LSE-D↓, LSE-C↑) with mean ± CI cells; `rows` are (variant, label)."""
    head = ["Method", *(f"{header(m)} ({a})" for a in audios for m in TABLE2_METRICS), "n"]
    body = []
    for variant, label in rows:
        cells = summary.intervals.get(scope, {}).get(variant, {})
        keys = [cross_metric(m, a) for a in audios for m in TABLE2_METRICS]
        n = max((cells[k].n for k in keys if k in cells), default=0)
        body.append([label, *(_cell(cells.get(k), k) for k in keys), str(n)])
    return _table(head, body, 1)


def _metric_header(metric: str) -> str:
    base = base_metric(metric)
    direction = higher_is_better(metric)
    arrow = "" if direction is None or base in DIRECTIONS else ("↑" if direction else "↓")
    return header(base) + arrow + metric[len(base) :]


def differences_md(summary: Summary, scope: str) -> list[str]:
    """Paired differences of one scope as a table (a − b, metric, mean ± CI, interval, n, verdict)."""
    head = ["a − b", "metric", "mean ± CI", "95 % CI", "n", "verdict for a"]
    body = []
    for c in summary.comparisons:
        if c.scope != scope:
            continue
        d = c.difference
        places = decimals(c.metric) + 1
        span = "–" if d.low is None else f"[{d.low:.{places}f}, {d.high:.{places}f}]"
        body.append([f"{c.a} − {c.b}", _metric_header(c.metric), d.format(places), span, str(d.n), c.verdict])
    if not body:
        return ["(no pairs with values in this scope)"]
    return _table(head, body, 2)


def sweep_markdown(sweep: Sweep, summary: Summary, states: Sequence[Any]) -> str:
    """``sweep.md``: Tables 1 and 3 with CIs and the paired differences, overall and per speaker."""
    first_config = {s.run.variant: s.run.config for s in reversed(states)}
    labels = {v.name: v.label or v.name for v in sweep.variants}
    t1_rows = [(v.name, labels[v.name]) for v in sweep.variants]
    t3_rows = [(v.name, labels[v.name], *components(first_config.get(v.name, {}))) for v in sweep.variants]
    done = sum(1 for s in states if s.state == "done")
    failed = [s for s in states if s.state == "failed"]
    audios = [name for name, _ in (states[0].run.audios if states else ())]
    lines = [
        f"# Sweep {sweep.name}",
        "",
        f"{len(states)} runs ({len(sweep.speakers)} speaker(s) x {len(sweep.variants)} variant(s) x "
        f"{len(sweep.seeds)} seed(s) {sweep.seeds}): {done} done, {len(failed)} failed.",
        f"Cells: mean ± half-width of the {LEVEL:.0%} Student-t interval over seeds (n = seeds); "
        "(n=1): one seed, no interval. Overall: each seed's values averaged over the speakers first.",
        "A variant is called better or worse only when the interval of the paired difference excludes 0.",
        "",
    ]
    scopes = [(OVERALL, f"Overall ({len(sweep.speakers)} speaker(s): {', '.join(sweep.speakers)})")]
    if len(sweep.speakers) > 1:
        scopes += [(s, f"Speaker {s}") for s in sweep.speakers]
    for scope, title in scopes:
        lines += [f"## {title}", "", "### Table 1: self-driven reconstruction (mean ± 95 % CI)", ""]
        lines += table1_ci(summary, scope, t1_rows)
        if audios:
            lines += ["", "### Table 2: cross-driven lip sync (mean ± 95 % CI)", ""]
            lines += table2_ci(summary, scope, t1_rows, audios)
        lines += ["", "### Table 3: ablation (mean ± 95 % CI)", ""]
        lines += table3_ci(summary, scope, t3_rows)
        lines += ["", "### Paired differences (same speaker and seed)", ""]
        lines += differences_md(summary, scope)
        lines.append("")
    lines += ["## Protocol", ""]
    lines += protocol_md(states)
    lines.append("- Time: training seconds of the run (report.json); Gaussians: face + mouth at the end.")
    if failed:
        lines += ["", "## Failed runs", ""]
        lines += [f"- {s.run.run_id} ({s.attempts} attempt(s)): {s.errors[-1] if s.errors else '?'}" for s in failed]
    return "\n".join(lines) + "\n"


def protocol_md(states: Sequence[Any]) -> list[str]:
    """One line per metric: its protocol, or each distinct protocol with the speakers that used it."""
    protocols: dict[str, dict[str, list[str]]] = {}  # metric -> protocol -> speakers
    for s in states:
        for name, entry in ((s.result or {}).get("report", {}).get("metrics") or {}).items():
            if isinstance(entry, dict) and entry.get("protocol"):
                speakers = protocols.setdefault(name, {}).setdefault(entry["protocol"], [])
                if s.run.speaker not in speakers:
                    speakers.append(s.run.speaker)
    return protocol_summary(protocols, "runs")


def sweep_json(sweep: Sweep, summary: Summary, states: Sequence[Any]) -> dict[str, Any]:
    """``sweep.json`` data: runs with their metrics, intervals per scope, comparisons."""
    return {
        "schema": SWEEP_SCHEMA,
        "name": sweep.name,
        "output": str(sweep.output),
        "level": LEVEL,
        "seeds": list(sweep.seeds),
        "speakers": {k: str(v) for k, v in sweep.speakers.items()},
        "variants": [
            {"name": v.name, "label": v.label, "preset": v.preset, "overrides": dict(v.overrides)}
            for v in sweep.variants
        ],
        "runs": [{**s.to_dict(), "metrics": run_metrics(s.result) if s.result else {}} for s in states],
        "summary": {
            scope: {variant: {m: i.to_dict() for m, i in ms.items()} for variant, ms in by_variant.items()}
            for scope, by_variant in summary.intervals.items()
        },
        "comparisons": [c.to_dict() for c in summary.comparisons],
    }


# ------------------------------------------------------------------------------------------ plot

#: Metrics of the per-seed points plot, when present.
PLOTTED: tuple[str, ...] = ("PSNR", "SSIM", "LPIPS", "LMD", "mouth_psnr", "Gaussians")


def points_png(sweep: Sweep, results: Sequence[dict[str, Any]], summary: Summary) -> bytes:
    """One panel per metric: every run as a dot (colour = speaker) and each speaker's mean ± CI beside its dots.

    With one speaker its mean and interval are drawn in black.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    values = collect(results)
    metrics = [m for m in PLOTTED if any(m in vm for sv in values.values() for vm in sv.values())] or ["PSNR"]
    variants = [v.name for v in sweep.variants]
    speakers = list(sweep.speakers)
    columns = min(3, len(metrics))
    rows = (len(metrics) + columns - 1) // columns
    width = max(3.4, 0.8 * len(variants) * max(1, len(speakers)) ** 0.5 + 1.5)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, 3.4 * rows), squeeze=False)
    colours = plt.get_cmap("tab10")
    for index, metric in enumerate(metrics):
        ax = axes[index // columns][index % columns]
        for k, speaker in enumerate(speakers):
            offset = (k - (len(speakers) - 1) / 2) * (0.6 / max(1, len(speakers)))
            colour = colours(k % 10) if len(speakers) > 1 else "tab:blue"
            for x, variant in enumerate(variants):
                ys = list(values.get(speaker, {}).get(variant, {}).get(metric, {}).values())
                ax.scatter(
                    [x + offset] * len(ys),
                    ys,
                    s=14,
                    color=colour,
                    alpha=0.7,
                    label=speaker if x == 0 else None,
                    zorder=2,
                )
                interval = summary.intervals.get(speaker, {}).get(variant, {}).get(metric)
                if interval is not None:
                    half = interval.half_width or 0.0
                    ax.errorbar(
                        [x + offset + 0.08],
                        [interval.mean],
                        yerr=[[half], [half]],
                        fmt="_",
                        color=colour if len(speakers) > 1 else "black",
                        ms=8,
                        capsize=3,
                        zorder=3,
                    )
        direction = higher_is_better(metric)
        arrow = "" if direction is None else (" ↑" if direction else " ↓")
        ax.set_title(f"{metric}{arrow}", fontsize=9)
        ax.set_xticks(range(len(variants)))
        ax.set_xticklabels(variants, rotation=30, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    for index in range(len(metrics), rows * columns):
        axes[index // columns][index % columns].axis("off")
    axes[0][0].legend(fontsize=7, title="speaker", title_fontsize=7)
    fig.suptitle(f"{sweep.name}: one dot per run (seed); bars: mean ± {LEVEL:.0%} CI over seeds", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


@dataclass
class SweepFiles:
    """The aggregate files: ``sweep.md``, ``sweep.json``, ``sweep_points.png``."""

    markdown: Path
    json: Path
    plot: Path
    summary: Summary


def write_sweep_outputs(sweep: Sweep, states: Sequence[Any]) -> SweepFiles:
    """Aggregate the finished runs and write the three files into the sweep folder (atomically)."""
    results = [s.result for s in states if s.result is not None]
    summary = summarize(results, list(sweep.speakers), sweep.compare)
    md = atomic_write_text(sweep.output / "sweep.md", sweep_markdown(sweep, summary, states))
    js = atomic_write_text(sweep.output / "sweep.json", json.dumps(sweep_json(sweep, summary, states), indent=2) + "\n")
    png = atomic_write_bytes(sweep.output / "sweep_points.png", points_png(sweep, results, summary))
    return SweepFiles(md, js, png, summary)


__all__ = [
    "COMPARED",
    "OVERALL",
    "Comparison",
    "Summary",
    "SweepFiles",
    "collect",
    "components",
    "differences_md",
    "overall_values",
    "points_png",
    "protocol_md",
    "run_metrics",
    "summarize",
    "sweep_json",
    "sweep_markdown",
    "table1_ci",
    "table2_ci",
    "table3_ci",
    "write_sweep_outputs",
]
