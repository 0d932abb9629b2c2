"""SNMP profiles: YAML data files saying what to poll per device type, with names, types, scaling, units.

A profile compiles (once) into a flat request plan — scalar OIDs to GET and table columns to
walk — and an evaluator turning the raw varbinds into samples. The poll loop never looks at MIBs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML

from dcops import paths

from . import PROFILES_DIR
from .snmp.ber import ABSENT

OID_RE = r"^[0-2](\.\d+)+$"
Oid = str


class ProfileError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Select(_Strict):
    """Pick rows of a self-describing table by their description (and optionally unit) column."""

    column: Oid = Field(pattern=OID_RE)
    rows: dict[str, str] = {}  # description -> label value
    match_prefix: str | None = None  # or: every row whose description starts with this
    unit_column: Oid | None = Field(default=None, pattern=OID_RE)
    unit_equals: str | None = None
    label: str = "sensor"


class Fallback(_Strict):
    """Another OID for the same reading, used when the preferred one is absent (older firmware)."""

    oid: Oid = Field(pattern=OID_RE)
    scale: float = 1.0


class FallbackColumn(_Strict):
    """Another column with the same rows, walked when the preferred one is empty (e.g. 32-bit
    ifInOctets on agents without ifXTable)."""

    walk: Oid = Field(pattern=OID_RE)
    bits: Literal[32, 64] = 32
    scale: float = 1.0


class SimHint(_Strict):
    """What a synthetic simulator recording answers for this metric (dcops/monitor/synth.py), for
    profiles without a hand-made recording: a value (scaled, or a state word for enums) or a range
    whose middle is served."""

    value: float | str | None = None
    min: float | None = None
    max: float | None = None
    rows: int = Field(default=1, ge=1, le=64)  # walked columns: how many rows the table has


class Metric(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    oid: Oid | None = Field(default=None, pattern=OID_RE)  # scalar: GET
    walk: Oid | None = Field(default=None, pattern=OID_RE)  # table column: GETBULK walk
    type: Literal["gauge", "counter", "enum"] = "gauge"
    bits: Literal[32, 64] = 64  # counters only: where they wrap
    scale: float = 1.0
    unit: str = ""
    help: str = ""
    states: dict[int, str] = {}
    index: str = "index"  # label name for the row index of a walked column
    labels_from: dict[str, Oid] = {}  # extra label columns sharing the row index
    label_map: dict[str, dict[str, str]] = {}  # label -> {raw value -> nicer value}
    const_labels: dict[str, str] = {}
    absent_values: tuple[int, ...] = ()  # sentinels meaning "no reading"
    valid_min: float | None = None  # a scaled value outside [valid_min, valid_max] is no reading
    valid_max: float | None = None
    fallback: Fallback | None = None  # scalars only
    fallback_column: FallbackColumn | None = None  # walked columns only
    divisor_column: Oid | None = Field(default=None, pattern=OID_RE)
    select: Select | None = None
    sim: SimHint | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "Metric":
        if (self.oid is None) == (self.walk is None):
            raise ValueError("a metric needs exactly one of 'oid' (scalar) or 'walk' (column)")
        if self.type == "enum" and not self.states:
            raise ValueError("an enum metric needs 'states'")
        if self.walk is None and (self.select or self.divisor_column or self.labels_from):
            raise ValueError("select / divisor_column / labels_from only apply to walked columns")
        return self


class TrapDef(_Strict):
    event: str | None  # None: no alert of its own, the device is polled at once instead
    severity: Literal["critical", "warning", "info"] = "warning"
    clears: str | None = None


class Profile(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    kind: Literal["ups", "cooling", "sensor", "interface", "pdu", "other"]
    description: str = ""
    uptime_oid: Oid = Field(default="1.3.6.1.2.1.1.3.0", pattern=OID_RE)
    info: dict[str, Oid] = {}
    #: sysObjectID prefixes of the devices this profile is written for: a probe whose profile matches nothing
    #: names the profile that fits the device it found (e.g. a NetBotz 750 polled as a NetBotz 450).
    sys_object_ids: tuple[Oid, ...] = ()
    labels: dict[str, Oid] = {}  # label columns shared by all walked metrics (e.g. ifName)
    label_map: dict[str, dict[str, str]] = {}  # label -> {raw value -> nicer value}, all metrics
    metrics: tuple[Metric, ...] = Field(min_length=1)
    traps: dict[str, TrapDef] = {}

    @field_validator("traps")
    @classmethod
    def _trap_oids(cls, v: dict[str, TrapDef]) -> dict[str, TrapDef]:
        import re
        for oid in v:
            if not re.match(OID_RE, oid):
                raise ValueError(f"trap key {oid!r} is not an OID")
        return v

    # ---- compiled request plan
    @property
    def scalar_oids(self) -> list[str]:
        out = [self.uptime_oid, *self.info.values()]
        for m in self.metrics:
            if m.oid:
                out.append(m.oid)
                if m.fallback:
                    out.append(m.fallback.oid)
        return list(dict.fromkeys(out))

    @property
    def walk_oids(self) -> list[str]:
        out: list[str] = []
        for m in self.metrics:
            if m.walk:
                out.append(m.walk)
                out += m.labels_from.values()
                if m.divisor_column:
                    out.append(m.divisor_column)
                if m.select:
                    out.append(m.select.column)
                    if m.select.unit_column:
                        out.append(m.select.unit_column)
        if any(m.walk for m in self.metrics):
            out += self.labels.values()
        return list(dict.fromkeys(out))


def missing_fallbacks(profile: Profile, varbinds: dict[str, object]) -> list[str]:
    """Fallback columns to walk because their preferred column came back empty."""
    out = []
    for m in profile.metrics:
        if m.fallback_column and not any(o.startswith(m.walk + ".") for o in varbinds):
            out.append(m.fallback_column.walk)
    return list(dict.fromkeys(out))


def _yaml():
    y = YAML(typ="safe")
    return y


def load_profile(path: Path) -> Profile:
    try:
        data = _yaml().load(path.read_text(encoding="utf-8"))
    except Exception as e:  # noqa: BLE001 - any YAML error becomes a one-line reason
        raise ProfileError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a mapping")
    data = {k: v for k, v in data.items()}
    # YAML may read OIDs such as 1.3 as floats only if short; keep keys as strings.
    if "traps" in data and data["traps"]:
        data["traps"] = {str(k): v for k, v in data["traps"].items()}
    try:
        prof = Profile.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise ProfileError(f"{path}: {loc}: {first['msg']}") from e
    if prof.name != path.stem:
        raise ProfileError(f"{path}: profile name {prof.name!r} must match the file name {path.stem!r}")
    return prof


@lru_cache(maxsize=8)
def _load_dir(directory: Path) -> dict[str, Profile]:
    return {p.stem: load_profile(p) for p in sorted(directory.glob("*.yaml"))}


def load_profiles(directory: Path | None = None) -> dict[str, Profile]:
    return dict(_load_dir(Path(directory or PROFILES_DIR).resolve()))


def get_profile(name: str, directory: Path | None = None) -> Profile:
    profiles = load_profiles(directory)
    if name not in profiles:
        raise ProfileError(f"unknown SNMP profile {name!r} (known: {', '.join(sorted(profiles))})")
    return profiles[name]


# ---------------------------------------------------------------- evaluation

@dataclass(slots=True)
class Sample:
    metric: str
    labels: dict[str, str]
    value: float
    type: str = "gauge"
    unit: str = ""
    state: str | None = None  # enum metrics: the state name
    raw: int | None = None  # counters: the raw counter, for rate computation
    bits: int = 64

    @property
    def key(self) -> tuple:
        return (self.metric, tuple(sorted(self.labels.items())))


@dataclass(slots=True)
class Evaluated:
    samples: list[Sample] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)
    uptime_ticks: int | None = None
    implausible: list[str] = field(default_factory=list)  # readings dropped: "metric{labels}=value (why)"
    hints: list[str] = field(default_factory=list)  # e.g. "looks like decivolts: set snmp.scale"


@lru_cache(maxsize=4)
def _plausible(path: Path) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    try:
        data = _yaml().load(path.read_text(encoding="utf-8")) or {}
        unit = {k: (float(a), float(b)) for k, (a, b) in (data.get("by_unit") or {}).items()}
        metric = {k: (float(a), float(b)) for k, (a, b) in (data.get("by_metric") or {}).items()}
    except Exception as e:  # noqa: BLE001 - a broken ranges file is a configuration error, said clearly
        raise ProfileError(f"{path}: {e}") from e
    return unit, metric


PLAUSIBLE_FILE = paths.PLAUSIBLE_FILE
_RANGES: dict[int, tuple["Metric", tuple[float, float]]] = {}  # by id(metric): the hot path of every reading


def valid_range(m: "Metric") -> tuple[float, float]:
    """[low, high] of a metric: its profile's valid_min/valid_max, else monitors/plausible.yaml."""
    hit = _RANGES.get(id(m))
    if hit is not None and hit[0] is m:
        return hit[1]
    by_unit, by_metric = _plausible(PLAUSIBLE_FILE)
    lo, hi = by_metric.get(m.name) or by_unit.get(m.unit) or (-math.inf, math.inf)
    r = (m.valid_min if m.valid_min is not None else lo, m.valid_max if m.valid_max is not None else hi)
    if len(_RANGES) > 4096:
        _RANGES.clear()
    _RANGES[id(m)] = (m, r)
    return r


