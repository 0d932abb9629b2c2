"""A scheduled run that started no job (the director was down, the job disabled) is not a failed job: the
catalogue holds nothing for it. `dcops backup metrics` compares the schedule's newest due run (the policy's
own calendar, as the director runs it) with the jobs the catalogue holds, and the NOC's rule and
Prometheus's rule raise it. The catalogue is Debian's own schema (make_sqlite3_tables) with the rows the
director writes."""
import datetime as dt

import pytest

from dcops.backup.catalogue import local_tz
from dcops.backup.lab import available
from dcops.backup.metrics import configured_jobs, exposition, samples
from dcops.backup.config import clients_of
from dcops.model import load_inventory
from dcops.monitor.alerts import AlertEngine, load_rules
from dcops.monitor.store import Store
from dcops.monitor.textfile import collect

pytestmark = pytest.mark.skipif(not available(), reason="needs Debian's Bacula catalogue schema")
TZ = local_tz()
DAY = dt.date(2026, 11, 24)  # a Tuesday: tape-daily-30d runs every night at 23:05


@pytest.fixture
def schema(empty_catalogue):
    return empty_catalogue


@pytest.fixture(scope="module")
def configured():
    inv = load_inventory()
    (c,) = [c for c in clients_of(inv) if c.name == "portal-db-01"]
    return configured_jobs([c])


def _catalogue(make, folder, *runs):
    """runs: (SchedTime, StartTime or None, JobStatus) of portal-db-01's backup jobs."""
    _, con = make(folder)
    with con:
        con.execute("INSERT INTO Client (ClientId, Name, Uname) VALUES (1, 'portal-db-01-fd', '9.6.7')")
        for n, (sched, start, status) in enumerate(runs, 1):
            con.execute("INSERT INTO Job (JobId, Job, Name, Type, Level, ClientId, JobStatus, SchedTime, StartTime, "
                        "EndTime) VALUES (?, ?, 'portal-db-01', 'B', 'I', 1, ?, ?, ?, ?)",
                        (n, f"portal-db-01.{n}", status, f"{sched:%Y-%m-%d %H:%M:%S}",
                         f"{start:%Y-%m-%d %H:%M:%S}" if start else 0,
                         f"{start + dt.timedelta(minutes=3):%Y-%m-%d %H:%M:%S}" if start else 0))
    return con


def _at(day: dt.date, hh: int, mm: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=TZ)


def _schedule(con, configured, now):
    got = {s.name: s.value for s in samples(con, configured, now=now) if s.name.startswith("schedule_")}
    if "schedule_last_due_timestamp_seconds" in got:
        got["schedule_last_due_timestamp_seconds"] = dt.datetime.fromtimestamp(
            got["schedule_last_due_timestamp_seconds"], TZ)
    return got


def test_a_night_the_director_started_no_job_is_a_missed_schedule(schema, tmp_path, configured):
    night = lambda d: _at(DAY - dt.timedelta(days=d), 23, 5)  # noqa: E731
    # the nights of the 21st and 22nd ran (one failed: a failure, not a miss); the 23rd's run never started
    con = _catalogue(schema, tmp_path, (night(3), night(3), "T"), (night(2), night(2) + dt.timedelta(minutes=40), "f"))
    assert _schedule(con, configured, _at(DAY, 9, 0)) == {
        "schedule_last_due_timestamp_seconds": night(1), "schedule_missed": 1}
    # within the hour after the due time nothing is missed yet: the previous night's run counts
    assert _schedule(con, configured, night(1) + dt.timedelta(minutes=59)) == {
        "schedule_last_due_timestamp_seconds": night(2), "schedule_missed": 0}


def test_a_run_that_started_late_or_by_hand_is_not_missed_and_nothing_before_the_first_job_counts(schema, tmp_path, configured):
    night = lambda d: _at(DAY - dt.timedelta(days=d), 23, 5)  # noqa: E731
    con = _catalogue(schema, tmp_path, (night(1), night(1) + dt.timedelta(minutes=50), "T"))  # queued behind the drives
    assert _schedule(con, configured, _at(DAY, 9, 0)) == {
        "schedule_last_due_timestamp_seconds": night(1), "schedule_missed": 0}
    # the job was first run (by hand) after the 23rd's due time: the night before it existed is not a miss
    first = _at(DAY, 8, 0)
    con = _catalogue(schema, tmp_path / "b", (first, first, "T"))
    assert _schedule(con, configured, _at(DAY, 9, 0))["schedule_missed"] == 0
    # a job that never ran has no miss to report (dcops_backup_never_succeeded says it), only its due time
    empty = _catalogue(schema, tmp_path / "c")
    assert _schedule(empty, configured, _at(DAY, 9, 0)) == {"schedule_last_due_timestamp_seconds": night(1)}


def test_the_noc_raises_the_missed_schedule_from_the_textfile(schema, tmp_path, configured):
    night = lambda d: _at(DAY - dt.timedelta(days=d), 23, 5)  # noqa: E731
    con = _catalogue(schema, tmp_path, (night(2), night(2), "T"))
    folder = tmp_path / "textfile"
    folder.mkdir()
    (folder / "kg-bak-dir.prom").write_text(exposition(samples(con, configured, now=_at(DAY, 9, 0))))
    store = Store(tmp_path / "noc.db")
    engine = AlertEngine(load_rules(), store, clock=lambda: 1000.0)
    polls = collect(folder, now=1000.0)
    store.write_polls(polls)
    fired = [t for t in engine.evaluate(polls) if t.rule == "backup_schedule_missed"]
    assert [(t.kind, t.device, t.labels["job"], t.severity) for t in fired] == [
        ("firing", "kg-bak-dir", "portal-db-01", "critical")]
    assert fired[0].summary_vi == ("Lịch sao lưu portal-db-01 (chính sách tape-daily-30d) đã đến giờ nhưng không có "
                                   "công việc nào chạy")
