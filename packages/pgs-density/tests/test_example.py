"""The Fig. 5 example runs end to end with tiny settings and writes a valid PNG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pgs.core.errors import PgsError
from pgs.core.registry import registry
from pgs.core.testing.modules import load_module_file

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "density_fig5.py"


def _load():
    return load_module_file(EXAMPLE)


def test_example_writes_png(tmp_path, capsys):
    try:
        registry("pgs.rasterizers").create("torch")
    except PgsError as exc:
        pytest.skip(f"torch rasterizer backend not available: {exc}")
    out = tmp_path / "sub" / "fig5.png"
    args = ["--steps", "8", "--size", "12", "--gt", "120", "--start", "16", "--budget", "48",
            "--refine-every", "3", "--out", str(out)]
    assert _load().main(args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    image = matplotlib.image.imread(out)
    assert image.shape[0] > 100 and image.shape[1] > 300
    assert list(out.parent.iterdir()) == [out]  # no temp file left behind
    summary = json.loads([line for line in capsys.readouterr().out.splitlines() if line.startswith("{")][-1])
    assert set(summary) == {"gradient", "pixel-aware"}
    assert all(0 < v["gaussians"] <= 48 for v in summary.values())


def test_example_rejects_bad_flags(tmp_path):
    module = _load()
    with pytest.raises(SystemExit):
        module.parse_args(["--steps", "0"])
    with pytest.raises(SystemExit):
        module.parse_args(["--out", str(tmp_path / "x.jpg")])
    with pytest.raises(SystemExit):
        module.parse_args(["--start", "50", "--budget", "10"])
