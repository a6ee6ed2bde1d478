"""The GPU check (``scripts/gpu_check.sh``, ``make gpu-check``): one JSON of figures from a CUDA machine.

Steps, each recorded in the JSON with its figures or its error (a failing step does not stop the
others; the exit code is 1 when any failed):

1. ``gpu_tests``: ``pytest -m gpu`` (the tests that skip without CUDA): passed / failed / skipped.
2. ``rasterizer``: forward and forward+backward of a 30k-Gaussian head scene at 512x512 on CUDA,
   with `gsplat` and the pure-PyTorch `torch` backend (best of N, device-synchronised).
3. ``train_step``: the training-step benchmark (``bench_train_step.py``) at 512x512 on CUDA: step
   time and its breakdown (shares of one run) for stage 2 (face) and stage 3.
4. ``training``: a short run of the ``real-cpu`` recipe on the shared clip prepped at 512x512
   (``--steps`` per stage), on CUDA: wall time, steps per second, held-out PSNR.
5. ``eval_fps``: ``pgs eval``'s FPS (batch 1, device-synchronised) on that run's checkpoint.

Usage: ``python scripts/gpu_check.py [--out DIR] [--steps 300] [--quick]``; the JSON is
``DIR/gpu_check.json`` (default DIR ``.benchmarks/gpu_check``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / ".." / "shared" / "data"
CLIP = SHARED / "hdtf_RD_Radio34_000.mp4"
LANDMARKER = SHARED / "face_landmarker.task"
CACHE = ROOT / ".benchmarks" / "clips"
SIZE = 512
#: The device every step runs on (a module constant so that the steps can be smoke-tested on a CPU).
DEVICE = "cuda"


def _pgs() -> str:
    found = shutil.which("pgs", path=str(Path(sys.executable).parent)) or shutil.which("pgs")
    if found is None:
        raise RuntimeError("the pgs command is not installed (make install)")
    return found


def _run(cmd: list[str], log: Path, env: dict[str, str] | None = None, timeout: float = 3600) -> int:
    """Run a command with its output in `log`; its exit code."""
    with log.open("w") as handle:
        proc = subprocess.run(
            cmd, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, timeout=timeout
        )
    return proc.returncode


def gpu_tests(out: Path) -> dict[str, Any]:
    """``pytest -m gpu`` over the whole workspace."""
    junit = out / "gpu_tests.xml"
    code = _run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", f"--junitxml={junit}"], out / "gpu_tests.log")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if junit.is_file():
        for suite in ET.parse(junit).getroot().iter("testsuite"):
            for key in counts:
                counts[key] += int(suite.get(key, 0))
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    counts["exit_code"] = code
    if code not in (0, 5):  # 5: no test collected
        raise RuntimeError(f"pytest -m gpu exited {code} ({counts}); see {out / 'gpu_tests.log'}")
    return counts


def rasterizer(out: Path, repeats: int = 10) -> dict[str, Any]:
    """Best forward / forward+backward times of gsplat and torch at 512x512 with 30k Gaussians."""
    import torch

    from pgs.core.gaussians import GaussianParams
    from pgs.core.rendering import get_rasterizer
    from pgs.core.testing.scenes import head_scene

    g, cams = head_scene(30_000, SIZE, SIZE)
    g, cams = g.to(DEVICE), cams.to(DEVICE)
    result: dict[str, Any] = {"scene": f"head {SIZE}x{SIZE}, 30000 Gaussians", "repeats": repeats}
    for name in ("gsplat", "torch"):
        render = get_rasterizer(name).render

        def fwd(render: Callable[..., Any] = render) -> None:
            with torch.no_grad():
                render(g, cams)

        def fwd_bwd(render: Callable[..., Any] = render) -> None:
            leaves = GaussianParams(**{k: v.detach().clone().requires_grad_() for k, v in g.as_dict().items()})
            r = render(leaves, cams)
            (r.color.sum() + r.alpha.sum()).backward()

        times = {}
        for label, fn in (("forward_s", fwd), ("forward_backward_s", fwd_bwd)):
            fn()  # warm-up (gsplat compiles its kernels on first use)
            best = float("inf")
            for _ in range(repeats):
                torch.cuda.synchronize()
                start = time.perf_counter()
                fn()
                torch.cuda.synchronize()
                best = min(best, time.perf_counter() - start)
            times[label] = best
        result[name] = times
    return result


def train_step(out: Path, rounds: int) -> dict[str, Any]:
    """The training-step benchmark at 512x512 on CUDA (its breakdown JSON)."""
    report = out / "train_step.json"
    bench = ROOT / "packages" / "pgs-core" / "benchmarks" / "bench_train_step.py"
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-s", "-o", "python_files=bench_*.py", "--benchmark-enable",
        "--benchmark-only", f"--benchmark-json={out / 'train_step_benchmark.json'}", "-k", f"{SIZE}px", str(bench),
    ]  # fmt: skip
    env = {"PGS_BENCH_DEVICE": DEVICE, "PGS_BENCH_ROUNDS": str(rounds), "PGS_BENCH_REPORT": str(report)}
    code = _run(cmd, out / "train_step.log", env)
    if code != 0 or not report.is_file():
        raise RuntimeError(f"training-step benchmark exited {code}; see {out / 'train_step.log'}")
    return json.loads(report.read_text())


def _prepped() -> Path:
    folder = CACHE / f"hdtf_RD_Radio34_000_{SIZE}"
    if (folder / "prep.json").is_file():
        return folder
    for path in (CLIP, LANDMARKER):
        if not path.is_file():
            raise RuntimeError(f"{path} not found (shared test data)")
    CACHE.mkdir(parents=True, exist_ok=True)
    cmd = [_pgs(), "prep", str(CLIP), str(folder), "--landmarker", str(LANDMARKER), "--size", str(SIZE), "--quiet"]
    subprocess.run(cmd, cwd=ROOT, check=True)
    return folder


def training(out: Path, steps: int) -> dict[str, Any]:
    """A short real-clip run of the real-cpu recipe on CUDA."""
    import yaml

    from pgs.core.preset import load_preset, merge

    data = _prepped()
    run = out / "train"
    config = merge(
        load_preset("real-cpu"),
        {
            "data": {"folder": str(data)},
            "device": DEVICE,
            "output": str(run),
            "stages": {"static_iterations": steps, "deform_iterations": steps, "finetune_iterations": steps // 3},
            "checkpoint_every": 10 * steps,
        },
    )
    config_path = out / "train.yaml"
    config_path.write_text(yaml.safe_dump(config))
    if run.exists():
        shutil.rmtree(run)
    start = time.perf_counter()
    code = _run([_pgs(), "train", str(config_path), "--quiet"], out / "train.log")
    wall = time.perf_counter() - start
    report_path = run / "report.json"
    if code != 0 or not report_path.is_file():
        raise RuntimeError(f"pgs train exited {code}; see {out / 'train.log'}")
    report = json.loads(report_path.read_text())
    total = int(report["global_step"])
    last = report["stages"][-1] if report.get("stages") else {}
    return {
        "clip": f"{data.name} ({SIZE}x{SIZE})",
        "steps": total,
        "wall_s": wall,
        "training_s": report.get("training_seconds"),
        "steps_per_s": total / float(report.get("training_seconds") or wall),
        "rasterizer": report.get("rasterizer"),
        "device": report.get("device"),
        "num_gaussians": report.get("num_gaussians"),
        "heldout": {k: v for k, v in last.items() if k.startswith("psnr")},
        "checkpoint": str(run / "checkpoints" / "final.pt"),
    }


def eval_fps(out: Path, checkpoint: Path) -> dict[str, Any]:
    """``pgs eval``'s FPS on CUDA (batch 1, 100 timed frames)."""
    folder = out / "eval"
    cmd = [_pgs(), "eval", str(checkpoint), "--out", str(folder), "--device", DEVICE, "--fps-frames", "100", "--quiet"]
    code = _run(cmd, out / "eval.log")
    metrics = folder / "metrics.json"
    if code != 0 or not metrics.is_file():
        raise RuntimeError(f"pgs eval exited {code}; see {out / 'eval.log'}")
    fps = json.loads(metrics.read_text())["metrics"]["FPS"]
    return {"fps": fps.get("value"), "protocol": fps.get("protocol")}


