"""Evidence collectors: each reads what another part of dcops left behind (drill records, the DR plan,
the firewall policy, the monitoring configuration) or the inventory itself, never another package's code.

A collector returns an `Evidence` whose message is a key into messages.yaml, so the report speaks
Vietnamese or English from the same finding. No evidence is a finding, never a pass.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Literal

import yaml

from .. import paths
from ..model import Inventory, InformationSystem

Status = Literal["pass", "fail", "missing"]


@dataclass(frozen=True)
class Evidence:
    status: Status
    message: str  # key in messages.yaml
    args: dict = field(default_factory=dict)
    source: str | None = None  # the artefact that proves (or would prove) it


@dataclass
class Context:
    """What the collectors read. Paths that do not exist simply yield `missing` evidence."""

    inventory: Inventory
    as_of: dt.date
    drills_dir: Path
    dr_plan: Path
    policy_dir: Path
    monitors_dir: Path
    #: `ssh-keygen` allowed-signers file: who may sign drill records (principal = operator name)
    allowed_signers: Path | None = None
    #: the loader's source map (dcops.model.Validation.sources): declarations are cited at their file:line
    sources: Any = None
    _problems: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @cached_property
    def drill_records(self) -> list[dict]:
        records = []
        if self.drills_dir.is_dir():
            for path in sorted(self.drills_dir.rglob("*.json")):
                try:
                    rec = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if isinstance(rec, dict):
                    rec["_path"] = str(path)  # never the one a record may carry itself
                    records.append(rec)
        return records

    @cached_property
    def chain_breaks(self) -> set[str]:
        return chain_breaks(self.drill_records)

    @cached_property
    def dr_systems(self) -> set[str] | None:
        """Systems with instances in the DR stack plan (`dcops plan --stack dr --json`); None without one."""
        if not self.dr_plan.is_file():
            return None
        try:
            plan = json.loads(self.dr_plan.read_text(encoding="utf-8"))
        except ValueError:
            return None
        if not isinstance(plan, dict) or plan.get("stack") != "dr":
            return None
        return {r["inputs"]["metadata"]["system"] for r in plan.get("resources", [])
                if r.get("type") == "openstack:compute/instance:Instance"
                and isinstance((r.get("inputs") or {}).get("metadata"), dict) and "system" in r["inputs"]["metadata"]}

    @cached_property
    def policy(self) -> dict | None:
        """The firewall policy (network_configs/policy, aerleon YAML with zone headers), summarised:
        which zones its filters control and whether it closes with a bare default-deny filter."""
        files = sorted(self.policy_dir.glob("*.yaml")) if self.policy_dir.is_dir() else []
        filters: list[dict] = []
        for path in files:
            try:
                doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError):
                continue
            for f in (doc or {}).get("filters", []) if isinstance(doc, dict) else []:
                zones = ((f.get("header") or {}).get("zones") or {})
                named = set()
                for side in ("from", "to"):
                    value = zones.get(side, [])
                    named |= set([value] if isinstance(value, str) else value)
                terms = f.get("terms") or []
                filters.append({"file": str(path), "zones": named, "terms": terms})
        if not filters:
            return None
        last = filters[-1]
        bare_deny = bool(last["terms"]) and all(
            t.get("action") in ("deny", "reject") and not any(k in t for k in (
                "source-address", "destination-address", "protocol", "destination-port", "source-port"))
            for t in last["terms"])
        return {"filters": filters, "default_deny": bare_deny and last["zones"] <= {"any"},
                "zones": set().union(*(f["zones"] for f in filters)) - {"any"}, "file": last["file"]}

    @cached_property
    def monitoring(self) -> dict:
        profiles = {p.stem for p in paths.profiles(self.monitors_dir).glob("*.yaml")}
        rules_path = paths.alerts_file(self.monitors_dir)
        rules = []
        if rules_path.is_file():
            doc = yaml.safe_load(rules_path.read_text(encoding="utf-8")) or {}
            rules = [r.get("name") for r in doc.get("rules", []) if isinstance(r, dict)]
        return {"profiles": profiles, "rules": rules, "rules_file": str(rules_path)}


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return None
    return None


DRILL_SCHEMAS = ("dcops.drill-record/1", "dcops.drill-record/2")
SIG_NAMESPACE = "dcops-drill-record"
GENESIS = "0" * 64


def record_hash(rec: dict) -> str:
    """sha256 over the record as canonical JSON without integrity.hash/.signature (docs/drills.md).
    Reimplemented here on purpose: the verifier does not share the writer's code."""
    body = {k: v for k, v in rec.items() if k != "_path"}
    body["integrity"] = {k: v for k, v in (rec.get("integrity") or {}).items() if k not in ("hash", "signature")}
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(raw).hexdigest()


