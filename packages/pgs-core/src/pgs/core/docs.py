"""Config reference sections of the package READMEs, generated from the pydantic field descriptions.

Each package README holds one generated section between two markers::

    <!-- config-reference:start -->
    ...generated: entry points, then one table per component config...
    <!-- config-reference:end -->

The start marker may name extra config classes to document (run configs that are not plugins)::

    <!-- config-reference:start extra=pgs.core.training.config:TrainConfig -->

The section lists the distribution's entry points (read from its ``pyproject.toml``, so it shows
what is declared, not what happens to be installed) and, for every component entry point, its
config class as a table: field (dotted for nested sections), type, default, allowed range and
the field's description. A field without a description is an error: the description is the
documentation. ``python -m pgs.core.docs --write`` regenerates every section;
``--check`` exits 1 and names the READMEs whose committed section differs (a test runs it).
"""

from __future__ import annotations

import argparse
import enum
import importlib
import json
import re
import sys
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

START = "<!-- config-reference:start"
END = "<!-- config-reference:end -->"
_SECTION = re.compile(r"(?P<start><!-- config-reference:start(?P<attrs>[^>]*)-->)(?P<body>.*?)" + re.escape(END), re.S)

#: Nested models deeper than this are shown as one row with their JSON default.
MAX_DEPTH = 4


class DocsError(ValueError):
    """A config class cannot be documented (e.g. a field without a description)."""


