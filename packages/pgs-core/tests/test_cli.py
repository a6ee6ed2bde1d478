"""The `pgs` command: help, version, plugins listing, JSON output and --check."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pgs.core import __version__, groups
from pgs.core.cli.main import main


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "plugins" in out and "validate" in out and "workflow:" in out
    workflow = out.split("workflow:")[1].split("more:")[0]
    steps = [workflow.index(f"pgs {name} ") for name in ("synth", "prep", "train", "render", "eval")]
    assert steps == sorted(steps)  # the workflow in its order: a speaker folder, train, render, evaluate
    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_plugins_json_lists_entries_with_distribution(dists, fusion_source, capsys: pytest.CaptureFixture[str]) -> None:
    dists.add(
        "cli-plugin",
        {groups.FUSION: {"cli-fusion": "cli_mod:SPEC"}},
        {"cli_mod": fusion_source("cli-fusion")},
        version="0.7",
    )
    assert main(["plugins", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    row = next(r for r in data["plugins"] if r["name"] == "cli-fusion")
    assert row == {
        "group": groups.FUSION,
        "name": "cli-fusion",
        "distribution": "cli-plugin",
        "version": "0.7",
        "entry_point": "cli_mod:SPEC",
        "description": "test fusion",
        "error": None,
    }


def test_plugins_check_reports_failures(dists, fusion_source, capsys: pytest.CaptureFixture[str]) -> None:
    dists.add(
        "bad-cli",
        {groups.DENSITY: {"explodes": "explodes_mod:SPEC"}},
        {"explodes_mod": "raise RuntimeError('boom at import')\n"},
    )
    assert main(["plugins", "--check"]) == 1
    out = capsys.readouterr().out
    assert "explodes" in out and "boom at import" in out and "bad-cli" in out
    assert main(["plugins"]) == 0  # listing still works without --check


def test_console_script_runs() -> None:
    exe = [sys.executable, "-c", "from pgs.core.cli.main import console_main; console_main()", "plugins"]
    result = subprocess.run(exe, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pgs.commands" in result.stdout


def test_every_command_has_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    from pgs.core.cli.main import _load_commands, build_parser

    commands, _ = _load_commands()
    parser = build_parser(commands)
    for name in commands:
        with pytest.raises(SystemExit):
            parser.parse_args([name, "--help"])
        assert "--quiet" in capsys.readouterr().out, name
    assert main(["plugins", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["plugins"]) == 0  # the next command prints again
    assert capsys.readouterr().out.strip() != ""
