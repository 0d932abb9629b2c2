"""What the Bacula catalogue says: the last good backup of every job (the real RPO, from the schedule that
ran, not from a backup a drill just took) and the volumes in the library."""
from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import asdict, dataclass

# JobStatus codes (Bacula's src/jcr.h): T terminated normally, W with warnings; the rest are not good.
GOOD = ("T", "W")
LEVELS = {"F": "full", "I": "incremental", "D": "differential"}


@dataclass(frozen=True)
class LastBackup:
    job: str
    client: str
    level: str
    ended: str  # ISO, the director's local time as it stores it
    age_s: float
    bytes: int
    files: int
    rpo_s: float | None
    met: bool | None

    def as_dict(self) -> dict:
        return asdict(self)


def _when(text: str, tz) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)


def last_backups(con: sqlite3.Connection, rpo_by_job: dict[str, float] | None = None,
                 now: dt.datetime | None = None) -> list[LastBackup]:
    """The newest good backup job per job name, its age and whether it is within the job's RPO."""
    tz = dt.datetime.now().astimezone().tzinfo  # the director writes local time
    now = now or dt.datetime.now(tz)
    rows = con.execute(
        "SELECT Job.Name AS job, Client.Name AS client, Job.Level AS level, Job.EndTime AS ended, "
        "Job.JobBytes AS bytes, Job.JobFiles AS files FROM Job JOIN Client USING (ClientId) "
        f"WHERE Job.Type = 'B' AND Job.JobStatus IN ({','.join('?' * len(GOOD))}) ORDER BY Job.EndTime",
        GOOD).fetchall()
    newest: dict[str, sqlite3.Row] = {}
    for r in rows:
        newest[r["job"]] = r
    out = []
    for job, r in sorted(newest.items()):
        ended = _when(str(r["ended"]), tz)
        age = (now - ended).total_seconds()
        rpo = (rpo_by_job or {}).get(job)
        out.append(LastBackup(job, r["client"], LEVELS.get(r["level"], r["level"]), ended.isoformat(), age,
                              int(r["bytes"]), int(r["files"]), rpo, None if rpo is None else age <= rpo))
    return out


def volumes(con: sqlite3.Connection) -> list[dict]:
    return [dict(r) for r in con.execute(
        "SELECT Media.VolumeName AS volume, Media.Slot AS slot, Media.VolStatus AS status, "
        "Media.VolBytes AS bytes, Pool.Name AS pool FROM Media JOIN Pool USING (PoolId) ORDER BY Media.Slot")]


@dataclass(frozen=True)
class Job:
    job_id: int
    job: str
    client: str
    type: str  # B backup, C copy (the copy's own record), R restore, ...
    level: str
    status: str
    ended: dt.datetime | None
    bytes: int
    files: int
    pool: str | None

    @property
    def good(self) -> bool:
        return self.status in GOOD


def local_tz():
    return dt.datetime.now().astimezone().tzinfo  # the director writes local time


def jobs(con: sqlite3.Connection, *, client: str | None = None, types: tuple[str, ...] = ("B",),
         since_id: int = 0) -> list[Job]:
    """Jobs of the catalogue in JobId order (all statuses), optionally of one client."""
    tz = local_tz()
    sql = ("SELECT Job.JobId AS id, Job.Name AS job, Client.Name AS client, Job.Type AS type, Job.Level AS level, "
           "Job.JobStatus AS status, Job.EndTime AS ended, Job.JobBytes AS bytes, Job.JobFiles AS files, "
           "Pool.Name AS pool FROM Job LEFT JOIN Client USING (ClientId) LEFT JOIN Pool USING (PoolId) "
           f"WHERE Job.Type IN ({','.join('?' * len(types))}) AND Job.JobId > ?")
    args: list = [*types, since_id]
    if client:
        sql += " AND Client.Name = ?"
        args.append(client)
    out = []
    for r in con.execute(sql + " ORDER BY Job.JobId", args):
        ended = _when(str(r["ended"]), tz) if r["ended"] else None
        out.append(Job(int(r["id"]), r["job"], r["client"], r["type"], LEVELS.get(r["level"], r["level"]),
                       r["status"], ended, int(r["bytes"] or 0), int(r["files"] or 0), r["pool"]))
    return out


def started(con: sqlite3.Connection) -> dict[str, list[dt.datetime]]:
    """Job name -> when each of its backup runs was scheduled or started, whatever became of it: the
    scheduler's runs carry their due time (SchedTime), a run by hand its start."""
    tz = local_tz()
    out: dict[str, list[dt.datetime]] = {}
    for r in con.execute("SELECT Name AS job, SchedTime AS sched, StartTime AS start FROM Job WHERE Type = 'B' "
                         "ORDER BY JobId"):
        times = []
        for v in (r["sched"], r["start"]):
            try:
                times.append(_when(str(v), tz))
            except ValueError:  # never set (NULL, or 0000-00-00 00:00:00)
                pass
        if times:
            out.setdefault(r["job"], []).append(min(times))
    return out


def last_good_before(con: sqlite3.Connection, client: str, before: dt.datetime,
                     exclude: set[int] = frozenset()) -> Job | None:
    """The newest good backup of `client` that had ended before `before` (a drill's start): what a loss at
    that moment could have been restored from."""
    found = [j for j in jobs(con, client=client) if j.good and j.ended and j.ended < before
             and j.job_id not in exclude]
    return max(found, key=lambda j: j.ended) if found else None
