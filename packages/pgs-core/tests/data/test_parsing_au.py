from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from pgs.core.data.au import read_au_csv, write_au_csv
from pgs.core.data.parsing import REGION_RGB, Region, masks_from_parsing, parsing_from_labels
from pgs.core.errors import DataError


def test_talkinggaussian_colours_as_pil_reads_a_cv2_png(tmp_path):
    # cv2 writes BGR tuples; build the file as cv2 would (channel order reversed) and read it with PIL.
    bgr = {"face": (255, 0, 0), "mouth": (100, 100, 100), "hair": (0, 0, 0), "neck": (0, 255, 0), "torso": (0, 0, 255)}
    regions = ["face", "mouth", "hair", "neck", "torso", "background"]
    row = np.array([bgr.get(r, (255, 255, 255)) for r in regions], np.uint8)[None]
    Image.fromarray(row[..., ::-1].copy()).save(tmp_path / "p.png")  # BGR -> the RGB bytes cv2 would store
    rgb = np.asarray(Image.open(tmp_path / "p.png").convert("RGB"))
    m = masks_from_parsing(rgb)
    for i, region in enumerate(regions):
        got = {name: bool(getattr(m, name)[0, i]) for name in ("face", "mouth", "hair", "neck", "torso")}
        assert got == {name: name == region for name in got}, region
    assert REGION_RGB[Region.FACE] == (0, 0, 255)  # blue once read as RGB


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=64))
def test_labels_round_trip(labels):
    lab = np.asarray(labels)[None]
    m = masks_from_parsing(parsing_from_labels(lab))
    for name, region in (("face", Region.FACE), ("mouth", Region.MOUTH), ("hair", Region.HAIR),
                         ("neck", Region.NECK), ("torso", Region.TORSO)):
        np.testing.assert_array_equal(getattr(m, name), lab == int(region))


@pytest.mark.parametrize("leading_space", [True, False])
def test_au_csv_both_header_variants(tmp_path, leading_space):
    values = {"AU01_r": np.array([0.5, 1.0, 0.0]), "AU04_r": np.array([0.1, 0.2, 0.3]),
              "AU05_r": np.zeros(3), "AU06_r": np.ones(3), "AU07_r": np.full(3, 2.0),
              "AU45_r": np.array([0.0, 3.5, -0.2])}
    write_au_csv(tmp_path / "au.csv", values, leading_space=leading_space)
    header = (tmp_path / "au.csv").read_text().splitlines()[0]
    assert (" AU45_r" in header) == leading_space
    table = read_au_csv(tmp_path / "au.csv")
    assert "AU45_r" in table.columns and table.frames.tolist() == [1, 2, 3]
    vec = table.face_vectors([2, 0, 1])
    np.testing.assert_allclose(vec[:, 0], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(vec[:, 5], [0.0, 0.0, 2.0])  # AU45 clipped to [0, 2]


def test_au_frames_are_one_based_and_used(tmp_path):
    (tmp_path / "au.csv").write_text("frame, AU01_r\n2, 0.2\n1, 0.1\n3, 0.3\n")
    table = read_au_csv(tmp_path / "au.csv")
    np.testing.assert_allclose(table.column("AU01_r")[table.rows_for([0, 1, 2])], [0.1, 0.2, 0.3])
    with pytest.raises(DataError, match=r"au.csv: 3 AU rows but image ids \[3\]"):
        table.rows_for([3])
    with pytest.raises(DataError, match=r"au.csv: column 'AU04_r' is missing"):
        table.face_vectors([0])


@pytest.mark.parametrize(
    ("text", "match"),
    [("", "empty AU file"), ("frame, AU01_r\n", "no rows"), ("frame, AU01_r\n1, x\n", r"line 2, column 'AU01_r'"),
     ("frame, AU01_r\n1, 0.1, 3\n", "line 2 has 3 values"), ("frame, AU01_r\n0, 0.1\n", "1-based")],
)
def test_bad_au_files(tmp_path, text, match):
    (tmp_path / "au.csv").write_text(text)
    with pytest.raises(DataError, match=match):
        read_au_csv(tmp_path / "au.csv")
