"""What is installed, per plugin group, read from the registry, and what `pip install` would add.

Listing reads installed metadata only (nothing is imported); descriptions come from loading each
plugin's spec, and a plugin that fails to load is shown with its error while the rest still list.

Examples:
    .venv/bin/python examples/list_components.py
    .venv/bin/python examples/list_components.py --json components.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from pgs.core.errors import PluginError
from pgs.core.groups import ALL_GROUPS, GROUP_PLURALS, KNOWN_COMPONENTS
from pgs.core.registry import registry


def collect() -> dict[str, dict]:
    """Per group: installed components (name, distribution, version, description) and missing ones."""
    out: dict[str, dict] = {}
    for group in ALL_GROUPS:
        reg = registry(group)
        installed = []
        for entry in reg.entries():  # metadata only
            try:
                spec = reg.get(entry.name)  # imports that one plugin
                what = getattr(spec, "description", "") or getattr(spec, "help", "")
                error = None
            except PluginError as exc:
                what, error = "", str(exc)
            installed.append(
                {"name": entry.name, "distribution": entry.distribution, "version": entry.version,
                 "description": what, "error": error}
            )
        names = {c["name"] for c in installed}
        missing = {n: dist for n, dist in KNOWN_COMPONENTS.get(group, {}).items() if n not in names}
        out[group] = {"installed": installed, "not_installed": missing}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", type=Path, help="also write the listing as JSON here")
    args = p.parse_args(argv)

    data = collect()
    for group, info in data.items():
        print(f"\n{group} ({GROUP_PLURALS[group]}):")
        if not info["installed"]:
            print("  (none installed)")
        for c in info["installed"]:
            line = f"  {c['name']:<16} {c['distribution']} {c['version']}".rstrip()
            print(f"{line:<48} {c['description'] if not c['error'] else 'FAILED: ' + c['error']}")
        for name, dist in sorted(info["not_installed"].items()):
            print(f"  {name:<16} not installed: pip install {dist.split()[0]}" + (
                f"   ({dist.split(' ', 1)[1].strip('()')})" if " " in dist else ""))
    total = sum(len(i["installed"]) for i in data.values())
    failed = sum(1 for i in data.values() for c in i["installed"] if c["error"])
    print(f"\n{total} components installed, {failed} failed to load")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".json", dir=args.json.parent)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
        os.replace(tmp, args.json)
        print(f"wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
