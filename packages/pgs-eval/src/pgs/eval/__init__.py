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

from pgs.core.lazy import lazy_modules

_EXPORTS = {
    "pgs.eval.errors": "MissingWeightsError",
    "pgs.eval.figures": "density_picture_png frame_strip_png",
    "pgs.eval.fps": "FpsMeasurement measure_fps",
    "pgs.eval.report": "CROSS_DRIVEN_METRICS SELF_DRIVEN_METRICS EvaluationReport build_evaluators evaluate_frames"
    " read_report write_report",
    "pgs.eval.tables": "TABLE3_VARIANTS AblationRow AblationVariant table1_markdown table2_markdown table3_markdown",
}

__getattr__, __dir__, __all__ = lazy_modules(__name__, _EXPORTS)
