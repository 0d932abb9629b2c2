"""The SQLite schema of the monitor's store, and the columns added since the first release."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY, device TEXT NOT NULL, metric TEXT NOT NULL, labels TEXT NOT NULL,
  unit TEXT NOT NULL DEFAULT '', UNIQUE(device, metric, labels));
CREATE TABLE IF NOT EXISTS samples (
  series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
  PRIMARY KEY(series_id, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_5m (
  series_id INTEGER NOT NULL, ts INTEGER NOT NULL, avg REAL, min REAL, max REAL, n INTEGER,
  PRIMARY KEY(series_id, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_1h (
  series_id INTEGER NOT NULL, ts INTEGER NOT NULL, avg REAL, min REAL, max REAL, n INTEGER,
  PRIMARY KEY(series_id, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (
  series_id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, value REAL NOT NULL, state TEXT);
CREATE TABLE IF NOT EXISTS devices (
  name TEXT PRIMARY KEY, profile TEXT, kind TEXT, display_name TEXT, reachable INTEGER,
  error TEXT, last_poll REAL, last_ok REAL, info TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY, rule TEXT NOT NULL, device TEXT NOT NULL, labels TEXT NOT NULL,
  state TEXT NOT NULL, severity TEXT NOT NULL, since REAL, fired_at REAL, resolved_at REAL,
  clear_since REAL, value REAL, summary_vi TEXT, summary_en TEXT,
  acked_by TEXT, acked_at REAL, notified_fire INTEGER DEFAULT 0, notified_resolve INTEGER DEFAULT 0,
  source TEXT NOT NULL DEFAULT 'poll');
CREATE INDEX IF NOT EXISTS alerts_open ON alerts(state) WHERE state != 'resolved';
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY, ts REAL NOT NULL, kind TEXT NOT NULL, device TEXT, text TEXT);
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY, role TEXT NOT NULL CHECK(role IN ('viewer','admin')), pw_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
  token TEXT PRIMARY KEY, user TEXT NOT NULL, expires REAL NOT NULL, csrf TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS silences (
  id INTEGER PRIMARY KEY, target TEXT NOT NULL, starts REAL NOT NULL, ends REAL NOT NULL,
  reason TEXT NOT NULL, author TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS kiosks (token TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL DEFAULT 0);
INSERT OR IGNORE INTO meta(k, v) VALUES ('changes', 0);
CREATE TRIGGER IF NOT EXISTS alerts_ins AFTER INSERT ON alerts BEGIN UPDATE meta SET v = v + 1 WHERE k='changes'; END;
CREATE TRIGGER IF NOT EXISTS alerts_upd AFTER UPDATE ON alerts BEGIN UPDATE meta SET v = v + 1 WHERE k='changes'; END;
CREATE TRIGGER IF NOT EXISTS alerts_del AFTER DELETE ON alerts BEGIN UPDATE meta SET v = v + 1 WHERE k='changes'; END;
CREATE TRIGGER IF NOT EXISTS silences_ins AFTER INSERT ON silences BEGIN UPDATE meta SET v = v + 1 WHERE k='changes'; END;
CREATE TRIGGER IF NOT EXISTS silences_upd AFTER UPDATE ON silences BEGIN UPDATE meta SET v = v + 1 WHERE k='changes'; END;
CREATE TRIGGER IF NOT EXISTS silences_del AFTER DELETE ON silences BEGIN UPDATE meta SET v = v + 1 WHERE k='changes'; END;
"""

# Columns added after the first release: (table, column, declaration). Applied once, idempotently.
MIGRATIONS = (
    ("sessions", "created", "REAL"),
    ("sessions", "touched", "REAL"),
    ("alerts", "ack_comment", "TEXT"),
    ("alerts", "escalated_at", "REAL"),
    ("devices", "state", "TEXT"),  # DevicePoll.state of the last poll (poller.STATES)
)
