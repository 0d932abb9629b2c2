"""Backup health as Prometheus metrics, read from the Bacula catalogue (never typed figures): the last good
backup and DR copy per job, whether the newest run failed, failures in the last day, and every cartridge's
bytes and capacity per library. Written as a node_exporter textfile (or served beside /metrics) so the
Prometheus scale-out scrapes it, and `rules()` are the alerts that go with it (job failed, a scheduled
run that started no job, RPO missed, never backed up, DR copy stale, library nearly full)."""
from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

from ..model.bacula import last_due, schedule
from .catalogue import GOOD, jobs, local_tz, started

PREFIX = "dcops_backup_"
FAILED_WINDOW_S = 24 * 3600
#: a scheduled run counts as missed when no job of it has started this long after its time (jobs queue behind
#: the library's drives: the night's jobs have all started well within the hour)
MISSED_GRACE_S = 3600
LIBRARY_FULL_RATIO = 0.85


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict
    value: float


FAMILIES = {  # name -> (type, help)
    "last_success_timestamp_seconds": ("gauge", "End time of the newest good backup job (Unix time)"),
    "last_success_bytes": ("gauge", "Bytes written by the newest good backup job"),
    "last_success_files": ("gauge", "Files written by the newest good backup job"),
    "rpo_seconds": ("gauge", "The job's backup policy RPO"),
    "never_succeeded": ("gauge", "1 when the catalogue holds no good backup of the job"),
    "last_job_ok": ("gauge", "1 when the newest run of the job ended well (T/W), 0 when it failed"),
    "failed_jobs_24h": ("gauge", "Runs of the job that failed in the last 24 hours"),
    "last_dr_copy_timestamp_seconds": ("gauge", "End time of the newest good copy of the job at the DR library"),
    "schedule_last_due_timestamp_seconds": ("gauge", "When the job's schedule last had to start it, an hour ago or "
                                                     "more (Unix time)"),
    "schedule_missed": ("gauge", "1 when no job started at the schedule's last due run (director down, job "
                                 "disabled, a schedule that never fires), 0 when one did"),
    "volume_bytes": ("gauge", "Bytes on the cartridge (catalogue VolBytes)"),
    "volume_capacity_bytes": ("gauge", "What the cartridge may hold (catalogue MaxVolBytes)"),
    "library_used_bytes": ("gauge", "Bytes on all cartridges of the library"),
    "library_capacity_bytes": ("gauge", "Capacity of all labelled cartridges of the library"),
    "library_volumes": ("gauge", "Cartridges of the library by catalogue status"),
}


def samples(con: sqlite3.Connection, configured: list[dict], now: dt.datetime | None = None) -> list[Sample]:
    """`configured`: {job, client, policy, rpo_s, replicate_to_dr} per job the inventory declares."""
    now = now or dt.datetime.now(local_tz())
    out: list[Sample] = []
    backups = jobs(con, types=("B",))
    copies = jobs(con, types=("C",))
    starts = started(con)
    for c in configured:
        lab = {"job": c["job"], "client": c["client"], "policy": c["policy"]}
        mine = [j for j in backups if j.job == c["job"]]
        good = [j for j in mine if j.good and j.ended]
        out.append(Sample("rpo_seconds", lab, c["rpo_s"]))
        out.append(Sample("never_succeeded", lab, 0 if good else 1))
        if good:
            last = max(good, key=lambda j: j.ended)
            out += [Sample("last_success_timestamp_seconds", lab, last.ended.timestamp()),
                    Sample("last_success_bytes", lab, last.bytes), Sample("last_success_files", lab, last.files)]
        finished = [j for j in mine if j.ended]
        if finished:
            out.append(Sample("last_job_ok", lab, 1 if finished[-1].status in GOOD else 0))
        out.append(Sample("failed_jobs_24h", lab, sum(
            1 for j in finished if j.status not in GOOD and (now - j.ended).total_seconds() <= FAILED_WINDOW_S)))
        out += _schedule(c, lab, starts.get(c["job"], []), now)
        if c.get("replicate_to_dr"):
            dr = [j for j in copies if j.job == c["job"] and j.good and j.ended]
            if dr:
                out.append(Sample("last_dr_copy_timestamp_seconds", lab, max(j.ended for j in dr).timestamp()))
    libs: dict[str, dict] = {}
    # a scratch cartridge has no MaxVolBytes of its own yet: it gets the pools' Maximum Volume Bytes when a pool
    # takes it (every pool of dcops' configuration sets the same size per library)
    pool_cap = con.execute("SELECT COALESCE(MAX(MaxVolBytes), 0) FROM Pool").fetchone()[0]
    for r in con.execute("SELECT Media.VolumeName AS volume, Media.VolBytes AS bytes, Media.MaxVolBytes AS cap, "
                         "Media.VolStatus AS status, Pool.Name AS pool, Storage.Name AS library FROM Media "
                         "JOIN Pool USING (PoolId) LEFT JOIN Storage ON Storage.StorageId = Media.StorageId "
                         "ORDER BY Media.VolumeName"):
        library = r["library"] or "?"
        lab = {"library": library, "volume": r["volume"], "pool": r["pool"]}
        cap = int(r["cap"] or 0) or int(pool_cap)
        out += [Sample("volume_bytes", lab, int(r["bytes"] or 0)), Sample("volume_capacity_bytes", lab, cap)]
        agg = libs.setdefault(library, {"used": 0, "cap": 0, "status": {}})
        agg["used"] += int(r["bytes"] or 0)
        agg["cap"] += cap
        agg["status"][r["status"]] = agg["status"].get(r["status"], 0) + 1
    for library, agg in sorted(libs.items()):
        out += [Sample("library_used_bytes", {"library": library}, agg["used"]),
                Sample("library_capacity_bytes", {"library": library}, agg["cap"])]
        out += [Sample("library_volumes", {"library": library, "status": s}, n) for s, n in sorted(agg["status"].items())]
    return out


