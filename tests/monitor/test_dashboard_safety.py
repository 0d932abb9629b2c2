"""Redirect targets are judged after decoding; the result never leaves the site or carries raw bytes."""
import urllib.parse

import pytest

from dcops.monitor.web.safety import safe_next

REFUSED = [
    None, "", "//evil.example", "///evil.example", "/%2f/evil.example", "/%2F%2Fevil.example", "%2F%2Fevil.example",
    "/%252F%252Fevil.example", "/%25252F%25252Fevil.example%25252F", "/%09/evil.example", "/\t/evil.example",
    "/%0d%0aSet-Cookie:%20a=b", "/\r\nLocation: http://evil", "/%00", "/%7f", "/\\evil.example", "/%5cevil.example",
    "/%5C%5Cevil.example", "\\\\evil.example", "http://evil.example", "HTTPS://evil.example", "https:/evil.example",
    "javascript:alert(1)", "data:text/html,x", "evil.example", " /x", "/%c2%85", "/\u2028", "/%ff%fe",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("raw", REFUSED)
def test_refused(raw):
    assert safe_next(raw) == "/"


@pytest.mark.parametrize("raw,want", [
    ("/", "/"), ("/alerts", "/alerts"), ("/device/kg-ups-01?range=1d", "/device/kg-ups-01?range=1d"),
    ("/device/UPS%20trung%20t%C3%A2m", "/device/UPS%20trung%20t%C3%A2m"), ("/a/./b/../c", "/a/c"),
    ("/..//evil.example", "/evil.example"), ("/lines?from=1&to=2", "/lines?from=1&to=2"),
])
def test_kept_same_site(raw, want):
    assert safe_next(raw) == want


@pytest.mark.parametrize("raw", REFUSED[2:] + ["/ok", "/device/x y", "/é?q=ü"])
def test_result_is_always_a_plain_local_path(raw):
    out = safe_next(raw)
    assert out.startswith("/") and not out.startswith("//") and "\\" not in out
    assert all(0x21 <= ord(ch) < 0x7f for ch in out)  # printable ASCII only: nothing for a header to split on
    parts = urllib.parse.urlsplit(urllib.parse.unquote(out))
    assert not parts.scheme and not parts.netloc