def _step(name: str, fn: Callable[[], Any], results: dict[str, Any]) -> Any:
    print(f"gpu_check: {name} ...", flush=True)
    start = time.perf_counter()
    try:
        value = fn()
        results[name] = {"ok": True, "seconds": round(time.perf_counter() - start, 1), **value}
        return value
    except Exception as exc:  # every step is reported; the others still run
        results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        print(f"gpu_check: {name} FAILED: {exc}", flush=True)
        return None


def main(argv: list[str] | None = None) -> int:
    """Run the steps; write ``gpu_check.json``; 0 when all passed, 1 when one failed, 2 without CUDA."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".benchmarks" / "gpu_check", help="output folder")
    parser.add_argument("--steps", type=int, default=300, help="training steps per stage 1-2 (stage 3: a third)")
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds of the training-step benchmark")
    parser.add_argument("--quick", action="store_true", help="fewer steps and rounds (a smoke run)")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device (torch.cuda.is_available() is False): needs an NVIDIA GPU", file=sys.stderr)
        return 2
    steps, rounds = (30, 3) if args.quick else (args.steps, args.rounds)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": {
            "gpu": torch.cuda.get_device_name(0),
            "cuda": torch.version.cuda,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        import gsplat

        results["machine"]["gsplat"] = getattr(gsplat, "__version__", "installed")
    except ImportError:
        results["machine"]["gsplat"] = None
    _step("gpu_tests", lambda: gpu_tests(out), results)
    _step("rasterizer", lambda: rasterizer(out), results)
    _step("train_step", lambda: train_step(out, rounds), results)
    trained = _step("training", lambda: training(out, steps), results)
    if trained is not None:
        _step("eval_fps", lambda: eval_fps(out, Path(trained["checkpoint"])), results)
    else:
        results["eval_fps"] = {"ok": False, "error": "no checkpoint: the training step failed"}
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sys.path.insert(0, str(ROOT / "packages" / "pgs-core" / "src"))
    from pgs.core.io.atomic import atomic_write_text

    report = out / "gpu_check.json"
    atomic_write_text(report, json.dumps(results, indent=2, default=str))
    failed = [k for k, v in results.items() if isinstance(v, dict) and v.get("ok") is False]
    print(f"gpu_check: {report}" + (f" (failed: {', '.join(failed)})" if failed else " (all steps passed)"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
