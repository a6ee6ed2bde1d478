"""Bad inputs and faults through the CLI: one clear line, exit code 2, and nothing lost.

Each case asserts the exit code, a one-line message on stderr, no traceback, and that no file
that existed before the command was changed (a snapshot of the test folder's bytes). The
probe of issue 18 is the source of the cases; more were added where the same rule applies.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from pgs.core.cli.main import main
from pgs.core.data.synthetic import generate_speaker
from pgs.core.io.atomic import atomic_path, atomic_write_text, current_umask
from pgs.core.io.run_folder import MARKER, folder_lock, read_marker
from pgs.core.registry import registry
from pgs.core.testing.runs import interrupt_training, speaker_fixture, tiny_run_config
from pgs.core.training.checkpoint import load_checkpoint, save_checkpoint
from pgs.core.training.config import TrainConfig
from pgs.core.training.launch import start_run

pytestmark = pytest.mark.slow

needs_plugins = pytest.mark.skipif(
    "mgf" not in registry("pgs.fusion").names() or "pixel-aware" not in registry("pgs.density").names(),
    reason="needs pgs-fusion and pgs-density installed",
)
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
CLI = [sys.executable, "-c", "from pgs.core.cli.main import console_main; console_main()"]


# ------------------------------------------------------------------------------------ helpers
def snapshot(root: Path) -> dict[str, str]:
    """Hash of every file under `root` (the pre-existing state a failing command must keep)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and ".pgs-lock" not in path.name:
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def assert_one_line_error(capsys: pytest.CaptureFixture[str], code: int, *needles: str) -> str:
    """Exit code 2, a single ``error:`` line containing `needles`, no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    for needle in needles:
        assert needle in lines[0], err
    return lines[0]


def tiny_config(speaker: Path, output: Path, steps: tuple[int, int, int] = (4, 4, 2)) -> dict[str, Any]:
    stages = {"gaussian_lr": {"position_lr_scale": 1.0, "means_decay": 1.0}}
    return tiny_run_config(speaker, output, points=(200, 100), steps=steps, stages=stages, log_every=1, device="cpu")


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    return path


speaker = speaker_fixture(num_frames=22, size=32, seed=3)


@pytest.fixture(scope="module")
def finished_run(speaker: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("finished") / "run"
    start_run(TrainConfig.model_validate(tiny_config(speaker, out)), quiet=True)
    assert (out / "report.json").is_file()
    return out


# ------------------------------------------------------------------------- atomic writes
def test_atomic_path_cleans_up_and_honours_umask(tmp_path: Path) -> None:
    target = tmp_path / "x.bin"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]
    old_mask = os.umask(0o027)
    try:
        atomic_write_text(target, "new")
        assert target.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old_mask)
    assert current_umask() == old_mask


def test_stale_temps_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = _dead_pid()
    stale_file = tmp_path / f".last.pt.pgs-tmp-{dead}-00ff.pt"
    stale_file.write_bytes(b"")  # kill -9 during a checkpoint write
    stale_dir = tmp_path / f".speaker.pgs-tmp-{dead}-abcd"
    stale_dir.mkdir()  # a prep or synth killed mid-way
    live = tmp_path / f".other.pgs-tmp-{os.getpid()}-beef"
    live.write_bytes(b"in progress")
    save_checkpoint({"x": torch.zeros(1)}, tmp_path / "last.pt")
    assert not stale_file.exists() and not stale_dir.exists()
    assert live.exists()
    assert load_checkpoint(tmp_path / "last.pt")["x"].shape == (1,)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_sigterm_raises_keyboard_interrupt_inside_commands() -> None:
    from pgs.core.cli.main import Terminated, sigterm_as_interrupt

    with pytest.raises(Terminated), sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


# ------------------------------------------------------------------------- --overwrite and folders
@needs_plugins
@pytest.mark.parametrize("command", ["train", "synth", "demo"])
def test_overwrite_never_touches_a_users_folder(
    command: str, speaker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    before = snapshot(mine)
    args = {
        "train": ["train", str(write_config(tmp_path / "c.json", tiny_config(speaker, mine))), "--quiet"],
        "synth": ["synth", str(mine), "--frames", "11", "--size", "16", "--quiet"],
        "demo": ["demo", str(mine), "--quick"],
    }[command]
    code = main([*args, "--overwrite"])
    assert_one_line_error(capsys, code, str(mine), "did not create")
    assert snapshot(mine) == before


@needs_plugins
def test_overwrite_refuses_a_folder_of_another_kind(
    speaker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(speaker)
    config = write_config(tmp_path / "c.json", tiny_config(speaker, speaker))
    code = main(["train", str(config), "--overwrite", "--quiet"])
    assert_one_line_error(capsys, code, "synth folder, not a train folder")
    assert snapshot(speaker) == before


@needs_plugins
def test_failed_overwrite_keeps_the_old_run(
    finished_run: Path, speaker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pgs.core.training.trainer import Trainer

    before = snapshot(finished_run)

    def fail(self: Trainer, *args: Any) -> None:
        raise KeyboardInterrupt  # the new run dies at step 1, as Ctrl-C would

    monkeypatch.setattr(Trainer, "_branch_step", fail)
    config = write_config(tmp_path / "c.json", tiny_config(speaker, finished_run))
    assert main(["train", str(config), "--overwrite", "--quiet"]) == 130
    assert snapshot(finished_run) == before


@needs_plugins
def test_overwrite_replaces_a_run_once_the_new_one_finished(speaker: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = write_config(tmp_path / "c.json", tiny_config(speaker, out))
    assert main(["train", str(config), "--quiet"]) == 0
    first = read_marker(out)["run_id"]
    assert main(["train", str(config), "--quiet"]) == 2  # a finished run is not replaced without --overwrite
    assert main(["train", str(config), "--quiet", "--overwrite"]) == 0
    marker = read_marker(out)
    assert marker["run_id"] != first and "replaces" not in marker
    assert load_checkpoint(out / "checkpoints" / "final.pt")["run_id"] == marker["run_id"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "run"]  # no staging folder left


@needs_plugins
def test_second_writer_gets_a_clear_error(speaker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    config = write_config(tmp_path / "c.json", tiny_config(speaker, out))
    with folder_lock(out):  # another pgs process is writing this folder
        code = main(["train", str(config), "--quiet"])
    assert_one_line_error(capsys, code, "another pgs process", str(os.getpid()))
    assert not out.exists()


# ------------------------------------------------------------------------- resume
@needs_plugins
def test_resume_of_a_backup_refuses_a_folder_holding_another_run(
    finished_run: Path, speaker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backup.pt"
    data = load_checkpoint(finished_run / "checkpoints" / "final.pt")
    data["run_id"] = "0" * 32  # a checkpoint of an older run that also wrote into this folder
    data["stage_index"] = 0
    save_checkpoint({k: v for k, v in data.items() if k not in ("magic", "format_version")}, backup)
    before = snapshot(finished_run)
    code = main(["train", "--resume", str(backup), "--quiet"])
    assert_one_line_error(capsys, code, "holds a different run", "--output")
    assert snapshot(finished_run) == before
    fork = tmp_path / "fork"
    assert main(["train", "--resume", str(backup), "--output", str(fork), "--quiet"]) == 0
    assert (fork / "report.json").is_file()
    assert read_marker(fork)["run_id"] == "0" * 32
    assert snapshot(finished_run) == before


@needs_plugins
@pytest.mark.parametrize("extra", [["--data", "/nonexistent"], ["--overwrite"]])
def test_resume_rejects_options_it_would_ignore(
    finished_run: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(finished_run)
    code = main(["train", "--resume", str(finished_run / "checkpoints" / "final.pt"), *extra, "--quiet"])
    assert_one_line_error(capsys, code, extra[0], "--resume")
    assert snapshot(finished_run) == before


@needs_plugins
def test_resume_resolves_relative_paths_as_the_original_run(
    speaker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, other = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    other.mkdir()
    monkeypatch.chdir(first)
    config = TrainConfig.model_validate(tiny_config(speaker, Path("rel/run")))
    launched = start_run(config, quiet=True, stop_after=3)
    assert not launched.result.finished
    checkpoint = first / "rel" / "run" / "checkpoints" / "last.pt"
    monkeypatch.chdir(other)
    assert main(["train", "--resume", str(checkpoint), "--quiet"]) == 0
    assert (first / "rel" / "run" / "report.json").is_file()
    assert not any(other.iterdir())


# ------------------------------------------------------------------------- signals
@needs_plugins
def test_sigterm_checkpoints_training_and_resume_finishes(speaker: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = write_config(tmp_path / "c.json", tiny_config(speaker, out, steps=(400, 10, 2)))
    code, err = interrupt_training(config, out, signal.SIGTERM)
    assert code == 130, err
    assert "Traceback" not in err and "--resume" in err
    checkpoint = out / "checkpoints" / "last.pt"
    assert load_checkpoint(checkpoint)["global_step"] > 0
    assert not [p for p in out.rglob("*") if "pgs-tmp" in p.name]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------------- outputs
@needs_plugins
def test_render_refuses_to_replace_an_unrelated_file(
    finished_run: Path, speaker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "holiday.mp4"
    out.write_bytes(b"the user's video")
    before = snapshot(tmp_path)
    ckpt = str(finished_run / "checkpoints" / "final.pt")
    code = main(["render", ckpt, "--audio", str(speaker / "aud.wav"), "--out", str(out), "--quiet"])
    assert_one_line_error(capsys, code, str(out), "--overwrite")
    assert snapshot(tmp_path) == before


@needs_plugins
@pytest.mark.parametrize("kind", ["existing folder", "missing parent", "parent is a file", "markup in name"])
def test_render_and_export_check_their_output_before_work(
    kind: str, finished_run: Path, speaker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "folder.mp4").mkdir()
    (tmp_path / "folder.ply").mkdir()
    (tmp_path / "file").write_text("x")
    target = {
        "existing folder": tmp_path / "folder.mp4",
        "missing parent": tmp_path / "no" / "x.mp4",
        "parent is a file": tmp_path / "file" / "x.mp4",
        "markup in name": tmp_path / "[red]no[/x]" / "[red]x.mp4",
    }[kind]
    before = snapshot(tmp_path)
    ckpt = str(finished_run / "checkpoints" / "final.pt")
    code = main(["render", ckpt, "--audio", str(speaker / "aud.wav"), "--out", str(target), "--quiet"])
    assert_one_line_error(capsys, code, str(target))
    code = main(["export", ckpt, str(target.with_suffix(".ply"))])
    assert_one_line_error(capsys, code, str(target.with_suffix(".ply")))
    assert snapshot(tmp_path) == before


@needs_plugins
@pytest.mark.skipif(IS_ROOT, reason="root may write into read-only folders")
def test_read_only_output_folder(finished_run: Path, speaker: Path, tmp_path: Path, capsys) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        ckpt = str(finished_run / "checkpoints" / "final.pt")
        code = main(["render", ckpt, "--audio", str(speaker / "aud.wav"), "--out", str(locked / "x.mp4")])
        assert_one_line_error(capsys, code, "not writable")
        code = main(["synth", str(locked / "s"), "--frames", "11", "--size", "16"])
        assert_one_line_error(capsys, code, "not writable")
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["render", "c.pt", "--audio", "a.wav", "--out", "o.mp4", "--fps", "0"], "--fps"),
        (["render", "c.pt", "--audio", "a.wav", "--out", "o.mp4", "--fps", "nan"], "--fps"),
        (["render", "c.pt", "--audio", "a.wav", "--out", "o.mp4", "--fps", "-25"], "--fps"),
        (["synth", "s", "--frames", "0"], "--frames"),
        (["synth", "s", "--size", "7"], "--size"),
    ],
)
def test_bad_numeric_options_are_usage_errors(
    args: list[str], needle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and needle in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["synth", str(tmp_path / "s"), "--frames", "11", "--size", "16", "--device", "cuda"])
    assert_one_line_error(capsys, code, "CUDA is not available")
    assert not (tmp_path / "s").exists()


# ------------------------------------------------------------------------- checkpoints and configs
@needs_plugins
def test_checkpoint_not_matching_its_config(
    finished_run: Path, speaker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = load_checkpoint(finished_run / "checkpoints" / "final.pt")
    data["config"]["model"]["face"]["audio_net"]["dim"] = 16  # an edited config
    bad = tmp_path / "edited.pt"
    save_checkpoint({k: v for k, v in data.items() if k not in ("magic", "format_version")}, bad)
    code = main(["render", str(bad), "--audio", str(speaker / "aud.wav"), "--out", str(tmp_path / "x.mp4")])
    assert_one_line_error(capsys, code, str(bad), "do not match")
    assert not (tmp_path / "x.mp4").exists()


class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("content", ["truncated", "pickle", "text"])
def test_corrupt_or_malicious_checkpoint(
    content: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bad.pt"
    if content == "pickle":
        torch.save({"magic": "pgs-checkpoint", "x": _Evil()}, path)
    elif content == "truncated":
        torch.save({"magic": "pgs-checkpoint", "x": torch.zeros(1000)}, path)
        path.write_bytes(path.read_bytes()[:300])
    else:
        path.write_text("hello")
    code = main(["train", "--resume", str(path), "--quiet"])
    line = assert_one_line_error(capsys, code, str(path))
    assert "weights_only" not in line
    assert not (tmp_path / "pwned").exists()


def test_duplicate_yaml_keys_and_infinite_rates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dup = tmp_path / "dup.yaml"
    dup.write_text("seed: 1\nstages:\n  static_iterations: 5\n  static_iterations: 6\n")
    assert_one_line_error(capsys, main(["validate", str(dup)]), "duplicate key 'static_iterations'", "line 4")
    inf = tmp_path / "inf.yaml"
    inf.write_text("stages:\n  network_lr:\n    grid: .inf\n")
    code = main(["validate", str(inf)])
    err = capsys.readouterr().err
    assert code == 2 and "grid" in err and "finite" in err, err


def test_error_messages_are_printed_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    from pgs.core.cli.console import error

    error("[red]x.mp4 and [/x] and [bold]")
    assert capsys.readouterr().err.strip() == "error: [red]x.mp4 and [/x] and [bold]"


def test_markers_are_written_by_every_folder_kind(tmp_path: Path) -> None:
    folder = generate_speaker(tmp_path / "s", num_frames=11, size=16, seed=0)
    marker = json.loads((folder / MARKER).read_text())
    assert marker["kind"] == "synth" and len(marker["run_id"]) == 32
    mask = current_umask()
    assert folder.stat().st_mode & 0o777 == 0o777 & ~mask
    assert (folder / "aud.wav").stat().st_mode & 0o777 == 0o666 & ~mask


@needs_plugins
def test_ablate_checks_its_output_folder(speaker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if "ablate" not in registry("pgs.commands").names():
        pytest.skip("needs pgs-eval")
    config = write_config(tmp_path / "c.json", tiny_config(speaker, tmp_path / "run"))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    (tmp_path / "file").write_text("x")
    before = snapshot(tmp_path)
    for out, needle in ((mine, "did not create"), (tmp_path / "file", "is a file")):
        code = main(["ablate", str(config), "--out", str(out), "--variants", "full", "--fps-frames", "0"])
        assert_one_line_error(capsys, code, str(out), needle)
    assert snapshot(tmp_path) == before
