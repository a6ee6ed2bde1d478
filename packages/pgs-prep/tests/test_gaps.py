from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.errors import DataError
from pgs.prep.config import PrepConfig
from pgs.prep.gaps import find_gaps, interpolate_missing
from pgs.prep.pipeline import _fill_tracks
from pgs.prep.tracking import FrameTrack


@settings(max_examples=50, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=40))
def test_find_gaps_matches_a_scan(flags: list[bool]) -> None:
    runs, start = [], None
    for i, f in enumerate([*flags, True]):
        if not f and start is None:
            start = i
        if f and start is not None:
            runs.append((start, i))
            start = None
    assert [(g.start, g.stop) for g in find_gaps(np.array(flags))] == runs


def test_interpolation_is_linear_between_detections_and_held_at_the_ends() -> None:
    values = np.arange(10, dtype=np.float64)[:, None] * np.array([[2.0, -1.0]])
    detected = np.ones(10, bool)
    detected[[0, 4, 5, 9]] = False
    out = interpolate_missing(np.where(detected[:, None], values, 1e9), detected)
    np.testing.assert_allclose(out[1:9], values[1:9])
    np.testing.assert_allclose(out[0], values[1])
    np.testing.assert_allclose(out[9], values[8])
    with pytest.raises(ValueError, match="no frame"):
        interpolate_missing(values, np.zeros(10, bool))


def _track(k: float) -> FrameTrack:
    m = np.eye(4)
    m[:3, 3] = [k, 0, -50]
    return FrameTrack(np.full((478, 3), k, np.float32), m, np.full(52, k / 10, np.float32))


def test_fill_policy(tmp_path) -> None:
    tracks = [_track(float(i)) for i in range(10)]
    tracks[3] = None  # isolated: interpolated
    lms, mats, bs, detected, _gaps, long_gaps = _fill_tracks(tracks, PrepConfig(max_gap=2), tmp_path / "v.mp4")
    assert detected.tolist() == [i != 3 for i in range(10)] and not long_gaps
    assert lms[3, 0, 0] == pytest.approx(3.0) and mats[3, 0, 3] == pytest.approx(3.0) and bs[3, 0] == pytest.approx(0.3)
    np.testing.assert_allclose(mats[3, :3, :3], np.eye(3), atol=1e-12)

    tracks[5:9] = [None] * 4  # 4 frames: longer than max_gap
    with pytest.raises(DataError, match=r"frames 5-8.*--allow-long-gaps"):
        _fill_tracks(tracks, PrepConfig(max_gap=2), tmp_path / "v.mp4")
    *_, long_gaps = _fill_tracks(tracks, PrepConfig(max_gap=2, allow_long_gaps=True), tmp_path / "v.mp4")
    assert [str(g) for g in long_gaps] == ["5-8"]
    with pytest.raises(DataError, match="no face detected"):
        _fill_tracks([None] * 5, PrepConfig(), tmp_path / "v.mp4")
