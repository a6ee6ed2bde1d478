"""pgs-eval: the paper's metrics (PSNR, SSIM, LPIPS, LMD, LSE-D/LSE-C, FPS), evaluation reports and tables.

Evaluators are registered in the ``pgs.evaluators`` entry-point group (``psnr``, ``ssim``,
``lpips``, ``lmd``, ``lse``, ``fps``). The library functions the ``pgs eval`` / ``pgs ablate``
commands build on:

- `evaluate_frames` -> `EvaluationReport`; `write_report` / `read_report` (metrics.json + table);
- `table1_markdown`, `table2_markdown`, `table3_markdown` (the paper's table layouts);
- `frame_strip_png`, `density_picture_png` (figures);
- `measure_fps` (batch-1 timing of a renderer).

The commands themselves: ``pgs eval`` (`pgs.eval.checkpoint_eval.evaluate_checkpoint`, built on
`pgs.eval.selfdriven`) and ``pgs ablate`` (`pgs.eval.ablation.run_ablation`), registered in
``pgs.commands`` from `pgs.eval.commands`.

Public names are re-exported lazily (PEP 562): importing the package imports neither torch nor numpy.
"""

from pgs.core.lazy import lazy_exports

_EXPORTS = {
    "MissingWeightsError": "pgs.eval.errors",
    "density_picture_png": "pgs.eval.figures",
    "frame_strip_png": "pgs.eval.figures",
    "FpsMeasurement": "pgs.eval.fps",
    "measure_fps": "pgs.eval.fps",
    "CROSS_DRIVEN_METRICS": "pgs.eval.report",
    "SELF_DRIVEN_METRICS": "pgs.eval.report",
    "EvaluationReport": "pgs.eval.report",
    "build_evaluators": "pgs.eval.report",
    "evaluate_frames": "pgs.eval.report",
    "read_report": "pgs.eval.report",
    "write_report": "pgs.eval.report",
    "TABLE3_VARIANTS": "pgs.eval.tables",
    "AblationRow": "pgs.eval.tables",
    "AblationVariant": "pgs.eval.tables",
    "table1_markdown": "pgs.eval.tables",
    "table2_markdown": "pgs.eval.tables",
    "table3_markdown": "pgs.eval.tables",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
