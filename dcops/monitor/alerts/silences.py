"""Maintenance windows (silences) per device, group or the whole site: start, end, reason, author."""
from __future__ import annotations

import time

# A target is "device:NAME", "group:GROUP" (ups, cooling, sensor, network) or "*" (the whole site).
GROUPS = (("ups", ("ups",)), ("cooling", ("cooling",)), ("sensor", ("sensor",)))


def device_group(kind: str) -> str:
    return next((g for g, kinds in GROUPS if kind in kinds), "network")


def device_kinds(store) -> dict[str, str]:
    with store.read() as db:
        return {r[0]: r[1] or "" for r in db.execute("SELECT name, kind FROM devices")}


def valid_target(target: str, devices: set[str]) -> bool:
    if target == "*":
        return True
    kind, _, name = target.partition(":")
    return (kind == "device" and name in devices) or (kind == "group" and name in ("ups", "cooling", "sensor",
                                                                                       "network"))


def add_silence(store, target: str, starts: float, ends: float, reason: str, author: str) -> int:
    if ends <= starts:
        raise ValueError("a maintenance window must end after it starts")
    if not reason.strip():
        raise ValueError("a maintenance window needs a reason")
    with store.db() as db:
        cur = db.execute("INSERT INTO silences(target, starts, ends, reason, author, created) VALUES (?,?,?,?,?,?)",
                         (target, starts, ends, reason.strip()[:300], author, time.time()))
        sid = cur.lastrowid
    store.event("silence", None, f"{author}: {target} from {starts:.0f} to {ends:.0f}: {reason.strip()[:300]}")
    return sid


def end_silence(store, silence_id: int, author: str) -> bool:
    now = time.time()
    with store.db() as db:
        ok = db.execute("UPDATE silences SET ends=? WHERE id=? AND ends > ?", (now, silence_id, now)).rowcount == 1
    if ok:
        store.event("silence", None, f"{author} ended maintenance window {silence_id}")
    return ok


def active_silences(store, now: float | None = None) -> list[dict]:
    now = now or time.time()
    with store.read() as db:
        return [dict(r) for r in db.execute("SELECT * FROM silences WHERE starts <= ? AND ends > ? ORDER BY ends",
                                            (now, now))]


def silences(store, now: float | None = None, history: float = 7 * 86400) -> list[dict]:
    """Current, future and recently ended windows."""
    now = now or time.time()
    with store.read() as db:
        return [dict(r) for r in db.execute("SELECT * FROM silences WHERE ends > ? ORDER BY starts DESC LIMIT 200",
                                            (now - history,))]


def silence_for(device: str, kind: str, active: list[dict]) -> dict | None:
    grp = "group:" + device_group(kind)
    return next((s for s in active if s["target"] in ("*", "device:" + device, grp)), None)
