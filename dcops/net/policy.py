"""The security policy: aerleon YAML whose filter headers name inventory zones.

`load()` reads every `network_configs/policy/*.yaml` (file-name order) and
keeps the file and line of each filter and term, for lint and for errors.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from .paths import POLICY_DIR

ANY = "any"
LIST_KEYS = ("source-address", "destination-address", "source-port", "destination-port", "protocol",
             "source-exclude", "destination-exclude")
TERM_KEYS = {"name", "comment", "action", "logging", "counter", "icmp-type", "option", *LIST_KEYS}


class PolicyError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class Term:
    name: str
    body: dict            # aerleon term keys; list values as space-separated strings
    file: str
    line: int
    lines: dict[str, int] = field(default_factory=dict)  # key → line

    def words(self, key: str) -> list[str]:
        return str(self.body.get(key, "")).split()

    @property
    def where(self) -> str:
        return f"{_rel(self.file)}:{self.line}"


@dataclass
class Filter:
    comment: str
    src: list[str]
    dst: list[str]
    terms: list[Term]
    file: str
    line: int

    def pairs(self) -> list[tuple[str, str]]:
        return [(s, d) for s in self.src for d in self.dst if s != d or s == ANY]


@dataclass
class Policy:
    filters: list[Filter]
    files: list[str]

    def terms(self) -> list[tuple[Filter, Term]]:
        return [(f, t) for f in self.filters for t in f.terms]


def _rel(path: str) -> str:
    import os
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _zones(value, where: str, problems: list[str]) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    problems.append(f"{where}: zones must be a zone name or a list of zone names")
    return []


def load(folder: Path = POLICY_DIR) -> Policy:
    problems: list[str] = []
    filters: list[Filter] = []
    files = sorted(str(p) for p in Path(folder).glob("*.yaml"))
    if not files:
        raise PolicyError([f"{folder}: no policy files (*.yaml)"])
    for file in files:
        try:
            data = YAML(typ="rt").load(Path(file).read_text(encoding="utf-8"))
        except MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            problems.append(f"{_rel(file)}:{(mark.line + 1) if mark else 1}: YAML syntax error: {e.problem}")
            continue
        if not data or "filters" not in data:
            problems.append(f"{_rel(file)}:1: a policy file needs a top-level 'filters' list")
            continue
        for i, flt in enumerate(data["filters"]):
            fline = data["filters"].lc.item(i)[0] + 1
            where = f"{_rel(file)}:{fline}"
            header = flt.get("header") or {}
            zones = header.get("zones") or {}
            if "from" not in zones or "to" not in zones:
                problems.append(f"{where}: filter header needs zones: {{from: …, to: …}}")
                continue
            terms = []
            for j, t in enumerate(flt.get("terms") or []):
                tline = flt["terms"].lc.item(j)[0] + 1
                unknown = set(t) - TERM_KEYS
                if unknown:
                    problems.append(f"{_rel(file)}:{tline}: unknown term key(s) {', '.join(sorted(unknown))}")
                if "name" not in t or "action" not in t:
                    problems.append(f"{_rel(file)}:{tline}: a term needs a name and an action")
                    continue
                body = {}
                for k, v in t.items():
                    if isinstance(v, list):
                        v = " ".join(str(x) for x in v)
                    body[k] = "true" if v is True else ("false" if v is False else v)
                terms.append(Term(str(t["name"]), body, file, tline,
                                  {k: t.lc.key(k)[0] + 1 for k in t}))
            filters.append(Filter(str(header.get("comment", "")),
                                  _zones(zones["from"], where, problems), _zones(zones["to"], where, problems),
                                  terms, file, fline))
    if problems:
        raise PolicyError(problems)
    return Policy(filters, files)
