"""Issue 12: behind HTTPS (`--secure-cookies`) every cookie carries a name prefix the browser enforces
(RFC 6265bis §4.1.3: `__Host-` = Secure, Path=/, no Domain; `__Secure-` = Secure), so a cookie planted by a
sibling host or over plain HTTP — the classic session/CSRF fixation path — is never read by the NOC page."""
import re
import warnings

import pytest

from dcops.monitor.store import Store
from dcops.monitor.web import auth
from dcops.monitor.web.app import WebConfig, create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def _client(tmp_path, secure: bool) -> TestClient:
    db = tmp_path / "d.db"
    auth.set_user(Store(db), "noc", "viewer", "viewer-pass-123")
    noc = create_app(WebConfig(db=db, secure_cookies=secure, lines=[]))
    c = TestClient(noc.asgi, base_url="https://noc.example", follow_redirects=False)
    c.noc = noc
    return c


def _set_cookies(resp) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in resp.headers.get_list("set-cookie")}


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html)[1]


def test_secure_cookies_carry_host_and_secure_prefixes(tmp_path):
    c = _client(tmp_path, secure=True)
    page = c.get("/login")
    assert set(_set_cookies(page)) == {"__Host-dcops_pre"}
    pre = _set_cookies(page)["__Host-dcops_pre"]
    assert "; Secure" in pre and "; Path=/;" in pre and "Domain" not in pre
    r = c.post("/login", data={"username": "noc", "password": "viewer-pass-123", "csrf": _csrf(page.text), "next": "/"})
    assert r.status_code == 303, r.text
    set_ = _set_cookies(r)
    assert set(set_) == {"__Host-dcops_session", "__Secure-dcops_device", "__Host-dcops_pre"}
    assert "Path=/login" in set_["__Secure-dcops_device"] and "; Secure" in set_["__Secure-dcops_device"]
    assert c.get("/").status_code == 200  # the prefixed session cookie is the one read back


@pytest.mark.parametrize("planted", ["dcops_pre", "dcops_session"])
def test_an_unprefixed_planted_cookie_is_ignored_behind_https(tmp_path, planted):
    """An attacker who can set `dcops_pre=X` (a sibling subdomain, an HTTP response) knows the CSRF token
    bound to X; with prefixes the page never reads X, so a login form forged with it is refused."""
    c = _client(tmp_path, secure=True)
    c.cookies.set(planted, "A" * 32, domain="noc.example")
    page = c.get("/login")
    assert "__Host-dcops_pre" in _set_cookies(page)  # a fresh pre-session of its own, not the planted one
    r = c.post("/login", data={"username": "noc", "password": "viewer-pass-123",
                               "csrf": c.noc._pre_token("A" * 32), "next": "/"})
    assert r.status_code == 403
    assert "__Host-dcops_session" not in _set_cookies(r)


def test_plain_http_keeps_unprefixed_names(tmp_path):
    """Without --secure-cookies (loopback, no TLS) a prefixed name would be rejected by browsers."""
    c = _client(tmp_path, secure=False)
    assert set(_set_cookies(c.get("/login"))) == {"dcops_pre"}
