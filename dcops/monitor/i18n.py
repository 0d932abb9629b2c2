"""Vietnamese (default) and English text of metrics and states, and numbers in each language's format.

Metric and state names come from monitors/labels.yaml (data, so a new profile adds its words there).
Vietnamese writes 19.000 and 5,5 % (dot for thousands, comma for decimals, a space before %).
"""
from __future__ import annotations

import datetime as dt
import functools
import math
import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dcops.paths import LABELS_FILE  # stated once in dcops/paths.py

LANGS = ("vi", "en")


@functools.lru_cache(maxsize=4)
def _labels(path: str) -> dict[str, tuple[str, str]]:
    from ruamel.yaml import YAML
    data = YAML(typ="safe").load(Path(path).read_text(encoding="utf-8")) or {}
    out = {}
    for k, v in data.items():
        if not isinstance(v, dict) or not v.get("vi") or not v.get("en"):
            raise ValueError(f"{path}: {k!r} needs both vi and en text")
        out[str(k)] = (str(v["vi"]), str(v["en"]))
    return out


def labels(path: Path | None = None) -> dict[str, tuple[str, str]]:
    return _labels(str(path or LABELS_FILE))


def label(key: str, lang: str) -> str | None:
    """Text of a metric or state word, or None when monitors/labels.yaml has none."""
    pair = labels().get(key)
    return None if pair is None else pair[0 if lang == "vi" else 1]


def label_or_raw(key: str, lang: str) -> str:
    return label(key, lang) or key


# ---------------------------------------------------------------- numbers

def fmt_num(v: float, decimals: int = 0, lang: str = "vi") -> str:
    """19000 -> '19.000' (vi) / '19,000' (en); 5.5 -> '5,5' (vi) / '5.5' (en)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    s = f"{v:,.{decimals}f}"
    if lang == "vi":
        s = s.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return s


def _decimals(v: float) -> int:
    a = abs(v)
    return 0 if a >= 100 or a == int(a) else 1 if a >= 10 else 2


def fmt_pct(ratio: float, lang: str = "vi", decimals: int | None = None) -> str:
    pct = ratio * 100
    d = decimals if decimals is not None else (0 if abs(pct - round(pct)) < 0.05 else 1)
    return f"{fmt_num(pct, d, lang)} %"


UNITS = {"celsius": "°C", "volts": "V", "hertz": "Hz", "amperes": "A", "watts": "W", "rpm": "vòng/phút"}
UNITS_EN = {"rpm": "rpm"}


def fmt_value(value: float | None, unit: str, state: str | None = None, lang: str = "vi") -> str:
    """A reading as NOC staff read it: states in words, ratios as %, seconds as minutes, bytes/s as Mbit/s."""
    if state is not None:
        return label_or_raw(state, lang)
    if value is None:
        return "—"
    if unit == "ratio":
        return fmt_pct(value, lang)
    if unit == "celsius":
        return f"{fmt_num(value, 1, lang)} °C"
    if unit == "seconds":
        return f"{fmt_num(value / 60, 0, lang)} {'phút' if lang == 'vi' else 'min'}"
    if unit in UNITS:
        sym = UNITS_EN.get(unit, UNITS[unit]) if lang == "en" else UNITS[unit]
        return f"{fmt_num(value, _decimals(value), lang)} {sym}"
    if unit == "bytes_per_second":
        return f"{fmt_num(value * 8 / 1e6, 1, lang)} Mbit/s"
    if unit == "bits_per_second":
        return f"{fmt_num(value / 1e6, 0, lang)} Mbit/s"
    return fmt_num(value, _decimals(value), lang)


def fmt_duration(seconds: float, lang: str = "vi") -> str:
    """3600 -> '1 giờ' / '1 hour'; 86400 -> '24 giờ' / '24 hours'; 86400*30 -> '30 ngày' / '30 days'."""
    units = (("d", 86400, "ngày", "day"), ("h", 3600, "giờ", "hour"), ("m", 60, "phút", "minute"))
    for _k, size, vi, en in units:
        if size == 86400 and seconds < 2 * 86400:
            continue  # a day or so reads better in hours on a NOC screen
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{fmt_num(n, 0, lang)} {vi}" if lang == "vi" else f"{fmt_num(n, 0, lang)} {en}{'s' if n != 1 else ''}"
    n = int(seconds)
    return f"{n} giây" if lang == "vi" else f"{n} s"


# ---------------------------------------------------------------- time

def site_tz():
    """The NOC reads local time of the site (Asia/Ho_Chi_Minh), whatever the server's clock zone."""
    try:
        return ZoneInfo(os.environ.get("DCOPS_TZ", "Asia/Ho_Chi_Minh"))
    except (ZoneInfoNotFoundError, ValueError):
        return dt.timezone(dt.timedelta(hours=7))


def fmt_ts(ts: float, fmt: str) -> str:
    return dt.datetime.fromtimestamp(ts, site_tz()).strftime(fmt)


def fmt_time(ts, lang: str = "vi") -> str:
    """Vietnamese: 14:05:09 30/11/2026; English: 2026-11-30 14:05:09 (both site local time)."""
    if not ts:
        return "—"
    return fmt_ts(ts, "%H:%M:%S %d/%m/%Y" if lang == "vi" else "%Y-%m-%d %H:%M:%S")