def verify_signature(path: Path, principal: str, allowed: Path) -> bool:
    sig = Path(f"{path}.sig")
    if not sig.is_file():
        return False
    with open(path, "rb") as fh:
        proc = subprocess.run(["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", principal,
                               "-n", SIG_NAMESPACE, "-s", str(sig)], stdin=fh, capture_output=True, timeout=30)
    return proc.returncode == 0


def chain_breaks(records: list[dict]) -> set[str]:
    """Paths of records whose link in their folder's hash chain does not hold: the predecessor they
    name is gone or was rewritten, or two records claim the same predecessor (history rewritten)."""
    bad: set[str] = set()
    folders: dict[str, list[dict]] = {}
    for r in records:
        if (r.get("integrity") or {}).get("hash"):
            folders.setdefault(str(Path(r["_path"]).parent), []).append(r)
    for recs in folders.values():
        hashes = {r["integrity"]["hash"] for r in recs}
        by_prev: dict[str, list[str]] = {}
        for r in recs:
            prev = r["integrity"].get("prev")
            by_prev.setdefault(prev, []).append(r["_path"])
            if prev != GENESIS and prev not in hashes:
                bad.add(r["_path"])
        for paths in by_prev.values():
            if len(paths) > 1:
                bad.update(paths)
        # the newest record removed (e.g. a failed drill, to let an older pass show): CHAIN_HEAD names a
        # hash no record has; nothing in the folder can then be trusted to be the latest word
        head = Path(recs[0]["_path"]).parent / "CHAIN_HEAD"
        if head.is_file():
            named = (head.read_text(encoding="utf-8").split() or [""])[0]
            if named and named not in hashes:
                bad.update(r["_path"] for r in recs)
    return bad


def record_problems(ctx: "Context", rec: dict) -> list[str]:
    """Why a drill record is no compliance evidence (reason keys in messages.yaml); [] = it is."""
    out = []
    if rec.get("mode") != "execute":
        out.append("not_executed")
    env = (rec.get("environment") or {}).get("kind")
    if env is None:
        out.append("no_environment")
    elif env != "production":
        out.append(f"env_{env}" if env in ("lab", "staging") else "env_other")
    op = (rec.get("operator") or {}).get("name")
    ap = (rec.get("approver") or {}).get("name")
    if not op:
        out.append("no_operator")
    if not ap:
        out.append("no_approver")
    elif op and ap.strip().lower() == op.strip().lower():
        out.append("self_approved")
    integ = rec.get("integrity") or {}
    if not integ.get("hash"):
        out.append("unchained")
    elif integ["hash"] != record_hash(rec):
        out.append("hash_mismatch")
    elif rec["_path"] in ctx.chain_breaks:
        out.append("chain_broken")
    if op:
        if ctx.allowed_signers is None or not Path(ctx.allowed_signers).is_file():
            out.append("no_signers")
        elif not Path(f"{rec['_path']}.sig").is_file():
            out.append("unsigned")
        elif not verify_signature(Path(rec["_path"]), op, Path(ctx.allowed_signers)):
            out.append("bad_signature")
    return out


@dataclass(frozen=True)
class DrillRun:
    when: dt.date
    verified: bool
    path: str
    vm: str | None
    problems: tuple[str, ...]


def _drill_evidence(ctx: "Context", evidence: str, system: str) -> list[DrillRun]:
    """Every drill run (newest first) whose systems[] names `system` with `evidence`, with the reasons
    it is no evidence (lab, staging, unsigned, unapproved, altered, …) — see docs/drills.md."""
    out = []
    for rec in ctx.drill_records:
        if rec.get("schema") not in DRILL_SCHEMAS:
            continue
        entries = [e for e in rec.get("systems") or []
                   if e.get("system") == system and e.get("evidence") == evidence]
        if not entries:
            continue
        if rec["_path"] not in ctx._problems:  # one signature check per record, not per system
            ctx._problems[rec["_path"]] = tuple(record_problems(ctx, rec))
        problems = ctx._problems[rec["_path"]]
        for entry in entries:
            when = _date(entry.get("at")) or _date(rec.get("finished_at"))
            if when is not None:
                verified = bool(entry.get("verified")) and rec.get("verdict") == "pass"
                out.append(DrillRun(when, verified, rec["_path"], entry.get("vm") or entry.get("target"), problems))
    return sorted(out, key=lambda r: (r.when, r.path), reverse=True)


