"""``pgs sweep``: a grid of runs (base config x variants x speakers x seeds) on Ray or locally, with CIs.

Modules: `spec` (the sweep file and its runs), `runner` (one run: train, evaluate, record),
`executors` (local and Ray), `driver` (skip, submit, retry, status), `progress` (live table),
`aggregate` (Tables 1 and 3 with mean ± 95 % CI, paired differences, plot), `api` (`run_sweep`
ties them). Names are re-exported lazily, so ``pgs --help`` imports none of them.
"""

from pgs.core.lazy import lazy_exports

_EXPORTS = {
    "RunSpec": "pgs.eval.sweep.spec",
    "Sweep": "pgs.eval.sweep.spec",
    "load_sweep": "pgs.eval.sweep.spec",
    "SweepRun": "pgs.eval.sweep.api",
    "make_executor": "pgs.eval.sweep.api",
    "run_sweep": "pgs.eval.sweep.api",
}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