def as_text(v) -> str:
    if isinstance(v, bytes):
        return _decode(v)
    if isinstance(v, bytearray):
        return bytes(v).decode("utf-8", errors="replace")
    return str(v)


@lru_cache(maxsize=65536)
def _decode(b: bytes) -> str:  # label values (ifName, sensor names) repeat every cycle
    return b.decode("utf-8", errors="replace")


def _num(v) -> int | float | None:
    if v is ABSENT or v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int | float):
        return v
    if isinstance(v, bytes | bytearray | str):  # some agents send numbers as strings
        try:
            return float(as_text(v).strip())
        except ValueError:
            return None
    return None


def _column(varbinds, col: str) -> dict[str, object]:
    """Rows of one column: index suffix -> value (absent values dropped)."""
    if isinstance(varbinds, _Columns):
        return varbinds.column(col)
    prefix = col + "."
    n = len(prefix)
    return {oid[n:]: v for oid, v in varbinds.items() if oid.startswith(prefix) and v is not ABSENT}


class _Columns:
    """Varbinds indexed once by table column (a varbind's column is its OID minus its index arcs,
    however many: string and address indexes are long), so evaluating a profile stays linear."""

    def __init__(self, varbinds: dict[str, object], columns: set[str]) -> None:
        self.cols: dict[str, dict[str, object]] = {}
        if not columns:  # a scalars-only profile: nothing to index (and no arc to cut down to)
            return
        shortest = min(len(c) for c in columns)
        for oid, v in varbinds.items():
            if v is ABSENT:
                continue
            cut = len(oid)
            while True:
                cut = oid.rfind(".", 0, cut)
                if cut < shortest:
                    break
                col = oid[:cut]
                if col in columns:
                    self.cols.setdefault(col, {})[oid[cut + 1:]] = v
                    break

    def column(self, col: str) -> dict[str, object]:
        return self.cols.get(col, {})


