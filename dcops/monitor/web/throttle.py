"""Login throttling per account and per client address, without locking the real user out.

Failures count against the account and against the address (in a sliding window). A browser that
has logged in as that user before carries a signed *device cookie* (OWASP "slow brute-force
protection"); for it only its own failures count. So an attacker who throttles an account, or
colleagues behind the same NAT address who mistype, do not keep the owner out, and the attacker
cannot guess from a throttled address (the answer is 429 whether or not the password is right).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque


class LoginThrottle:
    def __init__(self, secret: bytes, per_account: int = 5, per_address: int = 20, per_device: int = 5,
                 window: float = 900.0, clock=time.monotonic, max_keys: int = 100_000) -> None:
        self.secret = secret
        self.limits = {"acct": per_account, "addr": per_address, "dev": per_device}
        self.window, self.clock, self.max_keys = window, clock, max_keys
        self._fails: dict[tuple, deque] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- device cookies
    def device_cookie(self, user: str) -> str:
        nonce = secrets.token_urlsafe(12)
        mac = hmac.new(self.secret, f"{user}|{nonce}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{nonce}.{mac}"

    def device_ok(self, cookie: str | None, user: str) -> bool:
        if not cookie or "." not in cookie or len(cookie) > 100:
            return False
        nonce, mac = cookie.split(".", 1)
        want = hmac.new(self.secret, f"{user}|{nonce}".encode(), hashlib.sha256).hexdigest()[:32]
        return hmac.compare_digest(mac, want)

    # ---------------------------------------------------------------- counting
    def _count(self, key: tuple, now: float) -> int:
        q = self._fails.get(key)
        if not q:
            return 0
        while q and now - q[0] > self.window:
            q.popleft()
        return len(q)

    def _keys(self, user: str, addr: str, device: str | None) -> list[tuple]:
        if device:
            return [("dev", device)]
        return [("acct", user), ("addr", addr)]

    def blocked(self, user: str, addr: str, device: str | None) -> bool:
        """`device`: the device cookie if it is valid for `user`, else None."""
        now = self.clock()
        with self._lock:
            return any(self._count(k, now) >= self.limits[k[0]] for k in self._keys(user, addr, device))

    def failed(self, user: str, addr: str, device: str | None) -> None:
        now = self.clock()
        with self._lock:
            if len(self._fails) > self.max_keys:  # bounded memory under a spray of names
                for k in [k for k, q in self._fails.items() if not q or now - q[-1] > self.window]:
                    del self._fails[k]
            keys = self._keys(user, addr, device)
            if device:  # a trusted browser's failures still count against the address (spraying)
                keys.append(("addr", addr))
            for k in keys:
                self._fails.setdefault(k, deque(maxlen=64)).append(now)

    def succeeded(self, user: str, addr: str, device: str | None) -> None:
        with self._lock:
            self._fails.pop(("dev", device), None) if device else None
