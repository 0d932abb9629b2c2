"""Contracts between data files that no schema sees: the alert rules (monitors/alerts.yaml) may only name
metrics and state words that the SNMP profiles (monitors/profiles/*.yaml) produce, and only devices and
profiles that exist. Renaming a state word in a profile then fails `dcops validate` at the rule's line,
instead of silently disabling an alert.

Files are read as data (line numbers kept), so the model checks them without importing the monitor.
"""
from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from .errors import Loc, Problem

#: Series the poller adds for every device, whatever its profile (dcops/monitor/poller.py): reachability, data
#: quality, and the facility roles (fire panel, SPD, door, leak) the inventory maps onto contact inputs.
SYNTHETIC = {"device_up": (), "snmp_implausible_values": (), "snmp_profile_readings": (),
             "device_state": ("ok", "implausible", "profile_matched_nothing", "unreachable", "malformed", "rejected",
                              "deadline", "error", "never_polled"),
             "facility_alarm": ("normal", "alarm", "missing")}

#: what the monitor's textfile collector reads (profile "textfile"): `dcops backup metrics --textfile` families
#: without their dcops_ prefix (tests/monitor ties this list to dcops.backup.metrics.FAMILIES)
TEXTFILE = {f"backup_{m}": () for m in (
    "last_success_timestamp_seconds", "last_success_bytes", "last_success_files", "rpo_seconds", "never_succeeded",
    "last_job_ok", "failed_jobs_24h", "last_dr_copy_timestamp_seconds", "schedule_last_due_timestamp_seconds",
    "schedule_missed", "volume_bytes", "volume_capacity_bytes",
    "library_used_bytes", "library_capacity_bytes", "library_volumes")}


def _load(path: Path):
    return YAML(typ="rt").load(path.read_text(encoding="utf-8"))


def _line(node, key=None) -> int:
    try:
        if key is None:
            return node.lc.line + 1
        return node.lc.key(key)[0] + 1
    except (AttributeError, KeyError, TypeError):
        return 0


def produced_metrics(profile: dict) -> dict[str, tuple[str, ...]]:
    """metric -> state words, as the poller produces them from one profile: every declared metric, and for a
    counter `X_total` its rate `X_per_second`; byte counters of interfaces also give
    `if_{in,out}_utilisation_ratio` (tests/monitor ties this to what the poller really emits)."""
    out: dict[str, tuple[str, ...]] = {}
    for m in profile.get("metrics") or []:
        name = str(m.get("name"))
        out[name] = tuple(str(s) for s in (m.get("states") or {}).values())
        if m.get("type") == "counter":
            base = name[:-len("_total")] if name.endswith("_total") else name
            out[base + "_per_second"] = ()
            if m.get("unit") == "bytes":
                out[f"if_{'in' if '_in_' in name else 'out'}_utilisation_ratio"] = ()
    return out


def _profile_states(path: Path, doc, words: dict[str, set[str]], states_file: Path) -> list[Problem]:
    """Every state word of an enum metric in a profile must be in the shared vocabulary."""
    problems = []
    for m in doc.get("metrics") or []:
        states = m.get("states") or {}
        if not states:
            continue
        name = str(m.get("name"))
        allowed = words.get(name)
        for code, word in states.items():
            if allowed is None:
                problems.append(Problem(Loc(str(path), _line(m, "states") or _line(m)),
                                        f"enum metric '{name}' has no state vocabulary in {states_file.name}"))
                break
            if str(word) not in allowed:
                problems.append(Problem(Loc(str(path), _line(states, code) or _line(m)),
                                        f"state '{word}' of {name} is not in {states_file.name} "
                                        f"({', '.join(sorted(allowed))})"))
    return problems


def check_alert_rules(alerts_file: Path, profiles_dir: Path, device_names: set[str],
                      states_file: Path | None = None) -> list[Problem]:
    if not alerts_file.is_file():
        return []
    states_file = states_file or alerts_file.with_name("states.yaml")
    words = {str(k): {str(w) for w in v} for k, v in ((_load(states_file) or {}).items()
                                                      if states_file.is_file() else ())}
    problems: list[Problem] = []
    vocabulary: dict[str, dict[str, set[str]]] = {}  # metric -> profile -> states
    for f in sorted(profiles_dir.glob("*.yaml")):
        doc = _load(f) or {}
        problems += _profile_states(f, doc, words, states_file)
        for metric, states in produced_metrics(doc).items():
            vocabulary.setdefault(metric, {})[str(doc.get("name", f.stem))] = set(states)
    for metric, states in SYNTHETIC.items():
        vocabulary.setdefault(metric, {})["(every device)"] = set(states)
    for metric, states in TEXTFILE.items():
        vocabulary.setdefault(metric, {})["textfile"] = set(states)
    profiles = {p for per in vocabulary.values() for p in per}
    doc = _load(alerts_file) or {}
    for rule in doc.get("rules") or []:
        name = rule.get("name", "?")

        def err(node, key, msg):
            problems.append(Problem(Loc(str(alerts_file), _line(node, key) or _line(node)), f"rule '{name}': {msg}"))

        for p in rule.get("profiles") or []:
            if p not in profiles:
                err(rule, "profiles", f"unknown profile '{p}'")
        for d in [*(rule.get("devices") or []), *(rule.get("overrides") or {})]:
            if device_names and d not in device_names:
                err(rule, "devices" if d in (rule.get("devices") or []) else "overrides",
                    f"unknown device '{d}' (not in the inventory)")
        conds = rule.get("any") or ([rule] if rule.get("metric") else [])
        for c in conds:
            metric = c.get("metric")
            producers = vocabulary.get(metric)
            if not producers:
                err(c, "metric", f"no profile produces metric '{metric}'")
                continue
            if rule.get("profiles"):
                producers = {p: s for p, s in producers.items() if p in rule["profiles"]}
            named = [*(c.get("state_in") or []), *(c.get("state_not_in") or [])]
            known = set().union(*producers.values()) if producers else set()
            known |= words.get(str(metric), set()) if named and not rule.get("profiles") else set()
            for w in named:
                if str(w) not in known:
                    err(c, "state_in" if "state_in" in c else "state_not_in",
                        f"'{w}' is not a state of {metric} in any profile that produces it "
                        f"({', '.join(sorted(known)) or 'it has no states'})")
    return problems
