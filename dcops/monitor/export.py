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
    return v.replace("\\", "\\\\").replace('"', '\\"')


def _expr(c: Condition, labels: dict[str, str], extra: list[str]) -> str:
    sel = [f'{k}=~"{_q(v)}"' for k, v in sorted(labels.items())] + extra
    name = PREFIX + c.metric
    if c.state_in or c.state_not_in:
        states = "|".join(re.escape(s) for s in (c.state_in or c.state_not_in))
        sel.append(f'{c.metric}{"=~" if c.state_in else "!~"}"{states}"')
        return f"{name}{{{','.join(sel)}}} == 1"
    s = f"{name}{{{','.join(sel)}}}" if sel else name
    return f"{s} > {c.above:g}" if c.above is not None else f"{s} < {c.below:g}"


def _rule(rule: Rule, conds, hold, clear_hold, severity, extra: list[str], suffix: str = "") -> dict:
    exprs = [_expr(c, rule.labels, extra) for c in conds]
    expr = exprs[0] if len(exprs) == 1 else " or ".join(f"({e})" for e in exprs)
    out = {"alert": "Dcops" + "".join(p.title() for p in rule.name.split("_")) + suffix, "expr": expr}
    if hold:
        out["for"] = _dur(hold)
    if clear_hold:
        out["keep_firing_for"] = _dur(clear_hold)  # Prometheus ≥ 2.42: the clear hold time
    summary_en = re.sub(r"\{(\w+)\}", lambda m: "{{ $labels.%s }}" % m.group(1) if m.group(1) != "value"
                        else "{{ $value }}", rule.summary_en or rule.name)
    summary_vi = re.sub(r"\{(\w+)\}", lambda m: "{{ $labels.%s }}" % m.group(1) if m.group(1) != "value"
                        else "{{ $value }}", rule.summary_vi or rule.name)
    out["labels"] = {"severity": severity, "source": "dcops"}
    out["annotations"] = {"summary": summary_en, "summary_vi": summary_vi}
    return out


def prometheus_rules(rules: RuleSet) -> dict:
    """Alerting rules for Prometheus / vmalert. Hysteresis bands (clear_above/clear_below) have
    no PromQL equivalent; `keep_firing_for` carries the clear hold time instead."""
    out = []
    for rule in rules.rules:
        others = sorted(rule.overrides)
        extra = [f'device!~"{"|".join(map(re.escape, others))}"'] if others else []
        if rule.devices:
            extra.append(f'device=~"{"|".join(map(re.escape, rule.devices))}"')
        if rule.profiles:
            extra.append(f'profile=~"{"|".join(map(re.escape, rule.profiles))}"')
        conds, hold, clear_hold, sev = rule.for_device("")
        out.append(_rule(rule, conds, hold, clear_hold, sev, extra))
        for dev in others:
            conds, hold, clear_hold, sev = rule.for_device(dev)
            out.append(_rule(rule, conds, hold, clear_hold, sev, [f'device="{_q(dev)}"'],
                             "_" + re.sub(r"\W", "_", dev)))
    return {"groups": [{"name": "dcops-facility", "rules": out}]}


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
