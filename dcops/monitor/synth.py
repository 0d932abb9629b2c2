"""Synthetic simulator recordings built from a profile, for device models nobody recorded yet.

A new UPS or cooling model is a profile (monitors/profiles/<name>.yaml); without this, `dcops snmp sim`
and `dcops demo` would need a hand-written snmprec before the model could be tried. Every OID the
profile polls gets an answer: scalars once, walked columns `sim.rows` times (with their label,
description, unit and divisor columns). Values come from the profile's data, in this order: the
metric's `sim:` hint (a value, a state word, or a range whose middle is served), its valid_min/valid_max,
the physical ranges of monitors/plausible.yaml (by metric, then by unit), else 1. Enums answer their
normal state. Scalar values are writable (snmpsim writecache), so faults can be injected by SNMP SET
as with the recorded devices."""
from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from .profiles import PLAUSIBLE_FILE, Metric, Profile

SYS = "1.3.6.1.2.1.1"
#: the enum word served when the profile's hint names none: the first of these the metric has
NORMAL_WORDS = ("normal", "ok", "up", "on", "online", "no", "no_leak", "closed", "running")
COUNTER_RATE = 1000  # raw units per second: counters move, so rates are computable


def _ranges(path: Path = PLAUSIBLE_FILE) -> tuple[dict, dict]:
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data = data or {}
    return data.get("by_metric") or {}, data.get("by_unit") or {}


def scaled_value(m: Metric, by_metric: dict, by_unit: dict) -> float:
    hint = m.sim
    if hint and isinstance(hint.value, (int, float)):
        return float(hint.value)
    for lo, hi in ((hint.min, hint.max) if hint else (None, None), (m.valid_min, m.valid_max),
                   tuple(by_metric.get(m.name) or (None, None)), tuple(by_unit.get(m.unit) or (None, None))):
        if lo is not None and hi is not None:
            return (float(lo) + float(hi)) / 2
    return 1.0


def enum_code(m: Metric) -> int:
    wanted = m.sim.value if m.sim and isinstance(m.sim.value, str) else None
    by_word = {}
    for code, word in m.states.items():
        by_word.setdefault(str(word), int(code))
    if wanted is not None:
        if wanted not in by_word:
            raise ValueError(f"sim value {wanted!r} of {m.name} is not one of its states ({', '.join(by_word)})")
        return by_word[wanted]
    for word in NORMAL_WORDS:
        if word in by_word:
            return by_word[word]
    return min(int(c) for c in m.states)


def _value(m: Metric, by_metric: dict, by_unit: dict) -> str:
    """`tag|value` (snmprec) of one reading: writable gauges and enums, moving counters."""
    if m.type == "enum":
        return f"2:writecache|value={enum_code(m)}"
    raw = round(scaled_value(m, by_metric, by_unit) / (m.scale or 1.0))
    if raw in m.absent_values:
        raw += 1
    if m.type == "counter":
        return f"{70 if m.bits == 64 else 65}:numeric|rate={COUNTER_RATE},initial={max(raw, 0)}"
    if raw < 0:
        return f"2:writecache|value={max(raw, -2**31)}"  # Integer32
    return f"66:writecache|value={min(raw, 2**32 - 1)}"  # Gauge32


def recording(profile: Profile, sys_name: str = "synthetic", plausible: Path = PLAUSIBLE_FILE) -> str:
    """The snmprec text (sorted by OID, as snmpsim needs) answering every OID the profile polls."""
    by_metric, by_unit = _ranges(plausible)
    rows: dict[str, str] = {
        f"{SYS}.1.0": f"4|{profile.description or profile.name} (synthetic recording from profile {profile.name})",
        f"{SYS}.2.0": "6|1.3.6.1.4.1.8072.3.2.10",
        f"{SYS}.4.0": "4|noc@example.invalid",
        f"{SYS}.5.0": f"4|{sys_name}",
        f"{SYS}.6.0": "4|synthetic",
    }
    rows[profile.uptime_oid] = "67:numeric|rate=100,initial=1234500"
    for key, oid in profile.info.items():
        rows.setdefault(oid, f"4|{key}-{profile.name}")
    next_row: dict[str, int] = {}  # self-describing tables: metrics share a column, each its own rows
    for m in profile.metrics:
        if m.oid:
            rows[m.oid] = _value(m, by_metric, by_unit)
            continue
        n = m.sim.rows if m.sim else 1
        names = list(m.select.rows) if m.select and m.select.rows else []
        n = max(n, len(names))
        first = next_row.get(m.walk, 0) if m.select else 0
        for k in range(1, n + 1):
            i = first + k
            rows.setdefault(f"{m.walk}.{i}", _value(m, by_metric, by_unit))
            for label, col in {**profile.labels, **m.labels_from}.items():
                rows.setdefault(f"{col}.{i}", f"4|{label}-{i}")
            if m.divisor_column:
                rows.setdefault(f"{m.divisor_column}.{i}", "2|1")
            if m.select:
                descr = names[k - 1] if k <= len(names) else f"{m.select.match_prefix or m.name} {k}"
                rows.setdefault(f"{m.select.column}.{i}", f"4|{descr}")
                if m.select.unit_column:
                    rows.setdefault(f"{m.select.unit_column}.{i}", f"4|{m.select.unit_equals or m.unit}")
        if m.select:
            next_row[m.walk] = first + n
    key = lambda oid: tuple(int(p) for p in oid.split("."))  # noqa: E731
    return "".join(f"{oid}|{rows[oid]}\n" for oid in sorted(rows, key=key))
