"""Training-step benchmark on a real clip (`make bench`): time per step and where it goes.

The shared clip ``hdtf_RD_Radio34_000.mp4`` is prepped once per size with ``pgs prep ... --size N``
(cached under ``.benchmarks/clips/``; skipped with a reason when ``../shared/data/`` or pgs-prep is
absent). On each size (256x256, 512x512) a trainer with the ``real-cpu`` recipe, 20,000 face and
3,000 inside-mouth Gaussians and density control off (N stays fixed) times:

- ``deform``: the face branch's stage-2 step (deformation networks + Gaussians, L1 + D-SSIM + lips);
- ``finetune``: the stage-3 step (both branches composed, SH colours trained).

Frames come from the decoded-frame cache, filled first (a run's steady state after its first
epoch). pytest-benchmark reports the step; `pgs.core.training.step_profile.StepProfiler` then times the
step again alternately with its parts alone (data, tri-plane, networks, rasterizer forward +
backward, loss) and records them as shares of the step median of that one run, printed and
written to ``.benchmarks/train_step.json`` (one entry per size and stage). Environment:
``PGS_BENCH_DEVICE`` (torch device, default the run config's), ``PGS_BENCH_ROUNDS`` (default 10),
``PGS_BENCH_REPORT`` (the JSON's path).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pgs.core.io.atomic import atomic_write_text
from pgs.core.training.step_profile import StepProfiler, format_profile, profile_config
from pgs.core.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT / ".." / "shared" / "data"
CLIP = SHARED / "hdtf_RD_Radio34_000.mp4"
LANDMARKER = SHARED / "face_landmarker.task"
CACHE = ROOT / ".benchmarks" / "clips"
REPORT = Path(os.environ.get("PGS_BENCH_REPORT") or ROOT / ".benchmarks" / "train_step.json")
SIZES = (256, 512)
FACE_POINTS = 20_000
MOUTH_POINTS = 3_000
ROUNDS = int(os.environ.get("PGS_BENCH_ROUNDS", "10"))
DEVICE = os.environ.get("PGS_BENCH_DEVICE") or None


def _prepped(size: int) -> Path:
    """The clip prepped at `size` (prepped now unless cached)."""
    folder = CACHE / f"hdtf_RD_Radio34_000_{size}"
    if (folder / "prep.json").is_file():
        return folder
    for path in (CLIP, LANDMARKER):
        if not path.is_file():
            pytest.skip(f"{path} not found (shared test data)")
    pytest.importorskip("pgs.prep", reason="pgs-prep is not installed")
    pgs = shutil.which("pgs", path=str(Path(sys.executable).parent)) or shutil.which("pgs")
    if pgs is None:
        pytest.skip("the pgs command is not on PATH")
    CACHE.mkdir(parents=True, exist_ok=True)
    cmd = [pgs, "prep", str(CLIP), str(folder), "--landmarker", str(LANDMARKER), "--size", str(size), "--quiet"]
    subprocess.run(cmd, check=True)  # pgs prep writes the folder whole or not at all
    return folder


@pytest.fixture(scope="module", params=SIZES, ids=[f"{s}px" for s in SIZES])
def trainer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Trainer:
    """A trainer on the prepped clip (20k face / 3k mouth Gaussians, density off), in training mode."""
    folder = _prepped(request.param)
    output = tmp_path_factory.mktemp(f"train_step_{request.param}") / "run"
    t = Trainer(profile_config(folder, output, FACE_POINTS, MOUTH_POINTS, DEVICE), quiet=True)
    t.head.train()
    return t


def _record(key: str, entry: dict) -> None:
    """Merge one case into ``.benchmarks/train_step.json``."""
    data = json.loads(REPORT.read_text()) if REPORT.is_file() else {}
    data[key] = entry
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(REPORT, json.dumps(data, indent=2, sort_keys=True))


@pytest.mark.parametrize("stage", ["deform", "finetune"])
def test_train_step(benchmark, trainer: Trainer, stage: str) -> None:
    """One training step of stage 2 (face) or stage 3, and its breakdown in shares of one run."""
    profiler = StepProfiler(trainer, stage, "face")
    profiler.fill_frame_cache()  # the steady state: only a run's first epoch decodes frames
    benchmark.pedantic(profiler.step, rounds=ROUNDS, iterations=1, warmup_rounds=2)
    result = profiler.run(rounds=ROUNDS, warmup=1)
    w, h = trainer.train_set.image_size
    profile = {
        "size": [w, h],
        "device": str(trainer.device),
        "rasterizer": getattr(trainer.rasterizer, "name", type(trainer.rasterizer).__name__),
        "stages": {result["stage"]: result},
    }
    entry = {
        **result,
        "size": [w, h],
        "device": profile["device"],
        "rasterizer": profile["rasterizer"],
        "torch_threads": torch.get_num_threads(),
        "numba_threads": os.environ.get("NUMBA_NUM_THREADS", "default"),
        "load_average": list(os.getloadavg()),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _record(f"{w}x{h} {result['stage']}", entry)
    benchmark.extra_info.update({"shares": result["shares"], "parts_s": result["parts_s"]})
    print("\n" + format_profile(profile))
    assert result["step_s"] > 0
    assert set(result["shares"]) == {"data", "triplane", "networks", "rasterizer", "loss", "other"}
