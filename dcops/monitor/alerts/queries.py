"""Alerts as the NOC page and the CLI read them; acknowledgement with a comment."""
from __future__ import annotations

import json
import time

from .silences import active_silences, device_kinds, silence_for


def active_alerts(store, now: float | None = None) -> list[dict]:
    now = now or time.time()
    with store.read() as db:
        rows = [dict(r, labels=json.loads(r["labels"])) for r in db.execute(
            "SELECT * FROM alerts WHERE state='firing' ORDER BY CASE severity WHEN 'critical' THEN 0"
            " WHEN 'warning' THEN 1 ELSE 2 END, fired_at DESC")]
    silences = active_silences(store, now) if rows else []
    kinds = device_kinds(store) if silences else {}
    for r in rows:
        r["silenced"] = silence_for(r["device"], kinds.get(r["device"], ""), silences) is not None
    return rows


def recent_alerts(store, limit: int = 50, since: float | None = None) -> list[dict]:
    q, args = "SELECT * FROM alerts WHERE state != 'pending'", []
    if since is not None:
        q += " AND COALESCE(resolved_at, fired_at) >= ?"
        args.append(since)
    with store.read() as db:
        return [dict(r, labels=json.loads(r["labels"])) for r in db.execute(
            q + " ORDER BY COALESCE(resolved_at, fired_at) DESC LIMIT ?", (*args, limit))]


def acknowledge(store, alert_id: int, user: str, comment: str = "") -> bool:
    comment = comment.strip()[:500]
    with store.db() as db:
        cur = db.execute("UPDATE alerts SET acked_by=?, acked_at=?, ack_comment=? WHERE id=? AND state='firing'"
                         " AND acked_by IS NULL", (user, time.time(), comment or None, alert_id))
        ok = cur.rowcount == 1
    if ok:
        store.event("ack", None, f"alert {alert_id} acknowledged by {user}" + (f": {comment}" if comment else ""))
    return ok
