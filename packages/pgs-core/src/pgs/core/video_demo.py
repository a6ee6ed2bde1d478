"""``pgs demo OUT --video FILE``: the demo's pipeline on a real talking-head clip (the quality benchmark).

Everything lands in one output folder::

    speaker/          ``pgs prep``'s training folder (pgs-prep)
    run/              training outputs; ``checkpoints/static.pt`` is the model after stage 1
    eval/             ``pgs eval``'s metrics, benchmark.md and strips (pgs-eval)
    heldout.wav/.mp4  the held-out tail of the recording and the head driven by it
    strips.png        held-out frames: prediction, truth, error, mouth crops (from eval/)
    demo.json         held-out metrics against the mean-image and static-only baselines, timings
    report.md         the same as a table

The run config is a named preset (``real-cpu`` by default: the recipe sized for a 2-core CPU, see
`pgs.core.preset`). prep and eval are plugin commands found through the registry, so pgs-core
does not import pgs-prep or pgs-eval; without them the command says which package to install
before doing any work.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from pgs.core.errors import ConfigError, DataError
from pgs.core.io.atomic import atomic_write_text
from pgs.core.io.run_folder import build_in_place, check_output_folder, folder_lock
from pgs.core.registry import run_plugin_command

#: The demo.json keys copied from ``pgs eval``'s ``benchmark`` section.
HELDOUT_KEYS = ("face_psnr", "face_ssim", "head_psnr", "mouth_psnr", "lmd", "mouth_open_r")


def _require_commands(*names: str) -> None:
    """Raise `ConfigError` naming the package to install when a plugin command is missing."""
    from pgs.core.groups import COMMANDS
    from pgs.core.registry import registry

    installed = set(registry(COMMANDS).names())
    packages = {"prep": "pgs-prep", "eval": "pgs-eval"}
    missing = [packages.get(n, n) for n in names if n not in installed]
    if missing:
        raise ConfigError(f"pgs demo --video needs {', '.join(missing)}: pip install {' '.join(missing)}")


def video_demo_config(speaker: Path, output: Path, preset: str | Path, seed: int) -> Any:
    """The run config: the preset with this speaker, output folder and seed."""
    from pgs.core.config import validate_config_data
    from pgs.core.preset import load_preset, merge, preset_path
    from pgs.core.training.config import TrainConfig

    data = merge(load_preset(preset), {"data": {"folder": str(speaker)}, "output": str(output), "seed": seed})
    return validate_config_data(TrainConfig, data, str(preset_path(preset)))


def _render_heldout(checkpoint: Path, speaker: Path, out: Path) -> None:
    """heldout.wav (the val frames' span of the recording) and heldout.mp4 (the head driven by it)."""
    from pgs.core.data.dataset import SpeakerDataset
    from pgs.core.demo import heldout_audio, selfdriven_frames
    from pgs.core.inference import load_head
    from pgs.core.video import write_mp4

    loaded = load_head(checkpoint)
    audio = loaded.config.data.audio
    val = SpeakerDataset.open(speaker, "val", audio=audio.name, audio_params=audio.params, require_aus=False)
    wav = heldout_audio(val, speaker / "aud.wav", out / "heldout.wav")
    write_mp4(selfdriven_frames(loaded, val), out / "heldout.mp4", 25.0, wav)


def _demo_json(metrics: dict[str, Any], train_report: dict[str, Any], seconds: dict[str, float]) -> dict[str, Any]:
    """The demo.json content from eval's metrics.json and the training report."""
    bench = metrics.get("benchmark", {})
    baselines = metrics.get("baselines", {})
    return {
        "heldout": {k: bench.get(k) for k in HELDOUT_KEYS},
        "mean_image": baselines.get("mean_image", {}),
        "static_only": baselines.get("static_only", {}),
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "num_gaussians": train_report["num_gaussians"],
        "training_steps": train_report["global_step"],
        "trainer_stages": train_report["stages"],
        "protocol": metrics.get("benchmark_protocol", {}),
        "lpips": train_report["lpips"],
    }


def run_video_demo(
    out: Path,
    video: Path,
    landmarker: Path | None,
    size: int = 256,
    preset: str | Path = "real-cpu",
    seed: int = 0,
    overwrite: bool = False,
    max_frames: int | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Prep a real clip, train with a preset, evaluate held-out frames, render the held-out audio.

    Args:
        out: output folder (created; see the module docstring for its layout).
        video: the talking-head clip (one speaker, static camera).
        landmarker: MediaPipe ``face_landmarker.task`` (None: ``$PGS_FACE_LANDMARKER``).
        size: frame size of the training folder.
        preset: run-config preset name or file.
        seed: random seed of the run.
        overwrite: replace `out` when it holds an earlier video demo.
        max_frames: prep only the first frames (a quick run).
        quiet: no progress bars.

    Returns:
        The demo.json content.
    """
    out = Path(out).absolute()
    if not Path(video).is_file():
        raise DataError(f"{video}: video file not found" if not Path(video).exists() else f"{video}: not a file")
    _require_commands("prep", "eval")
    speaker = out / "speaker"
    config = video_demo_config(speaker, out / "run", preset, seed)  # a bad preset fails before any work
    replace = check_output_folder(out, "demo", overwrite, what="output")
    with folder_lock(out), build_in_place(out, "demo", replace):
        return _run_into(out, video, landmarker, speaker, config, size, preset, seed, max_frames, quiet)


def _run_into(
    out: Path,
    video: Path,
    landmarker: Path | None,
    speaker: Path,
    config: Any,
    size: int,
    preset: str | Path,
    seed: int,
    max_frames: int | None,
    quiet: bool,
) -> dict[str, Any]:
    """The body of `run_video_demo`, inside the output folder it checked and locked."""
    from pgs.core.training.trainer import STATIC_CHECKPOINT, Trainer

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    prep_args = [str(video), str(speaker), "--size", str(size)] + (["--quiet"] if quiet else [])
    prep_args += ["--landmarker", str(landmarker)] if landmarker is not None else []
    prep_args += ["--max-frames", str(max_frames)] if max_frames is not None else []
    run_plugin_command("prep", prep_args)
    seconds["prep"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    result = Trainer(config, quiet=quiet).run()
    seconds["train"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    eval_args = [str(result.checkpoint), "--out", str(out / "eval"), "--fps-frames", "0"]
    eval_args += ["--static-checkpoint", str(out / "run" / "checkpoints" / STATIC_CHECKPOINT)]
    eval_args += (["--quiet"] if quiet else []) + (["--landmarker", str(landmarker)] if landmarker else [])
    run_plugin_command("eval", eval_args)
    seconds["eval"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    _render_heldout(result.checkpoint, speaker, out)
    seconds["render"] = time.perf_counter() - t0

    metrics = json.loads((out / "eval" / "metrics.json").read_text(encoding="utf-8"))
    report = _demo_json(metrics, result.report, seconds)
    report.update({"video": str(video), "size": size, "preset": str(preset), "seed": seed})
    if (out / "eval" / "strips.png").exists():
        shutil.copyfile(out / "eval" / "strips.png", out / "strips.png")
    atomic_write_text(out / "demo.json", json.dumps(report, indent=2, default=str))
    atomic_write_text(out / "report.md", video_report_markdown(report))
    return report


def _fmt(value: Any, digits: int = 2) -> str:
    if isinstance(value, int | float):
        return f"{value:.{digits}f}"
    return "n/a" if value is None else str(value)


def video_summary(report: dict[str, Any]) -> str:
    """The one-line result ``pgs demo --video`` prints."""
    h, m = report["heldout"], report["mean_image"]
    return (
        f"held-out face PSNR {_fmt(h['face_psnr'])} dB (mean image {_fmt(m.get('face_psnr'))} dB), "
        f"mouth {_fmt(h['mouth_psnr'])} dB, mouth-opening r {_fmt(h['mouth_open_r'])}"
    )


def video_report_markdown(report: dict[str, Any]) -> str:
    """report.md of a video demo: the held-out metrics against the two baselines."""
    h, m, s = report["heldout"], report["mean_image"], report["static_only"]
    rows = [
        ("trained head", h.get("face_psnr"), h.get("head_psnr"), h.get("mouth_psnr"), h.get("face_ssim")),
        ("static only (stage 1)", s.get("face_psnr"), s.get("head_psnr"), s.get("mouth_psnr"), s.get("face_ssim")),
        ("mean training image", m.get("face_psnr"), m.get("head_psnr"), m.get("mouth_psnr"), None),
    ]
    lines = [
        "# pgs demo --video",
        "",
        f"Clip `{report['video']}` prepped at {report['size']}x{report['size']}, preset `{report['preset']}`, "
        f"{report['training_steps']} training steps. Held-out frames: the last 1/11 of the clip.",
        "",
        "| | face PSNR (dB) | head PSNR (dB) | mouth PSNR (dB) | face SSIM |",
        "|---|---|---|---|---|",
        *[f"| {name} | {_fmt(a)} | {_fmt(b)} | {_fmt(c)} | {_fmt(d, 3)} |" for name, a, b, c, d in rows],
        "",
        f"LMD {_fmt(h.get('lmd'))} px; mouth-opening correlation r = {_fmt(h.get('mouth_open_r'))}.",
        "",
        "Seconds: " + ", ".join(f"{k} {v}" for k, v in report["seconds"].items()),
        "",
        f"Gaussians: {report['num_gaussians']}. LPIPS in stage 3: {report['lpips']}.",
        "",
        "Pictures: strips.png (held-out frames: prediction, truth, error, mouth crops). "
        "Video: heldout.mp4 (held-out audio and poses). Protocols: eval/metrics.json.",
    ]
    return "\n".join(lines) + "\n"


__all__ = ["run_plugin_command", "run_video_demo", "video_demo_config", "video_report_markdown", "video_summary"]
