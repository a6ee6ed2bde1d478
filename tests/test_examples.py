"""Every example script runs, as README.md shows it, with small settings, and its outputs are sane.

Convention: the commands are the ``python examples/<script>.py ...`` lines of README.md's
runnable blocks (see tests/readme_blocks.py), run in a scratch folder (``examples/`` linked in)
with small settings appended: argparse keeps the last value of an option, so the README's own
options are exercised and only sizes are shrunk (a shared 24-frame 48x48 speaker, 4 steps per
stage). `density_fig5.py` is run by packages/pgs-density/tests/test_example.py.
Subprocesses run single-threaded (OMP_NUM_THREADS=1, --threads 1).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pgs.core.groups import ALL_GROUPS, FUSION, KNOWN_COMPONENTS
from pgs.core.registry import registry
from pgs.core.testing.modules import load_module_file

pytestmark = pytest.mark.slow


_blocks = load_module_file(Path(__file__).with_name("readme_blocks.py"))
REPO: Path = _blocks.REPO
runnable_blocks = _blocks.runnable_blocks

#: Appended to every training example's README command.
SMALL = ["--steps", "4", "--finetune", "1", "--points", "120", "--budget", "240", "--threads", "1"]
EXTRA = {"drive_with_audio.py": ["--seconds", "1"]}
#: Scripts tested elsewhere, and where.
ELSEWHERE = {"density_fig5.py": "packages/pgs-density/tests/test_example.py"}
HELPERS = {"common.py"}

needs_plugins = pytest.mark.skipif(
    not {"mgf", "concat-mlp"} <= set(registry(FUSION).names())
    or not {"gradient", "pixel-aware"} <= set(registry("pgs.density").names())
    or "mel" not in registry("pgs.audio_encoders").names(),
    reason="needs pgs-fusion, pgs-density and pgs-audio installed",
)


def readme_example_commands() -> dict[str, str]:
    out = {}
    for block in runnable_blocks():
        for command in block:
            words = shlex.split(command)
            if words[:1] == ["python"] and len(words) > 1 and words[1].startswith("examples/"):
                out[Path(words[1]).name] = command
    return out


COMMANDS = readme_example_commands()


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    e["PATH"] = str(Path(sys.executable).parent) + os.pathsep + e.get("PATH", "")
    return e


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("examples")
    (folder / "examples").symlink_to(REPO / "examples", target_is_directory=True)
    return folder


@pytest.fixture(scope="module")
def speaker(work: Path) -> Path:
    from pgs.core.data.synthetic import generate_speaker

    (work / "data").mkdir()
    return generate_speaker(work / "data" / "tiny", num_frames=24, size=48, seed=3)


def run_example(script: str, work: Path, speaker: Path | None, extra: list[str] | None = None) -> str:
    if script not in COMMANDS:
        pytest.fail(f"README.md has no runnable `python examples/{script}` command")
    words = shlex.split(COMMANDS[script])
    words[0] = sys.executable
    small = [] if script == "list_components.py" else SMALL + EXTRA.get(script, [])
    args = words + small + (["--speaker", str(speaker)] if speaker is not None else []) + (extra or [])
    proc = subprocess.run(args, cwd=work, env=env(), capture_output=True, text=True, timeout=1200)
    tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}\n{tail}"
    return proc.stdout


def out_dir(script: str, work: Path) -> Path:
    words = shlex.split(COMMANDS[script])
    return work / words[words.index("--out") + 1]


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def test_every_example_script_is_in_the_readme_and_tested() -> None:
    scripts = {p.name for p in (REPO / "examples").glob("*.py")} - HELPERS
    missing = scripts - set(COMMANDS) - set(ELSEWHERE)
    assert not missing, f"example scripts without a runnable README command: {sorted(missing)}"
    for script, where in ELSEWHERE.items():
        assert (REPO / where).is_file(), f"{script} is said to be tested by {where}, which does not exist"


def test_list_components(work: Path) -> None:
    stdout = run_example("list_components.py", work, None)
    words = shlex.split(COMMANDS["list_components.py"])
    data = json.loads((work / words[words.index("--json") + 1]).read_text())
    assert set(data) == set(ALL_GROUPS)
    for group, info in data.items():
        names = {c["name"] for c in info["installed"]}
        assert names == set(registry(group).names())
        assert all(c["error"] is None and c["distribution"] for c in info["installed"])
        assert set(KNOWN_COMPONENTS.get(group, {})) <= names | set(info["not_installed"])
        assert not names & set(info["not_installed"])
        for name in names:
            assert name in stdout


@needs_plugins
def test_swap_fusion(work: Path, speaker: Path) -> None:
    run_example("swap_fusion.py", work, speaker)
    folder = out_dir("swap_fusion.py", work)
    data = json.loads((folder / "swap_fusion.json").read_text())
    installed = set(registry(FUSION).names())
    expected = [n for n in ("mgf", "concat-mlp", "cross-attention", "film") if n in installed]
    assert [r["fusion"] for r in data["rows"]] == expected
    assert set(data["skipped"]) == {"mgf", "concat-mlp", "cross-attention", "film"} - installed
    for row in data["rows"]:
        assert row["fusion_params"] > 0 and row["ms_per_step"] > 0
        assert finite(row["psnr"]) and 5 < row["psnr"] < 60, row
        assert row["gaussians"]["face"] > 0, row
        if importlib.util.find_spec("pgs.eval") is not None:
            assert finite(row["lmd"]) and row["lmd"] >= 0, row
    params = {r["fusion"]: r["fusion_params"] for r in data["rows"]}
    if "cross-attention" in params:
        assert params["cross-attention"] > params["mgf"]  # the attention baseline is the heavy one
    table = (folder / "swap_fusion.md").read_text()
    assert all(f"| {name} |" in table for name in expected)


@needs_plugins
def test_density_compare(work: Path, speaker: Path) -> None:
    from PIL import Image

    run_example("density_compare.py", work, speaker)
    folder = out_dir("density_compare.py", work)
    image = np.asarray(Image.open(folder / "density_compare.png").convert("RGB"), dtype=np.float32)
    assert image.shape[0] > 100 and image.shape[1] > 300 and image.std() > 5
    data = json.loads((folder / "density_compare.json").read_text())
    for name in ("gradient", "pixel-aware"):
        counts = data[name]["counts"]
        assert counts["mouth"] + counts["eyes"] + counts["rest"] == counts["total"] > 0
        assert finite(data[name]["psnr"])
        assert counts["total"] <= data[name]["gaussians"]["face"] + data[name]["gaussians"]["mouth"]


@needs_plugins
def test_custom_audio_encoder(work: Path, speaker: Path) -> None:
    stdout = run_example("custom_audio_encoder.py", work, speaker)
    report = json.loads((out_dir("custom_audio_encoder.py", work) / "report.json").read_text())
    assert report["audio_layout"] == "band-energy"
    assert report["feature_shape"][1:] == [16, 4] and report["feature_shape"][0] == 24
    assert finite(report["heldout"]["psnr"])
    checkpoint = Path(report["checkpoint"])
    assert (checkpoint if checkpoint.is_absolute() else work / checkpoint).is_file()
    assert "contract passed" in stdout


@needs_plugins
def test_drive_with_audio(work: Path, speaker: Path) -> None:
    import av

    run_example("drive_with_audio.py", work, speaker)
    words = shlex.split(COMMANDS["drive_with_audio.py"])
    mp4 = work / words[words.index("--out") + 1]
    with av.open(str(mp4)) as container:
        assert container.streams.audio, "no audio stream"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 25  # --seconds 1 at 25 fps
    assert frames[0].shape[:2] == (48, 48)
    assert 5 < float(np.mean(frames[0])) < 250 and float(np.std(frames[0])) > 2


def test_bad_input_is_one_clear_error(work: Path) -> None:
    script = str(REPO / "examples" / "swap_fusion.py")
    proc = subprocess.run(
        [sys.executable, script, "--fusions", "no-such-fusion", "--out", str(work / "bad")],
        cwd=work, env=env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2 and "no-such-fusion" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / "density_compare.py"), "--steps", "0"],
        cwd=work, env=env(), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2 and "--steps must be positive" in proc.stderr
