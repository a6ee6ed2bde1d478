from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pgs.core.data import read_au_csv
from pgs.prep.au import AU_NAMES, BLENDSHAPE_NAMES, blendshapes_to_aus, write_au_csv


def _bs(**scores: float) -> np.ndarray:
    v = np.zeros((1, 52))
    for k, s in scores.items():
        v[0, BLENDSHAPE_NAMES.index(k)] = s
    return v


def test_names_match_the_model_output(model, clip) -> None:
    import mediapipe as mp

    from pgs.prep.tracking import FaceTracker
    from pgs.prep.video import iter_frames

    rgb = next(iter(iter_frames(clip, 25.0, 1)))
    with FaceTracker(model, video=False) as tracker:
        res = tracker._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
    assert tuple(c.category_name for c in res.face_blendshapes[0]) == BLENDSHAPE_NAMES


@pytest.mark.parametrize(
    ("scores", "au", "expected"),
    [
        ({"eyeBlinkLeft": 0.8, "eyeBlinkRight": 0.4}, "AU45", 5 * 0.6),
        ({"browInnerUp": 0.3}, "AU01", 1.5),
        ({"browOuterUpLeft": 0.2, "browOuterUpRight": 0.6}, "AU02", 2.0),
        ({"browDownLeft": 1.0, "browDownRight": 1.0}, "AU04", 5.0),
        ({"eyeWideLeft": 0.1, "eyeWideRight": 0.3}, "AU05", 1.0),
        ({"cheekSquintLeft": 0.5, "cheekSquintRight": 0.5}, "AU06", 2.5),
        ({"eyeSquintLeft": 0.2, "eyeSquintRight": 0.0}, "AU07", 0.5),
        ({"jawOpen": 0.7, "mouthClose": 0.2}, "AU25", 2.5),
        ({"jawOpen": 0.1, "mouthClose": 0.4}, "AU25", 0.0),
        ({"jawOpen": 0.7, "mouthClose": 0.2}, "AU26", 3.5),
    ],
)
def test_mapping_table(scores: dict, au: str, expected: float) -> None:
    aus = blendshapes_to_aus(_bs(**scores))
    assert aus[0, AU_NAMES.index(au)] == pytest.approx(expected)
    others = [i for i, n in enumerate(AU_NAMES) if n != au and aus[0, i] != 0]
    # Each input drives only the AUs whose table entries use it.
    assert all(AU_NAMES[i] in ("AU25", "AU26") for i in others)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.just(52)), elements=st.floats(-0.5, 1.5)))
def test_range(bs: np.ndarray) -> None:
    aus = blendshapes_to_aus(bs)
    assert aus.shape == (bs.shape[0], len(AU_NAMES))
    assert (aus >= 0).all() and (aus <= 5).all()


def test_bad_shape() -> None:
    with pytest.raises(ValueError, match="52"):
        blendshapes_to_aus(np.zeros((3, 50)))


def test_csv_reads_back_with_the_dataset_reader(tmp_path) -> None:
    rng = np.random.default_rng(0)
    aus = blendshapes_to_aus(rng.uniform(0, 1, (7, 52)))
    write_au_csv(tmp_path / "au.csv", aus, 25.0)
    header = (tmp_path / "au.csv").read_text().splitlines()[0]
    assert ", AU45_r" in header  # OpenFace's ", " separator: pandas sees ' AU45_r' as ER-NeRF expects
    table = read_au_csv(tmp_path / "au.csv")
    assert table.frames.tolist() == list(range(1, 8))
    for j, name in enumerate(AU_NAMES):
        np.testing.assert_allclose(table.column(f"{name}_r"), aus[:, j], atol=0.006)