def restore_drill(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    """Pass only on production records, named operator and approver, signed and chained, whose
    verified restores together cover every VM of the system that has a backup policy."""
    oldest = ctx.as_of - dt.timedelta(days=int(control.get("max_age_days", 365)))
    required = sorted(vm.name for vm in ctx.inventory.vms_of_system(system.name) if vm.backup_policy)
    if not required:
        return Evidence("fail", "no_backup_policy")
    runs = [r for r in _drill_evidence(ctx, "backup-restore", system.name) if r.when <= ctx.as_of]
    if not runs:
        return Evidence("missing", "no_restore_drill", {"dir": str(ctx.drills_dir)}, str(ctx.drills_dir))
    valid = [r for r in runs if not r.problems]
    recent = [r for r in valid if r.when >= oldest]
    if not valid:
        newest = runs[0]
        return Evidence("missing", "restore_drill_no_evidence",
                        {"date": newest.when.isoformat(), "reasons": newest.problems}, newest.path)
    if not recent:
        return Evidence("fail", "restore_drill_old", {"date": valid[0].when.isoformat()}, valid[0].path)
    latest: dict[str, DrillRun] = {}
    for r in recent:  # newest first: the latest valid run per VM decides
        latest.setdefault(r.vm or "", r)
    failed = [r for r in latest.values() if not r.verified]
    if failed:
        return Evidence("fail", "restore_drill_failed", {"date": failed[0].when.isoformat()}, failed[0].path)
    covered = {vm for vm, r in latest.items() if r.verified}
    missing = [vm for vm in required if vm not in covered]
    if missing:
        shown = ", ".join(missing[:6]) + (f" (+{len(missing) - 6})" if len(missing) > 6 else "")
        return Evidence("missing", "restore_drill_partial",
                        {"covered": len(required) - len(missing), "total": len(required), "vms": shown},
                        recent[0].path)
    return Evidence("pass", "restore_drill_ok", {"date": recent[0].when.isoformat()}, recent[0].path)


def dr_plan(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    covered = ctx.dr_systems
    if covered is None:
        return Evidence("missing", "no_dr_plan", {"path": str(ctx.dr_plan)}, str(ctx.dr_plan))
    if system.name in covered:
        return Evidence("pass", "dr_covered", {}, str(ctx.dr_plan))
    return Evidence("fail", "dr_not_covered", {}, str(ctx.dr_plan))


def firewall_policy(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    policy = ctx.policy
    if policy is None:
        return Evidence("missing", "no_policy", {"dir": str(ctx.policy_dir)}, str(ctx.policy_dir))
    if not policy["default_deny"]:
        return Evidence("fail", "policy_no_default_deny", {"filters": policy["file"]}, policy["file"])
    zones = sorted({vm.zone for vm in ctx.inventory.vms_of_system(system.name)})
    uncovered = [z for z in zones if z not in policy["zones"]]
    if uncovered:
        return Evidence("fail", "policy_zone_uncovered", {"zones": ", ".join(uncovered)}, policy["file"])
    # the policy in git is the intent; what the firewalls run is only evidenced by their running
    # configuration compared with it, which this report does not do yet
    return Evidence("missing", "policy_intent_only", {"filters": len(policy["filters"])}, policy["file"])


#: facility kinds every system in the room depends on: without power and cooling nothing runs
_ROOM_KINDS = ("ups", "cooling")


def system_devices(inv: Inventory, system: InformationSystem) -> list:
    """The infrastructure devices this system's service depends on: the room's power and cooling, the
    network devices with an interface in one of its zones, the core switches (they carry every zone),
    and for a public system the devices of the internet path (edge and DMZ zones: DDoS, link balancer,
    WAF, perimeter firewalls)."""
    zones = {vm.zone for vm in inv.vms_of_system(system.name)}
    if not zones:
        return []
    if system.public:
        zones |= {z.name for z in inv.zones if z.kind.value in ("edge", "dmz")}
    devices = [f for f in inv.facility if f.kind.value in _ROOM_KINDS]
    devices += [d for d in inv.network_devices
                if not d.interfaces or any(i.zone in zones for i in d.interfaces)]
    return devices


def monitoring(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    """Per system: every device its service depends on (system_devices) is polled with a known profile."""
    mon = ctx.monitoring
    needed = system_devices(ctx.inventory, system)
    polled = [d for d in needed if d.snmp is not None]
    gaps = [d.name for d in needed if d.snmp is None or d.snmp.profile not in mon["profiles"]]
    if not polled or not mon["rules"]:
        return Evidence("missing", "no_monitoring", {"path": mon["rules_file"]}, mon["rules_file"])
    if gaps:
        return Evidence("fail", "monitoring_gaps", {"devices": ", ".join(gaps)}, mon["rules_file"])
    # configuration files say what should be polled, not that anything is: no proof of operation here
    return Evidence("missing", "monitoring_configured_only", {"devices": len(polled), "rules": len(mon["rules"])},
                    mon["rules_file"])


# The owner's own word (inventory/organisation.yaml) is not evidence: a declared "in place" is
# reported as missing evidence, never a pass; a declared "not in place" or an out-of-date date is a
# finding all the same.

def declared_at(ctx: Context, system: InformationSystem, *path: str) -> str:
    """Where the owner declared it: file:line of the system's entry (or of the field itself) from the
    loader's source map; without one, the file that holds systems by convention."""
    if ctx.sources is None:
        return "inventory/organisation.yaml"
    return str(ctx.sources.at("systems", system.name, *path))


def layer(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    flag = getattr(system.protection, control["layer"])
    src = declared_at(ctx, system, "protection", control["layer"])
    if flag:
        return Evidence("missing", "layer_declared", {}, src)
    return Evidence("fail", "layer_off", {}, src)


def assessment(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    last = system.protection.last_independent_assessment
    src = declared_at(ctx, system, "protection", "last_independent_assessment")
    if last is None:
        return Evidence("missing", "no_assessment", {}, src)
    age = (ctx.as_of - last).days
    if 0 <= age <= int(control.get("max_age_days", 365)):
        return Evidence("missing", "assessment_declared", {"date": last.isoformat()}, src)
    return Evidence("fail", "assessment_old", {"date": last.isoformat(), "days": age}, src)


def incident_drill(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    """A drill record of this year (`dcops drill run incident-response`, systems[].evidence ==
    "incident-response") decides when there is one: only a production record with operator, approver,
    signature and chain passes; a lab rehearsal is named with its reasons. Without records the declared
    date is reported, never a pass."""
    runs = [r for r in _drill_evidence(ctx, "incident-response", system.name)
            if r.when <= ctx.as_of and r.when.year == ctx.as_of.year]
    if runs:
        valid = [r for r in runs if not r.problems]
        if not valid:
            return Evidence("missing", "incident_drill_no_evidence",
                            {"date": runs[0].when.isoformat(), "reasons": runs[0].problems}, runs[0].path)
        if not valid[0].verified:
            return Evidence("fail", "incident_drill_failed", {"date": valid[0].when.isoformat()}, valid[0].path)
        return Evidence("pass", "incident_drill_ok", {"date": valid[0].when.isoformat()}, valid[0].path)
    last = system.protection.last_incident_response_drill
    src = declared_at(ctx, system, "protection", "last_incident_response_drill")
    if last is None:
        return Evidence("missing", "no_incident_drill", {}, src)
    if last.year == ctx.as_of.year and last <= ctx.as_of:
        return Evidence("missing", "incident_drill_declared", {"date": last.isoformat()}, src)
    return Evidence("fail", "incident_drill_old", {"date": last.isoformat()}, src)


def dr_failover_drill(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    """A DR failover drill record (`dcops drill run dr-failover`, systems[].evidence == "dr-failover") within
    `max_age_days`: only a production record with operator, approver, signature and chain passes; a lab
    rehearsal (what the drill runs today) is named with its reasons; a failed switch fails. A system the DR
    stack does not declare cannot fail over: that is a finding of its own."""
    oldest = ctx.as_of - dt.timedelta(days=int(control.get("max_age_days", 365)))
    runs = [r for r in _drill_evidence(ctx, "dr-failover", system.name) if r.when <= ctx.as_of]
    if not runs:
        if ctx.dr_systems is not None and system.name not in ctx.dr_systems:
            return Evidence("fail", "dr_failover_not_in_dr", {}, str(ctx.dr_plan))
        return Evidence("missing", "no_dr_failover_drill", {"dir": str(ctx.drills_dir)}, str(ctx.drills_dir))
    valid = [r for r in runs if not r.problems]
    if not valid:
        return Evidence("missing", "dr_failover_no_evidence",
                        {"date": runs[0].when.isoformat(), "reasons": runs[0].problems}, runs[0].path)
    if valid[0].when < oldest:
        return Evidence("fail", "dr_failover_old", {"date": valid[0].when.isoformat()}, valid[0].path)
    if not valid[0].verified:
        return Evidence("fail", "dr_failover_failed", {"date": valid[0].when.isoformat()}, valid[0].path)
    return Evidence("pass", "dr_failover_ok", {"date": valid[0].when.isoformat()}, valid[0].path)


COLLECTORS: dict[str, Callable[[Context, InformationSystem, dict], Evidence]] = {
    "restore_drill": restore_drill,
    "dr_plan": dr_plan,
    "firewall_policy": firewall_policy,
    "monitoring": monitoring,
    "layer": layer,
    "assessment": assessment,
    "incident_drill": incident_drill,
    "dr_failover_drill": dr_failover_drill,
}
