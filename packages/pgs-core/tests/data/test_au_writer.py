"""The one ``au.csv`` writer: OpenFace's column layout, per-frame confidence, presence columns."""

from __future__ import annotations

import numpy as np
import pytest

from pgs.core.data.au import au_csv_text, read_au_csv, write_au_csv


def test_openface_layout_with_confidence_and_presence(tmp_path) -> None:
    columns = {"AU01_r": np.array([0.5, 1.0, 4.256]), "AU45_r": np.array([2.0, 0.999, 0.0])}
    text = au_csv_text(columns, fps=25.0, confidence=np.array([1.0, 0.0, 0.5]), presence_from=1.0)
    assert text.splitlines() == [
        "frame, face_id, timestamp, confidence, success, AU01_r, AU45_r, AU01_c, AU45_c",
        "1, 0, 0.000, 1.00, 1, 0.50, 2.00, 0.00, 1.00",
        "2, 0, 0.040, 0.00, 1, 1.00, 1.00, 1.00, 0.00",
        "3, 0, 0.080, 0.50, 1, 4.26, 0.00, 1.00, 0.00",
    ]
    table = read_au_csv(write_au_csv(tmp_path / "au.csv", columns, confidence=np.array([1.0, 0.0, 0.5])))
    np.testing.assert_allclose(table.column("confidence"), [1.0, 0.0, 0.5])
    assert "AU01_c" not in table.columns  # presence columns only when asked for


def test_default_confidence_and_compact_header() -> None:
    text = au_csv_text({"AU45_r": np.zeros(2)}, fps=30.0, leading_space=False)
    assert text.splitlines() == ["frame,face_id,timestamp,confidence,success,AU45_r", "1,0,0.000,0.98,1,0.00",
                                 "2,0,0.033,0.98,1,0.00"]


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        au_csv_text({"AU01_r": np.zeros(2), "AU45_r": np.zeros(3)})
    with pytest.raises(ValueError, match="confidence"):
        au_csv_text({"AU01_r": np.zeros(2)}, confidence=np.ones(3))