# ------------------------------------------------------------------------------------------ tables
def _type_name(annotation: Any) -> str:
    """A short, stable spelling of a field's type (``int``, ``float | None``, ``'a' | 'b'``)."""
    if annotation is None or annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(repr(a) if not isinstance(a, str) else f"'{a}'" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        if args:
            inner = ", ".join("..." if a is Ellipsis else _type_name(a) for a in args)
            return f"{name}[{inner}]"
        return name
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _plain(value: Any) -> Any:
    """`value` as JSON-compatible data (paths as strings, tuples as lists, models dumped)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [_plain(v) for v in items]
    return value


def _default_text(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "`None`"
    if isinstance(value, str):
        return f"`{value}`" if value else "`''`"
    if isinstance(value, (bool, int, float)):
        return f"`{value!r}`" if not isinstance(value, bool) else f"`{value}`"
    return f"`{json.dumps(value, separators=(', ', ': '))}`"


def _range_text(info: FieldInfo) -> str:
    parts = []
    for item in info.metadata:
        for attr, symbol in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="), ("multiple_of", "multiple of")):
            bound = getattr(item, attr, None)
            if bound is not None:
                parts.append(f"{symbol} {bound!r}")
        for attr, label in (("min_length", "min length"), ("max_length", "max length")):
            bound = getattr(item, attr, None)
            if bound is not None:
                parts.append(f"{label} {bound}")
    return ", ".join(parts)


def _cell(text: str) -> str:
    """Make `text` safe inside a markdown table cell (one line, escaped pipes)."""
    text = " ".join(text.split())
    return re.sub(r"(?<!\\)\|", r"\\|", text)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _rows(
    model: type[BaseModel], prefix: str, depth: int, defaults: BaseModel | None = None
) -> Iterator[tuple[str, str, str, str, str]]:
    """Table rows of `model`; `defaults` (an instance) overrides the class defaults of a nested section."""
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if not info.description:
            raise DocsError(f"{model.__module__}.{model.__qualname__}.{name}: field has no description")
        if defaults is not None:
            default: Any = getattr(defaults, name)
        elif info.default is PydanticUndefined and info.default_factory is None:
            default = PydanticUndefined
        else:
            default = info.get_default(call_default_factory=True)
        nested = _model_of(info.annotation)
        choice = nested is not None and "params" in nested.model_fields and "name" in nested.model_fields
        if nested is not None and not choice and depth < MAX_DEPTH:
            yield (f"`{path}`", _type_name(info.annotation), "", "", _cell(info.description))
            instance = default if isinstance(default, nested) else None
            yield from _rows(nested, path + ".", depth + 1, instance)
            continue
        default_text = "required" if default is PydanticUndefined else _default_text(default)
        yield (f"`{path}`", _type_name(info.annotation), default_text, _range_text(info), _cell(info.description))


def config_table(model: type[BaseModel]) -> str:
    """Render a pydantic config class as a markdown table of its fields.

    Nested config models are expanded with dotted names (``stages.static_iterations``); component
    choices (a registry ``name`` plus ``params``) are one row whose default shows both.

    Args:
        model: a pydantic model class whose fields all have descriptions.

    Returns:
        The table (header, separator, one row per field), ending with a newline.

    Raises:
        DocsError: a field has no description.
    """
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"expected a pydantic model class, got {model!r}")
    lines = ["| field | type | default | range | description |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(model, "", 0)]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ sections
@dataclass(frozen=True)
class EntryPointDecl:
    """One entry point as declared in a ``pyproject.toml``."""

    group: str
    name: str
    value: str


def _entry_point_tables(text: str) -> dict[str, dict[str, str]]:
    """``[project.entry-points."<group>"]`` tables of a pyproject text (tomllib, or a line parser on 3.10)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: entry-point tables are plain `name = "value"` lines
        groups: dict[str, dict[str, str]] = {}
        current: dict[str, str] | None = None
        for line in text.splitlines():
            header = re.match(r'^\[project\.entry-points\."?([^"\]]+)"?\]\s*$', line.strip())
            if header:
                current = groups.setdefault(header.group(1), {})
            elif line.strip().startswith("["):
                current = None
            elif current is not None and (item := re.match(r'^\s*"?([\w.-]+)"?\s*=\s*"([^"]+)"', line)):
                current[item.group(1)] = item.group(2)
        return groups
    return tomllib.loads(text).get("project", {}).get("entry-points", {})


def declared_entry_points(package_dir: Path) -> list[EntryPointDecl]:
    """The entry points of a package's ``pyproject.toml`` (``[project.entry-points."<group>"]``)."""
    pyproject = package_dir / "pyproject.toml"
    try:
        groups = _entry_point_tables(pyproject.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise DocsError(f"{pyproject}: cannot read: {exc}") from None
    return [EntryPointDecl(g, n, v) for g in sorted(groups) for n, v in sorted(groups[g].items())]


def _load(value: str) -> Any:
    module, _, attr = value.partition(":")
    obj: Any = importlib.import_module(module.strip())
    for part in attr.strip().split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


def render_section(package_dir: Path, extra: Sequence[str] = ()) -> str:
    """The generated body of `package_dir`'s README section (between the markers).

    Args:
        package_dir: a folder with a ``pyproject.toml``.
        extra: ``module:Class`` names of further config classes to document.
    """
    from pgs.core.groups import COMMANDS

    decls = declared_entry_points(package_dir)
    lines = [
        "",
        "<!-- generated by `python -m pgs.core.docs --write` from the pydantic field descriptions; do not edit -->",
        "",
    ]
    if decls:
        lines += ["### Entry points", "", "| group | name | value | what |", "|---|---|---|---|"]
        specs = []
        for decl in decls:
            spec = _load(decl.value)
            what = getattr(spec, "help", "") if decl.group == COMMANDS else getattr(spec, "description", "")
            lines.append(f"| `{decl.group}` | `{decl.name}` | `{decl.value}` | {_cell(what)} |")
            if decl.group != COMMANDS:
                specs.append((decl, spec))
        lines.append("")
        by_class: dict[tuple[str, type], list[str]] = {}
        for decl, spec in specs:  # one table per config class (rasterizers share theirs)
            by_class.setdefault((decl.group, spec.config_class), []).append(decl.name)
        for (group, cls), names in by_class.items():
            title = ", ".join(f"`{n}`" for n in names)
            lines += [f"### {title} ({group}): `{cls.__module__}.{cls.__qualname__}`", "", config_table(cls)]
    for name in extra:
        cls = _load(name)
        lines += [f"### `{cls.__module__}.{cls.__qualname__}`", ""]
        doc = (cls.__doc__ or "").strip().splitlines()
        if doc:
            lines += [doc[0], ""]
        lines.append(config_table(cls))
    return "\n".join(lines).rstrip("\n") + "\n\n"


def _attrs(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split() if "=" in item)


def update_readme(package_dir: Path, insert_missing: bool = True) -> tuple[str, str]:
    """(current text, regenerated text) of ``package_dir/README.md``.

    Every marked section is regenerated; a README without markers gets a "Config reference"
    section appended when `insert_missing` (otherwise it is returned unchanged).
    """
    readme = package_dir / "README.md"
    text = readme.read_text(encoding="utf-8")

    def replace(match: re.Match[str]) -> str:
        extra = [e for e in _attrs(match["attrs"]).get("extra", "").split(",") if e]
        return match["start"] + render_section(package_dir, extra) + END

    if START not in text:
        if not insert_missing:
            return text, text
        text_new = text.rstrip("\n") + "\n\n## Config reference\n\n" + f"{START} -->{END}\n"
        return text, _SECTION.sub(replace, text_new)
    if END not in text:
        raise DocsError(f"{readme}: has {START} ... but no {END}")
    return text, _SECTION.sub(replace, text)


def package_dirs(root: Path) -> list[Path]:
    """The toolkit packages (``packages/*``) and example plugin packages with a marked README."""
    dirs = sorted(p.parent for p in (root / "packages").glob("*/pyproject.toml"))
    for p in sorted((root / "examples").glob("*/pyproject.toml")):
        readme = p.parent / "README.md"
        if readme.is_file() and START in readme.read_text(encoding="utf-8"):
            dirs.append(p.parent)
    return dirs


def _write_atomic(path: Path, text: str) -> None:
    from pgs.core.io.atomic import atomic_write_text

    atomic_write_text(path, text)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pgs.core.docs --write|--check [--root DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m pgs.core.docs",
        description="Regenerate (--write) or verify (--check) the config reference sections of the package READMEs.",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the generated sections in place")
    mode.add_argument("--check", action="store_true", help="exit 1 if a committed section differs")
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root (default: .)")
    args = parser.parse_args(argv)
    dirs = package_dirs(args.root)
    if not dirs:
        print(f"error: no packages under {args.root / 'packages'}", file=sys.stderr)
        return 2
    stale = []
    try:
        for pkg in dirs:
            old, new = update_readme(pkg)
            if old != new:
                stale.append(pkg / "README.md")
                if args.write:
                    _write_atomic(pkg / "README.md", new)
    except DocsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check and stale:
        names = ", ".join(str(p) for p in stale)
        print(f"config reference out of date in: {names}; run `python -m pgs.core.docs --write`", file=sys.stderr)
        return 1
    listed = stale if args.write else [d / "README.md" for d in dirs]
    print(f"{'updated' if args.write else 'up to date'}: {', '.join(str(p) for p in listed) or 'nothing'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
