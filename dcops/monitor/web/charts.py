"""Server-rendered SVG line charts (no JavaScript, no CDN), drawn from as many points as pixels.

The store hands over per-bucket avg/min/max (`Store.buckets`, one bucket per 2 px); each bucket is
drawn as its minimum and maximum (min/max decimation), so a one-minute spike in 30 days still shows
while the page stays small. Coordinates are whole pixels of the viewBox.
"""
from __future__ import annotations

import math
from html import escape

from ..i18n import fmt_num, fmt_ts

COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")
WIDTH, HEIGHT = 640, 220
LEFT, RIGHT = 56, 12
PLOT_WIDTH = WIDTH - LEFT - RIGHT
BUCKET_PX = 2
N_BUCKETS = PLOT_WIDTH // BUCKET_PX

DISPLAY = {  # unit -> (factor, suffix vi, suffix en) for the axis
    "ratio": (100, "%", "%"), "celsius": (1, "°C", "°C"), "seconds": (1 / 60, "phút", "min"),
    "volts": (1, "V", "V"), "hertz": (1, "Hz", "Hz"), "amperes": (1, "A", "A"), "watts": (1 / 1000, "kW", "kW"),
    "bytes_per_second": (8 / 1e6, "Mbit/s", "Mbit/s"), "bits_per_second": (1 / 1e6, "Mbit/s", "Mbit/s"),
    "rpm": (1, "vòng/phút", "rpm"), "per_second": (1, "/giây", "/s"),
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


def minmax_points(pts) -> list[tuple[float, float]]:
    """Bucketed points (ts, avg, min, max) -> a polyline through each bucket's extremes, in the order
    that keeps the line continuous (rising: min then max)."""
    out: list[tuple[float, float]] = []
    prev = None
    for p in pts:
        lo = p.min if p.min is not None else p.value
        hi = p.max if p.max is not None else p.value
        if lo == hi:
            out.append((p.ts, lo))
        elif prev is None or p.value >= prev:
            out.extend(((p.ts, lo), (p.ts, hi)))
        else:
            out.extend(((p.ts, hi), (p.ts, lo)))
        prev = p.value
    return out


def line_chart(series, unit: str, since: float, until: float, title: str = "", lang: str = "vi",
               threshold: float | None = None, width: int = WIDTH, height: int = HEIGHT) -> str:
    """`series`: [(label, [(ts, value), ...])] in stored units (already downsampled)."""
    factor, suf_vi, suf_en = DISPLAY.get(unit, (1, unit, unit))
    suffix = suf_vi if lang == "vi" else suf_en
    rows = max(1, (len(series) + 3) // 4)
    height += 14 * (rows - 1)
    left, right, top, bottom = LEFT, RIGHT, 24, 40 + 14 * (rows - 1)
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
        return round(left + (t - since) / span * pw)

    def y(v):
        return round(top + ph - (v - lo) / (hi - lo) * ph)

    head = f"{escape(title)} ({escape(suffix)})" if suffix else escape(title)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="16" class="ct">{head}</text>',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="bg"/>']
    ticks, dec = _nice_ticks(lo, hi)
    for tv in ticks:
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(tv)}" y2="{y(tv)}" class="grid"/>'
                     f'<text x="{left - 6}" y="{y(tv) + 4}" class="yl">{fmt_num(tv, dec, lang)}</text>')
    fmt = "%H:%M" if span <= 2 * 86400 else "%d/%m"
    for i in range(6):
        t = since + span * i / 5
        parts.append(f'<text x="{x(t)}" y="{height - bottom + 16}" class="xl">{fmt_ts(t, fmt)}</text>')
    if threshold is not None:
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(threshold * factor)}" '
                     f'y2="{y(threshold * factor)}" class="thr"/>')
    for i, (label, pts) in enumerate(series):
        c = COLOURS[i % len(COLOURS)]
        if pts:
            # A gap longer than 3.5 times the usual spacing breaks the line (device unreachable, no data).
            gaps = sorted(b[0] - a[0] for a, b in zip(pts, pts[1:]) if b[0] > a[0])
            limit = (gaps[len(gaps) // 2] * 3.5) if gaps else span
            segs, cur = [], [pts[0]]
            for a, b in zip(pts, pts[1:]):
                if b[0] - a[0] > limit:
                    segs.append(cur)
                    cur = []
                cur.append(b)
            segs.append(cur)
            for seg in segs:
                if len(seg) == 1:
                    parts.append(f'<circle cx="{x(seg[0][0])}" cy="{y(seg[0][1] * factor)}" r="2" fill="{c}"/>')
                    continue
                xy, last = [], None
                for t, v in seg:
                    p = (x(t), y(v * factor))
                    if p != last:  # points on the same pixel add bytes, not ink
                        xy.append(f"{p[0]},{p[1]}")
                        last = p
                parts.append(f'<polyline points="{" ".join(xy)}" fill="none" stroke="{c}" stroke-width="1.6"/>')
        ly = height - bottom + 31 + (i // 4) * 14
        parts.append(f'<rect x="{left + 4 + (i % 4) * 150}" y="{ly - 5}" width="10" height="4" '
                     f'fill="{c}"/><text x="{left + 18 + (i % 4) * 150}" y="{ly}" class="lg">'
                     f'{escape(label[:24])}</text>')
    if not any(pts for _, pts in series):
        parts.append(f'<text x="{left + pw / 2:.0f}" y="{top + ph / 2:.0f}" class="nodata">—</text>')
    parts.append("</svg>")
    return "".join(parts)
