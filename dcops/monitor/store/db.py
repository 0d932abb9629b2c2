"""SQLite history and state (WAL): samples, 5-minute and hourly rollups, device status, alerts, users.

One writer (the monitor) and any number of readers (dashboard, CLI) share the file. Readers use
`store.read()`: a read-only connection and a deferred transaction, so a page view never waits for
(or takes) the write lock that `store.db()` holds while a poll cycle is written. Raw samples
are kept `raw_days`, 5-minute rollups `rollup5_days`, hourly rollups `rollup1h_days`; `maintain()`
rolls up before it deletes, so a 30-day plot reads 5-minute points and a year reads hourly ones.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from .schema import MIGRATIONS, SCHEMA

@dataclass
class Point:
    ts: float
    value: float
    min: float | None = None
    max: float | None = None


class Store:
    def __init__(self, path: str | Path, raw_days: float = 2, rollup5_days: float = 35,
                 rollup1h_days: float = 400) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.raw_days, self.rollup5_days, self.rollup1h_days = raw_days, rollup5_days, rollup1h_days
        self._local = threading.local()
        self._series: dict[tuple, int] = {}
        conn = self.db().conn
        conn.executescript(SCHEMA)
        for table, col, decl in MIGRATIONS:
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            if col not in have:
                try:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {col} {decl}")
                except sqlite3.OperationalError as e:  # another process migrated first
                    if "duplicate column" not in str(e):
                        raise

    def read(self) -> "_Read":
        """`with store.read() as db:` one consistent snapshot, never the write lock.

        A thread inside its own write transaction reads through that transaction (it sees its writes)."""
        w = getattr(self._local, "conn", None)
        if w is not None and w.in_transaction:
            return _Read(w, nested=True)
        conn = getattr(self._local, "ro", None)
        if conn is None:
            if self.path == ":memory:":
                return _Read(self.db().conn, nested=False)
            uri = "file:" + urllib.parse.quote(str(Path(self.path).resolve())) + "?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=15, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=15000")
            conn.row_factory = sqlite3.Row
            self._local.ro = conn
        return _Read(conn, nested=False)

    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=15, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=15000")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return _Tx(conn)

    def close(self) -> None:
        for attr in ("conn", "ro"):
            conn = getattr(self._local, attr, None)
            if conn is not None:
                conn.close()
                setattr(self._local, attr, None)

    def version(self) -> tuple:
        """Changes when a poll cycle is written or an alert/silence changes: the key of per-cycle caches."""
        with self.read() as db:
            row = db.execute("SELECT (SELECT MAX(last_poll) FROM devices), (SELECT v FROM meta WHERE k='changes'),"
                             " (SELECT COUNT(*) FROM devices)").fetchone()
        return tuple(row)

    # ---------------------------------------------------------------- samples
    def _series_id(self, db, device: str, metric: str, labels: dict, unit: str) -> int:
        lab = json.dumps(labels, sort_keys=True, ensure_ascii=False)
        key = (device, metric, lab)
        sid = self._series.get(key)
        if sid is None:
            db.execute("INSERT OR IGNORE INTO series(device, metric, labels, unit) VALUES (?,?,?,?)",
                       (device, metric, lab, unit))
            sid = db.execute("SELECT id FROM series WHERE device=? AND metric=? AND labels=?", key).fetchone()[0]
            self._series[key] = sid
        return sid

    def write_polls(self, polls, meta: dict[str, tuple[str, str]] | None = None) -> None:
        """A whole poll cycle in one transaction (device -> (display name, kind) in `meta`)."""
        meta = meta or {}
        with self.db():
            for p in polls:
                self.write_poll(p, *meta.get(p.device, ("", "")))

    def write_poll(self, poll, display_name: str = "", kind: str = "") -> None:
        """Store one DevicePoll: status, latest values and history (counters only as rates)."""
        ts = int(poll.ts)
        with self.db() as db:
            db.execute(
                "INSERT INTO devices(name, profile, kind, display_name, reachable, error, last_poll, last_ok, info,"
                " state) VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET profile=excluded.profile,"
                " kind=excluded.kind, display_name=excluded.display_name, reachable=excluded.reachable,"
                " error=excluded.error, last_poll=excluded.last_poll, state=excluded.state,"
                " last_ok=COALESCE(excluded.last_ok, devices.last_ok),"
                " info=CASE WHEN excluded.reachable THEN excluded.info ELSE devices.info END",
                (poll.device, poll.profile, kind, display_name or poll.device, int(poll.reachable), poll.error,
                 poll.ts, poll.ts if poll.reachable else None, json.dumps(poll.info, ensure_ascii=False),
                 getattr(poll, "state", None)))
            rows, latest = [], []
            for s in poll.samples:
                sid = self._series_id(db, poll.device, s.metric, s.labels, s.unit)
                latest.append((sid, ts, s.value, s.state))
                if s.type != "counter":  # counters are kept as rates; the raw value only for /metrics
                    rows.append((sid, ts, s.value))
            db.executemany("INSERT OR REPLACE INTO samples(series_id, ts, value) VALUES (?,?,?)", rows)
            db.executemany("INSERT OR REPLACE INTO latest(series_id, ts, value, state) VALUES (?,?,?,?)", latest)

    def series(self, device: str | None = None, metric: str | None = None) -> list[dict]:
        q, args = "SELECT * FROM series WHERE 1=1", []
        if device:
            q += " AND device=?"
            args.append(device)
        if metric:
            q += " AND metric=?"
            args.append(metric)
        with self.read() as db:
            return [dict(r, labels=json.loads(r["labels"])) for r in db.execute(q + " ORDER BY metric, labels", args)]

    def latest(self, device: str | None = None, max_age: float | None = None, current: bool = False) -> list[dict]:
        """Last value of each series; current=True: only values of the device's last successful poll."""
        q = ("SELECT s.id, s.device, s.metric, s.labels, s.unit, l.ts, l.value, l.state FROM latest l"
             " JOIN series s ON s.id = l.series_id JOIN devices d ON d.name = s.device WHERE 1=1")
        args: list = []
        if device is not None:
            q += " AND s.device=?"
            args.append(device)
        if current:
            q += " AND d.reachable=1 AND l.ts >= CAST(d.last_ok AS INTEGER)"
        if max_age is not None:
            q += " AND l.ts >= ?"
            args.append(time.time() - max_age)
        with self.read() as db:
            return [dict(r, labels=json.loads(r["labels"]))
                    for r in db.execute(q + " ORDER BY s.device, s.metric, s.labels", args)]

    def history(self, series_id: int, since: float, until: float | None = None) -> list[Point]:
        """Points of a series, from the finest table that still covers `since`."""
        until = until or time.time()
        age = time.time() - since
        with self.read() as db:
            if age <= self.raw_days * 86400:
                rows = db.execute("SELECT ts, value FROM samples WHERE series_id=? AND ts BETWEEN ? AND ? ORDER BY ts",
                                  (series_id, since, until)).fetchall()
                return [Point(r[0], r[1]) for r in rows]
            table = "rollup_5m" if age <= self.rollup5_days * 86400 else "rollup_1h"
            rows = db.execute(f"SELECT ts, avg, min, max FROM {table} WHERE series_id=? AND ts BETWEEN ? AND ?"
                              " ORDER BY ts", (series_id, since, until)).fetchall()
            pts = [Point(r[0], r[1], r[2], r[3]) for r in rows]
            # Raw points not yet rolled up (the last few minutes).
            last = pts[-1].ts if pts else since
            step = 300 if table == "rollup_5m" else 3600
            raw = db.execute("SELECT ts, value FROM samples WHERE series_id=? AND ts >= ? ORDER BY ts",
                             (series_id, last + step)).fetchall()
            return pts + [Point(r[0], r[1]) for r in raw]

    def buckets(self, series_id: int, since: float, until: float, n: int) -> list[Point]:
        """At most `n` points for [since, until]: avg, min and max per time bucket, aggregated in SQLite.

        The coarsest table whose step fits a bucket is read (30 days: hourly rollups, not 43,200 raw
        samples); the part that table has not rolled up yet comes from the next finer one."""
        width = max((until - since) / max(n, 1), 1.0)
        age = time.time() - since
        tables = [("rollup_1h", 3600, self.rollup1h_days), ("rollup_5m", 300, self.rollup5_days),
                  ("samples", 0, self.raw_days)]
        start = next((i for i, (_t, step, days) in enumerate(tables) if step <= width and age <= days * 86400),
                     None)
        if start is None:  # nothing fine enough covers the range: the finest table that does
            start = next((i for i in range(len(tables) - 1, -1, -1) if age <= tables[i][2] * 86400), 0)
        merged: dict[int, list] = {}
        lo = since
        last_bucket = max(n, 1) - 1
        with self.read() as db:
            for table, step, _days in tables[start:]:
                if lo > until:
                    break
                a, mn, mx = ("value", "value", "value") if table == "samples" else ("avg", "min", "max")
                rows = db.execute(
                    f"SELECT MIN(CAST((ts - ?) / ? AS INTEGER), ?) AS b, AVG({a}), MIN({mn}), MAX({mx}), COUNT(*),"
                    f" MAX(ts) FROM {table} WHERE series_id=? AND ts >= ? AND ts <= ? GROUP BY b ORDER BY b",
                    (since, width, last_bucket, series_id, lo, until)).fetchall()
                last = None
                for b, avg, lo_v, hi_v, cnt, last_ts in rows:
                    cur = merged.get(b)
                    if cur is None:
                        merged[b] = [avg * cnt, lo_v, hi_v, cnt]
                    else:
                        cur[0] += avg * cnt
                        cur[1], cur[2], cur[3] = min(cur[1], lo_v), max(cur[2], hi_v), cur[3] + cnt
                    last = last_ts
                if last is not None:
                    lo = last + (step or 1)
        return [Point(since + (b + 0.5) * width, tot / cnt, mn, mx)
                for b, (tot, mn, mx, cnt) in sorted(merged.items())]

    def maintain(self, now: float | None = None) -> dict:
        """Roll up complete buckets, then apply retention. Idempotent; run every few minutes."""
        now = now or time.time()
        out = {}
        with self.db() as db:
            for table, step, src, val in (("rollup_5m", 300, "samples", "value"), ("rollup_1h", 3600, "rollup_5m", "avg")):
                done = db.execute(f"SELECT COALESCE(MAX(ts), 0) FROM {table}").fetchone()[0]
                upto = int(now // step * step)  # only complete buckets
                agg_min = "min" if src != "samples" else "value"
                agg_max = "max" if src != "samples" else "value"
                cur = db.execute(
                    f"INSERT OR REPLACE INTO {table}(series_id, ts, avg, min, max, n)"
                    f" SELECT series_id, (ts / {step}) * {step} AS b, AVG({val}), MIN({agg_min}), MAX({agg_max}), COUNT(*)"
                    f" FROM {src} WHERE ts >= ? AND ts < ? GROUP BY series_id, b", (done, upto))
                out[table] = cur.rowcount
            for table, days in (("samples", self.raw_days), ("rollup_5m", self.rollup5_days),
                                ("rollup_1h", self.rollup1h_days)):
                cur = db.execute(f"DELETE FROM {table} WHERE ts < ?", (now - days * 86400,))
                out[f"deleted_{table}"] = cur.rowcount
            db.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            db.execute("DELETE FROM events WHERE ts < ?", (now - self.rollup5_days * 86400,))
        return out

    # ---------------------------------------------------------------- devices, events
    def devices(self) -> list[dict]:
        with self.read() as db:
            return [dict(r, info=json.loads(r["info"] or "{}")) for r in db.execute("SELECT * FROM devices ORDER BY name")]

    def register_device(self, name: str, profile: str, kind: str, display_name: str) -> None:
        with self.db() as db:
            db.execute("INSERT INTO devices(name, profile, kind, display_name, reachable) VALUES (?,?,?,?,NULL)"
                       " ON CONFLICT(name) DO UPDATE SET profile=excluded.profile, kind=excluded.kind,"
                       " display_name=excluded.display_name", (name, profile, kind, display_name))

    def event(self, kind: str, device: str | None, text: str) -> None:
        with self.db() as db:
            db.execute("INSERT INTO events(ts, kind, device, text) VALUES (?,?,?,?)", (time.time(), kind, device, text))

    def events(self, limit: int = 50) -> list[dict]:
        with self.read() as db:
            return [dict(r) for r in db.execute("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,))]


class _Read:
    """A deferred (read) transaction: one snapshot across several SELECTs, no write lock."""

    def __init__(self, conn: sqlite3.Connection, nested: bool) -> None:
        self.conn, self.nested = conn, nested

    def __enter__(self) -> sqlite3.Connection:
        if not self.nested and not self.conn.in_transaction:
            self.conn.execute("BEGIN DEFERRED")
        else:
            self.nested = True
        return self.conn

    def __exit__(self, *_a) -> None:
        if not self.nested:
            self.conn.execute("COMMIT")


class _Tx:
    """`with store.db() as db:` runs one transaction (BEGIN IMMEDIATE … COMMIT/ROLLBACK)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.depth = 0

    def __enter__(self) -> sqlite3.Connection:
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")
            self.depth = 1
        return self.conn

    def __exit__(self, exc_type, *_a) -> None:
        if self.depth:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")

    def execute(self, *a):
        return self.conn.execute(*a)

    def executescript(self, s):
        return self.conn.executescript(s)
