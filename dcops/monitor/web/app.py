"""The NOC page as a Starlette application.

Roles: `viewer` reads, `admin` also acknowledges alerts and sets maintenance windows; every POST
carries a CSRF token (the session's, or before login one bound to a pre-session cookie). Kiosk
tokens open /wall only, read-only and without a session timeout. Device-supplied strings
(sysDescr, sysName, sensor names) are data: always escaped by Jinja2's autoescape.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from jinja2 import DictLoader, Environment, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .. import alerts as alerts_mod
from ..i18n import LANGS, fmt_time
from ..store import Store
from . import auth, pages
from .alertsource import SourceError, make_source
from .cache import PageCache
from .safety import BadForm, read_form, safe_next
from .strings import tr
from .templates import CSS, TEMPLATES
from .throttle import LoginThrottle

SESSION_COOKIE, PRE_COOKIE, DEVICE_COOKIE, KIOSK_COOKIE = "dcops_session", "dcops_pre", "dcops_device", "dcops_kiosk"
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; style-src 'self'; img-src 'self' data:; script-src 'none'; "
                                 b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
BAD_CSRF = "Biểu mẫu hết hạn hoặc không hợp lệ, hãy tải lại trang / bad CSRF token, reload the page\n"
LOGIN_REQUIRED = "Cần đăng nhập / login required\n"
_PH_USER, _PH_CSRF = "\x00user\x00", "\x00csrf\x00"


@dataclass
class WebConfig:
    db: Path | str
    session_minutes: float = 30  # idle
    session_hours: float = 12  # absolute: a stolen cookie is worth at most one shift
    secure_cookies: bool = False
    stale_after: float = 180  # /healthz is unhealthy when the newest poll is older than this
    body_timeout: float = 10  # a POST body must arrive within this (a lying Content-Length holds nothing)
    lines: list | None = None
    login_limits: dict = field(default_factory=dict)  # LoginThrottle overrides (tests)
    alertmanager: str | None = None  # read alerts and silences from this Alertmanager (scale-out mode)
    site: str | None = None  # the `site` label of this page's devices (default: the inventory's site code)
    ack_hours: float = 8  # with Alertmanager: an acknowledgement silences the alert for this long


@dataclass
class Ctx:
    request: Request
    lang: str
    user: dict | None
    csrf: str
    cookies: list[str]
    here: str
    client: str


def _jenv() -> Environment:
    return Environment(loader=DictLoader(TEMPLATES), autoescape=select_autoescape(default=True, default_for_string=True))


class SecurityHeaders:
    """Pure ASGI: the security headers on every response, errors included."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def wrapped(msg):
            if msg["type"] == "http.response.start":
                have = {k.lower() for k, _ in msg.get("headers", [])}
                msg["headers"] = list(msg.get("headers", [])) + [h for h in SECURITY_HEADERS if h[0] not in have]
            await send(msg)
        await self.app(scope, receive, wrapped)


