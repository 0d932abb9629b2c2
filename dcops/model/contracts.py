"""Contracts between data files that no schema sees: the alert rules (monitors/alerts.yaml) may only name
metrics and state words that the SNMP profiles (monitors/profiles/*.yaml) produce, and only devices and
profiles that exist. Renaming a state word in a profile then fails `dcops validate` at the rule's line,
instead of silently disabling an alert.

Files are read as data (line numbers kept), so the model checks them without importing the monitor.
"""
from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from .. import paths
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
                      states_file: Path | None = None, device_profiles: dict[str, str] | None = None,
                      shared: bool = False) -> list[Problem]:
    """Rules ↔ profiles ↔ vocabulary ↔ devices. With `device_profiles` (device -> SNMP profile, from the
    inventory), a rule's metric must come from a profile some device of the rule's kind uses when the site
    has devices of that kind (the kind of the profiles that feed it: ups, cooling …), and a single-condition state rule must be able to fire on every device whose
    profile produces its metric: a new model mapping its on-battery code to a valid but other word
    ("other") would otherwise silently drop that UPS from the on-battery alert. Rules with `any:` combine
    conditions across MIBs that report different things and are not held to the second check. `shared`: the
    site shares the rules with the production site it stands in for (a DR site's inventory), where a condition
    no device of this site feeds may well fire; only the second check applies."""
    if not alerts_file.is_file():
        return []
    states_file = states_file or paths.states_file(alerts_file.parent)
    words = {str(k): {str(w) for w in v} for k, v in ((_load(states_file) or {}).items()
                                                      if states_file.is_file() else ())}
    problems: list[Problem] = []
    vocabulary: dict[str, dict[str, set[str]]] = {}  # metric -> profile -> states
    docs: dict[str, tuple[Path, object]] = {}  # profile -> (file, document), for the line of a metric
    for f in sorted(profiles_dir.glob("*.yaml")):
        doc = _load(f) or {}
        problems += _profile_states(f, doc, words, states_file)
        docs[str(doc.get("name", f.stem))] = (f, doc)
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
            if device_profiles is not None:
                problems += _deployed(rule, c, producers, device_profiles, docs, single=not rule.get("any"),
                                      err=err, vocabulary=words.get(str(metric)), shared=shared)
            named = [*(c.get("state_in") or []), *(c.get("state_not_in") or [])]
            known = set().union(*producers.values()) if producers else set()
            known |= words.get(str(metric), set()) if named and not rule.get("profiles") else set()
            for w in named:
                if str(w) not in known:
                    err(c, "state_in" if "state_in" in c else "state_not_in",
                        f"'{w}' is not a state of {metric} in any profile that produces it "
                        f"({', '.join(sorted(known)) or 'it has no states'})")
    return problems


#: The `ansible:` section of a platform.yaml, as the roles read it from the inventory's dcops_platforms
#: (playbooks/roles/netdev_backup, drill_fw_restore): argv lists run on the device, or the vendor's API.
ANSIBLE_KEYS = {"show": "argv", "validate": "argv", "apply": "argv", "preamble": "text", "api": "flag",
                "config_path": "path"}


def check_platform_ansible(platforms_dir: Path) -> list[Problem]:
    """A platform's `ansible:` section may only hold what the roles read, each of the right type: a misspelt
    `shwo:` would otherwise leave the platform without backups until the playbook refuses it."""
    problems: list[Problem] = []
    for spec in sorted(Path(platforms_dir).glob("*/platform.yaml")):
        doc = _load(spec) or {}
        section = doc.get("ansible") if isinstance(doc, dict) else None
        if section is None:
            continue
        if not isinstance(section, dict):
            problems.append(Problem(Loc(str(spec), _line(doc, "ansible")),
                                    f"ansible: must be a mapping of {', '.join(sorted(ANSIBLE_KEYS))}"))
            continue
        if "apply" in section and "config_path" not in section:
            problems.append(Problem(Loc(str(spec), _line(section, "apply")),
                                    "ansible.apply: say where the device keeps its boot-time configuration "
                                    "(ansible.config_path): the restore drill writes the restored one there"))
        for key, value in section.items():
            kind = ANSIBLE_KEYS.get(str(key))
            ok = {"argv": lambda v: isinstance(v, list) and bool(v) and all(isinstance(a, str) for a in v),
                  "text": lambda v: isinstance(v, str), "flag": lambda v: isinstance(v, bool),
                  "path": lambda v: isinstance(v, str) and v.startswith("/"),
                  None: lambda v: False}[kind](value)
            if kind is None:
                msg = f"ansible.{key}: unknown key (known: {', '.join(sorted(ANSIBLE_KEYS))})"
            elif not ok:
                msg = f"ansible.{key}: must be " + {"argv": "a non-empty list of strings (an argv)",
                                                    "text": "a string", "flag": "true or false",
                                                    "path": "an absolute path on the device"}[kind]
            else:
                continue
            problems.append(Problem(Loc(str(spec), _line(section, key)), msg))
    return problems


def _deployed(rule, cond, producers: dict[str, set[str]], device_profiles: dict[str, str],
              docs: dict[str, tuple[Path, object]], *, single: bool, err,
              vocabulary: set[str] | None = None, shared: bool = False) -> list[Problem]:
    """The device half of the rule contract (see check_alert_rules)."""
    metric, name = cond.get("metric"), rule.get("name", "?")
    scope = set(rule.get("devices") or []) or set(device_profiles)
    used = {p for d, p in device_profiles.items() if d in scope}
    if set(producers) & {"(every device)", "textfile"}:
        return []

    def kind(profile: str):
        return (docs[profile][1] or {}).get("kind") if profile in docs else None

    # the rule's kind: that of the profiles feeding it. A site without a device of that kind (no Stulz, no
    # UPS) is no error; devices of that kind none of which can feed the rule are.
    kinds = {kind(p) for p in producers} - {None}
    if not shared and kinds & {kind(p) for p in used} and not set(producers) & used:
        err(cond, "metric", f"metric '{metric}' comes only from profiles no device uses "
                            f"({', '.join(sorted(producers))}): the rule never fires on the "
                            f"{'/'.join(sorted(kinds))} devices of the inventory")
        return []
    # a word no profile produces is already an error at the rule
    wanted = {str(w) for w in cond.get("state_in") or []} & set().union(*producers.values())
    if not single or not wanted:
        return []
    out = []
    # a profile with a word outside the vocabulary is already an error at that word (_profile_states)
    for profile in sorted(p for p in used if p in producers and not producers[p] & wanted
                          and (vocabulary is None or producers[p] <= vocabulary)):
        f, doc = docs[profile]
        node = next((m for m in doc.get("metrics") or [] if str(m.get("name")) == metric), None)
        devices = sorted(d for d, p in device_profiles.items() if p == profile and d in scope)
        out.append(Problem(Loc(str(f), _line(node, "states") or _line(node) if node is not None else 0),
                           f"{metric} never takes {', '.join(sorted(wanted))} in profile {profile}: rule "
                           f"'{name}' never fires on {', '.join(devices)} (map the vendor's code to that "
                           f"word, or name the profiles the rule covers in its profiles:)"))
    return out
