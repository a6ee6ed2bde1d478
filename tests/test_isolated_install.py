"""pgs-core installs and works alone; a plugin package adds entries without touching it.

A fresh virtual environment gets the third-party packages of the test environment linked in
(no downloads) and then a real `pip install -e packages/pgs-core`; no other pgs distribution is
visible in it.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def core_only_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("core-only") / "venv"
    result = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert result.returncode == 0, result.stderr
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "pgs" in entry.name.lower() or entry.name.startswith("__editable__"):
            continue  # no toolkit distribution may leak in
        (site / entry.name).symlink_to(entry)
    install = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    "--no-build-isolation", "--no-index", "-e", str(ROOT / "packages" / "pgs-core")])
    assert install.returncode == 0, install.stdout + install.stderr
    return venv


def test_core_alone_imports_and_lists_no_plugins(core_only_venv: Path) -> None:
    python = str(core_only_venv / "bin" / "python")
    probe = _run([python, "-c", "import pgs.core, importlib.util as u; print(u.find_spec('pgs.fusion') is None)"])
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "True"
    listing = _run([str(core_only_venv / "bin" / "pgs"), "plugins"])
    assert listing.returncode == 0, listing.stderr
    assert "No plugin packages are installed" in listing.stdout
    assert "pip install pgs-audio pgs-density pgs-eval pgs-fusion" in listing.stdout


def test_installing_a_plugin_package_adds_its_entries(core_only_venv: Path, tmp_path: Path) -> None:
    plugin = tmp_path / "pgs-fusion-probe"
    (plugin / "src" / "probe_fusion").mkdir(parents=True)
    (plugin / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "pgs-fusion-probe"
        version = "0.3"
        [project.entry-points."pgs.fusion"]
        probe = "probe_fusion:SPEC"
    """))
    (plugin / "src" / "probe_fusion" / "__init__.py").write_text(textwrap.dedent("""
        from pgs.core.interfaces import FusionConfig
        from pgs.core.registry import ComponentSpec
        SPEC = ComponentSpec(name="probe", group="pgs.fusion", config_class=FusionConfig,
                             factory=lambda c: None, description="probe plugin")
    """))
    python = str(core_only_venv / "bin" / "python")
    core_metadata = _core_metadata(core_only_venv)
    install = _run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
                    "--no-build-isolation", "--no-index", "-e", str(plugin)])
    assert install.returncode == 0, install.stdout + install.stderr
    listing = _run([str(core_only_venv / "bin" / "pgs"), "plugins", "--json"])
    assert listing.returncode == 0, listing.stderr
    assert '"distribution": "pgs-fusion-probe"' in listing.stdout and '"name": "probe"' in listing.stdout
    assert _core_metadata(core_only_venv) == core_metadata, "installing a plugin must not touch pgs-core"


def _core_metadata(venv: Path) -> dict[str, str]:
    """Contents of the installed pgs-core dist-info files in `venv`."""
    (info,) = venv.glob("lib/python*/site-packages/pgs_core-*.dist-info")
    return {p.name: p.read_text() for p in sorted(info.iterdir()) if p.is_file()}
