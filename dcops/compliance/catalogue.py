"""The TCVN 11930:2017 / Decree 85/2016 catalogue (tcvn11930.yaml) evaluated per information system.

Controls that a dcops collector can evidence reuse evidence.py's collectors; the owner's declaration and
controls with no collector are "missing" with the evidence type the inspector needs — never a pass.
Firewall evidence is the running configuration (a backup left by `dcops net backup`) compared with the
intended configuration (the rendered golden files), read as files: this package imports no sibling.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from .. import paths
from ..model import InformationSystem, Inventory
from .assess import messages, render_message
from .evidence import COLLECTORS, Context, Evidence, firewall_policy

HERE = Path(__file__).parent
CATALOGUE = HERE / "tcvn11930.yaml"
STATUSES = ("pass", "fail", "missing")
GROUPS = ("decree85", "management", "technical")


class CatalogueError(ValueError):
    pass


@dataclass
class CatalogueContext(Context):
    """evidence.Context plus where the network code keeps running-config backups and the intent."""

    backups_dir: Path = Path("backups")
    golden_dir: Path = paths.GOLDEN


def _normalised(text: str) -> list[str]:
    # trailing blanks and empty lines are formatting, not configuration
    return [ln.rstrip() for ln in text.splitlines() if ln.strip()]


def _backup_date(path: Path) -> dt.date | None:
    try:  # dcops.net.backup names files <UTC %Y%m%dT%H%M%S.%fZ>.<ext>
        return dt.datetime.strptime(path.name.split(".")[0], "%Y%m%dT%H%M%S").date()
    except ValueError:
        return None


def firewall_running(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    """The intent must be right (evidence.firewall_policy) and every managed firewall's newest backup,
    taken within max_age_days, must equal its intended configuration."""
    intent = firewall_policy(ctx, system, control)
    if intent.status == "fail" or intent.message != "policy_intent_only":
        return intent
    backups = Path(getattr(ctx, "backups_dir", Path("backups")))
    golden = Path(getattr(ctx, "golden_dir", paths.GOLDEN))
    firewalls = sorted(d.name for d in ctx.inventory.network_devices if d.kind.value == "firewall" and d.platform)
    if not firewalls:
        return Evidence("missing", "no_firewalls")
    oldest = ctx.as_of - dt.timedelta(days=int(control.get("max_age_days", 30)))
    no_backup, no_intent, foreign, old, drift, dates = [], [], [], [], [], []
    for name in firewalls:
        folder = backups / name
        taken = sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                        and (_backup_date(p) or dt.date.max) <= ctx.as_of) if folder.is_dir() else [])
        if not taken:
            no_backup.append(name)
            continue
        newest = taken[-1]
        intended = {p.suffix: p for p in sorted(golden.glob(f"{name}.*"))} if golden.is_dir() else {}
        if not intended:
            no_intent.append(name)
        elif newest.suffix not in intended:
            foreign.append((name, newest))
        elif (_backup_date(newest) or dt.date.min) < oldest:
            old.append((name, newest))
        elif _normalised(newest.read_text(encoding="utf-8", errors="replace")) != \
                _normalised(intended[newest.suffix].read_text(encoding="utf-8")):
            drift.append((name, newest))
        else:
            dates.append(_backup_date(newest))
    if drift:
        return Evidence("fail", "firewall_drift", {"devices": ", ".join(n for n, _ in drift),
                                                   "backup": str(drift[0][1])}, str(drift[0][1]))
    if no_backup:
        return Evidence("missing", "firewall_no_backup", {"devices": ", ".join(no_backup), "dir": str(backups)},
                        str(backups))
    if no_intent:
        return Evidence("missing", "firewall_no_intent", {"devices": ", ".join(no_intent), "dir": str(golden)},
                        str(golden))
    if foreign:
        return Evidence("missing", "firewall_foreign", {"devices": ", ".join(n for n, _ in foreign),
                                                        "backup": str(foreign[0][1])}, str(foreign[0][1]))
    if old:
        return Evidence("missing", "firewall_old", {"devices": ", ".join(n for n, _ in old),
                                                    "date": str(_backup_date(old[0][1]))}, str(old[0][1]))
    return Evidence("pass", "firewall_match", {"count": len(dates), "date": str(max(dates))}, str(backups))


#: collector names the catalogue may reference: evidence.py's plus the running-config comparison
CATALOGUE_COLLECTORS: dict[str, Callable[[Context, InformationSystem, dict], Evidence]] = {
    **COLLECTORS, "firewall_running": firewall_running}


def load(path: Path = CATALOGUE) -> dict:
    """The catalogue, validated; CatalogueError names the file and the entry."""
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    errors = validate(doc)
    if errors:
        raise CatalogueError(f"{path}: " + "; ".join(errors))
    return doc


def validate(doc: dict) -> list[str]:
    errors: list[str] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("controls"), list):
        return ["no controls list"]
    types = doc.get("evidence_types") or {}
    seen: set[str] = set()
    for i, c in enumerate(doc["controls"]):
        where = f"controls[{i}] {c.get('id', '?')}"
        if not c.get("id") or c["id"] in seen:
            errors.append(f"{where}: missing or duplicate id")
        seen.add(c.get("id"))
        level = c.get("min_level")
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 5:
            errors.append(f"{where}: min_level must be 1..5")
        if c.get("group") not in GROUPS:
            errors.append(f"{where}: group must be one of {', '.join(GROUPS)}")
        if not (c.get("clause") or c.get("ref")):
            errors.append(f"{where}: needs a clause or a ref")
        if not isinstance(c.get("clause_confirmed"), bool):
            errors.append(f"{where}: clause_confirmed must be true or false")
        if c.get("evidence_type") not in types:
            errors.append(f"{where}: unknown evidence_type {c.get('evidence_type')!r}")
        if c.get("collector") is not None and c["collector"] not in CATALOGUE_COLLECTORS:
            errors.append(f"{where}: unknown collector {c['collector']!r}")
        if c.get("collector") == "layer" and not c.get("layer"):
            errors.append(f"{where}: the layer collector needs `layer`")
        for key in ("title", "topic"):
            text = c.get(key)
            # exactly vi and en: an unquoted comma in a YAML flow mapping silently splits a title
            if (key == "title" or text is not None) and (not isinstance(text, dict) or set(text) != {"vi", "en"}
                                                          or not all(isinstance(v, str) and v for v in text.values())):
                errors.append(f"{where}: {key} needs exactly vi and en texts (quote values with commas)")
    return errors


def clause_at(control: dict, level: int, offset: int = 4) -> str:
    """The control's TCVN heading in the chapter of `level` (chapter = level + 4), or its decree ref."""
    clause = control.get("clause")
    if not clause:
        return control["ref"]
    rest = clause.split(".", 1)[1]
    return f"TCVN 11930:2017 {level + offset}.{rest}"


