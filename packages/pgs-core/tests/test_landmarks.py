"""pgs.core.landmarks: lazy import, the model path (argument or PGS_FACE_LANDMARKER), one-line errors."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pgs.core.errors import DataError, MissingWeightsError
from pgs.core.landmarks import MODEL_ENV, FaceLandmarker, model_from_env, resolve_model_path

SHARED_MODEL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "face_landmarker.task"


def test_importing_does_not_import_mediapipe() -> None:
    code = "import sys, pgs.core.landmarks; print('mediapipe' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_model_path_comes_from_the_argument_then_the_environment(tmp_path: Path) -> None:
    assert model_from_env(tmp_path / "a.task", {MODEL_ENV: "/b.task"}) == tmp_path / "a.task"
    assert model_from_env(None, {MODEL_ENV: "/b.task"}) == Path("/b.task")
    assert model_from_env(None, {}) is None


def _bundle(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name in names:
            z.writestr(name, b"")
    return path


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda tmp: None, "no MediaPipe Face Landmarker model given"),
        (lambda tmp: tmp / "missing.task", "model file not found"),
        (lambda tmp: (tmp / "junk.task").write_bytes(b"no zip") and tmp / "junk.task", "not a MediaPipe model bundle"),
        (lambda tmp: _bundle(tmp / "other.task", ["face_landmarks_detector.tflite"]), "with blendshapes"),
    ],
)
def test_bad_models_give_one_line_that_is_both_error_kinds(tmp_path: Path, make: object, problem: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(MissingWeightsError) as info:
        resolve_model_path(path, environ={})
    assert isinstance(info.value, DataError)
    message = str(info.value)
    assert problem in message and "\n" not in message
    if path is not None:
        assert str(path) in message


def test_environment_variable_is_read_when_no_path_is_given(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "lm.task", ["face_landmarks_detector.tflite", "face_blendshapes.tflite"])
    assert resolve_model_path(None, environ={MODEL_ENV: str(bundle)}) == bundle
    assert resolve_model_path(None, blendshapes=False, environ={MODEL_ENV: str(bundle)}) == bundle


def test_real_model_in_both_modes_via_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mediapipe")
    if not SHARED_MODEL.is_file():
        pytest.skip(f"Face Landmarker bundle not found at {SHARED_MODEL}")
    monkeypatch.setenv(MODEL_ENV, str(SHARED_MODEL))
    blank = np.zeros((64, 64, 3), np.uint8)
    with FaceLandmarker(video=True) as tracker:
        assert tracker.model_path == SHARED_MODEL
        assert tracker.detect(blank, 0) is None and tracker.detect(blank, 0) is None  # timestamps forced up
    with pytest.raises(RuntimeError, match="closed"):
        tracker.detect(blank)
