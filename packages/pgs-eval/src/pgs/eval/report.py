"""Evaluation reports: run evaluators on frames, keep the values with their protocols, write them.

`evaluate_frames` is what ``pgs eval`` calls after rendering: it builds the evaluators by
registry name, runs them, and returns an `EvaluationReport`. `write_report` writes
``metrics.json`` (atomically) and the markdown table (Table 1 layout for self-driven runs,
Table 2 for cross-driven ones); `read_report` reads ``metrics.json`` back.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from torch import Tensor

from pgs.core.errors import DataError
from pgs.core.interfaces import EvaluationInputs, Evaluator, MetricValue
from pgs.core.io.atomic import atomic_write_text

Mode = Literal["self-driven", "cross-driven"]

#: metrics.json format identifier.
SCHEMA = "pgs-eval/metrics/1"

#: Evaluators of a self-driven run (held-out frames with ground truth), in Table 1 order.
SELF_DRIVEN_METRICS: tuple[str, ...] = ("psnr", "ssim", "lpips", "lmd", "lse", "fps")
#: Evaluators of a cross-driven run (novel audio, no ground-truth frames).
CROSS_DRIVEN_METRICS: tuple[str, ...] = ("lmd", "lse")

#: Metrics each reference evaluator reports, with their direction (used for n/a rows without ground truth).
REFERENCE_METRICS: dict[str, tuple[tuple[str, bool], ...]] = {
    "psnr": (("PSNR", True),),
    "ssim": (("SSIM", True),),
    "lpips": (("LPIPS", False),),
    "lmd": (("LMD", False),),
}

NO_GROUND_TRUTH = "n/a: no ground truth for cross-driven audio"


@dataclass
class EvaluationReport:
    """The metrics of one method on one clip, with their protocols.

    Attributes:
        method: the row label (e.g. ``"PGSTalker"`` or an ablation variant).
        mode: ``"self-driven"`` (held-out frames) or ``"cross-driven"`` (another audio).
        metrics: the values in evaluation order.
        frames: number of evaluated frames.
        audio: name of the driving audio (cross-driven tables group columns by it).
        train_time_s: training time in seconds, if known (Table 1's Time column).
        meta: free-form JSON-serialisable facts (checkpoint, dataset, date, device, ...).
        benchmark: the real-speaker benchmark, a flat dict of numbers (``face_psnr``, ``face_ssim``,
            ``head_psnr``, ``mouth_psnr``, ``lmd``, ``mouth_open_r``, ...; None = n/a), written as
            the top-level ``"benchmark"`` of metrics.json when not empty.
        benchmark_protocol: protocol line per benchmark/baseline key (and ``notes``), written as
            ``"benchmark_protocol"``.
        baselines: scores of the baselines by name (``mean_image``, ``static_only``), written as
            ``"baselines"``.
    """

    method: str
    mode: Mode
    metrics: list[MetricValue]
    frames: int
    audio: str = ""
    train_time_s: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    benchmark: dict[str, Any] = field(default_factory=dict)
    benchmark_protocol: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get(self, name: str) -> MetricValue | None:
        """The metric called `name` (e.g. ``"LSE-D"``), or None."""
        for metric in self.metrics:
            if metric.name == name:
                return metric
        return None

    def value(self, name: str) -> float | None:
        """The value of metric `name`, or None when absent or not computed."""
        metric = self.get(name)
        return None if metric is None else metric.value

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (infinite values written as the strings ``"inf"`` / ``"-inf"``)."""
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "method": self.method,
            "mode": self.mode,
            "frames": self.frames,
            "audio": self.audio,
            "train_time_s": self.train_time_s,
            "meta": self.meta,
            "metrics": {
                m.name: {
                    "value": _encode(m.value),
                    "higher_is_better": m.higher_is_better,
                    "protocol": m.protocol,
                    "note": m.note,
                }
                for m in self.metrics
            },
        }
        if self.benchmark:
            out["benchmark"] = _encode_values(self.benchmark)
            out["benchmark_protocol"] = dict(self.benchmark_protocol)
        if self.baselines:
            out["baselines"] = {name: _encode_values(scores) for name, scores in self.baselines.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> EvaluationReport:
        """Inverse of `to_dict`.

        Raises:
            DataError: not a metrics.json of this schema.
        """
        if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
            raise DataError(f"{source}: not a pgs-eval metrics file (expected schema {SCHEMA!r})")
        try:
            metrics = [
                MetricValue(
                    str(name),
                    _decode(entry["value"]),
                    bool(entry["higher_is_better"]),
                    str(entry["protocol"]),
                    str(entry.get("note", "")),
                )
                for name, entry in data["metrics"].items()
            ]
            return cls(
                method=str(data["method"]),
                mode=data["mode"],
                metrics=metrics,
                frames=int(data["frames"]),
                audio=str(data.get("audio", "")),
                train_time_s=data.get("train_time_s"),
                meta=dict(data.get("meta", {})),
                benchmark=_decode_values(data.get("benchmark", {})),
                benchmark_protocol=dict(data.get("benchmark_protocol", {})),
                baselines={str(k): _decode_values(v) for k, v in dict(data.get("baselines", {})).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"{source}: malformed metrics file: {exc!r}") from None


def _encode(value: float | None) -> float | str | None:
    if value is not None and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _encode_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """A flat dict with infinite floats written as strings (other values kept)."""
    return {k: _encode(v) if isinstance(v, float) else v for k, v in values.items()}


def _decode_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Inverse of `_encode_values` (numbers as floats, None kept)."""
    return {str(k): _decode(v) if isinstance(v, (int, float, str)) or v is None else v for k, v in dict(values).items()}


def _decode(value: Any) -> float | None:
    if value is None:
        return None
    if value in ("inf", "-inf"):
        return math.inf if value == "inf" else -math.inf
    return float(value)


def build_evaluators(
    metrics: Sequence[str | Evaluator],
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    missing_weights: Literal["error", "skip"] = "skip",
) -> list[Evaluator]:
    """Create evaluators by registry name (instances are passed through).

    Args:
        metrics: registry names (``"psnr"``, ...) or ready `Evaluator` objects.
        configs: parameters per registry name (validated by the plugin's config class).
        missing_weights: default ``on_missing`` for evaluators that need weight files (lpips, lse)
            when `configs` does not set it: ``"skip"`` reports them as not computed.

    Raises:
        PluginError: an unknown name (with the installed names).
        ConfigError: invalid parameters.
    """
    from pgs.core.registry import registry

    configs = dict(configs or {})
    unknown = [k for k in configs if k not in {m for m in metrics if isinstance(m, str)}]
    if unknown:
        raise DataError(f"configs given for evaluators that are not selected: {unknown}")
    reg = registry("pgs.evaluators")
    built: list[Evaluator] = []
    for item in metrics:
        if isinstance(item, Evaluator):
            built.append(item)
            continue
        params = dict(configs.get(item, {}))
        spec = reg.get(item)
        if "on_missing" in spec.config_class.model_fields and "on_missing" not in params:
            params["on_missing"] = missing_weights
        built.append(reg.create(item, params))
    return built


def evaluate_frames(
    predicted: Tensor,
    target: Tensor | None = None,
    *,
    metrics: Sequence[str | Evaluator] | None = None,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    region_masks: Tensor | None = None,
    predicted_landmarks: Tensor | None = None,
    target_landmarks: Tensor | None = None,
    audio: Tensor | None = None,
    sample_rate: int = 16000,
    fps: float = 25.0,
    render_frame: Callable[[int], Tensor] | None = None,
    device: str = "cpu",
    method: str = "PGSTalker",
    audio_name: str = "",
    train_time_s: float | None = None,
    missing_weights: Literal["error", "skip"] = "skip",
    meta: Mapping[str, Any] | None = None,
) -> EvaluationReport:
    """Evaluate rendered frames and return the report.

    Self-driven when `target` is given (held-out frames), cross-driven otherwise; in a
    cross-driven run the reference metrics (PSNR, SSIM, LPIPS, LMD) are reported as n/a unless
    landmarks are supplied for LMD.

    Args:
        predicted: [F, H, W, 3] rendered frames in [0, 1].
        target: [F, H, W, 3] ground truth, or None (cross-driven).
        metrics: evaluator names or objects (default: `SELF_DRIVEN_METRICS` or `CROSS_DRIVEN_METRICS`).
        configs: parameters per evaluator name, e.g. ``{"lmd": {"source": "mediapipe", "model_path": ...}}``.
        region_masks: [F, H, W] bool face masks (face parsing), if any.
        predicted_landmarks: [F, 68, 2] landmarks of the predictions, if known.
        target_landmarks: [F, 68, 2] landmarks of the ground truth, if known.
        audio: [S] driving waveform (LSE).
        sample_rate: rate of `audio`.
        fps: frame rate of the frames.
        render_frame: batch-1 renderer for FPS (see `EvaluationInputs.render_frame`).
        device: device of `render_frame`.
        method: row label.
        audio_name: name of the driving audio (cross-driven).
        train_time_s: training time in seconds, for Table 1.
        missing_weights: see `build_evaluators`.
        meta: extra facts stored in the report.
    """
    mode: Mode = "self-driven" if target is not None else "cross-driven"
    if metrics is None:
        metrics = SELF_DRIVEN_METRICS if mode == "self-driven" else CROSS_DRIVEN_METRICS
    evaluators = build_evaluators(metrics, configs, missing_weights)
    inputs = EvaluationInputs(
        predicted=predicted,
        target=target,
        region_masks=region_masks,
        predicted_landmarks=predicted_landmarks,
        target_landmarks=target_landmarks,
        audio=audio,
        sample_rate=sample_rate,
        fps=fps,
        render_frame=render_frame,
        device=device,
    )
    values: list[MetricValue] = []
    for evaluator in evaluators:
        needs_truth = REFERENCE_METRICS.get(getattr(evaluator, "name", ""))
        if target is None and needs_truth and not (evaluator.name == "lmd" and target_landmarks is not None):
            values += [MetricValue(n, None, up, "needs ground-truth frames", NO_GROUND_TRUTH) for n, up in needs_truth]
            continue
        values += evaluator.evaluate(inputs)
    return EvaluationReport(
        method=method,
        mode=mode,
        metrics=values,
        frames=int(predicted.shape[0]),
        audio=audio_name,
        train_time_s=train_time_s,
        meta=dict(meta or {}),
    )


def write_report(report: EvaluationReport, folder: str | Path) -> dict[str, Path]:
    """Write ``metrics.json`` and the markdown table of one report into `folder` (created if needed).

    Returns:
        ``{"metrics": .../metrics.json, "table": .../table1.md or table2.md}``.
    """
    from pgs.eval.tables import table1_markdown, table2_markdown

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    metrics_path = atomic_write_text(folder / "metrics.json", json.dumps(report.to_dict(), indent=2) + "\n")
    if report.mode == "self-driven":
        table_path = atomic_write_text(folder / "table1.md", table1_markdown([report]))
    else:
        table_path = atomic_write_text(folder / "table2.md", table2_markdown([report]))
    return {"metrics": metrics_path, "table": table_path}


def read_report(path: str | Path) -> EvaluationReport:
    """Read a ``metrics.json`` written by `write_report` (or the folder holding it).

    Raises:
        DataError: missing, malformed, or of another schema.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.json"
    if not path.is_file():
        raise DataError(f"{path}: metrics file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read metrics: {exc}") from None
    return EvaluationReport.from_dict(data, str(path))


__all__ = [
    "CROSS_DRIVEN_METRICS",
    "NO_GROUND_TRUTH",
    "SCHEMA",
    "SELF_DRIVEN_METRICS",
    "EvaluationReport",
    "Mode",
    "build_evaluators",
    "evaluate_frames",
    "read_report",
    "write_report",
]
