"""Evidence collectors: each reads what another part of dcops left behind (drill records, the DR plan,
the firewall policy, the monitoring configuration) or the inventory itself, never another package's code.

A collector returns an `Evidence` whose message is a key into messages.yaml, so the report speaks
Vietnamese or English from the same finding. No evidence is a finding, never a pass.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Literal

import yaml

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
                    rec.setdefault("_path", str(path))
                    records.append(rec)
        return records

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
        profiles = {p.stem for p in (self.monitors_dir / "profiles").glob("*.yaml")}
        rules_path = self.monitors_dir / "alerts.yaml"
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


DRILL_SCHEMA = "dcops.drill-record/1"


def _drill_evidence(ctx: "Context", evidence: str, system: str) -> list[tuple[dt.date, bool, str]]:
    """(date, verified, record path) for each executed drill run that covered `system` with `evidence`
    (see docs/drills.md: records with mode execute; systems[] entries carry evidence and verified)."""
    out = []
    for rec in ctx.drill_records:
        if rec.get("schema") != DRILL_SCHEMA or rec.get("mode") != "execute":
            continue
        for entry in rec.get("systems") or []:
            if entry.get("system") == system and entry.get("evidence") == evidence:
                when = _date(entry.get("at")) or _date(rec.get("finished_at"))
                if when is not None:
                    verified = bool(entry.get("verified")) and rec.get("verdict") == "pass"
                    out.append((when, verified, rec["_path"]))
    return sorted(out, reverse=True)


# ------------------------------------------------------------------ collectors

def restore_drill(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    oldest = ctx.as_of - dt.timedelta(days=int(control.get("max_age_days", 365)))
    if not any(vm.backup_policy for vm in ctx.inventory.vms_of_system(system.name)):
        return Evidence("fail", "no_backup_policy")
    runs = [r for r in _drill_evidence(ctx, "backup-restore", system.name) if r[0] <= ctx.as_of]
    if not runs:
        return Evidence("missing", "no_restore_drill", {"dir": str(ctx.drills_dir)}, str(ctx.drills_dir))
    recent = [r for r in runs if r[0] >= oldest]
    for when, verified, path in recent:
        if verified:
            return Evidence("pass", "restore_drill_ok", {"date": when.isoformat()}, path)
    if recent:
        when, _, path = recent[0]
        return Evidence("fail", "restore_drill_failed", {"date": when.isoformat()}, path)
    when, _, path = runs[0]
    return Evidence("fail", "restore_drill_old", {"date": when.isoformat()}, path)


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
    return Evidence("pass", "policy_ok", {"filters": len(policy["filters"])}, policy["file"])


def monitoring(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    mon = ctx.monitoring
    polled = [f for f in ctx.inventory.facility if f.snmp is not None]
    unprofiled = [f.name for f in polled if f.snmp.profile not in mon["profiles"]]
    if not polled or not mon["rules"]:
        return Evidence("missing", "no_monitoring", {"path": mon["rules_file"]}, mon["rules_file"])
    if unprofiled:
        return Evidence("fail", "monitoring_gaps", {"devices": ", ".join(unprofiled)}, mon["rules_file"])
    return Evidence("pass", "monitoring_ok", {"devices": len(polled), "rules": len(mon["rules"])}, mon["rules_file"])


def layer(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    flag = getattr(system.protection, control["layer"])
    return Evidence("pass" if flag else "fail", f"layer_{'on' if flag else 'off'}", {}, "inventory/organisation.yaml")


def assessment(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    last = system.protection.last_independent_assessment
    if last is None:
        return Evidence("missing", "no_assessment", {}, "inventory/organisation.yaml")
    age = (ctx.as_of - last).days
    if 0 <= age <= int(control.get("max_age_days", 365)):
        return Evidence("pass", "assessment_ok", {"date": last.isoformat()}, "inventory/organisation.yaml")
    return Evidence("fail", "assessment_old", {"date": last.isoformat(), "days": age}, "inventory/organisation.yaml")


def incident_drill(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    last = system.protection.last_incident_response_drill
    src = "inventory/organisation.yaml"
    if last is None:
        return Evidence("missing", "no_incident_drill", {}, src)
    if last.year == ctx.as_of.year and last <= ctx.as_of:
        return Evidence("pass", "incident_drill_ok", {"date": last.isoformat()}, src)
    return Evidence("fail", "incident_drill_old", {"date": last.isoformat()}, src)


COLLECTORS: dict[str, Callable[[Context, InformationSystem, dict], Evidence]] = {
    "restore_drill": restore_drill,
    "dr_plan": dr_plan,
    "firewall_policy": firewall_policy,
    "monitoring": monitoring,
    "layer": layer,
    "assessment": assessment,
    "incident_drill": incident_drill,
}