def evaluate_control(ctx: Context, system: InformationSystem, control: dict) -> Evidence:
    name = control.get("collector")
    if name is None:
        return Evidence("missing", "no_collector", {"evidence_type": control["evidence_type"]})
    ev = CATALOGUE_COLLECTORS[name](ctx, system, control)
    if control.get("self_declared") and ev.status == "pass":
        # the owner's word never passes, whatever a collector concludes from it
        return Evidence("missing", "self_declared", {"evidence_type": control["evidence_type"]}, ev.source)
    return ev


@dataclass(frozen=True)
class SystemView:
    system: InformationSystem
    results: tuple  # (control dict, Evidence), in catalogue order

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        for _, ev in self.results:
            out[ev.status] += 1
        return out


@dataclass
class CatalogueView:
    site: str
    as_of: dt.date
    doc: dict
    systems: list[SystemView] = field(default_factory=list)
    _words: dict = field(default_factory=dict, repr=False)

    def words(self, lang: str) -> dict:
        if lang not in self._words:  # messages.yaml once per language, not once per finding
            self._words[lang] = messages()[lang]
        return self._words[lang]

    def message(self, ev: Evidence, lang: str) -> str:
        own = self.doc["messages"][lang]
        if ev.message in own and ev.message not in ("title", "summary"):
            needed = self.doc["evidence_types"].get(ev.args.get("evidence_type"), {}).get(lang, "")
            return own[ev.message].format(**ev.args, needed=needed)
        return render_message(self.words(lang), ev)

    def as_dict(self, lang: str = "vi") -> dict:
        words = self.words(lang)
        types = self.doc["evidence_types"]
        offset = int(self.doc["standard"].get("chapter_offset", 4))
        systems = []
        for sv in self.systems:
            counts = sv.counts()
            systems.append({
                "name": sv.system.name, "display_name": sv.system.display_name,
                "security_level": sv.system.security_level, "applicable": len(sv.results), "counts": counts,
                "controls": [{
                    "id": c["id"], "group": c["group"], "min_level": c["min_level"],
                    "clause": clause_at(c, sv.system.security_level, offset),
                    "clause_confirmed": c["clause_confirmed"] and (not c.get("clause") or sv.system.security_level == 1),
                    "title": c["title"][lang], "status": ev.status, "status_text": words[ev.status],
                    "evidence_type": c["evidence_type"], "evidence_needed": types[c["evidence_type"]][lang],
                    "collector": c.get("collector"), "self_declared": bool(c.get("self_declared")),
                    "message": self.message(ev, lang), "source": ev.source,
                } for c, ev in sv.results],
            })
        total = {s: sum(x["counts"][s] for x in systems) for s in STATUSES}
        return {"standard": self.doc["standard"]["id"], "site": self.site, "as_of": self.as_of.isoformat(),
                "lang": lang, "controls_in_catalogue": len(self.doc["controls"]),
                "summary": {"systems": len(systems), "checks": sum(total.values()), **total},
                "systems": systems}


def evaluate(inv: Inventory, ctx: Context, doc: dict | None = None, only: str | None = None) -> CatalogueView:
    """Every system (or `only`), highest level first, against the controls with min_level ≤ its level."""
    doc = doc or load()
    view = CatalogueView(inv.site.name, ctx.as_of, doc)
    for system in sorted(inv.systems, key=lambda s: (-s.security_level, s.name)):
        if only is not None and system.name != only:
            continue
        applicable = [c for c in doc["controls"] if c["min_level"] <= system.security_level]
        view.systems.append(SystemView(system, tuple((c, evaluate_control(ctx, system, c)) for c in applicable)))
    return view
