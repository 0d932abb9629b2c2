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

import yaml
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
    "it_projects": schema.ItProject,
}
MAP_SECTIONS: dict[str, type] = {"site": schema.Site, "storage": schema.Storage}
REQUIRED = ("site", "storage", "aggregates", "hosts", "flavors", "images", "tenants", "systems", "zones")
#: a DR site's inventory (site.role: dr) holds its monitored devices and their addressing; its cloud, storage and
#: systems are the production inventory's (the DR stack, Pulumi.dr.yaml), never a second copy that could drift
DR_SECTIONS = ("site", "zones", "network_devices", "facility", "leased_lines")

_ADAPTERS = {k: TypeAdapter(v) for k, v in {**LIST_SECTIONS, **MAP_SECTIONS}.items()}


class _Yaml12Loader(yaml.CSafeLoader):
    """libyaml speed with YAML 1.2 scalars (as ruamel reads them): `no`, `on`, `010`, `1:20` stay strings."""

    def construct_mapping(self, node, deep=False):
        # libyaml keeps the last of duplicate keys silently; ruamel reports them, so defer to it
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        if len(keys) != len(set(keys)):
            raise yaml.constructor.ConstructorError(None, None, "duplicate key", node.start_mark)
        return super().construct_mapping(node, deep=deep)


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":bool", ":int", ":float"))]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _rx, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
):
    _Yaml12Loader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_rx), list(_first))


