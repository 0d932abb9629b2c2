"""Users and sessions of the NOC page.

Passwords: Argon2id at the OWASP parameters (19 MiB, 2 passes, 1 lane) via argon2-cffi; older
scrypt hashes still verify and are re-hashed at the next login. Sessions: only a SHA-256 of the
token is stored; an idle timeout and an absolute lifetime; the idle expiry is extended at most
once a minute so a page view is a read, not a write.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sqlite3
import time

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB, t=2, p=1 (minimum recommended).
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)
TOUCH_EVERY = 60.0  # seconds between two writes of a session's idle expiry


def hash_password(pw: str) -> str:
    return HASHER.hash(pw)


def _verify_scrypt(pw: str, stored: str) -> bool:
    try:
        _algo, n, r, p, salt, dk = stored.split("$")
        got = hashlib.scrypt(pw.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(base64.b64decode(dk)), maxmem=2**28)
        return hmac.compare_digest(got, base64.b64decode(dk))
    except (ValueError, TypeError):
        return False


def verify_password(pw: str, stored: str) -> bool:
    if stored.startswith("scrypt$"):
        return _verify_scrypt(pw, stored)
    try:
        return HASHER.verify(stored, pw)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return not stored.startswith("$argon2id$") or HASHER.check_needs_rehash(stored)


_DUMMY = hash_password("dummy-password-for-timing")


def set_user(store, name: str, role: str, password: str) -> None:
    with store.db() as db:
        db.execute("INSERT INTO users(name, role, pw_hash) VALUES (?,?,?) ON CONFLICT(name) DO UPDATE SET"
                   " role=excluded.role, pw_hash=excluded.pw_hash", (name, role, hash_password(password)))
        db.execute("DELETE FROM sessions WHERE user=?", (name,))  # a password change logs the user out


def authenticate(store, name: str, password: str) -> str | None:
    """The user's role, or None. Same work whether or not the user exists."""
    with store.read() as db:
        row = db.execute("SELECT role, pw_hash FROM users WHERE name=?", (name,)).fetchone()
    ok = verify_password(password, row["pw_hash"] if row else _DUMMY)
    if not (row and ok):
        return None
    if needs_rehash(row["pw_hash"]):
        with store.db() as db:
            db.execute("UPDATE users SET pw_hash=? WHERE name=? AND pw_hash=?",
                       (hash_password(password), name, row["pw_hash"]))
    return row["role"]


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_session(store, user: str, idle: float) -> tuple[str, str]:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = time.time()
    with store.db() as db:
        db.execute("INSERT INTO sessions(token, user, expires, csrf, created, touched) VALUES (?,?,?,?,?,?)",
                   (_key(token), user, now + idle, csrf, now, now))
    return token, csrf


def get_session(store, token: str | None, idle: float, absolute: float) -> dict | None:
    """The session (user, role, csrf) if neither idle- nor absolutely expired."""
    if not token or len(token) > 128:
        return None
    key = _key(token)
    now = time.time()
    with store.read() as db:
        row = db.execute("SELECT s.user, s.expires, s.csrf, s.created, s.touched, u.role FROM sessions s"
                         " JOIN users u ON u.name = s.user WHERE s.token=?", (key,)).fetchone()
    if row is None:
        return None
    if row["expires"] < now or row["created"] is None or now - row["created"] > absolute:
        with store.db() as db:
            db.execute("DELETE FROM sessions WHERE token=?", (key,))
        return None
    if now - (row["touched"] or 0) > TOUCH_EVERY:
        _touch(store, key, min(now + idle, row["created"] + absolute), now)
    return {"user": row["user"], "role": row["role"], "csrf": row["csrf"], "kiosk": False}


def _touch(store, key: str, expires: float, now: float) -> None:
    """Extend the idle expiry, but never wait behind the monitor's write: skipped, retried next view."""
    conn = store.db().conn
    conn.execute("PRAGMA busy_timeout=100")
    try:
        with store.db() as db:
            db.execute("UPDATE sessions SET expires=?, touched=? WHERE token=?", (expires, now, key))
    except sqlite3.OperationalError:
        pass
    finally:
        conn.execute("PRAGMA busy_timeout=15000")


def end_session(store, token: str | None) -> None:
    if token:
        with store.db() as db:
            db.execute("DELETE FROM sessions WHERE token=?", (_key(token),))
