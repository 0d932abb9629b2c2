"""Drill records: one JSON document per run (stable schema), rendered as Markdown and HTML.

Schema `dcops.drill-record/1` is documented in docs/drills.md; the compliance module reads
`systems[]` to evidence "verified restore drill within 12 months" per information system.
Files are written to a temp name and renamed, so a reader never sees half a record.
"""
from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

SCHEMA = "dcops.drill-record/1"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def parse_time(s: str) -> dt.datetime:
    """ISO 8601 with Z/offset, or Ansible's naive local 'YYYY-MM-DD HH:MM:SS.ffffff' (treated as UTC here)."""
    s = s.strip().replace(" ", "T")
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    t = dt.datetime.fromisoformat(s)
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def operator() -> dict:
    return {"user": os.environ.get("DCOPS_OPERATOR") or getpass.getuser(), "host": socket.gethostname(),
            "via": "dcops drill run"}


@dataclass
class StepRecord:
    name: str
    status: str  # ok | changed | failed | skipped | unreachable | ignored | pass | fail | info
    host: str = ""
    started: str = ""
    ended: str = ""
    duration_s: float = 0.0
    message: str = ""
    source: str = "ansible"  # ansible | dcops (a check the drill makes itself)
    diff: str = ""  # what the task changes (or would change in check mode), unified diff


@dataclass
class Measurement:
    name: str  # rto | rpo | outage | restore_throughput | ...
    value: float | None
    unit: str
    target: str = ""  # inventory name or system it applies to
    limit: float | None = None  # the policy target, same unit
    met: bool | None = None
    detail: str = ""


@dataclass
class DrillRecord:
    drill: str
    title: str
    mode: str  # execute | check | plan
    id: str = ""
    schema: str = SCHEMA
    verdict: str = "pending"  # pass | fail
    reason: str = ""
    started_at: str = ""
    finished_at: str = ""
    duration_s: float = 0.0
    operator: dict = field(default_factory=operator)
    site: str = ""
    inventory_digest: str = ""
    lab: dict | None = None
    options: dict = field(default_factory=dict)
    targets: list[dict] = field(default_factory=list)
    systems: list[dict] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)
    playbooks: list[dict] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def event(self, what: str, *, host: str = "", at: dt.datetime | str | None = None, detail: str = "") -> None:
        at = at or utcnow()
        at = iso(parse_time(at) if isinstance(at, str) else at)  # one format, so the timeline sorts
        self.timeline.append({"at": at, "event": what, "host": host,
                              "detail": detail})

    def check(self, name: str, ok: bool, message: str = "", *, host: str = "") -> bool:
        """A verification the drill makes itself (not a playbook task); recorded as a step."""
        now = iso(utcnow())
        self.steps.append(StepRecord(name, "pass" if ok else "fail", host, now, now, 0.0, message, "dcops"))
        return ok

    def finding(self, severity: str, message: str, **extra) -> None:
        self.findings.append({"severity": severity, "message": message, **extra})

    def to_dict(self) -> dict:
        d = asdict(self)
        d["timeline"] = sorted(d["timeline"], key=lambda e: e["at"])
        return d


_env = Environment(loader=PackageLoader("dcops.drills", "templates"), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def _fmt_s(v: float | None) -> str:
    if v is None:
        return "—"
    v = float(v)
    if abs(v) >= 3600:
        return f"{v / 3600:.2f} h"
    if abs(v) >= 60:
        return f"{v / 60:.1f} min"
    return f"{v:.2f} s"


def _fmt_value(m: dict) -> str:
    if m["unit"] == "s":
        return _fmt_s(m["value"])
    if m["value"] is None:
        return "—"
    return f"{m['value']:.2f} {m['unit']}" if isinstance(m["value"], float) else f"{m['value']} {m['unit']}"


def _fmt_limit(m: dict) -> str:
    if m["limit"] is None:
        return "—"
    return _fmt_s(m["limit"]) if m["unit"] == "s" else f"{m['limit']} {m['unit']}"


_env.filters.update(seconds=_fmt_s, mvalue=_fmt_value, mlimit=_fmt_limit)


def render(record: dict, fmt: str) -> str:
    return _env.get_template(f"record.{fmt}.j2").render(r=record)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def save(record: DrillRecord, folder: Path) -> dict[str, Path]:
    """Write <id>.json, <id>.md and <id>.html into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    data = record.to_dict()
    paths = {ext: folder / f"{record.id}.{ext}" for ext in ("json", "md", "html")}
    md, html = render(data, "md"), render(data, "html")  # render first: a template error writes nothing
    _write(paths["json"], json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    _write(paths["md"], md)
    _write(paths["html"], html)
    return paths


def load(path: Path) -> dict:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: not a {SCHEMA} record")
    return data


def records(folder: Path) -> list[dict]:
    """Every drill record in `folder`, oldest first."""
    out = []
    for p in sorted(Path(folder).glob("*.json")):
        try:
            out.append(load(p))
        except (ValueError, json.JSONDecodeError):
            continue
    return sorted(out, key=lambda r: r["started_at"])
