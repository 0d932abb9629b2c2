"""The alert engine: inactive -> pending -> firing -> resolved per (rule, device, labels), state in SQLite;
notifications once per transition, held back in maintenance windows, escalation when unacknowledged."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Literal

from ..i18n import fmt_value
from ..poller import STATES, state_of
from ..profiles import Sample
from .rules import Rule, RuleSet
from .silences import active_silences, device_kinds, silence_for


# ---------------------------------------------------------------- formatting

def format_value(value: float | None, unit: str, state: str | None = None, lang: str = "vi") -> str:
    """A reading in the language's words and number format (5,5 % in Vietnamese)."""
    return fmt_value(value, unit, state, lang)


class _SafeDict(dict):
    def __missing__(self, k):
        return ""


@dataclass
class Transition:
    alert_id: int
    rule: str
    device: str
    labels: dict
    kind: Literal["firing", "resolved"]
    severity: str
    summary_vi: str
    summary_en: str
    value: float | None
    ts: float


@dataclass
class _Inst:
    id: int
    state: str
    since: float
    clear_since: float | None
    source: str


class AlertEngine:
    def __init__(self, rules: RuleSet, store, notifier=None, clock=time.time, devices: set[str] | None = None,
                 escalation=None) -> None:
        """`devices`: the devices this engine owns (a shard of the site); None = all.
        `escalation`: the second contact's notifier (rules.notify.escalation says when)."""
        self.rules = rules
        self.store = store
        self.notifier = notifier
        self.escalation = escalation
        self.clock = clock
        self.devices = devices
        self._inst: dict[tuple, _Inst] = {}
        with store.db() as db:  # resume mid-incident: pending and firing instances from the store
            for r in db.execute("SELECT * FROM alerts WHERE state IN ('pending','firing')"):
                if devices is not None and r["device"] not in devices:
                    continue
                self._inst[(r["rule"], r["device"], r["labels"])] = _Inst(
                    r["id"], r["state"], r["since"], r["clear_since"], r["source"])

    # ---------------------------------------------------------------- polls
    def evaluate(self, polls, profiles: dict[str, str] | None = None) -> list[Transition]:
        now = self.clock()
        out: list[Transition] = []
        for poll in polls:
            # What kind of poll it was (ok, malformed, unreachable, ...): rules tell a device sending garbage
            # from a silent one by this state, not by device_up alone.
            state = state_of(poll.reachable, poll.error, getattr(poll, "state", None))
            samples = list(poll.samples) + [Sample("device_up", {}, 1.0 if poll.reachable else 0.0, "gauge", ""),
                                            Sample("device_state", {}, float(STATES.index(state)), "enum", "",
                                                   state=state)]
            if not poll.reachable:
                samples = samples[-2:]
            for rule in self.rules.rules:
                conds, hold, clear_hold, severity = rule.for_device(poll.device)
                seen: dict[str, tuple[bool, Sample, dict]] = {}
                any_matching = False
                for s in samples:
                    for c in conds:
                        if s.metric != c.metric or not rule.matches(poll.device, poll.profile, s):
                            continue
                        any_matching = True
                        lab = json.dumps(s.labels, sort_keys=True, ensure_ascii=False)
                        inst = self._inst.get((rule.name, poll.device, lab))
                        active = inst is not None and inst.state in ("pending", "firing")
                        bad = c.bad(s, active)
                        prev = seen.get(lab)
                        if prev is None or (bad and not prev[0]):
                            seen[lab] = (bad, s, s.labels)
                for lab, (bad, s, labels) in seen.items():
                    t = self._step(rule, poll.device, lab, labels, bad, s, hold, clear_hold, severity, now)
                    if t:
                        out.append(t)
                # Trap-raised instances (no labels) clear when the poll shows the rule all good.
                if poll.reachable and any_matching and not any(b for b, _s, _l in seen.values()):
                    inst = self._inst.get((rule.name, poll.device, "{}"))
                    if inst is not None and inst.source == "trap" and "{}" not in seen:
                        t = self._step(rule, poll.device, "{}", {}, False, None, hold, clear_hold, severity, now)
                        if t:
                            out.append(t)
        return out

    def _step(self, rule: Rule, device: str, lab: str, labels: dict, bad: bool, s: Sample | None,
              hold: float, clear_hold: float, severity: str, now: float) -> Transition | None:
        key = (rule.name, device, lab)
        inst = self._inst.get(key)
        value = s.value if s else None
        if inst is None:
            if not bad:
                return None
            vi, en = self._summaries(rule, device, labels, s)
            with self.store.db() as db:
                cur = db.execute(
                    "INSERT INTO alerts(rule, device, labels, state, severity, since, value, summary_vi, summary_en)"
                    " VALUES (?,?,?,?,?,?,?,?,?)", (rule.name, device, lab, "pending", severity, now, value, vi, en))
                inst = self._inst[key] = _Inst(cur.lastrowid, "pending", now, None, "poll")
            if hold > 0:
                return None
            return self._fire(inst, rule, device, labels, severity, s, now)
        if inst.state == "pending":
            if not bad:
                with self.store.db() as db:  # never fired: leaves no trace, no notification
                    db.execute("DELETE FROM alerts WHERE id=?", (inst.id,))
                del self._inst[key]
                return None
            if now - inst.since >= hold:
                return self._fire(inst, rule, device, labels, severity, s, now)
            return None
        # firing
        if bad:
            if inst.clear_since is not None:
                inst.clear_since = None
            with self.store.db() as db:
                vi, en = self._summaries(rule, device, labels, s)
                db.execute("UPDATE alerts SET clear_since=NULL, value=COALESCE(?, value),"
                           " summary_vi=?, summary_en=? WHERE id=?", (value, vi, en, inst.id))
            return None
        if inst.clear_since is None:
            inst.clear_since = now
            with self.store.db() as db:
                db.execute("UPDATE alerts SET clear_since=? WHERE id=?", (now, inst.id))
        if now - inst.clear_since >= clear_hold:
            with self.store.db() as db:
                db.execute("UPDATE alerts SET state='resolved', resolved_at=?, notified_resolve=0 WHERE id=?",
                           (now, inst.id))
                row = db.execute("SELECT * FROM alerts WHERE id=?", (inst.id,)).fetchone()
            del self._inst[key]
            return Transition(inst.id, rule.name, device, labels, "resolved", row["severity"], row["summary_vi"],
                              row["summary_en"], value, now)
        return None

    def _fire(self, inst: _Inst, rule: Rule, device: str, labels: dict, severity: str, s, now) -> Transition:
        inst.state = "firing"
        vi, en = self._summaries(rule, device, labels, s)
        with self.store.db() as db:
            db.execute("UPDATE alerts SET state='firing', fired_at=?, notified_fire=0, summary_vi=?, summary_en=?"
                       " WHERE id=?", (now, vi, en, inst.id))
        self.store.event("alert", device, en)
        return Transition(inst.id, rule.name, device, labels, "firing", severity, vi, en, s.value if s else None, now)

    def _summaries(self, rule: Rule, device: str, labels: dict, s: Sample | None) -> tuple[str, str]:
        def fmt(tpl: str, lang: str) -> str:
            v = format_value(s.value, s.unit, s.state, lang) if s else ""
            return tpl.format_map(_SafeDict(labels, device=device, value=v)) if tpl else f"{rule.name} {device}"
        return fmt(rule.summary_vi, "vi"), fmt(rule.summary_en, "en")

    # ---------------------------------------------------------------- traps
    def on_trap(self, device: str, event: str, severity: str = "warning", clears: str | None = None,
                text: str = "") -> list[Transition]:
        now = self.clock()
        self.store.event("trap", device, f"{event} {text}".strip())
        out = []
        if clears:
            for key, inst in list(self._inst.items()):
                if key[0] in (clears, f"trap_{clears}") and key[1] == device and inst.source == "trap":
                    rule = self.rules.rule(key[0])
                    t = self._step(rule or _trap_rule(key[0], severity), device, key[2], json.loads(key[2]), False,
                                   None, 0, 0, severity, now)
                    if t:
                        out.append(t)
            return out
        rule = self.rules.rule(event) or _trap_rule(f"trap_{event}", severity)
        key = (rule.name, device, "{}")
        if any(k[0] == rule.name and k[1] == device and i.state == "firing" for k, i in self._inst.items()):
            return out  # the poller already raised it: no duplicate
        t = self._step(rule, device, "{}", {}, True, None, 0, rule.clear_for, rule.severity, now)
        if key in self._inst:
            self._inst[key].source = "trap"
            with self.store.db() as db:
                db.execute("UPDATE alerts SET source='trap' WHERE id=?", (self._inst[key].id,))
        if t:
            out.append(t)
        return out

    # ---------------------------------------------------------------- notifications
    def flush_notifications(self) -> int:
        """Send what is due (at least once, never twice per transition); returns how many were sent.

        An alert on a device in a maintenance window is not announced while the window lasts; if it
        still fires when the window ends it is announced then. A recovery is only announced for an
        alert whose firing was."""
        sent = 0
        if self.notifier is not None:
            now = self.clock()
            with self.store.read() as db:
                due = [dict(r) for r in db.execute(
                    "SELECT * FROM alerts WHERE (state='firing' AND notified_fire=0)"
                    " OR (state='resolved' AND notified_resolve=0 AND fired_at IS NOT NULL)")]
            silences = active_silences(self.store, now) if due else []
            kinds = device_kinds(self.store) if silences else {}
            for a in due:
                if self.devices is not None and a["device"] not in self.devices:
                    continue  # another shard's alert: that shard notifies
                kind = "firing" if a["state"] == "firing" else "resolved"
                col = "notified_fire" if kind == "firing" else "notified_resolve"
                if kind == "firing" and silence_for(a["device"], kinds.get(a["device"], ""), silences):
                    continue  # held back while the maintenance window lasts
                if kind == "resolved" and not a["notified_fire"]:
                    with self.store.db() as db:  # never announced (silenced): no recovery message either
                        db.execute(f"UPDATE alerts SET {col}=1 WHERE id=?", (a["id"],))
                    continue
                try:
                    self.notifier.send(a, kind)
                except Exception as e:  # noqa: BLE001 - a failed channel is retried next cycle
                    self.store.event("notify_error", a["device"], f"{kind} {a['rule']}: {e}")
                    continue
                with self.store.db() as db:
                    db.execute(f"UPDATE alerts SET {col}=1 WHERE id=?", (a["id"],))
                sent += 1
        return sent + self.escalate()

    def escalate(self) -> int:
        """Second contact for alerts of the escalation severities unacknowledged after `after`."""
        esc = self.rules.notify.escalation
        if self.escalation is None or not esc.enabled:
            return 0
        now = self.clock()
        marks = ",".join("?" * len(esc.severities))
        with self.store.read() as db:
            due = [dict(r) for r in db.execute(
                f"SELECT * FROM alerts WHERE state='firing' AND acked_by IS NULL AND escalated_at IS NULL"
                f" AND fired_at <= ? AND severity IN ({marks})", (now - esc.after, *esc.severities))]
        if not due:
            return 0
        silences = active_silences(self.store, now)
        kinds = device_kinds(self.store)
        sent = 0
        for a in due:
            if self.devices is not None and a["device"] not in self.devices:
                continue
            if silence_for(a["device"], kinds.get(a["device"], ""), silences):
                continue
            try:
                self.escalation.send(a, "escalation")
            except Exception as e:  # noqa: BLE001 - retried next cycle
                self.store.event("notify_error", a["device"], f"escalation {a['rule']}: {e}")
                continue
            with self.store.db() as db:
                db.execute("UPDATE alerts SET escalated_at=? WHERE id=?", (now, a["id"]))
            self.store.event("escalation", a["device"], f"alert {a['id']} ({a['rule']}) not acknowledged in "
                                                        f"{esc.after:.0f} s: escalated")
            sent += 1
        return sent


def _trap_rule(name: str, severity: str) -> Rule:
    return Rule(name=name if re.match(r"^[a-z][a-z0-9_]*$", name) else "trap_event", metric="__trap__", above=0,
                severity=severity if severity in ("critical", "warning", "info") else "warning", clear_for=0,
                summary_vi=f"Trap {name} từ {{device}}", summary_en=f"Trap {name} from {{device}}")
