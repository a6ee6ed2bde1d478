"""The shell commands README.md marks as runnable run as written, with small settings.

Convention (also stated in README.md, "Runnable commands"): fenced blocks opened with
```` ```bash runnable ```` are extracted (tests/readme_blocks.py) and each block's commands run in
order with ``bash -c`` in one scratch folder (``examples/`` linked in, the test interpreter's
``bin`` first on PATH, one thread). Small settings are substituted by `small()`:

- ``pgs synth``: ``--frames 24 --size 48``;
- ``pgs train`` / ``pgs ablate`` with ``examples/configs/cpu_small.yaml``: the same file with 4
  steps per stage and a few hundred Gaussians (``pgs validate`` checks the committed file as is);
- ``pgs eval`` / ``pgs ablate``: ``--max-frames 4 --fps-frames 0`` appended;
- ``pgs prep``: the real clip and Face Landmarker of ``../shared/data/`` for ``talk.mp4`` and
  ``face_landmarker.task``, 20 frames at 128x128 (the block skips without that folder).

``make`` lines are not run (CI runs ``make test``; ``make demo`` takes minutes) and
``python examples/...`` lines are run by tests/test_examples.py. ``pgs demo --quick`` runs as
written.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pgs.core.testing.modules import load_module_file

_blocks = load_module_file(Path(__file__).with_name("readme_blocks.py"))
REPO: Path = _blocks.REPO
README: Path = _blocks.README
runnable_blocks = _blocks.runnable_blocks
SHARED = REPO.parent / "shared" / "data"
CONFIG = "examples/configs/cpu_small.yaml"
BLOCKS = runnable_blocks()

#: Files the command-reference block must leave behind (checked when the README runs that command).
EXPECTED = {
    "pgs train --print-config": ["run.yaml"],
    "pgs train examples/configs/cpu_small.yaml --data data/speaker": ["runs/speaker/checkpoints/final.pt"],
    "pgs render": ["runs/speaker/talk.mp4"],
    "pgs export": ["runs/speaker/head.ply"],
    "pgs eval": ["runs/speaker/eval/metrics.json"],
    "pgs ablate": ["runs/ablation/table3.md"],
    "pgs demo": ["runs/quick/report.md", "runs/quick/novel.mp4"],
    "pgs prep": ["data/talk/transforms_train.json"],
}


def tiny_config(work: Path) -> Path:
    """The committed CPU config with CI-sized stages and budgets."""
    data = yaml.safe_load((REPO / CONFIG).read_text())
    data["stages"].update(static_iterations=4, deform_iterations=4, finetune_iterations=1)
    data["model"]["face"]["num_points"] = 120
    data["model"]["mouth"]["num_points"] = 60
    refine = {"refine_from": 2, "refine_every": 2, "refine_until": 7, "prune_opacity_start": 0.01,
              "prune_opacity_end": 0.05}
    data["density"]["face"]["params"].update(refine, max_gaussians=240)
    data["density"]["mouth"]["params"].update(refine, max_gaussians=120)
    data["loss"] = {"lpips_weight": 0.0}
    data["eval_frames"] = 4
    path = work / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def small(command: str, work: Path) -> str | None:
    """`command` with CI-sized settings, or None when another test runs it."""
    words = shlex.split(command)
    if words[:1] == ["python"]:
        return None  # tests/test_examples.py
    if words[:2] == ["pgs", "synth"]:
        command = re.sub(r"--frames \d+", "--frames 24", command)
        command = re.sub(r"--size \d+", "--size 48", command)
    if words[:2] in (["pgs", "train"], ["pgs", "ablate"]):
        command = command.replace(CONFIG, str(tiny_config(work)))
    if words[:2] in (["pgs", "eval"], ["pgs", "ablate"]):
        command += " --max-frames 4 --fps-frames 0"
    if words[:2] == ["pgs", "prep"]:
        command = command.replace("talk.mp4", str(SHARED / "hdtf_RD_Radio34_000.mp4"), 1)
        command = command.replace("face_landmarker.task", str(SHARED / "face_landmarker.task"))
        command = re.sub(r"--max-frames \d+", "--max-frames 20", command)
        command = re.sub(r"--size \d+", "--size 128", command)
    return command


def env() -> dict[str, str]:
    e = dict(os.environ)
    e.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1", COLUMNS="120")
    e["PATH"] = str(Path(sys.executable).parent) + os.pathsep + e.get("PATH", "")
    return e


def test_blocks_are_parsed_by_the_convention() -> None:
    text = (
        "```bash runnable\n"
        "make test\n"
        "source .venv/bin/activate\n"
        "# a comment\n"
        "pgs plugins   # trailing comment\n"
        "pgs render a.pt \\\n"
        "    --audio b.wav --out c.mp4\n"
        "```\n"
        "```bash\npgs not-run\n```\n"
    )
    assert runnable_blocks(text) == [["pgs plugins", "pgs render a.pt --audio b.wav --out c.mp4"]]


def test_readme_keeps_the_two_commands_and_marks_blocks() -> None:
    text = README.read_text()
    assert "```bash\nmake demo\n```" in text and "```bash\nmake test\n```" in text
    assert BLOCKS and all(BLOCKS), "README.md has no runnable commands"
    commands = [c for block in BLOCKS for c in block]
    for name in ("plugins", "synth", "train", "render", "export", "validate", "demo", "eval", "ablate", "prep"):
        assert any(c.startswith(f"pgs {name}") for c in commands), f"README.md shows no runnable `pgs {name}`"


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_runnable_block(index: int, tmp_path: Path) -> None:
    block = BLOCKS[index]
    if any(c.startswith("pgs prep") for c in block) and not (SHARED / "face_landmarker.task").is_file():
        pytest.skip(f"needs the clip and face_landmarker.task in {SHARED}")
    (tmp_path / "examples").symlink_to(REPO / "examples", target_is_directory=True)
    ran = []
    for command in block:
        actual = small(command, tmp_path)
        if actual is None:
            continue
        proc = subprocess.run(
            ["bash", "-c", f"set -euo pipefail; {actual}"],
            cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=1500,
        )
        assert proc.returncode == 0, (
            f"README command failed: {command}\n(ran as: {actual})\nexit {proc.returncode}\n"
            f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )
        ran.append(command)
        for prefix, files in EXPECTED.items():
            if command.startswith(prefix):
                for name in files:
                    path = tmp_path / name
                    assert path.is_file() and path.stat().st_size > 0, f"{command}: {name} missing or empty"
    if not ran:
        pytest.skip("every command of this block is run by tests/test_examples.py")
