"""PLY export/import in the 3DGS vertex layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgs.core.errors import DataError
from pgs.core.gaussians import GaussianParams
from pgs.core.io import load_ply, ply_property_names, save_ply


def _gaussians(n: int, degree: int, seed: int = 0) -> GaussianParams:
    gen = torch.Generator().manual_seed(seed)
    k = (degree + 1) ** 2
    return GaussianParams(
        torch.randn(n, 3, generator=gen), torch.randn(n, 4, generator=gen), torch.randn(n, 3, generator=gen),
        torch.randn(n, generator=gen), torch.randn(n, k, 3, generator=gen),
    )


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_round_trip_is_exact(tmp_path, degree):
    g = _gaussians(37, degree, seed=degree)
    path = save_ply(g, tmp_path / "sub" / "scene.ply")
    back = load_ply(path)
    for name, tensor in g.as_dict().items():
        assert torch.equal(getattr(back, name), tensor), name
    assert sorted(p.name for p in path.parent.iterdir()) == ["scene.ply"]  # no temporary left


def test_layout_matches_3dgs(tmp_path):
    g = _gaussians(4, 3)
    path = save_ply(g, tmp_path / "s.ply")
    raw = path.read_bytes()
    header, body = raw.split(b"end_header\n", 1)
    lines = header.decode().splitlines()
    assert lines[:3] == ["ply", "format binary_little_endian 1.0", "element vertex 4"]
    names = [ln.split()[2] for ln in lines if ln.startswith("property float")]
    assert names == ply_property_names(3) and len(names) == 62
    table = np.frombuffer(body, dtype="<f4").reshape(4, 62)
    # f_rest is channel-major: f_rest_0..14 are the 15 higher coefficients of red.
    np.testing.assert_array_equal(table[:, 9:24], g.sh[:, 1:, 0].numpy())
    np.testing.assert_array_equal(table[:, 54], g.opacity_logits.numpy())
    np.testing.assert_array_equal(table[:, 58:62], g.quats.numpy())


def test_reads_ascii_with_extra_properties(tmp_path):
    names = ["x", "y", "z", "red", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
             "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    rows = [[float(i * 15 + j) for j in range(len(names))] for i in range(2)]
    text = "ply\nformat ascii 1.0\ncomment made by hand\nelement vertex 2\n"
    text += "".join(f"property {'uchar' if n == 'red' else 'float'} {n}\n" for n in names)
    text += "end_header\n" + "".join(" ".join(f"{v:g}" for v in row) + "\n" for row in rows)
    (tmp_path / "a.ply").write_text(text)
    g = load_ply(tmp_path / "a.ply")
    assert g.sh.shape == (2, 1, 3) and g.means[1].tolist() == [15.0, 16.0, 17.0]
    assert g.opacity_logits.tolist() == [7.0, 22.0]


def test_errors_name_file_and_property(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_ply(tmp_path / "missing.ply")
    (tmp_path / "x.txt").write_text("hello\n")
    with pytest.raises(DataError, match="not a PLY"):
        load_ply(tmp_path / "x.txt")
    path = save_ply(_gaussians(3, 0), tmp_path / "ok.ply")
    header, body = path.read_bytes().split(b"end_header\n", 1)
    (tmp_path / "nop.ply").write_bytes(header.replace(b"property float opacity\n", b"property float alpha\n")
                                       + b"end_header\n" + body)
    with pytest.raises(DataError, match=r"nop\.ply.*opacity"):
        load_ply(tmp_path / "nop.ply")
    (tmp_path / "trunc.ply").write_bytes(header + b"end_header\n" + body[:-5])
    with pytest.raises(DataError, match="truncated"):
        load_ply(tmp_path / "trunc.ply")