def _schedule(c: dict, lab: dict, starts: list[dt.datetime], now: dt.datetime) -> list[Sample]:
    """The schedule's newest due run (an hour ago or more) and whether a job of it started then. A job that has
    never run has nothing to compare (`never_succeeded` says so); a due run before its first job is not
    counted (the job did not exist yet)."""
    runs = c.get("runs")
    if not runs:
        return []
    due = last_due(runs, now - dt.timedelta(seconds=MISSED_GRACE_S))
    if due is None:
        return []
    out = [Sample("schedule_last_due_timestamp_seconds", lab, due.timestamp())]
    if starts:
        counted = due > min(starts)
        ran = any(t >= due for t in starts)
        out.append(Sample("schedule_missed", lab, 1 if counted and not ran else 0))
    return out


def _esc(v) -> str:
    return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def exposition(items: list[Sample]) -> str:
    """Prometheus text format, one HELP/TYPE per family."""
    lines = []
    for short, (typ, help_) in FAMILIES.items():
        rows = [s for s in items if s.name == short]
        if not rows:
            continue
        lines += [f"# HELP {PREFIX}{short} {help_}", f"# TYPE {PREFIX}{short} {typ}"]
        for s in rows:
            labels = ",".join(f'{k}="{_esc(v)}"' for k, v in s.labels.items())
            lines.append(f"{PREFIX}{short}{{{labels}}} {_fmt(s.value)}")
    return "\n".join(lines) + "\n"


def rules(for_: str = "10m") -> dict:
    """Prometheus alerting rules over these metrics (a rule file: YAML or JSON)."""
    p = PREFIX
    return {"groups": [{"name": "dcops-backup", "rules": [
        {"alert": "BackupJobFailed", "expr": f"{p}last_job_ok == 0", "labels": {"severity": "critical"},
         "annotations": {"summary": "Sao lưu {{ $labels.job }} thất bại ở lần chạy gần nhất"}},
        {"alert": "BackupRpoMissed",
         "expr": f"time() - {p}last_success_timestamp_seconds > on(job, client, policy) {p}rpo_seconds",
         "for": for_, "labels": {"severity": "critical"},
         "annotations": {"summary": "{{ $labels.job }}: bản sao lưu tốt gần nhất đã quá RPO của chính sách"}},
        {"alert": "BackupScheduleMissed", "expr": f"{p}schedule_missed == 1", "labels": {"severity": "critical"},
         "annotations": {"summary": "{{ $labels.job }}: lịch sao lưu đã đến giờ nhưng không có công việc nào chạy"}},
        {"alert": "BackupNeverSucceeded", "expr": f"{p}never_succeeded == 1", "for": for_,
         "labels": {"severity": "warning"},
         "annotations": {"summary": "{{ $labels.job }} chưa từng được sao lưu thành công"}},
        {"alert": "BackupDrCopyStale",
         "expr": f"{p}last_success_timestamp_seconds - on(job, client, policy) "
                 f"{p}last_dr_copy_timestamp_seconds > on(job, client, policy) {p}rpo_seconds",
         "for": for_, "labels": {"severity": "warning"},
         "annotations": {"summary": "{{ $labels.job }}: bản sao tại DR cũ hơn bản sao lưu quá một RPO"}},
        {"alert": "TapeLibraryNearlyFull",
         "expr": f"{p}library_used_bytes / {p}library_capacity_bytes > {LIBRARY_FULL_RATIO}",
         "for": for_, "labels": {"severity": "warning"},
         "annotations": {"summary": "Thư viện băng từ {{ $labels.library }} đã dùng trên 85 % dung lượng"}},
    ]}]}


def configured_jobs(clients) -> list[dict]:
    return [{"job": c.name, "client": f"{c.name}-fd", "policy": c.policy.name, "rpo_s": c.policy.rpo_hours * 3600,
             "replicate_to_dr": bool(c.policy.replicate_to_dr),
             "runs": schedule(c.policy.full_every_days, c.policy.incremental_daily)} for c in clients]
