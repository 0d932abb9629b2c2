"""Prometheus exposition of the latest poll (conventional names, base units, `dcops_` prefix).

Enum metrics are exported as OpenMetrics-style state sets (one series per state, 1 for the
current one), counters as `_total` counters (Prometheus computes the rates), derived rates and
utilisation as gauges. A site that outgrows one machine scrapes this with Prometheus or
VictoriaMetrics and keeps the alerting in Alertmanager (docs/monitoring.md).
"""
from __future__ import annotations

import time

from .poller import STATES, state_of
from .profiles import load_profiles
from .snmp.transport import DISCARDED
from .traps import TRAP_STATS

PREFIX = "dcops_"


def _esc(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(d: dict) -> str:
    if not d:
        return ""
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in d.items()) + "}"


def _fmt(v: float) -> str:
    if v != v:
        return "NaN"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def render(store, active_alerts: list[dict] | None = None) -> str:
    meta: dict[str, tuple[str, str, list]] = {}
    for prof in load_profiles().values():
        for m in prof.metrics:
            typ, help_, words = meta.setdefault(m.name, (m.type, m.help or m.name.replace("_", " "), []))
            # an enum's series: every state word any profile maps it to, once each — two profiles share a metric
            # with different codes (apc-ups maps several codes to "other"; UPS-MIB has "none"), and a repeated
            # series is a duplicate sample Prometheus drops, a missing one a state that reads all 0
            words += [w for w in dict.fromkeys(w for _code, w in sorted((m.states or {}).items())) if w not in words]
    families: dict[str, list[str]] = {}
    types: dict[str, tuple[str, str]] = {}

    def add(name: str, typ: str, help_: str, labels: dict, value: float) -> None:
        full = PREFIX + name
        types.setdefault(full, (typ, help_))
        families.setdefault(full, []).append(f"{full}{_labels(labels)} {_fmt(value)}")

    now = time.time()
    for d in store.devices():
        lab = {"device": d["name"], "profile": d["profile"] or "", "kind": d["kind"] or ""}
        if d["reachable"] is not None:  # a device never polled yet is neither up nor down
            add("device_up", "gauge", "1 when the device answered its last SNMP poll", lab,
                1 if d["reachable"] else 0)
        current = state_of(d["reachable"], d["error"], d.get("state"))
        for st in STATES:  # ok, implausible, unreachable, malformed (garbage), rejected (forged), never_polled, ...
            add("device_state", "stateset", "State of the device's last SNMP poll", {"device": d["name"],
                "device_state": st}, 1 if st == current else 0)
        if d["last_poll"]:
            add("device_last_poll_timestamp_seconds", "gauge", "Time of the last poll", {"device": d["name"]},
                d["last_poll"])
        info = d["info"] or {}
        if info:
            add("device_info", "gauge", "Device identity (sysDescr, sysName, model)",
                {"device": d["name"], **{k: v[:200] for k, v in sorted(info.items())}}, 1)
    for row in store.latest(current=True):
        name, labels = row["metric"], {"device": row["device"], **row["labels"]}
        typ, help_, words = meta.get(name, ("gauge", name.replace("_", " "), []))
        if typ == "enum":
            for st in words:
                add(name, "stateset", help_, {**labels, name: st}, 1 if row["state"] == st else 0)
            continue
        if typ == "counter":
            add(name, "counter", help_, labels, row["value"])
            continue
        add(name, "gauge", help_, labels, row["value"])
    for a in active_alerts or []:
        add("alert_firing", "gauge", "Alerts firing in the dcops engine",
            {"rule": a["rule"], "device": a["device"], "severity": a["severity"]}, 1)
    for reason, n in sorted({**dict.fromkeys(("malformed", "rejected", "unmatched", "wrong_source"), 0),
                             **DISCARDED}.items()):
        add("snmp_discarded_answers_total", "counter", "SNMP answers thrown away (malformed, rejected by a "
            "security check, from another address, or matching no request)", {"reason": reason}, n)
    for outcome, n in sorted(TRAP_STATS.items()):
        add("trap_datagrams_total", "counter", "Notification datagrams by outcome (received, dropped_rate, "
            "dropped_malformed, dropped_device_rate, errors)", {"outcome": outcome}, n)
    add("exporter_render_timestamp_seconds", "gauge", "When this page was rendered", {}, now)
    out = []
    for full, lines in families.items():
        typ, help_ = types[full]
        # Prometheus text format has no stateset type: those are gauges, one series per state.
        out.append(f"# HELP {full} {_esc(help_)}")
        out.append(f"# TYPE {full} {'gauge' if typ == 'stateset' else typ}")
        out.extend(lines)
    return "\n".join(out) + "\n"
