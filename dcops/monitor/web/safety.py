"""Input that crosses the trust boundary: redirect targets and POST bodies."""
from __future__ import annotations

import asyncio
import posixpath
import re
import unicodedata
import urllib.parse

MAX_FORM = 16 * 1024
BODY_TIMEOUT = 10.0
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@/%-]*$")
_SAFE_QUERY = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@/?%-]*$")


def safe_next(raw: str | None, default: str = "/") -> str:
    """A same-site path to redirect to, or `default`.

    Judged on the fully percent-decoded text (so %0d%0a, %09, %5c, %2f%2f are seen for what they
    are): no control characters, no backslash, no scheme or authority, a single leading slash after
    normalisation. The result is re-encoded, so the Location header never carries raw bytes."""
    if not raw or len(raw) > 2048:
        return default
    text = raw
    for _ in range(4):  # decode until stable (double-encoding is the usual trick)
        try:
            dec = urllib.parse.unquote(text, errors="strict") if "%" in text else text
        except UnicodeDecodeError:
            return default
        if dec == text:
            break
        text = dec
    else:
        return default
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text) or "\\" in text:
        return default
    if not text.startswith("/") or text.startswith("//"):
        return default
    parts = urllib.parse.urlsplit(text)
    if parts.scheme or parts.netloc:
        return default
    path = posixpath.normpath(parts.path)
    if path.startswith("//") or not path.startswith("/"):
        return default
    if parts.path.endswith("/") and path != "/":
        path += "/"
    out = urllib.parse.quote(path, safe="/-._~!$&'()*+,;=:@")
    if parts.query:
        out += "?" + urllib.parse.quote(parts.query, safe="=&-._~!$'()*+,;:@/?")
    if not _SAFE_PATH.match(out.split("?", 1)[0]) or ("?" in out and not _SAFE_QUERY.match(out.split("?", 1)[1])):
        return default
    return out


class BadForm(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def read_form(request, limit: int = MAX_FORM, timeout: float = BODY_TIMEOUT) -> dict[str, str]:
    """An url-encoded form of at most `limit` bytes, read within `timeout` seconds (a client that
    announces more than it sends, or sends too much, is answered 408/413, not waited for)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/x-www-form-urlencoded", ""):
        raise BadForm(415, "Biểu mẫu phải là application/x-www-form-urlencoded / form must be "
                           "application/x-www-form-urlencoded")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadForm(400, "Content-Length không hợp lệ / bad Content-Length")
        if int(declared) > limit:
            raise BadForm(413, "Biểu mẫu quá lớn / form too large")
    body = bytearray()

    async def _read() -> None:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                raise BadForm(413, "Biểu mẫu quá lớn / form too large")

    try:
        await asyncio.wait_for(_read(), timeout)
    except asyncio.TimeoutError:
        raise BadForm(408, "Không nhận đủ dữ liệu kịp thời / request body not received in time") from None
    try:
        text = bytes(body).decode("utf-8")
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, max_num_fields=32, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise BadForm(400, "Biểu mẫu sai định dạng / malformed form") from None
    return {k: v for k, v in pairs}
