"""`dcops backup list`: the catalogue's backup and DR copy jobs as the director recorded them (Debian's schema,
the rows Bacula writes), filtered by VM, newest last; bad input refused before the catalogue is read."""
import json

import pytest
from typer.testing import CliRunner

from dcops.cli import app

ROWS = [  # JobId, Name, Type, Level, Client, JobStatus, EndTime, JobBytes, JobFiles, Pool
    (1, "portal-db-01", "B", "F", 1, "T", "2026-11-29 23:09:10", 2_100_000, 19, 1),
    (2, "mail-mbox-01", "B", "F", 2, "T", "2026-11-29 23:10:02", 900_000, 4, 2),
    (3, "portal-db-01", "C", "F", 1, "T", "2026-11-30 05:06:40", 2_103_000, 19, 3),
    (4, "portal-db-01", "B", "I", 1, "f", "2026-11-30 23:05:20", 0, 0, 1),
    (5, "portal-db-01", "R", "F", 1, "T", "2026-12-01 08:00:00", 2_100_000, 17, 0),  # a restore: not listed
]


@pytest.fixture
def db(empty_catalogue):
    path, con = empty_catalogue()
    with con:
        con.executemany("INSERT INTO Client (ClientId, Name, Uname) VALUES (?, ?, '9.6.7')",
                        [(1, "portal-db-01-fd"), (2, "mail-mbox-01-fd")])
        con.executemany("INSERT INTO Pool (PoolId, Name, PoolType, LabelFormat) VALUES (?, ?, 'Backup', '*')",
                        [(1, "tape-daily-30d-full"), (2, "tape-monthly-60d-full"), (3, "tape-daily-30d-dr")])
        con.executemany("INSERT INTO Job (JobId, Job, Name, Type, Level, ClientId, JobStatus, SchedTime, EndTime, "
                        "JobBytes, JobFiles, PoolId) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [(i, f"{n}.{i}", n, t, lv, c, st, end, end, b, f, p) for i, n, t, lv, c, st, end, b, f, p in ROWS])
    return path


def test_list_shows_backups_and_copies_newest_last(db):
    res = CliRunner().invoke(app, ["backup", "list", "--catalogue", str(db), "--json"])
    assert res.exit_code == 0, res.output
    got = [(j["job_id"], j["job"], j["type"], j["level"], j["status"], j["good"], j["bytes"], j["pool"])
           for j in json.loads(res.stdout)]
    assert got == [(1, "portal-db-01", "B", "full", "T", True, 2_100_000, "tape-daily-30d-full"),
                   (2, "mail-mbox-01", "B", "full", "T", True, 900_000, "tape-monthly-60d-full"),
                   (3, "portal-db-01", "C", "full", "T", True, 2_103_000, "tape-daily-30d-dr"),
                   (4, "portal-db-01", "B", "incremental", "f", False, 0, "tape-daily-30d-full")]
    one = CliRunner().invoke(app, ["backup", "list", "--catalogue", str(db), "-c", "portal-db-01", "--last", "2"])
    assert one.exit_code == 0, one.output
    lines = one.stdout.splitlines()
    assert [ln.split()[:4] for ln in lines] == [["3", "ok", "portal-db-01", "copy"],
                                                 ["4", "FAIL", "portal-db-01", "incremental"]]
    assert lines[0].rstrip().endswith("tape-daily-30d-dr") and "2,103,000 B" in lines[0]


@pytest.mark.parametrize("args, code, message", [
    (["-c", "kg-fw-01"], 2, "not a VM on a tape backup policy: kg-fw-01"),
    (["--last", "-1"], 2, "--last must be 0 or more"),
])
def test_list_refuses_bad_input(db, args, code, message):
    res = CliRunner().invoke(app, ["backup", "list", "--catalogue", str(db), *args])
    assert res.exit_code == code and message in res.output, res.output


def test_list_without_a_catalogue_fails(tmp_path):
    res = CliRunner().invoke(app, ["backup", "list", "--catalogue", str(tmp_path / "none.db")])
    assert res.exit_code == 1 and f"no catalogue at {tmp_path / 'none.db'}" in res.output
