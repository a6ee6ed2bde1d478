"""Bad input and frame-rate handling (each case as the README states)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pgs.core.cli.main import main
from pgs.core.errors import DataError
from pgs.prep.config import PrepConfig
from pgs.prep.pipeline import prepare
from pgs.prep.video import iter_frames, probe_video


def _nothing_left(out: Path) -> None:
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


def test_not_a_video(tmp_path, model) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video\n")
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"notes\.mp4"):
        prepare(bad, out, PrepConfig(landmarker=model))
    _nothing_left(out)
    assert main(["prep", str(bad), str(out), "--landmarker", str(model), "--quiet"]) == 2
    _nothing_left(out)


def test_missing_model(tmp_path, clip) -> None:
    with pytest.raises(DataError, match=r"face_landmarker\.task"):
        prepare(clip, tmp_path / "out", PrepConfig(landmarker=tmp_path / "face_landmarker.task"))
    _nothing_left(tmp_path / "out")


def test_video_without_audio(tmp_path, model, clip_frames, make_video) -> None:
    silent = tmp_path / "silent.mp4"
    make_video(silent, clip_frames(12))
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"no audio track.*--audio"):
        prepare(silent, out, PrepConfig(landmarker=model))
    _nothing_left(out)
    # With the recording given separately it works, and aud.wav has the video's length.
    import soundfile as sf

    wav = tmp_path / "speech.wav"
    sf.write(wav, np.sin(np.arange(16000) / 10.0).astype(np.float32) * 0.1, 16000)
    report = prepare(silent, out, PrepConfig(landmarker=model, audio=wav))
    assert report.frames == 12 and report.detection_rate == 1.0
    data, sr = sf.read(out / "aud.wav")
    assert sr == 16000 and data.shape == (12 * 640,)


def test_video_without_a_face(tmp_path, model, make_video) -> None:
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 255, (128, 128, 3), dtype=np.uint8) for _ in range(10)]
    video = tmp_path / "noise.mp4"
    make_video(video, noise, audio=np.zeros(6400, np.float32))
    out = tmp_path / "out"
    with pytest.raises(DataError, match="no face detected in any of the 10 frames"):
        prepare(video, out, PrepConfig(landmarker=model))
    _nothing_left(out)


def test_existing_output_is_kept(tmp_path, model, clip) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(DataError, match="did not create"):
        prepare(clip, out, PrepConfig(landmarker=model, max_frames=5))
    assert (out / "mine.txt").read_text() == "keep"


def test_variable_frame_rate_is_resampled_by_timestamp(tmp_path, make_video) -> None:
    # Frame k has a flat grey level 20 k; frames last 20, 40 or 60 ms (time base 1/1000 s).
    durations = [40, 20, 60, 40, 20, 20, 60, 40, 40, 60]
    pts = np.concatenate([[0], np.cumsum(durations)[:-1]]).tolist()
    frames = [np.full((64, 64, 3), 20 * k, np.uint8) for k in range(len(durations))]
    video = tmp_path / "vfr.mp4"
    make_video(video, frames, pts=pts, time_base=1000)
    info = probe_video(video)
    assert info.variable_frame_rate
    out = [int(np.median(f)) for f in iter_frames(video, 25.0)]
    # Expected: for each output time k/25 s, the source frame nearest in time.
    starts = np.array(pts) / 1000.0
    n = int(np.floor((starts[-1] + np.median(np.diff(starts))) * 25 + 1e-6))
    # (a time exactly between two frames shows the later one)
    expected = [20 * int(np.argmin(np.abs(starts - k / 25) - 1e-9 * np.arange(len(starts)))) for k in range(n)]
    assert len(out) == n
    assert np.abs(np.array(out) - np.array(expected)).max() <= 6  # codec noise only


def test_constant_rate_maps_one_to_one(tmp_path, make_video) -> None:
    frames = [np.full((32, 32, 3), 25 * k, np.uint8) for k in range(8)]
    video = tmp_path / "cfr.mp4"
    make_video(video, frames)
    assert not probe_video(video).variable_frame_rate
    got = [int(np.median(f)) for f in iter_frames(video, 25.0)]
    assert np.abs(np.array(got) - 25 * np.arange(8)).max() <= 6
