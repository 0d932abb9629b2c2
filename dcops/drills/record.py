"""Drill records: one JSON document per run (stable schema), rendered as Markdown and HTML.

Schema `dcops.drill-record/2` is documented in docs/drills.md; the compliance module reads
`environment`, `operator`, `approver`, `integrity` and `systems[]` to decide whether a record is
evidence at all (a lab or staging run never is). Files are written to a temp name and renamed, so a
reader never sees half a record. Each record is chained to the previous one in its folder by hash
(`integrity.prev`) and signed with the operator's SSH key (`<id>.json.sig`, `ssh-keygen -Y sign`).
"""
from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import hashlib
import json
import os
import socket
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

SCHEMA = "dcops.drill-record/2"
SCHEMAS = ("dcops.drill-record/1", SCHEMA)
#: the namespace of every drill-record signature (`ssh-keygen -Y sign -n`)
SIG_NAMESPACE = "dcops-drill-record"
GENESIS = "0" * 64


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


def person(name: str | None, env: str) -> str | None:
    """A named person from the command line or the environment; never the login account."""
    name = (name or os.environ.get(env) or "").strip()
    return name or None


def operator(name: str | None = None, via: str = "dcops drill run") -> dict:
    """Who ran the drill. `name` (or $DCOPS_OPERATOR) is the person; `account` is only the login the
    process ran under, kept for the audit trail but never taken for the person."""
    return {"name": person(name, "DCOPS_OPERATOR"), "account": f"{getpass.getuser()}@{socket.gethostname()}",
            "via": via}


def approver(name: str | None = None, ref: str | None = None) -> dict | None:
    """Who authorised the drill (--approver / $DCOPS_APPROVER) and the authorisation's reference."""
    who = person(name, "DCOPS_APPROVER")
    if not who:
        return None
    return {"name": who, "ref": (ref or os.environ.get("DCOPS_APPROVAL_REF") or "").strip() or None}


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
    #: where the figure was measured: production | lab | staging | model (computed from the inventory
    #: or a declared figure, valid everywhere). Only a production figure is compared with a production
    #: limit; the others keep `met` null and say so in `comparison`.
    measured_in: str = ""
    scale: str = ""  # e.g. "4 MB of 100 GB (1:25000)"
    comparison: str = ""


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
    approver: dict | None = None
    #: where the drill ran: {kind: production|lab|staging, reason, scale}; compliance reads `kind`
    environment: dict = field(default_factory=lambda: {"kind": "production", "reason": "", "scale": ""})
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
    #: what is true after the drill, whatever happened: data location, line state, pending reverts
    end_state: list[dict] = field(default_factory=list)
    #: files kept with the record (probe logs, ...): {name, path, sha256, bytes}
    artefacts: list[dict] = field(default_factory=list)
    integrity: dict = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.environment.get("kind") == "production"

    def state(self, what: str, value: str, *, host: str = "", ok: bool = True, detail: str = "", **extra) -> None:
        """The end state of one thing the drill touched (ok=False: someone must act)."""
        self.end_state.append({"what": what, "host": host, "state": value, "ok": ok, "detail": detail, **extra})

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


def canonical_hash(data: dict) -> str:
    """sha256 over the record as canonical JSON, without `integrity.hash` and `integrity.signature`
    (docs/drills.md spells this out so a verifier can reimplement it)."""
    body = dict(data)
    body["integrity"] = {k: v for k, v in (data.get("integrity") or {}).items() if k not in ("hash", "signature")}
    body.pop("_path", None)
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()


def sign_file(path: Path, key: Path) -> Path:
    """`ssh-keygen -Y sign` with the operator's key; returns <path>.sig."""
    sig = Path(f"{path}.sig")
    sig.unlink(missing_ok=True)
    proc = subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-f", str(key), "-n", SIG_NAMESPACE, str(path)],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0 or not sig.exists():
        raise RuntimeError(f"cannot sign {path} with {key}: {proc.stderr.strip()}")
    return sig


def key_fingerprint(key: Path) -> str:
    pub = Path(f"{key}.pub") if Path(f"{key}.pub").exists() else key
    out = subprocess.run(["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, text=True, timeout=30)
    return out.stdout.split()[1] if out.returncode == 0 and out.stdout else ""


def save(record: DrillRecord, folder: Path, sign_key: Path | None = None) -> dict[str, Path]:
    """Write <id>.json (chained to the folder's previous record), .md, .html and, with a key, the
    signature <id>.json.sig into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {ext: folder / f"{record.id}.{ext}" for ext in ("json", "md", "html")}
    # one writer at a time per folder: the chain head is read and advanced under the lock
    with open(folder / ".chain.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        head = folder / "CHAIN_HEAD"
        prev = head.read_text().split()[0] if head.exists() and head.read_text().strip() else GENESIS
        record.integrity = {"algorithm": "sha256/canonical-json", "prev": prev,
                            "signed_by": key_fingerprint(sign_key) if sign_key else None}
        data = record.to_dict()
        data["integrity"]["hash"] = canonical_hash(data)
        record.integrity = dict(data["integrity"])
        md, html = render(data, "md"), render(data, "html")  # render first: a template error writes nothing
        _write(paths["json"], json.dumps(data, ensure_ascii=False, indent=1) + "\n")
        if sign_key:
            paths["sig"] = sign_file(paths["json"], Path(sign_key))
        _write(paths["md"], md)
        _write(paths["html"], html)
        _write(head, f"{data['integrity']['hash']} {record.id}\n")
    return paths


def load(path: Path) -> dict:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("schema") not in SCHEMAS:
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
