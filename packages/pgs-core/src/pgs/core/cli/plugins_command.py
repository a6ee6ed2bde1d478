"""``pgs plugins``: what is installed in every plugin group."""

from __future__ import annotations

import argparse
import json

from rich.table import Table
from rich.text import Text

from pgs.core.cli.console import stdout, styled
from pgs.core.groups import ALL_GROUPS, GROUP_PLURALS, GROUP_PROVIDERS, KNOWN_COMPONENTS
from pgs.core.registry import CommandSpec, PluginEntry, registry

EXAMPLES = """\
examples:
  pgs plugins              table of group, name, distribution, version, description
  pgs plugins --json       the same as JSON
  pgs plugins --check      load every plugin; exit code 1 if any fails
"""

DESCRIPTION = "List the components installed in every plugin group.\n\n" + EXAMPLES


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--check", action="store_true", help="load every plugin and report failures (exit 1)")


def _describe(entry: PluginEntry) -> tuple[str, str | None]:
    """(description, error) of one entry; loads the plugin."""
    from pgs.core.errors import PluginError

    try:
        spec = registry(entry.group).get(entry.name)
    except PluginError as exc:
        return "", str(exc)
    summary = spec.help if isinstance(spec, CommandSpec) else spec.description
    return summary, None


def _run(args: argparse.Namespace) -> int:
    rows = []
    for group in ALL_GROUPS:
        for entry in registry(group).entries():
            description, problem = _describe(entry)
            rows.append(
                {
                    "group": group,
                    "name": entry.name,
                    "distribution": entry.distribution,
                    "version": entry.version,
                    "entry_point": entry.value,
                    "description": description,
                    "error": problem,
                }
            )
    failures = [r for r in rows if r["error"]]
    missing = {
        g: GROUP_PROVIDERS[g]
        for g in ALL_GROUPS
        if not any(r["group"] == g for r in rows) and g in KNOWN_COMPONENTS
    }
    if args.json:
        stdout.print_json(json.dumps({"plugins": rows, "empty_groups": missing}))
    else:
        _print_table(rows, missing)
    if args.check:
        if failures:
            for r in failures:
                stdout.print(styled("FAILED", "red", f"{r['group']} {r['name']}: {r['error']}"))
            return 1
        stdout.print(f"all {len(rows)} plugins loaded")
    return 0


def _print_table(rows: list[dict], missing: dict[str, str]) -> None:
    if rows:
        table = Table(title="installed pgs plugins")
        for column in ("group", "name", "distribution", "version", "description"):
            table.add_column(column)
        for r in rows:
            desc = Text(r["description"]) if not r["error"] else styled("failed to load:", "red", r["error"])
            table.add_row(r["group"], r["name"], r["distribution"], r["version"], desc)
        stdout.print(table)
    else:
        stdout.print("No plugins are installed.")
    for group, provider in missing.items():
        hint = f": pip install {provider}" if provider != "pgs-core" else ""
        stdout.print(f"no {GROUP_PLURALS[group]} installed ({group}){hint}")
    plugin_packages = sorted({p for g, p in missing.items() if p != "pgs-core"})
    if len(plugin_packages) == len({p for p in GROUP_PROVIDERS.values() if p != "pgs-core"}):
        stdout.print(f"No plugin packages are installed. Install them with: pip install {' '.join(plugin_packages)}")


SPEC = CommandSpec("plugins", "list installed plugins per group", _add_arguments, _run, DESCRIPTION)
