"""Moving to the scale-out stack without losing maintenance windows: every current and future window of the
embedded monitor (the NOC page's `silences` table) becomes an Alertmanager silence with the same target,
time span, reason and author. Each carries a `[dcops-window:<id>]` tag in its comment, so running the sync
again creates nothing twice; a window Alertmanager cannot take is reported, never dropped silently.
Dry run by default: `--execute` writes."""
from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field

from .alerts import silences as embedded_windows
from .web.alertsource import AlertmanagerSource, SourceError

TAG = re.compile(r"\[dcops-window:(\d+)\]")


@dataclass
class SyncReport:
    alertmanager: str
    execute: bool
    created: list[dict] = field(default_factory=list)  # {window, target, silence} (silence None in a dry run)
    present: list[dict] = field(default_factory=list)  # already in Alertmanager: {window, target, silence}
    refused: list[dict] = field(default_factory=list)  # {window, target, error}
    ended: int = 0  # windows already over: nothing to carry

    @property
    def ok(self) -> bool:
        return not self.refused

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def tagged(am: AlertmanagerSource) -> dict[int, str]:
    """Window id → silence id of the active or pending Alertmanager silences a previous sync created."""
    alerts, raw, error = am._fetch()
    if error:
        raise SourceError(error)
    out = {}
    for s in raw:
        m = TAG.search(s.get("comment", "")) if isinstance(s, dict) else None
        if m and s.get("status", {}).get("state") in ("active", "pending"):
            out[int(m[1])] = s["id"]
    return out


def sync(store, am: AlertmanagerSource, *, execute: bool = False, now: float | None = None) -> SyncReport:
    now = now or time.time()
    report = SyncReport(am.url, execute)
    have = tagged(am)
    for w in sorted(embedded_windows(store, now), key=lambda w: w["id"]):
        if w["ends"] <= now:
            report.ended += 1
            continue
        entry = {"window": w["id"], "target": w["target"]}
        if w["id"] in have:
            report.present.append({**entry, "silence": have[w["id"]]})
            continue
        try:
            matchers = am._matchers(w["target"])
        except ValueError as e:  # e.g. a group with no device in this store, or no site to scope "*"
            report.refused.append({**entry, "error": str(e)})
            continue
        comment = f"{w['reason']} [dcops-window:{w['id']}]"
        sid = am._post_silence(matchers, max(w["starts"], now), w["ends"], comment, w["author"]) if execute else None
        report.created.append({**entry, "silence": sid})
    return report
