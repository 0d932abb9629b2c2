"""The NOC dashboard: stdlib HTTP server + Jinja2 (autoescaped), server-rendered SVG charts.

Roles: `viewer` reads, `admin` also acknowledges alerts; every POST carries the session's CSRF
token. Sessions expire after `session_minutes` idle. Vietnamese by default (cookie `lang`).
Device-supplied strings (sysDescr, sysName, sensor names) are data: always escaped.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http import cookies
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from jinja2 import DictLoader, Environment, select_autoescape

from . import auth
from .alerts import acknowledge, active_alerts, format_value, recent_alerts
from .charts import fmt_ts, line_chart
from .i18n import LANGS, tr
from .store import Store
from .templates import CSS, TEMPLATES

RANGES = {"1h": 3600, "1d": 86400, "30d": 30 * 86400}
GROUPS = (("ups", ("ups",)), ("cooling", ("cooling",)), ("sensor", ("sensor",)))
SESSION_COOKIE = "dcops_session"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self' data:; script-src 'none'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _fmt_time(ts) -> str:
    if not ts:
        return "—"
    return fmt_ts(ts, "%H:%M:%S %d/%m/%Y")


def _jenv() -> Environment:
    env = Environment(loader=DictLoader(TEMPLATES), autoescape=select_autoescape(default=True, default_for_string=True))
    env.globals["fmt_time"] = _fmt_time
    return env


@dataclass
class LineInfo:
    name: str
    provider: str
    bandwidth: int
    device: str
    interface: str


@dataclass
class App:
    store: Store
    session_ttl: float = 1800
    lines: list[LineInfo] = field(default_factory=list)
    secure_cookies: bool = False
    jenv: Environment = field(default_factory=_jenv)
    _fails: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def throttled(self, ip: str) -> bool:
        now = time.time()
        with self._lock:
            recent = [t for t in self._fails.get(ip, []) if now - t < 60]
            self._fails[ip] = recent
            return len(recent) >= 5

    def failed(self, ip: str) -> None:
        with self._lock:
            self._fails.setdefault(ip, []).append(time.time())


def _lines_from_inventory() -> list[LineInfo]:
    try:
        import dcops
        from dcops.model import load_inventory
        inv = load_inventory(dcops.DEFAULT_INVENTORY)
    except Exception:  # noqa: BLE001 - the dashboard still works from stored labels
        return []
    return [LineInfo(ll.name, ll.provider, ll.bandwidth_mbps, ll.device, ll.interface) for ll in inv.leased_lines]


def make_server(host: str, port: int, db: Path | str, session_minutes: int = 30,
                lines: list[LineInfo] | None = None, secure_cookies: bool = False) -> ThreadingHTTPServer:
    app = App(Store(db), session_ttl=session_minutes * 60,
              lines=lines if lines is not None else _lines_from_inventory(), secure_cookies=secure_cookies)

    class Handler(_Handler):
        pass

    Handler.app = app
    srv = ThreadingHTTPServer((host, port), Handler)
    srv.daemon_threads = True
    return srv


def serve(host: str, port: int, db: Path | str, session_minutes: int = 30, secure_cookies: bool = False) -> None:
    srv = make_server(host, port, db, session_minutes, secure_cookies=secure_cookies)
    import signal
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown, daemon=True).start())
    print(f"NOC dashboard on http://{host}:{srv.server_address[1]}/ (db {db})", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


class _Handler(BaseHTTPRequestHandler):
    app: App
    server_version = "dcops-noc"
    sys_version = ""

    def log_message(self, fmt, *args) -> None:  # quiet; errors still go to stderr via log_error
        pass

    # ---------------------------------------------------------------- plumbing
    def _cookies(self) -> dict[str, str]:
        c = cookies.SimpleCookie()
        try:
            c.load(self.headers.get("Cookie", ""))
        except cookies.CookieError:
            return {}
        return {k: v.value for k, v in c.items()}

    def _ctx(self):
        ck = self._cookies()
        lang = ck.get("lang") if ck.get("lang") in LANGS else "vi"
        user = auth.get_session(self.app.store, ck.get(SESSION_COOKIE), self.app.session_ttl)
        return lang, user, ck

    def _send(self, code: int, body: bytes, ctype: str = "text/html; charset=utf-8",
              extra: list[tuple[str, str]] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in SECURITY_HEADERS.items():
            self.send_header(k, v)
        for k, v in extra or []:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _redirect(self, to: str, extra: list[tuple[str, str]] | None = None) -> None:
        self._send(303, b"", extra=[("Location", to), *(extra or [])])

    def _render(self, name: str, lang: str, user, code: int = 200, **kw) -> None:
        tpl = self.app.jenv.get_template(name)
        n = len(active_alerts(self.app.store)) if user else 0
        html = tpl.render(lang=lang, user=user, t=lambda k: tr(k, lang), here=self.path, n_alerts=n, **kw)
        self._send(code, html.encode())

    def _form(self) -> dict[str, str]:
        n = int(self.headers.get("Content-Length") or 0)
        if n > 65536:
            return {}
        data = self.rfile.read(n).decode("utf-8", errors="replace")
        return {k: v[0] for k, v in urllib.parse.parse_qs(data).items()}

    def _cookie(self, name: str, value: str, max_age: int | None = None) -> tuple[str, str]:
        c = f"{name}={value}; Path=/; HttpOnly; SameSite=Strict"
        if max_age is not None:
            c += f"; Max-Age={max_age}"
        if self.app.secure_cookies:
            c += "; Secure"
        return ("Set-Cookie", c)

    @staticmethod
    def _local(path: str | None) -> str:
        if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
            return "/"
        return path

    # ---------------------------------------------------------------- routes
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        lang, user, _ck = self._ctx()
        path = url.path
        if path == "/static/app.css":
            return self._send(200, CSS.encode(), "text/css; charset=utf-8")
        if path.startswith("/lang/"):
            to = path.rsplit("/", 1)[-1]
            to = to if to in LANGS else "vi"
            return self._redirect(self._local(q.get("next")), [self._cookie("lang", to, 365 * 86400)])
        if path == "/healthz":
            return self._send(200, b"ok\n", "text/plain")
        if path == "/login":
            return self._render("login", lang, None, error=None, next=self._local(q.get("next")))
        if user is None:
            return self._redirect("/login?next=" + urllib.parse.quote(self.path))
        try:
            if path == "/":
                return self._overview(lang, user)
            if path == "/alerts":
                return self._render("alerts", lang, user, page="alerts", refresh=10,
                                    alerts=active_alerts(self.app.store), recent=recent_alerts(self.app.store))
            if path == "/lines":
                return self._lines(lang, user, q.get("range", "1d"))
            if path.startswith("/device/"):
                return self._device(lang, user, urllib.parse.unquote(path[len("/device/"):]), q.get("range", "1h"))
            if path == "/api/status":
                return self._api_status()
        except KeyError:
            pass
        self._render("error", lang, user, 404, message=tr("not_found", lang))

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        lang, user, ck = self._ctx()
        form = self._form()
        ip = self.client_address[0]
        if url.path == "/login":
            if self.app.throttled(ip):
                return self._render("login", lang, None, 429, error=tr("too_many", lang), next="/")
            role = auth.authenticate(self.app.store, form.get("username", ""), form.get("password", ""))
            if role is None:
                self.app.failed(ip)
                return self._render("login", lang, None, 401, error=tr("login_failed", lang),
                                    next=self._local(form.get("next")))
            token, _csrf = auth.new_session(self.app.store, form["username"], self.app.session_ttl)
            self.app.store.event("login", None, f"{form['username']} logged in from {ip}")
            return self._redirect(self._local(form.get("next")), [self._cookie(SESSION_COOKIE, token)])
        if user is None:
            return self._send(401, b"login required\n", "text/plain")
        if form.get("csrf") != user["csrf"]:
            return self._send(403, b"bad CSRF token\n", "text/plain")
        if url.path == "/logout":
            auth.end_session(self.app.store, ck.get(SESSION_COOKIE))
            return self._redirect("/login", [self._cookie(SESSION_COOKIE, "", 0)])
        parts = url.path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "alerts" and parts[2] == "ack" and parts[1].isdigit():
            if user["role"] != "admin":
                return self._render("error", lang, user, 403, message=tr("forbidden", lang))
            acknowledge(self.app.store, int(parts[1]), user["user"])
            return self._redirect(self._local(self.headers.get("Referer") and
                                              urllib.parse.urlsplit(self.headers["Referer"]).path) or "/alerts")
        self._send(404, b"not found\n", "text/plain")

    # ---------------------------------------------------------------- pages
    def _device_status(self, d: dict, alerts: list[dict]) -> str:
        if d["reachable"] is None:
            return "unknown"
        if not d["reachable"]:
            return "unreachable"
        sev = {a["severity"] for a in alerts if a["device"] == d["name"]}
        return "critical" if "critical" in sev else "warning" if "warning" in sev else "ok"

    def _summary(self, d: dict, rows: list[dict], lang: str) -> list[tuple[str, str]]:
        by: dict[str, list[dict]] = {}
        for r in rows:
            by.setdefault(r["metric"], []).append(r)
        out = []

        def first(m):
            return by.get(m, [None])[0]

        src = first("ups_output_source")
        if src:
            out.append((tr("status", lang), tr("on_battery", lang) if src["state"] == "battery"
                        else tr("on_mains", lang) if src["state"] == "normal" else src["state"]))
        for m, key in (("ups_battery_charge_ratio", "charge"), ("ups_battery_runtime_seconds", "runtime")):
            r = first(m)
            if r:
                out.append((tr(key, lang), format_value(r["value"], r["unit"], None, lang)))
        if "ups_output_load_ratio" in by:
            mx = max(by["ups_output_load_ratio"], key=lambda r: r["value"])
            out.append((tr("load", lang), format_value(mx["value"], "ratio")))
        for r in by.get("cooling_air_temperature_celsius", []):
            s = r["labels"].get("sensor", "")
            if s in ("supply_air", "return_air"):
                out.append((tr(s, lang), format_value(r["value"], "celsius")))
        for m in ("cooling_humidity_ratio",):
            r = first(m)
            if r:
                out.append((tr("humidity", lang), format_value(r["value"], "ratio")))
        temps = by.get("env_temperature_celsius", [])
        if temps:
            vals = [r["value"] for r in temps]
            out.append((tr("temperature", lang), f"{min(vals):.1f}–{max(vals):.1f} °C"))
        hums = by.get("env_humidity_ratio", [])
        if hums:
            vals = [r["value"] * 100 for r in hums]
            out.append((tr("humidity", lang), f"{min(vals):.0f}–{max(vals):.0f} %"))
        for r in by.get("env_contact_alarm", []):
            out.append((r["labels"].get("contact", "contact"), tr("ok", lang) if r["state"] == "normal" else r["state"]))
        ifs = by.get("if_oper_status", [])
        if ifs:
            up = sum(1 for r in ifs if r["state"] == "up")
            out.append((tr("interfaces_up", lang), f"{up}/{len(ifs)}"))
        for r in by.get("if_in_utilisation_ratio", []):
            if "line" in r["labels"]:
                out.append((f"{r['labels']['line']} ({tr('in', lang)})", format_value(r["value"], "ratio")))
        return out

    def _overview(self, lang: str, user) -> None:
        store = self.app.store
        alerts = active_alerts(store)
        latest = store.latest(current=True)
        rows_by_dev: dict[str, list[dict]] = {}
        for r in latest:
            rows_by_dev.setdefault(r["device"], []).append(r)
        groups: dict[str, list] = {"ups": [], "cooling": [], "sensor": [], "network": []}
        for d in store.devices():
            item = dict(d, status=self._device_status(d, alerts),
                        summary=self._summary(d, rows_by_dev.get(d["name"], []), lang))
            g = next((g for g, kinds in GROUPS if d["kind"] in kinds), "network")
            groups[g].append(item)
        self._render("overview", lang, user, page="overview", refresh=10, alerts=alerts,
                     groups=[(g, v) for g, v in groups.items() if v])

    def _device(self, lang: str, user, name: str, rng: str) -> None:
        store = self.app.store
        dev = next((d for d in store.devices() if d["name"] == name), None)
        if dev is None:
            raise KeyError(name)
        rng = rng if rng in RANGES else "1h"
        now = time.time()
        since = now - RANGES[rng]
        latest = []
        for r in store.latest(name, current=True):
            if r["unit"] == "bytes" or r["metric"].endswith("_total"):
                continue
            lab = ", ".join(f"{k}={v}" for k, v in r["labels"].items() if k not in ("ifDescr", "ifAlias"))
            latest.append(dict(r, label_text=lab, display=format_value(r["value"], r["unit"], r["state"], lang)))
        charts = []
        series = [s for s in store.series(name) if not s["metric"].endswith("_total")
                  and s["unit"] not in ("bytes", "") or s["metric"].endswith("_state")]
        by_metric: dict[str, list[dict]] = {}
        for s in series:
            by_metric.setdefault(s["metric"], []).append(s)
        for metric, ss in list(by_metric.items())[:16]:
            data = []
            for s in ss[:8]:
                pts = store.history(s["id"], since, now)
                label = s["labels"].get("sensor") or s["labels"].get("ifName") or s["labels"].get("phase") or \
                    s["labels"].get("contact") or ",".join(f"{v}" for v in s["labels"].values()) or metric
                data.append((label, [(p.ts, p.value) for p in pts]))
            charts.append(line_chart(data, ss[0]["unit"], since, now, title=tr(metric, lang)))
        ck_alerts = active_alerts(store)
        self._render("device", lang, user, page="device", dev=dev, status=self._device_status(dev, ck_alerts),
                     latest=latest, charts=charts, ranges=list(RANGES), rng=rng)

    def _lines(self, lang: str, user, rng: str) -> None:
        store = self.app.store
        rng = rng if rng in RANGES else "1d"
        now = time.time()
        since = now - RANGES[rng]
        infos = self.app.lines
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
            for direction in ("in", "out"):
                for s in store.series(li.device, f"if_{direction}_utilisation_ratio"):
                    if s["labels"].get("ifName") == li.interface:
                        pts = store.history(s["id"], since, now)
                        util.append((tr(direction, lang), [(p.ts, p.value) for p in pts]))
                        now_vals[direction] = pts[-1].value if pts else None
                for s in store.series(li.device, f"if_{direction}_bytes_per_second"):
                    if s["labels"].get("ifName") == li.interface:
                        pts = store.history(s["id"], since, now)
                        bps.append((tr(direction, lang), [(p.ts, p.value) for p in pts]))
            oper = [r for r in store.latest(li.device, current=True) if r["metric"] == "if_oper_status"
                    and r["labels"].get("ifName") == li.interface]
            d = devices.get(li.device)
            status = ("unknown" if d is None or d["reachable"] is None else "unreachable" if not d["reachable"]
                      else "ok" if oper and oper[0]["state"] == "up" else "critical")
            out.append(dict(
                name=li.name, provider=li.provider, bandwidth=li.bandwidth or "?", device=li.device,
                interface=li.interface, status=status,
                now_in=format_value(now_vals.get("in"), "ratio"), now_out=format_value(now_vals.get("out"), "ratio"),
                chart_util=line_chart(util, "ratio", since, now, title=tr("utilisation", lang), threshold=0.8),
                chart_bps=line_chart(bps, "bytes_per_second", since, now, title=li.name)))
        self._render("lines", lang, user, page="lines", lines=out, ranges=list(RANGES), rng=rng, refresh=30)

    def _api_status(self) -> None:
        store = self.app.store
        alerts = active_alerts(store)
        body = {"devices": [{"name": d["name"], "status": self._device_status(d, alerts)} for d in store.devices()],
                "alerts": [{k: a[k] for k in ("id", "rule", "device", "severity", "acked_by")} for a in alerts]}
        self._send(200, json.dumps(body, ensure_ascii=False).encode(), "application/json")