def evaluate(profile: Profile, varbinds: dict[str, object], scale: dict[str, float] | None = None) -> Evaluated:
    """Samples of a profile from raw varbinds; `scale`: per-device multipliers by metric (inventory)."""
    out = Evaluated()
    scale = scale or {}
    up = _num(varbinds.get(profile.uptime_oid))
    out.uptime_ticks = int(up) if up is not None else None
    for key, oid in profile.info.items():
        v = varbinds.get(oid)
        if v is not None and v is not ABSENT:
            out.info[key] = as_text(v)
    cols = _Columns(varbinds, _columns_of(profile))
    # Shared label columns (ifName, ifDescr, ...) as text once per poll, not once per metric and row.
    shared = {name: {idx: as_text(v).strip() for idx, v in _column(cols, col).items()}
              for name, col in profile.labels.items()}
    profile_maps = tuple(profile.label_map.items())
    for m in profile.metrics:
        if m.oid:
            raw = varbinds.get(m.oid)
            if (raw is None or raw is ABSENT) and m.fallback:
                raw = varbinds.get(m.fallback.oid)
                if raw is not None and raw is not ABSENT and _num(raw) is not None:
                    raw = _num(raw) * m.fallback.scale / m.scale
            _emit(out, m, raw, dict(m.const_labels), None, scale.get(m.name, 1.0))
            continue
        rows = _column(cols, m.walk)
        if not rows and m.fallback_column:
            rows = _column(cols, m.fallback_column.walk)
            if rows:
                fb = m.fallback_column
                m = m.model_copy(update={"bits": fb.bits, "scale": fb.scale, "fallback_column": None})
        if not rows:
            continue
        extra = {name: _column(cols, col) for name, col in m.labels_from.items()}
        div = _column(cols, m.divisor_column) if m.divisor_column else {}
        sel = _select_rows(m.select, cols) if m.select else None
        label_maps = (*profile_maps, *m.label_map.items()) if profile_maps or m.label_map else ()
        for idx, raw in rows.items():
            labels = {m.index: idx, **m.const_labels}
            if sel is not None:
                if idx not in sel:
                    continue
                labels[m.select.label] = sel[idx]
            for name, col in shared.items():
                text = col.get(idx)
                if text is not None:
                    labels[name] = text
            for name, col in extra.items():
                if idx in col:
                    labels[name] = as_text(col[idx]).strip()
            for lname, mapping in label_maps:
                if lname in labels and labels[lname] in mapping:
                    labels[lname] = mapping[labels[lname]]
            divisor = _num(div.get(idx)) if div else None
            _emit(out, m, raw, labels, divisor, scale.get(m.name, 1.0))
    return out


