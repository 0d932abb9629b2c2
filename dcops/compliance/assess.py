"""Assess every information system against the controls its security level requires."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from ..model import Inventory
from .evidence import COLLECTORS, Context, Evidence

HERE = Path(__file__).parent


def catalogue() -> dict:
    return yaml.safe_load((HERE / "controls.yaml").read_text(encoding="utf-8"))


def messages() -> dict:
    return yaml.safe_load((HERE / "messages.yaml").read_text(encoding="utf-8"))


def render_message(msgs: dict, ev: Evidence) -> str:
    args = dict(ev.args)
    if "reasons" in args:  # reason keys → the report's language
        args["reasons"] = "; ".join(msgs["reasons"].get(k, k) for k in args["reasons"])
    return msgs[ev.message].format(**args)


@dataclass(frozen=True)
class Finding:
    system: str
    control: str
    evidence: Evidence

    @property
    def ok(self) -> bool:
        return self.evidence.status == "pass"


@dataclass(frozen=True)
class BudgetCheck:
    year: int
    total: float
    security: float
    min_share: float
    #: the lines counted as security spend (item, amount): the budget's own `security: true`
    security_lines: tuple = ()
    #: the document the budget lines reproduce (budget.yaml `source`), or None
    source: str | None = None

    @property
    def share(self) -> float:
        return self.security / self.total if self.total else 0.0

    @property
    def ok(self) -> bool:
        return self.share >= self.min_share


@dataclass(frozen=True)
class Assessment:
    site: str
    as_of: dt.date
    systems: tuple  # InformationSystem, sorted by level desc then name
    controls: tuple[dict, ...]
    findings: tuple[Finding, ...]
    budgets: tuple[BudgetCheck, ...]

    @property
    def failed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.ok)

    def for_system(self, name: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.system == name)

    @property
    def ok(self) -> bool:
        return not self.failed and all(b.ok for b in self.budgets) and bool(self.budgets)

    def as_dict(self, lang: str = "vi") -> dict:
        msgs = messages()[lang]
        titles = {c["id"]: c["title"][lang] for c in self.controls}
        return {
            "site": self.site,
            "as_of": self.as_of.isoformat(),
            "lang": lang,
            "ok": self.ok,
            "summary": {"controls": len(self.findings), "passed": len(self.findings) - len(self.failed),
                        "findings": len(self.failed),
                        "systems": len(self.systems),
                        "systems_ok": sum(1 for s in self.systems if all(f.ok for f in self.for_system(s.name)))},
            "systems": [{
                "name": s.name, "display_name": s.display_name, "owner": s.owner, "security_level": s.security_level,
                "controls": [{
                    "id": f.control, "title": titles[f.control], "status": f.evidence.status,
                    "message": render_message(msgs, f.evidence),
                    "evidence": f.evidence.source, "detail": asdict(f.evidence),
                } for f in self.for_system(s.name)],
            } for s in self.systems],
            # Directive 14 also asks ≥ 10 % of every IT project (unless the owner already has the technical
            # system or a dedicated security service); the model has no project list, so it is unproven
            "directive14_projects": {"status": "missing", "message": msgs["budget_projects_missing"]},
            "directive14": [{"year": b.year, "total_million_vnd": b.total, "security_million_vnd": b.security,
                             "share": round(b.share, 4), "min_share": b.min_share, "ok": b.ok, "source": b.source,
                             "security_lines": [{"item": i, "million_vnd": a} for i, a in b.security_lines]}
                            for b in self.budgets],
        }


def assess(inv: Inventory, ctx: Context, catalog: dict | None = None) -> Assessment:
    catalog = catalog or catalogue()
    controls = tuple(catalog["controls"])
    findings = []
    systems = tuple(sorted(inv.systems, key=lambda s: (-s.security_level, s.name)))
    for system in systems:
        for control in controls:
            if system.security_level < control["min_level"]:
                continue
            if control["id"] == "dr-coverage" and not system.dr_required and system.security_level < 3:
                continue
            evidence = COLLECTORS[control["evidence"]](ctx, system, control)
            findings.append(Finding(system.name, control["id"], evidence))
    min_share = float(catalog["directive14"]["min_security_share"])
    budgets = tuple(BudgetCheck(b.year, sum(l.amount_million_vnd for l in b.lines),
                                sum(l.amount_million_vnd for l in b.lines if l.security), min_share,
                                tuple((l.item, l.amount_million_vnd) for l in b.lines if l.security), b.source)
                    for b in sorted(inv.budgets, key=lambda b: b.year))
    return Assessment(inv.site.name, ctx.as_of, systems, controls, tuple(findings), budgets)
