"""Dashboard users and sessions: scrypt password hashes, expiring sessions, CSRF tokens, roles."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

N, R, P = 2**14, 8, 1


def hash_password(pw: str) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(pw.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"scrypt${N}${R}${P}${base64.b64encode(salt).decode()}${base64.b64encode(dk).decode()}"


def verify_password(pw: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, dk = stored.split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(pw.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(base64.b64decode(dk)))
        return hmac.compare_digest(got, base64.b64decode(dk))
    except (ValueError, TypeError):
        return False


_DUMMY = hash_password("dummy-password-for-timing")


def set_user(store, name: str, role: str, password: str) -> None:
    with store.db() as db:
        db.execute("INSERT INTO users(name, role, pw_hash) VALUES (?,?,?) ON CONFLICT(name) DO UPDATE SET"
                   " role=excluded.role, pw_hash=excluded.pw_hash", (name, role, hash_password(password)))
        db.execute("DELETE FROM sessions WHERE user=?", (name,))  # a password change logs the user out


def authenticate(store, name: str, password: str) -> str | None:
    """The user's role, or None. Same work whether or not the user exists."""
    with store.db() as db:
        row = db.execute("SELECT role, pw_hash FROM users WHERE name=?", (name,)).fetchone()
    ok = verify_password(password, row["pw_hash"] if row else _DUMMY)
    return row["role"] if row and ok else None


def new_session(store, user: str, ttl: float) -> tuple[str, str]:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    with store.db() as db:
        db.execute("INSERT INTO sessions(token, user, expires, csrf) VALUES (?,?,?,?)",
                   (hashlib.sha256(token.encode()).hexdigest(), user, time.time() + ttl, csrf))
    return token, csrf


def get_session(store, token: str | None, ttl: float) -> dict | None:
    """The session (user, role, csrf) if valid; sliding expiry: each use extends it by ttl."""
    if not token:
        return None
    key = hashlib.sha256(token.encode()).hexdigest()
    now = time.time()
    with store.db() as db:
        row = db.execute("SELECT s.user, s.expires, s.csrf, u.role FROM sessions s JOIN users u ON u.name = s.user"
                         " WHERE s.token=?", (key,)).fetchone()
        if row is None or row["expires"] < now:
            if row is not None:
                db.execute("DELETE FROM sessions WHERE token=?", (key,))
            return None
        db.execute("UPDATE sessions SET expires=? WHERE token=?", (now + ttl, key))
    return {"user": row["user"], "role": row["role"], "csrf": row["csrf"]}


def end_session(store, token: str | None) -> None:
    if token:
        with store.db() as db:
            db.execute("DELETE FROM sessions WHERE token=?", (hashlib.sha256(token.encode()).hexdigest(),))
