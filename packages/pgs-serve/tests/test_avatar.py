"""Avatar files (`pgs.core.avatar`): round trip, render parity with the training folder, bad files, CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pgs.core.avatar import Avatar, build_avatar, load_avatar, read_head_file, save_avatar
from pgs.core.data.dataset import SpeakerDataset
from pgs.core.errors import DataError
from pgs.core.inference import drive, load_head
from pgs.core.interfaces import AudioFeatures

pytestmark = pytest.mark.slow


def test_round_trip_keeps_poses_aus_and_backgrounds(tiny: dict[str, Path]) -> None:
    avatar = load_avatar(tiny["avatar"])
    data = SpeakerDataset.open(tiny["speaker"], "train", audio=None)
    assert len(avatar.replay) == len(data)
    for i in (0, len(data) // 2, len(data) - 1):
        frame = avatar.replay[i]
        torch.testing.assert_close(frame.camera.viewmats, data.cameras[i : i + 1].viewmats.float())
        torch.testing.assert_close(frame.camera.Ks, data.cameras[i : i + 1].Ks.float())
        torch.testing.assert_close(frame.aus, data.aus[i])
        # uint8 storage: at most half a grey level from the float background
        assert float((frame.background - data.load_background(i)).abs().max()) <= 0.5 / 255 + 1e-6
    raw = torch.load(tiny["checkpoint"], weights_only=True)
    for key, value in raw["model"].items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(avatar.checkpoint["model"][key], value), key


def test_avatar_renders_like_checkpoint_and_folder(tiny: dict[str, Path], tmp_path: Path) -> None:
    """Frames driven through the avatar equal frames driven through checkpoint + training folder."""
    moved = tmp_path / "avatar.pgs"
    shutil.copy(tiny["avatar"], moved)
    by_avatar = load_head(moved)
    by_folder = load_head(tiny["checkpoint"])
    assert by_avatar.replay is not None and by_folder.replay is None
    torch.manual_seed(0)
    channels = int(read_head_file(tiny["checkpoint"])[0]["audio"]["channels"])
    features = AudioFeatures(torch.randn(5, 16, channels), 25.0, "mel", "mel80")
    dataset = SpeakerDataset.open(tiny["speaker"], "train", audio=None)
    a = list(drive(by_avatar, features, by_avatar.replay))
    b = list(drive(by_folder, features, dataset))
    for x, y in zip(a, b, strict=True):
        assert float((x - y).abs().max()) <= 1.0 / 255  # backgrounds differ by uint8 rounding only


def test_plain_checkpoint_and_bad_files_are_one_line_errors(tiny: dict[str, Path], tmp_path: Path) -> None:
    checkpoint, replay = read_head_file(tiny["checkpoint"])
    assert replay is None and "model" in checkpoint
    with pytest.raises(DataError, match="training checkpoint, not an avatar"):
        load_avatar(tiny["checkpoint"])
    truncated = tmp_path / "cut.pgs"
    truncated.write_bytes(tiny["avatar"].read_bytes()[:5000])
    with pytest.raises(DataError, match=r"cut\.pgs: not a readable"):
        read_head_file(truncated)
    foreign = tmp_path / "foreign.pgs"
    torch.save({"magic": "something-else"}, foreign)
    with pytest.raises(DataError, match="neither a pgs checkpoint nor a pgs avatar"):
        read_head_file(foreign)
    newer = tmp_path / "newer.pgs"
    torch.save({"magic": "pgs-avatar", "format_version": 99}, newer)
    with pytest.raises(DataError, match="newer"):
        read_head_file(newer)
    avatar = load_avatar(tiny["avatar"])
    broken = Avatar(avatar.checkpoint, avatar.replay)
    broken.replay.aus = broken.replay.aus[:1]
    save_avatar(broken, tmp_path / "broken.pgs")
    with pytest.raises(DataError, match=r"replay\.aus"):
        read_head_file(tmp_path / "broken.pgs")


def test_export_cli_and_render_without_the_training_folder(tiny: dict[str, Path], tmp_path: Path) -> None:
    from pgs.core.cli.main import main

    out = tmp_path / "cli.pgs"
    assert main(["export", str(tiny["checkpoint"]), str(out), "--avatar", "--loop-frames", "7"]) == 0
    assert len(load_avatar(out).replay) == 7
    # the avatar renders with the speaker folder gone (audio copied out first)
    speaker = tmp_path / "speaker"
    shutil.copytree(tiny["speaker"], speaker)
    save_avatar(build_avatar(tiny["checkpoint"], speaker, 5), tmp_path / "away.pgs")
    shutil.copy(speaker / "aud.wav", tmp_path / "speech.wav")
    shutil.rmtree(speaker)
    talk = tmp_path / "talk.mp4"
    args = ["render", str(tmp_path / "away.pgs"), "--audio", str(tmp_path / "speech.wav"), "--out", str(talk)]
    assert main([*args, "--device", "cpu"]) == 0
    assert talk.stat().st_size > 1000
    # a file that does not load: exit code 2 and one line, no traceback (a real process, real stderr)
    bad = tmp_path / "bad.pgs"
    bad.write_bytes(b"not an archive")
    pgs = str(Path(sys.executable).parent / "pgs")
    env = {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([pgs, "serve", str(bad)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.pgs" in lines[0] and "Traceback" not in done.stderr
