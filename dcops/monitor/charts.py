"""Server-rendered SVG line charts (no JavaScript, no CDN): time on x, value in display units on y."""
from __future__ import annotations

import datetime as dt
import math
import os
from html import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def site_tz():
    """The NOC reads local time of the site (Asia/Ho_Chi_Minh), whatever the server's clock zone."""
    try:
        return ZoneInfo(os.environ.get("DCOPS_TZ", "Asia/Ho_Chi_Minh"))
    except (ZoneInfoNotFoundError, ValueError):
        return dt.timezone(dt.timedelta(hours=7))


def fmt_ts(ts: float, fmt: str) -> str:
    return dt.datetime.fromtimestamp(ts, site_tz()).strftime(fmt)

COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")

DISPLAY = {  # unit -> (factor, suffix) for the axis
    "ratio": (100, "%"), "celsius": (1, "°C"), "seconds": (1 / 60, "min"), "volts": (1, "V"),
    "hertz": (1, "Hz"), "amperes": (1, "A"), "watts": (1 / 1000, "kW"), "bytes_per_second": (8 / 1e6, "Mbit/s"),
    "bits_per_second": (1 / 1e6, "Mbit/s"), "rpm": (1, "rpm"), "per_second": (1, "/s"),
}


def _nice_ticks(lo: float, hi: float, n: int = 5) -> tuple[list[float], int]:
    """Round tick values (1, 2, 2.5, 5 x 10^k steps) and the decimals needed to print them."""
    span = (hi - lo) or 1.0
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)
    v = math.ceil(lo / step) * step
    ticks = []
    while v <= hi + step * 1e-6 and len(ticks) < 12:
        ticks.append(v)
        v += step
    decimals = max(0, -math.floor(math.log10(step)))
    if abs(step * 10 ** decimals - round(step * 10 ** decimals)) > 1e-9:  # e.g. 0.25
        decimals += 1
    return ticks, decimals


def line_chart(series: list[tuple[str, list[tuple[float, float]]]], unit: str, since: float, until: float,
               title: str = "", width: int = 640, height: int = 220, threshold: float | None = None) -> str:
    factor, suffix = DISPLAY.get(unit, (1, unit))
    rows = max(1, (len(series) + 3) // 4)
    height += 14 * (rows - 1)
    left, right, top, bottom = 56, 12, 24, 40 + 14 * (rows - 1)
    pw, ph = width - left - right, height - top - bottom
    vals = [v * factor for _, pts in series for _, v in pts]
    if threshold is not None:
        vals.append(threshold * factor)
    lo, hi = (min(vals), max(vals)) if vals else (0, 1)
    if unit == "ratio":
        lo, hi = min(lo, 0), max(hi, 100)
    pad = (hi - lo) * 0.08 or 1
    lo, hi = lo - (pad if lo != 0 else 0), hi + pad
    span = max(until - since, 1)

    def x(t):
        return left + (t - since) / span * pw

    def y(v):
        return top + ph - (v - lo) / (hi - lo) * ph

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="16" class="ct">{escape(title)} ({escape(suffix)})</text>',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="bg"/>']
    ticks, dec = _nice_ticks(lo, hi)
    for tv in ticks:
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(tv):.1f}" y2="{y(tv):.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y(tv) + 4:.1f}" class="yl">{tv:.{dec}f}</text>')
    fmt = "%H:%M" if span <= 2 * 86400 else "%d/%m"
    for i in range(6):
        t = since + span * i / 5
        parts.append(f'<text x="{x(t):.1f}" y="{height - bottom + 16}" class="xl">'
                     f'{fmt_ts(t, fmt)}</text>')
    if threshold is not None:
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(threshold * factor):.1f}" '
                     f'y2="{y(threshold * factor):.1f}" class="thr"/>')
    for i, (label, pts) in enumerate(series):
        c = COLOURS[i % len(COLOURS)]
        if pts:
            # A gap longer than 3 samples' spacing breaks the line (device unreachable, no data).
            gaps = sorted(b[0] - a[0] for a, b in zip(pts, pts[1:]))
            limit = (gaps[len(gaps) // 2] * 3.5) if gaps else span
            segs, cur = [], [pts[0]]
            for a, b in zip(pts, pts[1:]):
                if b[0] - a[0] > limit:
                    segs.append(cur)
                    cur = []
                cur.append(b)
            segs.append(cur)
            for seg in segs:
                d = " ".join(f"{x(t):.1f},{y(v * factor):.1f}" for t, v in seg)
                if len(seg) == 1:
                    parts.append(f'<circle cx="{x(seg[0][0]):.1f}" cy="{y(seg[0][1] * factor):.1f}" r="2" fill="{c}"/>')
                else:
                    parts.append(f'<polyline points="{d}" fill="none" stroke="{c}" stroke-width="1.6"/>')
        ly = height - bottom + 31 + (i // 4) * 14
        parts.append(f'<rect x="{left + 4 + (i % 4) * 150}" y="{ly - 5}" width="10" height="4" '
                     f'fill="{c}"/><text x="{left + 18 + (i % 4) * 150}" y="{ly}" class="lg">'
                     f'{escape(label[:24])}</text>')
    if not any(pts for _, pts in series):
        parts.append(f'<text x="{left + pw / 2}" y="{top + ph / 2}" class="nodata">—</text>')
    parts.append("</svg>")
    return "".join(parts)