class NocApp:
    def __init__(self, cfg: WebConfig) -> None:
        self.cfg = cfg
        self.store = Store(cfg.db)
        self.secret = self._secret()
        self.throttle = LoginThrottle(self.secret, **cfg.login_limits)
        self.lines = cfg.lines if cfg.lines is not None else pages.lines_from_inventory()
        self.jenv = _jenv()
        self.cache = PageCache()
        self.source = make_source(self.store, cfg.alertmanager, site=cfg.site, ack_hours=cfg.ack_hours)
        routes = [
            Route("/static/app.css", self.css), Route("/healthz", self.healthz), Route("/livez", self.livez),
            Route("/login", self._get(self.login_page)), Route("/login", self._post(self.login), methods=["POST"]),
            Route("/logout", self._post(self.logout), methods=["POST"]),
            Route("/lang", self._post(self.set_lang), methods=["POST"]),
            Route("/kiosk/{token}", self._get(self.kiosk)),
            Route("/", self._get(self.overview)), Route("/wall", self._get(self.wall)),
            Route("/alerts", self._get(self.alerts)), Route("/alerts.csv", self._get(self.alerts_csv)),
            Route("/alerts/{alert_id}/ack", self._post(self.ack), methods=["POST"]),
            Route("/silences", self._get(self.silences)),
            Route("/silences", self._post(self.add_silence), methods=["POST"]),
            Route("/silences/{sid}/end", self._post(self.end_silence), methods=["POST"]),
            Route("/lines", self._get(self.lines_page)), Route("/device/{name:path}", self._get(self.device)),
            Route("/api/status", self._get(self.api_status)),
        ]
        self.asgi = SecurityHeaders(Starlette(routes=routes, exception_handlers={404: self._not_found,
                                                                                 405: self._not_allowed}))

    # ---------------------------------------------------------------- plumbing
    def _secret(self) -> bytes:
        with self.store.db() as db:
            row = db.execute("SELECT v FROM secrets WHERE k='web'").fetchone()
            if row is None:
                db.execute("INSERT INTO secrets(k, v) VALUES ('web', ?)", (secrets.token_hex(32),))
                row = db.execute("SELECT v FROM secrets WHERE k='web'").fetchone()
        return bytes.fromhex(row[0])

    def _get(self, fn):
        async def endpoint(request: Request):
            return await run_in_threadpool(self._guard, fn, request, None)
        return endpoint

    def _post(self, fn):
        async def endpoint(request: Request):
            try:
                form = await read_form(request, timeout=self.cfg.body_timeout)
            except BadForm as e:  # answered and the connection closed: no half-read body left behind
                return PlainTextResponse(f"{e}\n", e.status, headers={"Connection": "close"})
            return await run_in_threadpool(self._guard, fn, request, form)
        return endpoint

    def _guard(self, fn, request, form):
        c = self._ctx(request)
        resp = fn(c, form) if form is not None else fn(c)
        for ck in c.cookies:
            resp.headers.append("set-cookie", ck)
        return resp

    def _pre_token(self, pre: str) -> str:
        return hmac.new(self.secret, b"pre|" + pre.encode(), hashlib.sha256).hexdigest()[:40]

    def _ctx(self, request: Request) -> Ctx:
        lang = self._read_cookie(request, "lang")
        lang = lang if lang in LANGS else "vi"
        user = auth.get_session(self.store, self._read_cookie(request, SESSION_COOKIE), self.cfg.session_minutes * 60,
                                self.cfg.session_hours * 3600)
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        cookies: list[str] = []
        if user:
            csrf = user["csrf"]
        else:
            pre = self._read_cookie(request, PRE_COOKIE)
            if not pre or len(pre) != 32:
                pre = secrets.token_urlsafe(24)
                cookies.append(self._cookie(PRE_COOKIE, pre))
            csrf = self._pre_token(pre)
        client = request.client.host if request.client else "?"
        return Ctx(request, lang, user, csrf, cookies, here, client)

    def _cookie_name(self, name: str, path: str = "/") -> str:
        """Behind HTTPS, cookie-name prefixes make the browser enforce what the name promises: `__Host-`
        (Secure, Path=/, no Domain) cannot be planted by a sibling host or over plain HTTP, so a session or
        pre-login CSRF cookie cannot be fixed by an attacker; `__Secure-` for the one cookie scoped to /login."""
        if not self.cfg.secure_cookies:
            return name
        return f"__Host-{name}" if path == "/" else f"__Secure-{name}"

    def _read_cookie(self, request: Request, name: str, path: str = "/") -> str | None:
        return request.cookies.get(self._cookie_name(name, path))

    def _cookie(self, name: str, value: str, max_age: int | None = None, path: str = "/") -> str:
        c = f"{self._cookie_name(name, path)}={value}; Path={path}; HttpOnly; SameSite=Strict"
        if max_age is not None:
            c += f"; Max-Age={max_age}"
        if self.cfg.secure_cookies:
            c += "; Secure"
        return c

    def _csrf_ok(self, c: Ctx, form: dict) -> bool:
        return hmac.compare_digest(form.get("csrf", ""), c.csrf)

    @staticmethod
    def _redirect(to: str) -> Response:
        return Response(status_code=303, headers={"Location": to})

    def _version(self) -> tuple:
        return self.store.version()

    def _stale(self, version) -> bool:
        return not version[0] or time.time() - version[0] > self.cfg.stale_after

    def _html(self, name: str, c: Ctx, code: int = 200, **kw) -> Response:
        user = c.user
        kw.setdefault("source_health", self.source.health())
        html = self.jenv.get_template(name).render(lang=c.lang, user=user, csrf=c.csrf, here=c.here,
                                                   t=lambda k: tr(k, c.lang), fmt_time=lambda ts: fmt_time(ts, c.lang),
                                                   **kw)
        return Response(html, code, media_type="text/html; charset=utf-8")

    def _cached(self, name: str, c: Ctx, build, key_extra=()) -> Response:
        """Render once per store change (and at most every 30 s), then fill in who is looking."""
        version = self._version()
        role = c.user["role"]
        key = (name, c.here, c.lang, role, c.user.get("kiosk", False), version, int(time.time() // 30), key_extra,
               self.source.version())

        def render():
            kw = build()
            if kw is None:
                return None
            kw.setdefault("n_alerts", sum(1 for a in kw.get("alerts", ())) if "alerts" in kw
                          else len(self.source.active()))
            kw.setdefault("source_health", self.source.health())
            ph_user = dict(c.user, user=_PH_USER, csrf=_PH_CSRF)
            return self.jenv.get_template(name).render(
                lang=c.lang, user=ph_user, csrf=_PH_CSRF, here=c.here, stale=self._stale(version),
                t=lambda k: tr(k, c.lang), fmt_time=lambda ts: fmt_time(ts, c.lang), **kw)
        html = self.cache.get(key, render)
        if html is None:
            return self._html("error", c, 404, message=tr("not_found", c.lang))
        html = html.replace(_PH_USER, escape(c.user["user"])).replace(_PH_CSRF, c.csrf)
        return Response(html, 200, media_type="text/html; charset=utf-8")

    def _login_redirect(self, c: Ctx) -> Response:
        return self._redirect("/login?next=" + urllib.parse.quote(c.here, safe=""))

    async def _not_found(self, request, exc):
        return PlainTextResponse("Không tìm thấy / not found\n", 404)

    async def _not_allowed(self, request, exc):
        return PlainTextResponse("Phương thức không được phép / method not allowed\n", 405)

    # ---------------------------------------------------------------- health, static
    async def css(self, request):
        return Response(CSS, media_type="text/css; charset=utf-8")

    async def livez(self, request):
        return PlainTextResponse("ok\n")

    async def healthz(self, request):
        """200 only while the monitor writes: the newest poll is younger than --stale-after."""
        def check():
            v = self._version()
            if not v[0]:
                return PlainTextResponse("unhealthy: no poll data yet\n", 503)
            age = time.time() - v[0]
            if age > self.cfg.stale_after:
                return PlainTextResponse(f"unhealthy: newest poll is {age:.0f} s old "
                                         f"(limit {self.cfg.stale_after:.0f} s)\n", 503)
            return PlainTextResponse(f"ok: newest poll {age:.0f} s ago\n")
        return await run_in_threadpool(check)

    # ---------------------------------------------------------------- login, logout, language, kiosk
    def login_page(self, c: Ctx) -> Response:
        nxt = safe_next(c.request.query_params.get("next"))
        if c.user and not c.user.get("kiosk"):
            return self._redirect(nxt)
        return self._html("login", c, error=None, next=nxt)

    def login(self, c: Ctx, form: dict) -> Response:
        nxt = safe_next(form.get("next"))
        if not self._csrf_ok(c, form):
            # A login form posted from another site, or a stale one: no attempt, a fresh form.
            pre = secrets.token_urlsafe(24)
            c.cookies.append(self._cookie(PRE_COOKIE, pre))
            c.csrf, c.user = self._pre_token(pre), None
            return self._html("login", c, 403, error=tr("bad_form", c.lang), next=nxt)
        name = form.get("username", "")[:64]
        device = self._read_cookie(c.request, DEVICE_COOKIE, "/login")
        device = device if self.throttle.device_ok(device, name) else None
        if self.throttle.blocked(name, c.client, device):
            return self._html("login", c, 429, error=tr("too_many", c.lang), next=nxt)
        role = auth.authenticate(self.store, name, form.get("password", "")[:1024])
        if role is None:
            self.throttle.failed(name, c.client, device)
            return self._html("login", c, 401, error=tr("login_failed", c.lang), next=nxt)
        self.throttle.succeeded(name, c.client, device)
        auth.end_session(self.store, self._read_cookie(c.request, SESSION_COOKIE))  # no fixation: always a new token
        token, _csrf = auth.new_session(self.store, name, self.cfg.session_minutes * 60)
        self.store.event("login", None, f"{name} logged in from {c.client}")
        c.cookies.append(self._cookie(SESSION_COOKIE, token))
        c.cookies.append(self._cookie(DEVICE_COOKIE, device or self.throttle.device_cookie(name), 365 * 86400,
                                      path="/login"))
        c.cookies.append(self._cookie(PRE_COOKIE, "", 0))
        return self._redirect(nxt)

    def logout(self, c: Ctx, form: dict) -> Response:
        if c.user is None:
            return self._redirect("/login")
        if not self._csrf_ok(c, form):
            return PlainTextResponse(BAD_CSRF, 403)
        auth.end_session(self.store, self._read_cookie(c.request, SESSION_COOKIE))
        c.cookies.append(self._cookie(SESSION_COOKIE, "", 0))
        return self._redirect("/login")

    def set_lang(self, c: Ctx, form: dict) -> Response:
        if not self._csrf_ok(c, form):
            return PlainTextResponse(BAD_CSRF, 403)
        lang = form.get("lang") if form.get("lang") in LANGS else "vi"
        c.cookies.append(self._cookie("lang", lang, 365 * 86400))
        return self._redirect(safe_next(form.get("next")))

    def _kiosk_user(self, c: Ctx, tok: str | None = None) -> dict | None:
        tok = tok or self._read_cookie(c.request, KIOSK_COOKIE)
        if not tok or len(tok) > 128:
            return None
        with self.store.read() as db:
            row = db.execute("SELECT name FROM kiosks WHERE token=?",
                             (hashlib.sha256(tok.encode()).hexdigest(),)).fetchone()
        return {"user": f"kiosk:{row[0]}", "role": "viewer", "csrf": c.csrf, "kiosk": True} if row else None

    def kiosk(self, c: Ctx) -> Response:
        tok = c.request.path_params["token"]
        if self._kiosk_user(c, tok) is None:
            return self._html("error", c, 403, message=tr("forbidden", c.lang))
        c.cookies.append(self._cookie(KIOSK_COOKIE, tok, 10 * 365 * 86400))
        return self._redirect("/wall")

    # ---------------------------------------------------------------- pages
    def overview(self, c: Ctx) -> Response:
        if c.user is None:
            return self._login_redirect(c)
        return self._cached("overview", c, lambda: pages.overview(self.store, c.lang, self.source))

    def wall(self, c: Ctx) -> Response:
        if c.user is None:
            c.user = self._kiosk_user(c)
            if c.user is None:
                return self._login_redirect(c)
        return self._cached("wall", c, lambda: pages.wall(self.store, c.lang, self.source))

    def alerts(self, c: Ctx) -> Response:
        if c.user is None:
            return self._login_redirect(c)
        return self._cached("alerts", c, lambda: pages.alerts_page(self.store, c.lang, self.source))

    def alerts_csv(self, c: Ctx) -> Response:
        if c.user is None:
            return self._login_redirect(c)
        try:
            days = min(max(float(c.request.query_params.get("days", "90")), 1), 400)
        except ValueError:
            days = 90
        body = pages.alerts_csv(self.store, c.lang, days)
        name = f"dcops-alerts-{time.strftime('%Y%m%d')}.csv"
        return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    def lines_page(self, c: Ctx) -> Response:
        if c.user is None:
            return self._login_redirect(c)
        q = dict(c.request.query_params)
        return self._cached("lines", c, lambda: pages.lines(self.store, self.lines, q, c.lang, time.time()))

    def device(self, c: Ctx) -> Response:
        if c.user is None:
            return self._login_redirect(c)
        name = c.request.path_params["name"]
        q = dict(c.request.query_params)
        return self._cached("device", c, lambda: pages.device(self.store, name, q, c.lang, time.time(),
                                                                     self.source))

    def api_status(self, c: Ctx) -> Response:
        if c.user is None:
            return PlainTextResponse(LOGIN_REQUIRED, 401)

        def build():
            alerts = self.source.active()
            health = self.source.health()
            return json.dumps({
                "alert_source": {"kind": health.kind, "ok": health.ok, "error": health.error or None,
                                 "fallback": health.fallback},
                "devices": [{"name": d["name"], "status": pages.device_status(d, alerts)} for d in self.store.devices()],
                "alerts": [{k: a.get(k) for k in ("id", "rule", "device", "severity", "acked_by", "silenced")}
                           for a in alerts]}, ensure_ascii=False)
        body = self.cache.get(("api", self._version(), int(time.time() // 30), self.source.version()), build)
        return Response(body, media_type="application/json")

    # ---------------------------------------------------------------- actions
    def _admin_post(self, c: Ctx, form: dict) -> Response | None:
        if c.user is None or c.user.get("kiosk"):
            return PlainTextResponse(LOGIN_REQUIRED, 401)
        if not self._csrf_ok(c, form):
            return PlainTextResponse(BAD_CSRF, 403)
        if c.user["role"] != "admin":
            return self._html("error", c, 403, message=tr("forbidden", c.lang))
        return None

    def ack(self, c: Ctx, form: dict) -> Response:
        denied = self._admin_post(c, form)
        if denied:
            return denied
        try:
            self.source.acknowledge(c.request.path_params["alert_id"], c.user["user"], form.get("comment", ""))
        except SourceError as e:
            return self._source_failed(c, e)
        return self._redirect(safe_next(form.get("next"), "/alerts"))

    def _source_failed(self, c: Ctx, e: SourceError) -> Response:
        """Nothing was stored: say so (502), never pretend the window or acknowledgement exists."""
        return self._html("error", c, 502, message=f"{tr('source_write_failed', c.lang)}: {e}")

    def _targets(self, lang: str) -> list[tuple[str, str]]:
        out = [("*", tr("all_devices", lang))]
        out += [(f"group:{g}", f"{tr('group', lang)}: {tr(g, lang)}") for g in ("ups", "cooling", "sensor", "network")]
        out += [(f"device:{d['name']}", f"{d['display_name']} ({d['name']})") for d in self.store.devices()]
        return out

    def silences(self, c: Ctx, error: str | None = None, code: int = 200) -> Response:
        if c.user is None:
            return self._login_redirect(c)
        now = time.time()
        targets = self._targets(c.lang)
        names = dict(targets)
        rows = [dict(s, target_text=names.get(s["target"], s["target"])) for s in self.source.silences(now)]
        local = "%Y-%m-%dT%H:%M"
        from ..i18n import fmt_ts
        return self._html("silences", c, code, page="silences", silences=rows, targets=targets, now=now,
                          error=error, now_local=fmt_ts(now, local), later_local=fmt_ts(now + 7200, local),
                          n_alerts=len(self.source.active()), stale=self._stale(self._version()))

    def add_silence(self, c: Ctx, form: dict) -> Response:
        denied = self._admin_post(c, form)
        if denied:
            return denied
        now = time.time()
        starts = pages._parse_when(form.get("starts"), now) or now
        ends = pages._parse_when(form.get("ends"), now)
        target = form.get("target", "")
        devices = {d["name"] for d in self.store.devices()}
        if ends is None or not alerts_mod.valid_target(target, devices) or ends - starts > 31 * 86400:
            return self.silences(c, tr("bad_input", c.lang), 400)
        try:
            self.source.add_silence(target, starts, ends, form.get("reason", ""), c.user["user"])
        except ValueError:
            return self.silences(c, tr("bad_input", c.lang), 400)
        except SourceError as e:
            return self._source_failed(c, e)
        return self._redirect("/silences")

    def end_silence(self, c: Ctx, form: dict) -> Response:
        denied = self._admin_post(c, form)
        if denied:
            return denied
        try:
            self.source.end_silence(c.request.path_params["sid"], c.user["user"])
        except SourceError as e:
            return self._source_failed(c, e)
        return self._redirect("/silences")


def create_app(cfg: WebConfig) -> NocApp:
    return NocApp(cfg)


def add_kiosk(store: Store, name: str) -> str:
    """A new kiosk token for /kiosk/TOKEN (stored as a hash; replaces the kiosk's previous token)."""
    tok = secrets.token_urlsafe(32)
    with store.db() as db:
        db.execute("INSERT INTO kiosks(token, name, created) VALUES (?,?,?) ON CONFLICT(name) DO UPDATE"
                   " SET token=excluded.token, created=excluded.created",
                   (hashlib.sha256(tok.encode()).hexdigest(), name, time.time()))
    return tok


def revoke_kiosk(store: Store, name: str) -> bool:
    with store.db() as db:
        return db.execute("DELETE FROM kiosks WHERE name=?", (name,)).rowcount == 1
