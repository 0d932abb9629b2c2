"""Alert engine: YAML rules with per-device overrides, hold times and hysteresis; state in SQLite.

An alert instance is (rule, device, labels). inactive -> pending (condition holds) -> firing
(held for `for`) -> resolved (condition gone past the hysteresis band for `clear_for`).
Missing data never resolves an alert (an unreachable device freezes its alerts and raises
`device_unreachable`). Instances live in the store, so after a restart mid-incident the
engine neither fires again nor forgets to send the recovery.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML

from . import MONITORS_DIR
from .i18n import fmt_value
from .profiles import Sample

ALERTS_FILE = MONITORS_DIR / "alerts.yaml"
_DUR = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")


def parse_duration(v) -> float:
    if isinstance(v, int | float):
        return float(v)
    m = _DUR.match(str(v).strip())
    if not m:
        raise ValueError(f"bad duration {v!r} (use e.g. 30s, 5m, 1h)")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    metric: str
    above: float | None = None
    below: float | None = None
    clear_above: float | None = None  # with `below`: cleared only once the value is back above this
    clear_below: float | None = None  # with `above`: cleared only once the value is back below this
    state_in: tuple[str, ...] = ()
    state_not_in: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_test(self) -> "Condition":
        if sum(x is not None and x != () for x in (self.above, self.below, self.state_in or None,
                                                   self.state_not_in or None)) != 1:
            raise ValueError("a condition needs exactly one of above, below, state_in, state_not_in")
        if self.above is not None and self.clear_below is not None and self.clear_below > self.above:
            raise ValueError("clear_below must not be above the 'above' threshold")
        if self.below is not None and self.clear_above is not None and self.clear_above < self.below:
            raise ValueError("clear_above must not be below the 'below' threshold")
        return self

    def bad(self, s: Sample, active: bool) -> bool:
        if self.state_in:
            return s.state in self.state_in
        if self.state_not_in:
            return s.state not in self.state_not_in
        v = s.value
        if self.above is not None:
            return v > (self.clear_below if active and self.clear_below is not None else self.above)
        return v < (self.clear_above if active and self.clear_above is not None else self.below)


_OVERRIDABLE = {"above", "below", "clear_above", "clear_below", "state_in", "state_not_in"}


class Rule(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    metric: str | None = None
    above: float | None = None
    below: float | None = None
    clear_above: float | None = None
    clear_below: float | None = None
    state_in: tuple[str, ...] = ()
    state_not_in: tuple[str, ...] = ()
    any: tuple[Condition, ...] = ()
    labels: dict[str, str] = {}  # label -> regex the sample's label must fully match
    devices: tuple[str, ...] = ()  # only these devices (empty: all)
    profiles: tuple[str, ...] = ()
    for_: float = Field(0, alias="for")
    clear_for: float = 60
    severity: Literal["critical", "warning", "info"] = "warning"
    summary_vi: str = ""
    summary_en: str = ""
    overrides: dict[str, dict] = {}  # device -> condition fields / for / clear_for / severity

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("for_", "clear_for", mode="before")
    @classmethod
    def _dur(cls, v):
        return parse_duration(v)

    @model_validator(mode="after")
    def _shape(self) -> "Rule":
        if bool(self.metric) == bool(self.any):
            raise ValueError("a rule has either 'metric' (one condition) or 'any' (a list)")
        if self.metric:
            self.single()
        for dev, ov in self.overrides.items():
            bad = set(ov) - _OVERRIDABLE - {"for", "clear_for", "severity"}
            if bad:
                raise ValueError(f"override for {dev}: unknown keys {sorted(bad)}")
        return self

    def single(self) -> Condition:
        return Condition(metric=self.metric, above=self.above, below=self.below, clear_above=self.clear_above,
                         clear_below=self.clear_below, state_in=self.state_in, state_not_in=self.state_not_in)

    def for_device(self, device: str) -> tuple[tuple[Condition, ...], float, float, str]:
        conds = (self.single(),) if self.metric else self.any
        ov = self.overrides.get(device)
        if not ov:
            return conds, self.for_, self.clear_for, self.severity
        cond_ov = {k: v for k, v in ov.items() if k in _OVERRIDABLE}
        if cond_ov:
            conds = tuple(c.model_copy(update=cond_ov) for c in conds)
        return (conds, parse_duration(ov.get("for", self.for_)), parse_duration(ov.get("clear_for", self.clear_for)),
                ov.get("severity", self.severity))

    def matches(self, device: str, profile: str, s: Sample) -> bool:
        if self.devices and device not in self.devices:
            return False
        if self.profiles and profile not in self.profiles:
            return False
        for k, rx in self.labels.items():
            if k not in s.labels or not re.fullmatch(rx, s.labels[k]):
                return False
        return True


class Email(_Strict):
    enabled: bool = False
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    starttls: bool = False
    username: str | None = None
    password_ref: str | None = None
    sender: str = "dcops-noc@localhost"
    to: tuple[str, ...] = ()


class Webhook(_Strict):
    enabled: bool = False
    url: str = ""
    timeout: float = 5


class Telegram(_Strict):
    """Telegram Bot API sendMessage. The bot token is a reference (env:VAR), never a value."""
    enabled: bool = False
    token_ref: str | None = None
    chat_ids: tuple[str, ...] = ()
    api_base: str = "https://api.telegram.org"
    timeout: float = 10


class Escalation(_Strict):
    """A critical alert still unacknowledged `after` its firing goes to a second contact (once)."""
    enabled: bool = False
    after: float = 900
    severities: tuple[str, ...] = ("critical",)
    telegram_chat_ids: tuple[str, ...] = ()
    email_to: tuple[str, ...] = ()

    @field_validator("after", mode="before")
    @classmethod
    def _dur(cls, v):
        return parse_duration(v)


class NotifyConfig(_Strict):
    email: Email = Email()
    webhook: Webhook = Webhook()
    telegram: Telegram = Telegram()
    escalation: Escalation = Escalation()


class RuleSet(_Strict):
    defaults: dict = {}
    rules: tuple[Rule, ...]
    notify: NotifyConfig = NotifyConfig()

    @field_validator("rules")
    @classmethod
    def _unique(cls, v):
        names = [r.name for r in v]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate rule names: {sorted(dup)}")
        return v

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)


class RulesError(ValueError):
    pass


def load_rules(path: Path | None = None) -> RuleSet:
    path = Path(path or ALERTS_FILE)
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except Exception as e:  # noqa: BLE001
        raise RulesError(f"{path}: not valid YAML: {e}") from e
    defaults = (data or {}).get("defaults") or {}
    rules = []
    for r in (data or {}).get("rules") or []:
        merged = {k: v for k, v in defaults.items()}
        merged.update(r)
        rules.append(merged)
    try:
        return RuleSet.model_validate({**(data or {}), "rules": rules})
    except ValidationError as e:
        first = e.errors()[0]
        loc = list(first["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            where = f"rule {rules[loc[1]].get('name', loc[1])!r}: "
            loc = loc[2:]
        raise RulesError(f"{path}: {where}{'.'.join(map(str, loc))}: {first['msg']}") from e


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
            samples = list(poll.samples) + [Sample("device_up", {}, 1.0 if poll.reachable else 0.0, "gauge", "")]
            if not poll.reachable:
                samples = samples[-1:]
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


# ---------------------------------------------------------------- queries for the dashboard / CLI

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


# ---------------------------------------------------------------- maintenance windows (silences)
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
