"""SQLite store: WAL, rollups (downsampling) before retention, the right table per time range."""
import time

import pytest

from dcops.monitor.poller import DevicePoll
from dcops.monitor.profiles import Sample
from dcops.monitor.store import Store


def test_wal_rollups_retention_and_history(tmp_path):
    st = Store(tmp_path / "h.db", raw_days=1, rollup5_days=10, rollup1h_days=100)
    assert st.db().conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    now = int(time.time()) // 3600 * 3600
    start = now - 3 * 86400
    for ts in range(start, now, 60):  # three days of one-minute samples
        st.write_poll(DevicePoll("ups", "ups-rfc1628", ts, True, samples=[
            Sample("ups_output_load_ratio", {"phase": "1"}, 0.4 + (ts % 600) / 6000, "gauge", "ratio"),
            Sample("if_in_bytes_total", {"ifIndex": "1"}, 123.0, "counter", "bytes", raw=123)]))
    out = st.maintain(now)
    assert out["rollup_5m"] > 0 and out["rollup_1h"] > 0
    assert out["deleted_samples"] > 0  # raw older than a day is gone, after it was rolled up
    sid = st.series("ups", "ups_output_load_ratio")[0]["id"]
    db = st.db().conn
    assert db.execute("SELECT MIN(ts) FROM samples").fetchone()[0] >= now - 86400
    five = db.execute("SELECT avg, min, max, n FROM rollup_5m WHERE series_id=? ORDER BY ts LIMIT 1", (sid,)).fetchone()
    assert five["n"] == 5 and five["min"] <= five["avg"] <= five["max"]
    # A 2-day window reads 5-minute points; the last hour reads raw points.
    two_days = st.history(sid, now - 2 * 86400, now)
    assert 500 < len(two_days) < 2 * 288 + 120 and two_days[0].max is not None
    hour = st.history(sid, now - 3600, now)
    assert len(hour) == 60 and hour[0].max is None
    # counters are not kept as history (their rates are), only their latest value
    assert not db.execute("SELECT COUNT(*) FROM samples s JOIN series r ON r.id = s.series_id"
                          " WHERE r.metric='if_in_bytes_total'").fetchone()[0]
    assert st.maintain(now) ["rollup_5m"] >= 0  # idempotent


def test_unreachable_poll_keeps_last_identity(tmp_path):
    st = Store(tmp_path / "h.db")
    st.write_poll(DevicePoll("ups", "ups-rfc1628", time.time(), True, info={"sys_name": "ups"}))
    st.write_poll(DevicePoll("ups", "ups-rfc1628", time.time(), False, "unreachable: timeout"))
    d = st.devices()[0]
    assert d["reachable"] == 0 and d["info"] == {"sys_name": "ups"} and "timeout" in d["error"]
    assert st.latest(current=True) == []


def test_transaction_rolls_back_on_error(tmp_path):
    st = Store(tmp_path / "h.db")
    with pytest.raises(RuntimeError):
        with st.db() as db:
            db.execute("INSERT INTO events(ts, kind, device, text) VALUES (1, 'x', NULL, 'y')")
            raise RuntimeError("boom")
    assert st.events() == []


def test_readers_never_wait_for_the_writer(tmp_path):
    """A page view reads while a poll cycle holds the write lock (the old store took BEGIN IMMEDIATE
    for every read and waited up to busy_timeout, or failed with 'database is locked')."""
    import sqlite3
    import threading

    st = Store(tmp_path / "r.db")
    st.write_poll(DevicePoll("ups", "ups-rfc1628", time.time(), True, samples=[
        Sample("ups_battery_charge_ratio", {}, 0.9, "gauge", "ratio")]))
    writer = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the monitor in the middle of writing a cycle
    writer.execute("UPDATE devices SET error='writing'")
    out = {}

    def read():
        t0 = time.monotonic()
        out["latest"] = st.latest(current=True)
        out["devices"] = st.devices()
        out["version"] = st.version()
        out["took"] = time.monotonic() - t0

    th = threading.Thread(target=read)
    th.start()
    th.join(5)
    writer.execute("ROLLBACK")
    assert not th.is_alive() and out["took"] < 1, out
    assert out["latest"][0]["value"] == 0.9 and out["devices"][0]["error"] is None  # the last committed state
    # the reader connection is read-only: it cannot write by mistake
    with pytest.raises(sqlite3.OperationalError):
        with st.read() as db:
            db.execute("DELETE FROM devices")


def test_buckets_pick_the_coarsest_table_and_keep_spikes(tmp_path):
    st = Store(tmp_path / "b.db")
    now = int(time.time()) // 3600 * 3600
    st.write_poll(DevicePoll("ups", "ups-rfc1628", now, True, samples=[
        Sample("ups_output_load_ratio", {}, 0.4, "gauge", "ratio")]))
    sid = st.series("ups")[0]["id"]
    db = st.db().conn
    # 30 days of 5-minute and hourly rollups, 2 days of one-minute raw samples, one 1-minute spike
    db.executemany("INSERT OR REPLACE INTO rollup_5m VALUES (?,?,?,?,?,?)",
                   [(sid, ts, 0.4, 0.39, 0.41, 5) for ts in range(now - 30 * 86400, now, 300)])
    db.executemany("INSERT OR REPLACE INTO rollup_1h VALUES (?,?,?,?,?,?)",
                   [(sid, ts, 0.4, 0.39, 0.41 if ts != now - 10 * 86400 else 0.97, 60)
                    for ts in range(now - 30 * 86400, now - 3600, 3600)])
    db.executemany("INSERT OR REPLACE INTO samples VALUES (?,?,?)",
                   [(sid, ts, 0.4) for ts in range(now - 2 * 86400, now, 60)])
    pts = st.buckets(sid, now - 30 * 86400, now, 286)
    assert 280 <= len(pts) <= 286
    assert max(p.max for p in pts) == 0.97  # the spike survives downsampling
    assert pts[-1].ts > now - 30 * 86400 / 286 * 1.5  # the last hour (not yet rolled up) is there too
    day = st.buckets(sid, now - 86400, now, 286)
    assert 280 <= len(day) <= 286 and all(abs(p.value - 0.4) < 1e-9 for p in day)
    hour = st.buckets(sid, now - 3600, now, 286)
    assert len(hour) == 61  # fewer samples than pixels: every one (both ends included)