_COLS_CACHE: dict[int, tuple[Profile, frozenset[str]]] = {}


def _columns_of(profile: Profile) -> frozenset[str]:
    hit = _COLS_CACHE.get(id(profile))
    if hit is not None and hit[0] is profile:
        return hit[1]
    cols = set(profile.labels.values())
    for m in profile.metrics:
        if m.walk:
            cols.add(m.walk)
            cols.update(m.labels_from.values())
            for c in (m.divisor_column, m.fallback_column.walk if m.fallback_column else None,
                      m.select.column if m.select else None, m.select.unit_column if m.select else None):
                if c:
                    cols.add(c)
    out = frozenset(cols)
    if len(_COLS_CACHE) > 256:
        _COLS_CACHE.clear()
    _COLS_CACHE[id(profile)] = (profile, out)
    return out


def _select_rows(sel: Select, varbinds) -> dict[str, str]:
    desc = _column(varbinds, sel.column)
    units = _column(varbinds, sel.unit_column) if sel.unit_column else {}
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    for idx, d in desc.items():
        text = as_text(d).strip()
        if sel.unit_equals is not None and as_text(units.get(idx, b"")).strip() != sel.unit_equals:
            continue
        if text in sel.rows:
            label = sel.rows[text]
        elif sel.match_prefix and text.startswith(sel.match_prefix):
            label = text[len(sel.match_prefix):].strip().lower().replace(" ", "_")
        else:
            continue
        if label in taken:  # the same reading in two units: keep the first
            continue
        taken.add(label)
        chosen[idx] = label
    return chosen


def _emit(out: Evaluated, m: Metric, raw, labels: dict[str, str], divisor: float | None = None,
          override: float = 1.0) -> None:
    v = _num(raw)
    if v is None:
        return
    if v.__class__ is float and not math.isfinite(v):  # only a string reading can be nan/inf
        _implausible(out, m, labels, v, "not a number")
        return
    if m.absent_values and v == int(v) and int(v) in m.absent_values:
        return  # a sentinel: no reading (unknown), never a value
    if m.type == "counter":
        out.samples.append(Sample(m.name, labels, float(v) * m.scale * override, "counter", m.unit, raw=int(v),
                                  bits=m.bits))
        return
    value = float(v)
    if m.type == "enum":
        state = m.states.get(int(v), f"unknown_{int(v)}")
        out.samples.append(Sample(m.name, labels, value, "enum", m.unit, state=state))
        return
    if divisor:
        value /= divisor
    value *= m.scale * override
    lo, hi = valid_range(m)
    if not lo <= value <= hi:
        _implausible(out, m, labels, value, f"outside {lo:g}..{hi:g} {m.unit}".rstrip())
        for k in (1, -1, 2, -2, 3, -3):
            if value and lo <= value * 10 ** -k <= hi and (lo > 0 or hi > 0):
                out.hints.append(f"{m.name} reads {value:g} {m.unit}, off by 10^{k} from its range {lo:g}..{hi:g}: "
                                 f"if the agent reports in another unit, set snmp.scale: {{{m.name}: {10 ** -k:g}}} "
                                 "for this device in the inventory")
                break
        return
    out.samples.append(Sample(m.name, labels, value, "gauge", m.unit))


def _implausible(out: Evaluated, m: Metric, labels: dict[str, str], value: float, why: str) -> None:
    lab = ",".join(f"{k}={v}" for k, v in labels.items())
    out.implausible.append(f"{m.name}{{{lab}}}={value:g} ({why})")


def profiles_for_sys_object_id(oid: str) -> list[str]:
    """Names of the shipped profiles written for a device with this sysObjectID (longest prefix first)."""
    oid = oid.lstrip(".")
    hits = [(len(p), prof.name) for prof in load_profiles().values() for p in prof.sys_object_ids
            if oid == p or oid.startswith(p + ".")]
    return [name for _n, name in sorted(hits, reverse=True)]
