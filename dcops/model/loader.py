"""Read `inventory/**/*.yaml` into the typed model, keeping file and line of every value.

Each file is a mapping of section name → list of items (or a mapping for the
single-valued sections `site` and `storage`). List sections may be split over
several files; they are concatenated in file-name order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from . import schema
from .errors import InventoryInvalid, Loc, Problem

LIST_SECTIONS: dict[str, type] = {
    "aggregates": schema.Aggregate,
    "hosts": schema.Host,
    "flavors": schema.Flavor,
    "images": schema.Image,
    "tenants": schema.Tenant,
    "systems": schema.InformationSystem,
    "ha_groups": schema.HaGroup,
    "zones": schema.Zone,
    "leased_lines": schema.LeasedLine,
    "network_devices": schema.NetworkDevice,
    "facility": schema.FacilityDevice,
    "vms": schema.Vm,
    "budgets": schema.Budget,
}
MAP_SECTIONS: dict[str, type] = {"site": schema.Site, "storage": schema.Storage}
REQUIRED = ("site", "storage", "aggregates", "hosts", "flavors", "images", "tenants", "systems", "zones")

_ADAPTERS = {k: TypeAdapter(v) for k, v in {**LIST_SECTIONS, **MAP_SECTIONS}.items()}


@dataclass
class SourceMap:
    """Where each item of the merged inventory came from."""

    # (section, index) -> (file, node); index is None for map sections
    nodes: dict[tuple[str, int | None], tuple[str, Any]] = field(default_factory=dict)
    names: dict[tuple[str, str], int] = field(default_factory=dict)
    section_loc: dict[str, Loc] = field(default_factory=dict)
    #: section -> merged index of each item that passed the schema (model index -> merged index)
    model_index: dict[str, list[int]] = field(default_factory=dict)

    def at(self, section: str, key: int | str | None = None, *path: Any) -> Loc:
        """Location of `section[key].path…`; falls back to the deepest node found."""
        if isinstance(key, str):
            key = self.names.get((section, key))
        elif isinstance(key, int) and section in self.model_index:
            positions = self.model_index[section]
            key = positions[key] if key < len(positions) else None
        entry = self.nodes.get((section, key))
        if entry is None:
            return self.section_loc.get(section, Loc("inventory", 0))
        file, node = entry
        return Loc(file, _line_of(node, path))


def _line_of(node: Any, path: tuple) -> int:
    line = getattr(getattr(node, "lc", None), "line", -1) + 1
    for part in path:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            child = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lc.item(part)[0] + 1
            child = node[part]
        else:
            break
        if isinstance(child, (CommentedMap, CommentedSeq)):
            node = child
        else:
            break
    return max(line, 1)


@dataclass(frozen=True)
class Loaded:
    inventory: schema.Inventory | None
    sources: SourceMap
    problems: list[Problem]
    #: names of items that failed schema validation; references to them are not reported again
    broken: frozenset[tuple[str, str]]
    root: Path


def _read(path: Path, problems: list[Problem]) -> Any:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        problems.append(Problem(Loc(str(path), line), f"file is not UTF-8 (byte 0x{raw[e.start]:02x})"))
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = (mark.line + 1) if mark else 1
        src_line = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
        if "\t" in src_line[: len(src_line) - len(src_line.lstrip())] or "'\\t'" in str(e.problem):
            msg = "tab character in indentation (YAML needs spaces)"
        elif "duplicate key" in str(e.problem):
            msg = "duplicate key " + _quoted(str(e.problem))
        else:
            msg = f"YAML syntax error: {e.problem}"
        problems.append(Problem(Loc(str(path), line), msg))
        return None
    if data is None:
        problems.append(Problem(Loc(str(path), 1), "file is empty"))
        return None
    if not isinstance(data, CommentedMap):
        problems.append(Problem(Loc(str(path), 1), "top level must be a mapping of sections"))
        return None
    return data


def _quoted(text: str) -> str:
    found = re.search(r'"([^"]*)"', text)
    return f"'{found.group(1)}'" if found else text


def _pydantic_problems(err: ValidationError, file: str, node: Any) -> list[Problem]:
    out = []
    for e in err.errors(include_url=False):
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p[:1].isupper()))
        where = ".".join(str(p) for p in loc)
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = f"unknown key '{loc[-1]}'"
        elif e["type"] == "missing":
            msg = f"missing required field '{loc[-1]}'"
            loc = loc[:-1]
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
            msg = f"{where}: {msg}" if where else msg
        else:
            msg = f"{where}: {msg}" if where else msg
        out.append(Problem(Loc(file, _line_of(node, loc)), msg))
    return out


_TOP_KEY = re.compile(r"^([a-z_]+):")
_ITEM_NAME = re.compile(r"^\s*-\s*(?:\{\s*)?name:\s*['\"]?([^,'\"}\s]+)")


def _names_in_unparsed(path: Path) -> set[tuple[str, str]]:
    """Best-effort (section, name) pairs of a file that did not parse, so that references to
    what it defines are not reported as unknown on top of its syntax error."""
    found: set[tuple[str, str]] = set()
    section = ""
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        if m := _TOP_KEY.match(line):
            section = m.group(1)
            if section in MAP_SECTIONS:
                found.add((section, "*"))
        elif (m := _ITEM_NAME.match(line)) and section:
            found.add((section, m.group(1)))
    return found


def load_raw(root: Path) -> Loaded:
    """Parse and schema-check every file; semantic checks come after (see checks.py)."""
    problems: list[Problem] = []
    sources = SourceMap()
    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    if not root.is_dir():
        return Loaded(None, sources, [Problem(Loc(str(root), 0), "inventory folder not found")], frozenset(), root)
    if not files:
        return Loaded(None, sources, [Problem(Loc(str(root), 0), "no *.yaml files in the inventory folder")],
                      frozenset(), root)

    merged: dict[str, Any] = {}
    unreadable = False
    broken: set[tuple[str, str]] = set()
    for path in files:
        data = _read(path, problems)
        if data is None:
            unreadable = True
            broken |= _names_in_unparsed(path)
            continue
        for key, value in data.items():
            key_line = data.lc.key(key)[0] + 1
            loc = Loc(str(path), key_line)
            if key in MAP_SECTIONS:
                if key in merged:
                    problems.append(Problem(loc, f"section '{key}' is defined twice (first at {sources.section_loc[key]})"))
                    continue
                sources.section_loc[key] = loc
                if not isinstance(value, CommentedMap):
                    problems.append(Problem(loc, f"section '{key}' must be a mapping"))
                    continue
                sources.nodes[(key, None)] = (str(path), value)
                merged[key] = value
            elif key in LIST_SECTIONS:
                sources.section_loc.setdefault(key, loc)
                if not isinstance(value, CommentedSeq):
                    problems.append(Problem(loc, f"section '{key}' must be a list"))
                    continue
                items = merged.setdefault(key, [])
                for i, item in enumerate(value):
                    sources.nodes[(key, len(items))] = (str(path), item if isinstance(item, (CommentedMap, CommentedSeq)) else value)
                    if not isinstance(item, CommentedMap):
                        problems.append(Problem(Loc(str(path), value.lc.item(i)[0] + 1),
                                                f"{key}: each item must be a mapping"))
                        items.append(None)
                        continue
                    items.append(item)
            else:
                known = ", ".join(sorted({*LIST_SECTIONS, *MAP_SECTIONS}))
                problems.append(Problem(loc, f"unknown section '{key}' (known: {known})"))

    for key in REQUIRED:
        # a section may sit in a file that did not parse; that file's error says enough
        if not unreadable and key not in merged and key not in sources.section_loc:
            problems.append(Problem(Loc(str(root), 0), f"missing required section '{key}'"))

    built: dict[str, Any] = {}
    for key, value in merged.items():
        adapter = _ADAPTERS[key]
        if key in MAP_SECTIONS:
            file, node = sources.nodes[(key, None)]
            try:
                built[key] = adapter.validate_python(dict(value))
            except ValidationError as err:
                problems.extend(_pydantic_problems(err, file, node))
                broken.add((key, "*"))
            continue
        good = []
        for idx, item in enumerate(value):
            if item is None:
                continue
            file, node = sources.nodes[(key, idx)]
            name = item.get("name") if isinstance(item.get("name"), str) else None
            if name is not None:
                sources.names.setdefault((key, name), idx)
            try:
                good.append(adapter.validate_python(item))
                sources.model_index.setdefault(key, []).append(idx)
            except ValidationError as err:
                problems.extend(_pydantic_problems(err, file, node))
                if name is not None:
                    broken.add((key, name))
        built[key] = tuple(good)

    inventory = None
    if all(k in built for k in ("site", "storage")):
        inventory = schema.Inventory.model_construct(
            **{k: built.get(k, ()) for k in LIST_SECTIONS}, site=built["site"], storage=built["storage"]
        )
    return Loaded(inventory, sources, problems, frozenset(broken), root)
