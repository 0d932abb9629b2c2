"""Scale-out exports: the same alert rules as Prometheus alerting rules, the same profiles as
snmp_exporter modules. One source of truth (monitors/), whichever engine runs it."""
from __future__ import annotations

import re

from .alerts import Condition, Rule, RuleSet
from .metrics import PREFIX
from .profiles import Profile

_PROM_DUR = ((86400, "d"), (3600, "h"), (60, "m"), (1, "s"))


def _dur(seconds: float) -> str:
    s = int(seconds)
    for n, u in _PROM_DUR:
        if s and s % n == 0:
            return f"{s // n}{u}"
    return "0s"


def _q(v: str) -> str:
    """A PromQL double-quoted string literal's body."""
    return v.replace("\\", "\\\\").replace('"', '\\"')


def _rx(values) -> str:
    r"""Literal alternatives as a PromQL regex string body (re.escape's backslashes escaped once more:
    `\\-` in the string literal is the regex `\-`; a bare `\-` is a PromQL parse error)."""
    return _q("|".join(map(re.escape, values)))


#: Labels an alert adds to its series in ALERTS{}; a hysteresis branch matches on everything else.
_ALERT_ONLY = "alertname, alertstate, severity, source"


def alert_name(rule: Rule, device: str = "") -> str:
    base = "Dcops" + "".join(p.title() for p in rule.name.split("_"))
    return base + ("_" + re.sub(r"\W", "_", device) if device else "")


def _expr(c: Condition, labels: dict[str, str], extra: list[str], alert: str) -> str:
    """PromQL that is true exactly when the embedded engine's `Condition.bad` is.

    States: the exporter writes one 0/1 series per state word; the state label is aggregated away so a
    change from one bad state to another is the same alert, as in the engine. Hysteresis: while the alert
    is pending or firing (its ALERTS series exists), the clear threshold applies, as in the engine."""
    sel = [f'{k}=~"{_q(v)}"' for k, v in sorted(labels.items())] + extra
    name = PREFIX + c.metric
    if c.state_in or c.state_not_in:
        sel.append(f'{c.metric}{"=~" if c.state_in else "!~"}"{_rx(c.state_in or c.state_not_in)}"')
        return f"max without ({c.metric}) ({name}{{{','.join(sel)}}} == 1)"
    s = f"{name}{{{','.join(sel)}}}" if sel else name
    op, limit, clear = (">", c.above, c.clear_below) if c.above is not None else ("<", c.below, c.clear_above)
    plain = f"{s} {op} {limit:g}"
    if clear is None or clear == limit:
        return plain
    held = f'ALERTS{{alertname="{alert}"}}'
    return f"{plain} or ({s} {op} {clear:g} and ignoring({_ALERT_ONLY}) {held})"


def _summary(template: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: "{{ $labels.%s }}" % m.group(1) if m.group(1) != "value"
                  else "{{ $value }}", template)


def _rule(rule: Rule, conds, hold, clear_hold, severity, extra: list[str], device: str = "") -> dict:
    alert = alert_name(rule, device)
    exprs = [_expr(c, rule.labels, extra, alert) for c in conds]
    expr = exprs[0] if len(exprs) == 1 else " or ".join(f"({e})" for e in exprs)
    out = {"alert": alert, "expr": expr}
    if hold:
        out["for"] = _dur(hold)
    if clear_hold:
        out["keep_firing_for"] = _dur(clear_hold)  # Prometheus ≥ 2.42: the clear hold time
    out["labels"] = {"severity": severity, "source": "dcops"}
    out["annotations"] = {"summary": _summary(rule.summary_en or rule.name),
                          "summary_vi": _summary(rule.summary_vi or rule.name)}
    return out


def prometheus_rules(rules: RuleSet, *, interval: str | None = None) -> dict:
    """Alerting rules for Prometheus / vmalert with the engine's hold times (`for`), clear hold times
    (`keep_firing_for`) and hysteresis bands (the alert's own ALERTS series selects the clear threshold)."""
    out = []
    for rule in rules.rules:
        others = sorted(rule.overrides)
        extra = [f'device!~"{_rx(others)}"'] if others else []
        if rule.devices:
            extra.append(f'device=~"{_rx(rule.devices)}"')
        if rule.profiles:
            extra.append(f'profile=~"{_rx(rule.profiles)}"')
        conds, hold, clear_hold, sev = rule.for_device("")
        out.append(_rule(rule, conds, hold, clear_hold, sev, extra))
        for dev in others:
            conds, hold, clear_hold, sev = rule.for_device(dev)
            out.append(_rule(rule, conds, hold, clear_hold, sev, [f'device="{_q(dev)}"'], dev))
    group = {"name": "dcops-facility", "rules": out}
    if interval:
        group["interval"] = interval
    return {"groups": [group]}


def snmp_exporter_module(profile: Profile, auth: dict, max_repetitions: int = 25) -> dict:
    """An snmp_exporter (0.21 format) module fetching exactly what the dcops profile polls."""
    lookups = [{"labels": ["index"], "labelname": name, "oid": oid, "type": "DisplayString"}
               for name, oid in profile.labels.items()]
    metrics = []
    for m in profile.metrics:
        typ = "counter" if m.type == "counter" else "gauge"
        if m.oid:
            metrics.append({"name": m.name, "oid": m.oid.rsplit(".", 1)[0], "type": typ,
                            "help": m.help or m.name})
        else:
            metrics.append({"name": m.name, "oid": m.walk, "type": typ, "help": m.help or m.name,
                            "indexes": [{"labelname": "index", "type": "gauge"}], "lookups": lookups})
    return {"version": 2 if "community" in auth else 3, "auth": auth, "max_repetitions": max_repetitions,
            "retries": 1, "timeout": "5s", "get": [o for m in profile.metrics if m.oid for o in [m.oid]],
            "walk": profile.walk_oids, "metrics": metrics}
