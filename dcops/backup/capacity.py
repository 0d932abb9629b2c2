"""Tape capacity as planned (the inventory: policies × retention, dcops.model.capacity) and as measured (the
Bacula catalogue: bytes on the cartridges, what the cartridges hold, bytes written per day), and the warning
an operator needs: at the measured growth the library fills before retention recycles its first volumes."""
from __future__ import annotations

import datetime as dt
import sqlite3

from dcops.model.capacity import tape_demand_tb

from .catalogue import jobs, local_tz


def _libraries(con: sqlite3.Connection) -> dict[str, dict]:
    pool_cap = int(con.execute("SELECT COALESCE(MAX(MaxVolBytes), 0) FROM Pool").fetchone()[0])
    out: dict[str, dict] = {}
    for r in con.execute("SELECT Storage.Name AS library, Media.VolBytes AS used, Media.MaxVolBytes AS cap "
                         "FROM Media JOIN Storage ON Storage.StorageId = Media.StorageId"):
        lib = out.setdefault(r["library"], {"used_bytes": 0, "capacity_bytes": 0, "volumes": 0})
        lib["used_bytes"] += int(r["used"] or 0)
        lib["capacity_bytes"] += int(r["cap"] or 0) or pool_cap  # scratch: the pools' Maximum Volume Bytes
        lib["volumes"] += 1
    return out


def report(inv, con: sqlite3.Connection, *, window_days: float = 7.0, now: dt.datetime | None = None) -> dict:
    """Per library: measured used/capacity, growth over the window, days to full, and whether it fills before
    the longest retention among the policies writing to it recycles volumes."""
    now = now or dt.datetime.now(local_tz())
    since = now - dt.timedelta(days=window_days)
    tape = inv.storage.tape
    retention = {p.name: p.retention_days for p in inv.storage.backup_policies if p.target == "tape"}
    written: dict[str, int] = {}
    pools_of: dict[str, set[str]] = {}
    # the library a job wrote to: the storage of the cartridges it used
    library_of_job = {r["id"]: r["lib"] for r in con.execute(
        "SELECT DISTINCT JobMedia.JobId AS id, Storage.Name AS lib FROM JobMedia JOIN Media USING (MediaId) "
        "JOIN Storage ON Storage.StorageId = Media.StorageId")}
    for j in jobs(con, types=("B", "C")):  # originals on the main library, copies on the DR library
        if not (j.good and j.ended and j.ended >= since and j.job_id in library_of_job):
            continue
        lib = library_of_job[j.job_id]
        written[lib] = written.get(lib, 0) + j.bytes
        pools_of.setdefault(lib, set()).add(j.pool)
    rows = []
    for name, lib in sorted(_libraries(con).items()):
        per_day = written.get(name, 0) / window_days
        free = max(lib["capacity_bytes"] - lib["used_bytes"], 0)
        policies = {p.rsplit("-", 1)[0] for p in pools_of.get(name, ())}
        keep = max((retention[p] for p in policies if p in retention), default=None)
        days_to_full = round(free / per_day, 2) if per_day > 0 else None
        exhausts = bool(keep is not None and days_to_full is not None and days_to_full < keep)
        rows.append({
            "library": name, "measured_used_bytes": lib["used_bytes"], "measured_capacity_bytes": lib["capacity_bytes"],
            "volumes": lib["volumes"], "written_bytes_per_day": round(per_day), "window_days": window_days,
            "days_to_full": days_to_full, "longest_retention_days": keep, "exhausts_before_recycling": exhausts,
            "planned_bytes": round(tape_demand_tb(inv) * 1e12) if name == tape.name else None,
            "declared_capacity_bytes": round(tape.capacity_tb * 1e12) if name == tape.name else None,
        })
    return {"libraries": rows, "at": now.isoformat()}


def describe(r: dict) -> str:
    """One library's line: planned (inventory) beside measured (catalogue), and the warning."""
    planned = (f"planned {r['planned_bytes'] / 1e12:,.1f} TB of {r['declared_capacity_bytes'] / 1e12:,.0f} TB; "
               if r["planned_bytes"] is not None else "")
    full = r["days_to_full"] if r["days_to_full"] is not None else "—"
    return (f"{r['library']}: {planned}measured {r['measured_used_bytes']:,} of {r['measured_capacity_bytes']:,} B on "
            f"{r['volumes']} cartridge(s), +{r['written_bytes_per_day']:,} B/day, full in {full} day(s)"
            + ("  EXHAUSTS BEFORE RETENTION RECYCLES" if r["exhausts_before_recycling"] else ""))


def measured(inv, catalogue, window_days: float = 7.0) -> dict:
    """`report` from the director's SQLite catalogue file (read-only); FileNotFoundError when it is not there."""
    from pathlib import Path
    path = Path(catalogue)
    if not path.is_file():
        raise FileNotFoundError(f"no catalogue at {path}")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        con.row_factory = sqlite3.Row
        return report(inv, con, window_days=window_days)
