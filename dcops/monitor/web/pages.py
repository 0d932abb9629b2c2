"""What each NOC page shows, computed from the store (the app caches it per poll cycle)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import time
from dataclasses import dataclass

from ..alerts import device_group, recent_alerts
from ..i18n import fmt_duration, fmt_pct, fmt_time, fmt_value, site_tz
from .alertsource import EmbeddedSource
from .charts import N_BUCKETS, line_chart, minmax_points
from .facility import FAILED, data_quality, device_state, facility_alarms
from .strings import tr

PRESETS = (("1h", 3600), ("6h", 6 * 3600), ("1d", 86400), ("7d", 7 * 86400), ("30d", 30 * 86400))
MAX_SPAN = 400 * 86400
MIN_SPAN = 300


@dataclass
class LineInfo:
    name: str
    provider: str
    bandwidth: int
    device: str
    interface: str


def lines_from_inventory() -> list[LineInfo]:
    try:
        import dcops
        from dcops.model import load_inventory
        inv = load_inventory(dcops.DEFAULT_INVENTORY, dr_ok=True)  # a DR site's NOC page reads its own
    except Exception:  # noqa: BLE001 - the page still works from stored labels
        return []
    return [LineInfo(ll.name, ll.provider, ll.bandwidth_mbps, ll.device, ll.interface) for ll in inv.leased_lines]


# ---------------------------------------------------------------- time ranges (zoom and pan, no script)

def _parse_when(v: str | None, now: float) -> float | None:
    if not v:
        return None
    v = v.strip()
    if v.isdigit():
        return float(v)
    try:  # <input type="datetime-local">: site local time
        return dt.datetime.fromisoformat(v).replace(tzinfo=site_tz()).timestamp()
    except ValueError:
        return None


def time_range(q, default: str, now: float, lang: str) -> tuple[float, float, dict]:
    """[since, until] from ?range=PRESET or ?from=&to= (epoch seconds or datetime-local), clamped."""
    presets = dict(PRESETS)
    key = q.get("range")
    since = _parse_when(q.get("from"), now)
    until = _parse_when(q.get("to"), now)
    if key in presets or since is None:
        key = key if key in presets else default
        until, since = now, now - presets[key]
    else:
        key = None
        until = min(until or now, now)
        since = max(min(since, until - MIN_SPAN), until - MAX_SPAN)
    span = until - since
    mid = (since + until) / 2
    nav = {
        "presets": [{"key": k, "text": fmt_duration(s, lang), "on": k == key} for k, s in PRESETS],
        "earlier": (int(since - span), int(since)),
        "later": (int(until), int(min(until + span, now))) if until < now - 60 else None,
        "zoom_in": (int(mid - max(span / 4, MIN_SPAN / 2)), int(mid + max(span / 4, MIN_SPAN / 2))),
        "zoom_out": (int(max(mid - span, now - MAX_SPAN)), int(min(mid + span, now))),
        "from_local": dt.datetime.fromtimestamp(since, site_tz()).strftime("%Y-%m-%dT%H:%M"),
        "to_local": dt.datetime.fromtimestamp(until, site_tz()).strftime("%Y-%m-%dT%H:%M"),
        "shown": f"{fmt_time(since, lang)} – {fmt_time(until, lang)} ({fmt_duration(round(span / 60) * 60, lang)})",
    }
    return since, until, nav


# ---------------------------------------------------------------- status and summaries

def device_status(d: dict, alerts: list[dict]) -> str:
    if d["reachable"] is None:
        return "unknown"
    if not d["reachable"]:  # unreachable, malformed, rejected, deadline, error: each says what went wrong
        return device_state(d)
    sev = {a["severity"] for a in alerts if a["device"] == d["name"]}
    return "critical" if "critical" in sev else "warning" if "warning" in sev else "ok"


def summary(rows: list[dict], lang: str) -> list[tuple[str, str]]:
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["metric"], []).append(r)
    out = []

    def first(m):
        return by.get(m, [None])[0]

    src = first("ups_output_source")
    if src:
        out.append((tr("status", lang), tr("on_battery", lang) if src["state"] == "battery"
                    else tr("on_mains", lang) if src["state"] == "normal" else tr(src["state"] or "", lang)))
    for m, key in (("ups_battery_charge_ratio", "charge"), ("ups_battery_runtime_seconds", "runtime")):
        r = first(m)
        if r:
            out.append((tr(key, lang), fmt_value(r["value"], r["unit"], None, lang)))
    if "ups_output_load_ratio" in by:
        mx = max(by["ups_output_load_ratio"], key=lambda r: r["value"])
        out.append((tr("load", lang), fmt_pct(mx["value"], lang)))
    for r in by.get("cooling_air_temperature_celsius", []):
        s = r["labels"].get("sensor", "")
        if s in ("supply_air", "return_air"):
            out.append((tr(s, lang), fmt_value(r["value"], "celsius", None, lang)))
    r = first("cooling_humidity_ratio")
    if r:
        out.append((tr("humidity", lang), fmt_pct(r["value"], lang)))
    temps = by.get("env_temperature_celsius", [])
    if temps:
        vals = [r["value"] for r in temps]
        lo, hi = fmt_value(min(vals), "celsius", None, lang), fmt_value(max(vals), "celsius", None, lang)
        out.append((tr("temperature", lang), lo if lo == hi else f"{lo.split(' ')[0]}–{hi}"))
    hums = by.get("env_humidity_ratio", [])
    if hums:
        vals = [r["value"] for r in hums]
        lo, hi = fmt_pct(min(vals), lang, 0), fmt_pct(max(vals), lang, 0)
        out.append((tr("humidity", lang), lo if lo == hi else f"{lo.split(' ')[0]}–{hi}"))
    for r in by.get("env_contact_alarm", []):
        out.append((r["labels"].get("contact", tr("contact", lang)),
                    tr("ok", lang) if r["state"] == "normal" else tr(r["state"] or "", lang)))
    ifs = by.get("if_oper_status", [])
    if ifs:
        up = sum(1 for r in ifs if r["state"] == "up")
        out.append((tr("interfaces_up", lang), f"{up}/{len(ifs)}"))
    for r in by.get("if_in_utilisation_ratio", []):
        if "line" in r["labels"]:
            out.append((f"{r['labels']['line']} ({tr('in', lang)})", fmt_pct(r["value"], lang)))
    return out


def _devices_view(store, lang: str, alerts: list[dict], src=None) -> list[dict]:
    latest = store.latest(current=True)
    rows_by_dev: dict[str, list[dict]] = {}
    for r in latest:
        rows_by_dev.setdefault(r["device"], []).append(r)
    src = src or EmbeddedSource(store)
    return [dict(d, status=device_status(d, alerts), group=device_group(d["kind"] or ""), quality=device_state(d),
                 silence=src.device_silence(d["name"], d["kind"] or ""),
                 summary=summary(rows_by_dev.get(d["name"], []), lang)) for d in store.devices()]


def overview(store, lang: str, src=None) -> dict:
    alerts = (src or EmbeddedSource(store)).active()
    groups: dict[str, list] = {"ups": [], "cooling": [], "sensor": [], "network": []}
    devs = _devices_view(store, lang, alerts, src)
    for d in devs:
        groups[d["group"]].append(d)
    return dict(page="overview", refresh=10, alerts=alerts, groups=[(g, v) for g, v in groups.items() if v],
                facility=facility_alarms(store), quality=data_quality(devs))


def wall(store, lang: str, src=None) -> dict:
    alerts = (src or EmbeddedSource(store)).active()
    order = {"critical": 0, **dict.fromkeys(FAILED, 0), "warning": 1, "unknown": 2, "ok": 3}
    devs = sorted(_devices_view(store, lang, alerts, src), key=lambda d: (order.get(d["status"], 2), d["name"]))
    with store.read() as db:
        last = db.execute("SELECT MAX(last_poll) FROM devices").fetchone()[0]
    return dict(page="wall", refresh=15, wall=True, body_class="wall", alerts=alerts, devices=devs, data_ts=last)


def alerts_page(store, lang: str, src=None) -> dict:
    return dict(page="alerts", refresh=10, alerts=(src or EmbeddedSource(store)).active(),
                recent=recent_alerts(store))


def _series_label(s: dict, metric: str, lang: str) -> str:
    lab = s["labels"]
    return (lab.get("sensor") or lab.get("ifName") or lab.get("phase") or lab.get("contact")
            or ",".join(f"{v}" for v in lab.values()) or tr(metric, lang))


def device(store, name: str, q, lang: str, now: float, src=None) -> dict | None:
    dev = next((d for d in store.devices() if d["name"] == name), None)
    if dev is None:
        return None
    since, until, nav = time_range(q, "1h", now, lang)
    latest = []
    for r in store.latest(name, current=True):
        if r["unit"] == "bytes" or r["metric"].endswith("_total"):
            continue
        lab = ", ".join(f"{k}={v}" for k, v in r["labels"].items() if k not in ("ifDescr", "ifAlias"))
        latest.append(dict(r, label_text=lab, display=fmt_value(r["value"], r["unit"], r["state"], lang)))
    by_metric: dict[str, list[dict]] = {}
    for s in store.series(name):
        if s["metric"].endswith("_total") or s["unit"] in ("bytes",) or (s["unit"] == "" and not s["metric"].endswith("_state")):
            continue
        by_metric.setdefault(s["metric"], []).append(s)
    charts = []
    for metric, ss in list(by_metric.items())[:16]:
        data = [(_series_label(s, metric, lang), minmax_points(store.buckets(s["id"], since, until, N_BUCKETS)))
                for s in ss[:8]]
        charts.append(line_chart(data, ss[0]["unit"], since, until, title=tr(metric, lang), lang=lang))
    src = src or EmbeddedSource(store)
    alerts = src.active()
    sil = src.device_silence(name, dev["kind"] or "")
    return dict(page="device", dev=dev, status=device_status(dev, alerts), latest=latest, charts=charts, nav=nav,
                silence=sil, n_alerts=len(alerts), quality=device_state(dev))


def lines(store, infos: list[LineInfo], q, lang: str, now: float) -> dict:
    since, until, nav = time_range(q, "1d", now, lang)
    if not infos:  # no inventory: lines as labelled in the store
        seen = {}
        for s in store.series(metric="if_in_utilisation_ratio"):
            if "line" in s["labels"]:
                seen[s["labels"]["line"]] = LineInfo(s["labels"]["line"], "", 0, s["device"],
                                                     s["labels"].get("ifName", ""))
        infos = list(seen.values())
    devices = {d["name"]: d for d in store.devices()}
    out = []
    for li in infos:
        util, bps, now_vals = [], [], {}
        current = {(r["metric"], r["labels"].get("ifName")): r for r in store.latest(li.device, current=True)}
        for direction in ("in", "out"):
            for s in store.series(li.device, f"if_{direction}_utilisation_ratio"):
                if s["labels"].get("ifName") == li.interface:
                    util.append((tr(direction, lang), minmax_points(store.buckets(s["id"], since, until, N_BUCKETS))))
                    r = current.get((f"if_{direction}_utilisation_ratio", li.interface))
                    now_vals[direction] = r["value"] if r else None
            for s in store.series(li.device, f"if_{direction}_bytes_per_second"):
                if s["labels"].get("ifName") == li.interface:
                    bps.append((tr(direction, lang), minmax_points(store.buckets(s["id"], since, until, N_BUCKETS))))
        oper = current.get(("if_oper_status", li.interface))
        d = devices.get(li.device)
        status = ("unknown" if d is None or d["reachable"] is None else "unreachable" if not d["reachable"]
                  else "ok" if oper and oper["state"] == "up" else "critical")
        out.append(dict(
            name=li.name, provider=li.provider, bandwidth=li.bandwidth or "?", device=li.device,
            interface=li.interface, status=status,
            now_in=fmt_value(now_vals.get("in"), "ratio", None, lang),
            now_out=fmt_value(now_vals.get("out"), "ratio", None, lang),
            chart_util=line_chart(util, "ratio", since, until, title=tr("utilisation", lang), threshold=0.8, lang=lang),
            chart_bps=line_chart(bps, "bytes_per_second", since, until, title=f"{tr('traffic', lang)} {li.name}",
                                 lang=lang)))
    return dict(page="lines", lines=out, nav=nav, refresh=30)


def _cell(v) -> str:
    """CSV cell safe to open in a spreadsheet (no formula injection from device strings)."""
    s = "" if v is None else str(v)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def alerts_csv(store, lang: str, days: float = 90) -> str:
    rows = recent_alerts(store, limit=100_000, since=time.time() - days * 86400)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    head = (["id", "quy_tac", "thiet_bi", "muc_do", "trang_thai", "bat_dau", "khoi_phuc", "xac_nhan_boi",
             "xac_nhan_luc", "ghi_chu", "noi_dung"] if lang == "vi" else
            ["id", "rule", "device", "severity", "state", "fired_at", "resolved_at", "acked_by", "acked_at",
             "comment", "summary"])
    w.writerow(head)
    iso = "%Y-%m-%d %H:%M:%S"
    for a in rows:
        w.writerow([_cell(x) for x in (
            a["id"], a["rule"], a["device"], tr(a["severity"], lang), a["state"],
            fmt_time_iso(a["fired_at"], iso), fmt_time_iso(a["resolved_at"], iso), a["acked_by"],
            fmt_time_iso(a["acked_at"], iso), a.get("ack_comment"), a["summary_" + lang])])
    return "\ufeff" + buf.getvalue()  # BOM: spreadsheets then read the Vietnamese text as UTF-8


def fmt_time_iso(ts, fmt: str) -> str:
    return dt.datetime.fromtimestamp(ts, site_tz()).strftime(fmt) if ts else ""
