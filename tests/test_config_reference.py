"""The config reference sections of the package READMEs are generated and committed up to date."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from pgs.core.config import ComponentConfig
from pgs.core.docs import END, START, DocsError, config_table, main, package_dirs, render_section, update_readme
from pgs.core.registry import registry

REPO = Path(__file__).resolve().parents[1]


def rows(table: str) -> dict[str, list[str]]:
    """Field name -> the other cells, parsed back from a generated table."""
    out = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        out[cells[0].strip("`")] = cells[1:]
    return out


class Inner(ComponentConfig):
    depth: int = Field(3, ge=1, le=8, description="How deep.")


class Sample(ComponentConfig):
    rate: float = Field(0.5, gt=0, lt=1, description="A | piped\n description.")
    mode: Literal["a", "b"] = Field("a", description="Which mode.")
    path: Path | None = Field(None, description="Optional path.")
    sizes: tuple[int, int] = Field((2, 3), description="Two sizes.")
    inner: Inner = Field(default_factory=lambda: Inner(depth=5), description="Nested section.")
    name: str = Field(description="Required name.")


def test_table_reads_fields_defaults_ranges_and_descriptions() -> None:
    table = config_table(Sample)
    got = rows(table)
    assert list(got) == ["rate", "mode", "path", "sizes", "inner", "inner.depth", "name"]
    assert got["rate"] == ["float", "`0.5`", "> 0, < 1", "A \\| piped description."]
    assert got["mode"][0] == "'a' \\| 'b'" and got["mode"][1] == "`a`"
    assert got["path"][:2] == ["Path \\| None", "`None`"]
    assert got["sizes"][:2] == ["tuple[int, int]", "`[2, 3]`"]
    # a nested section shows the parent's default (depth=5), not the class default (3)
    assert got["inner.depth"] == ["int", "`5`", ">= 1, <= 8", "How deep."]
    assert got["name"][1] == "required"
    assert all(line.count("|") - line.count("\\|") == 6 for line in table.splitlines())


def test_table_changes_when_a_description_changes() -> None:
    class Before(ComponentConfig):
        x: int = Field(1, description="old words")

    class After(ComponentConfig):
        x: int = Field(1, description="new words")

    assert config_table(Before) != config_table(After)
    assert "new words" in config_table(After)


def test_undescribed_field_is_an_error_naming_it() -> None:
    class Bad(BaseModel):
        ok: int = Field(1, description="fine")
        silent: int = 2

    with pytest.raises(DocsError, match=r"Bad\.silent: field has no description"):
        config_table(Bad)
    with pytest.raises(TypeError):
        config_table(int)  # type: ignore[arg-type]


def test_every_component_config_of_every_plugin_is_documented() -> None:
    # Each registered component's config renders (so every field has a description), and each
    # entry point of the toolkit's packages appears in its package's generated section.
    for group in ("pgs.audio_encoders", "pgs.fusion", "pgs.density", "pgs.evaluators", "pgs.rasterizers"):
        specs, failures = registry(group).load_all()
        assert not failures, failures
        for spec in specs:
            assert config_table(spec.config_class).count("\n") >= 2
    for pkg in package_dirs(REPO):
        section = render_section(pkg)
        tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
        groups = tomllib.loads((pkg / "pyproject.toml").read_text())["project"].get("entry-points", {})
        for group, entries in groups.items():
            for name, value in entries.items():
                assert f"| `{group}` | `{name}` | `{value}` |" in section, (pkg, name)


def test_committed_readmes_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--check", "--root", str(REPO)])
    err = capsys.readouterr().err
    assert code == 0, f"{err}\nregenerate with: python -m pgs.core.docs --write"
    for pkg in (REPO / "packages").glob("*/pyproject.toml"):
        text = (pkg.parent / "README.md").read_text()
        assert text.count(START) == 1 and text.count(END) == 1, f"{pkg.parent.name}: expected one marked section"


def test_check_fails_on_drift_and_write_repairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pkg = tmp_path / "packages" / "pgs-fusion"
    pkg.mkdir(parents=True)
    shutil.copy(REPO / "packages" / "pgs-fusion" / "pyproject.toml", pkg)
    readme = (REPO / "packages" / "pgs-fusion" / "README.md").read_text()
    assert "Channels C of the 1x1-conv projections" in readme
    (pkg / "README.md").write_text(readme.replace("Channels C of the 1x1-conv projections", "stale words"))
    assert main(["--check", "--root", str(tmp_path)]) == 1
    assert "packages/pgs-fusion/README.md" in capsys.readouterr().err
    assert main(["--write", "--root", str(tmp_path)]) == 0
    assert (pkg / "README.md").read_text() == readme
    assert main(["--check", "--root", str(tmp_path)]) == 0
    # text outside the markers is kept as written
    assert (pkg / "README.md").read_text().split(START)[0] == readme.split(START)[0]


def test_readme_without_markers_gets_a_section(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    entry = '[project.entry-points."pgs.density"]\ngradient = "pgs.density.specs:GRADIENT"\n'
    (pkg / "pyproject.toml").write_text(entry)
    (pkg / "README.md").write_text("# pkg\n\nHand-written.\n")
    old, new = update_readme(pkg)
    assert old != new and new.startswith("# pkg\n\nHand-written.\n")
    assert "## Config reference" in new and "`grad_threshold`" in new and new.rstrip().endswith(END)
    (pkg / "README.md").write_text(new.replace(END, ""))
    with pytest.raises(DocsError, match="no <!-- config-reference:end"):
        update_readme(pkg)
