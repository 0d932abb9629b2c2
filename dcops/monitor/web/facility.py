"""Two things the NOC must read at a glance, kept apart from the device tables: the facility alarms (fire
panel, surge protector, doors, water leak — dry contacts the inventory maps to roles) and the data quality
of each device's answers (malformed, rejected, implausible values, profile matched nothing, never polled).

A facility input whose sensor gave no usable answer in its last poll is shown as "unknown", never with its
last reading: a fire panel behind an unreachable NetBotz is not "normal".
"""
from __future__ import annotations

import functools
import json

from ..poller import FAILED_STATES, state_of

#: Poll states that are failures of their own on the NOC page (colour of "unreachable", their own words).
FAILED = FAILED_STATES
#: Answered, but the data is not all it should be: a badge next to the status.
DEGRADED = ("implausible", "profile_matched_nothing")

_ORDER = {"alarm": 0, "unknown": 1, "missing": 2, "normal": 3}
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def device_state(d: dict) -> str:
    """ok | implausible | profile_matched_nothing | unreachable | malformed | ... | never_polled (poller.STATES)."""
    return state_of(d["reachable"], d["error"], d.get("state"))


@functools.lru_cache(maxsize=1)
def _role_severity() -> dict[str, str]:
    """role -> severity of the rule that alerts on it (monitors/alerts.yaml), "missing" -> the missing-input rule."""
    from ..alerts import load_rules
    out: dict[str, str] = {}
    try:
        rules = load_rules()
    except Exception:  # noqa: BLE001 - the page still shows the alarms, only without the rule's colour
        return out
    for r in rules.rules:
        if r.metric != "facility_alarm":
            continue
        if "role" in r.labels:
            out.setdefault(r.labels["role"], r.severity)
        elif "missing" in r.state_in:
            out.setdefault("missing", r.severity)
    return out


def facility_alarms(store) -> list[dict]:
    """Every mapped facility input, alarms first: device, input name, role, system, state, severity class."""
    with store.read() as db:
        rows = db.execute(
            "SELECT s.device, s.labels, l.ts, l.state, d.display_name, d.reachable, d.error, d.state AS dstate,"
            " d.last_ok FROM latest l JOIN series s ON s.id = l.series_id JOIN devices d ON d.name = s.device"
            " WHERE s.metric = 'facility_alarm'").fetchall()
    sev = _role_severity()
    out = []
    for r in rows:
        labels = json.loads(r["labels"])
        role = labels.get("role", "")
        current = r["reachable"] == 1 and r["last_ok"] is not None and r["ts"] >= int(r["last_ok"])
        state = (r["state"] or "missing") if current else "unknown"
        if state == "alarm":
            css = sev.get(role, "critical")
        elif state in ("missing", "unknown"):
            css = sev.get("missing", "warning")
        else:
            css = "ok"
        out.append({"device": r["device"], "display_name": r["display_name"] or r["device"],
                    "input": labels.get("input", ""), "role": role, "system": labels.get("system", ""),
                    "state": state, "css": css, "ts": r["ts"],
                    "sensor_state": None if current else state_of(r["reachable"], r["error"], r["dstate"])})
    out.sort(key=lambda a: (_ORDER.get(a["state"], 9), _SEVERITY_ORDER.get(a["css"], 9), a["device"], a["input"]))
    return out


def data_quality(devices: list[dict]) -> list[dict]:
    """Devices whose last poll is not plainly OK, worst first, with what the poll said."""
    rank = {s: i for i, s in enumerate((*FAILED, *DEGRADED, "never_polled"))}
    out = [dict(d, quality=d["quality"]) for d in devices if d["quality"] != "ok"]
    out.sort(key=lambda d: (rank.get(d["quality"], 99), d["name"]))
    return out