@dataclass
class SourceMap:
    """Where each item of the merged inventory came from.

    Files are parsed fast (libyaml) for the data; line numbers come from a round-trip parse
    (ruamel) made only for files that actually have a problem to report.
    """

    # (section, merged index) -> (file, position in that file's list); index is None for map sections
    items: dict[tuple[str, int | None], tuple[str, int | None]] = field(default_factory=dict)
    names: dict[tuple[str, str], int] = field(default_factory=dict)
    section_loc: dict[str, Loc] = field(default_factory=dict)
    #: section -> merged index of each item that passed the schema (model index -> merged index)
    model_index: dict[str, list[int]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    _docs: dict[str, Any] = field(default_factory=dict)

    def _doc(self, file: str) -> Any:
        if file not in self._docs:
            self._docs[file] = YAML(typ="rt").load(self.texts[file])
        return self._docs[file]

    def at(self, section: str, key: int | str | None = None, *path: Any) -> Loc:
        """Location of `section[key].path…` (key: model index or name); falls back to the deepest node found."""
        if isinstance(key, str):
            key = self.names.get((section, key))
        elif isinstance(key, int) and section in self.model_index:
            positions = self.model_index[section]
            key = positions[key] if key < len(positions) else None
        return self.at_merged(section, key, *path)

    def at_merged(self, section: str, key: int | None, *path: Any) -> Loc:
        entry = self.items.get((section, key))
        if entry is None:
            return self.section_loc.get(section, Loc("inventory", 0))
        file, pos = entry
        top = self._doc(file)
        node_path = (section,) if pos is None else (section, pos)
        return Loc(file, _line_of(top, node_path + tuple(path)))


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


def _read(path: Path, problems: list[Problem], sources: SourceMap) -> Any:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        problems.append(Problem(Loc(str(path), line), f"file is not UTF-8 (byte 0x{raw[e.start]:02x})"))
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    sources.texts[str(path)] = text
    try:
        data = yaml.load(text, Loader=_Yaml12Loader)
    except yaml.YAMLError:
        data = _MARKED  # ruamel gives the error its message and line, the same in every path
    if data is _MARKED:
        try:
            YAML(typ="rt").load(text)
        except MarkedYAMLError as e:
            problems.append(Problem(Loc(str(path), _error_line(e)), _error_message(e, text)))
            return None
    if data is None:
        problems.append(Problem(Loc(str(path), 1), "file is empty"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(Loc(str(path), 1), "top level must be a mapping of sections"))
        return None
    return data


_MARKED = object()


def _error_line(e: MarkedYAMLError) -> int:
    mark = e.problem_mark or e.context_mark
    return (mark.line + 1) if mark else 1


def _error_message(e: MarkedYAMLError, text: str) -> str:
    line = _error_line(e)
    lines = text.splitlines()
    src_line = lines[line - 1] if 0 < line <= len(lines) else ""
    if "\t" in src_line[: len(src_line) - len(src_line.lstrip())] or "'\\t'" in str(e.problem):
        return "tab character in indentation (YAML needs spaces)"
    if "duplicate key" in str(e.problem):
        return "duplicate key " + _quoted(str(e.problem))
    return f"YAML syntax error: {e.problem}"


def _quoted(text: str) -> str:
    found = re.search(r'"([^"]*)"', text)
    return f"'{found.group(1)}'" if found else text


def _pydantic_problems(err: ValidationError, sources: SourceMap, section: str, idx: int | None) -> list[Problem]:
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
        else:
            msg = msg.removeprefix("Value error, ")
            msg = f"{where}: {msg}" if where else msg
        out.append(Problem(sources.at_merged(section, idx, *loc), msg))
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


def _top_key_lines(text: str) -> dict[str, int]:
    return {m.group(1): n for n, line in enumerate(text.splitlines(), 1) if (m := _TOP_KEY.match(line))}


def load_raw(root: Path) -> Loaded:
    """Parse and schema-check every file; semantic checks come after (see checks.py)."""
    problems: list[Problem] = []
    sources = SourceMap()
    root = Path(root)
    if not root.is_dir():
        return Loaded(None, sources, [Problem(Loc(str(root), 0), "inventory folder not found")], frozenset(), root)
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        return Loaded(None, sources, [Problem(Loc(str(root), 0), "no *.yaml files in the inventory folder")],
                      frozenset(), root)

    merged: dict[str, Any] = {}
    unreadable = False
    broken: set[tuple[str, str]] = set()
    for path in files:
        file = str(path)
        data = _read(path, problems, sources)
        if data is None:
            unreadable = True
            broken |= _names_in_unparsed(path)
            continue
        key_lines = _top_key_lines(sources.texts[file])
        for key, value in data.items():
            loc = Loc(file, key_lines.get(key, 1))
            if key in MAP_SECTIONS:
                if key in merged:
                    problems.append(Problem(loc, f"section '{key}' is defined twice (first at {sources.section_loc[key]})"))
                    continue
                sources.section_loc[key] = loc
                if not isinstance(value, dict):
                    problems.append(Problem(loc, f"section '{key}' must be a mapping"))
                    continue
                sources.items[(key, None)] = (file, None)
                merged[key] = value
            elif key in LIST_SECTIONS:
                sources.section_loc.setdefault(key, loc)
                if not isinstance(value, list):
                    problems.append(Problem(loc, f"section '{key}' must be a list"))
                    continue
                items = merged.setdefault(key, [])
                for i, item in enumerate(value):
                    sources.items[(key, len(items))] = (file, i)
                    if not isinstance(item, dict):
                        problems.append(Problem(sources.at_merged(key, len(items)), f"{key}: each item must be a mapping"))
                        items.append(None)
                        continue
                    items.append(item)
            else:
                known = ", ".join(sorted({*LIST_SECTIONS, *MAP_SECTIONS}))
                problems.append(Problem(loc, f"unknown section '{key}' (known: {known})"))

    site = merged.get("site") if isinstance(merged.get("site"), dict) else {}
    dr = site.get("role") == "dr"
    if dr:
        for key in merged:
            if key not in DR_SECTIONS:
                problems.append(Problem(sources.section_loc.get(key) or sources.at_merged(key, 0),
                                        f"section '{key}' does not belong in a DR site's inventory (site.role: dr): "
                                        "the DR site's cloud, storage and systems are the production inventory's DR "
                                        f"stack (Pulumi.dr.yaml); keep here only {', '.join(DR_SECTIONS)}"))
        if not site.get("primary"):
            problems.append(Problem(sources.section_loc["site"], "a DR site (role: dr) names the production site it "
                                                                 "stands in for: primary: <its site.code>"))
    elif site.get("primary") is not None:
        problems.append(Problem(sources.section_loc["site"], "primary: names the production site of a DR site; "
                                                             "set role: dr or remove it"))
    for key in ("site",) if dr else REQUIRED:
        # a section may sit in a file that did not parse; that file's error says enough
        if not unreadable and key not in merged and key not in sources.section_loc:
            problems.append(Problem(Loc(str(root), 0), f"missing required section '{key}'"))

    built: dict[str, Any] = {}
    for key, value in merged.items():
        adapter = _ADAPTERS[key]
        if key in MAP_SECTIONS:
            try:
                built[key] = adapter.validate_python(value)
            except ValidationError as err:
                problems.extend(_pydantic_problems(err, sources, key, None))
                broken.add((key, "*"))
            continue
        good = []
        for idx, item in enumerate(value):
            if item is None:
                continue
            name = item.get("name") if isinstance(item.get("name"), str) else None
            if name is not None:
                sources.names.setdefault((key, name), idx)
            try:
                good.append(adapter.validate_python(item))
                sources.model_index.setdefault(key, []).append(idx)
            except ValidationError as err:
                problems.extend(_pydantic_problems(err, sources, key, idx))
                if name is not None:
                    broken.add((key, name))
        built[key] = tuple(good)

    inventory = None
    if "site" in built and ("storage" in built or built["site"].role == "dr"):
        inventory = schema.Inventory.model_construct(
            **{k: built.get(k, ()) for k in LIST_SECTIONS}, site=built["site"], storage=built.get("storage")
        )
    return Loaded(inventory, sources, problems, frozenset(broken), root)
