"""Restore throughput measured on the real thing: a Bacula restore of one good backup job, repeated, with the
page cache dropped before each run (the volumes are read from disk, not from memory), every restored file
verified against the catalogue. `bench/bench_restore.py` runs it on ≥ 1 GB of incompressible data and leaves
bench/results/restore.json, which the dr-readiness drill estimates restore times from.

The method (docs/drills.md, "DR readiness throughput"), each rule from a measurement on the lab machine:
- the clock runs from submitting the restore to the director until the job is terminated in the catalogue
  (polled every 20 ms) *and* every restored file is fsync'ed: bconsole's `wait` returns on whole seconds
  (wall times clustered at N + 0.4 s, a 10 % step on a 10 s run), and data still in the page cache is not
  restored yet;
- a run's figure is its data phase: bytes over first restored byte on disk → fsync'ed. The time before the first
  byte (tree build, job start, the daemons connecting) is a fixed cost of 0.9–2.6 s in whole-second steps of the
  daemons' own polling, not a rate; it is kept per run as `first_byte_s`;
- one warm-up restore is run first and not counted (it is kept in the result with `counted: false`);
- the device's other I/O during each run (/proc/diskstats minus the restore's own read and write) is kept, so a
  run slowed by another job's disk traffic is visible, not just slow;
- every run restores into a fresh folder, removed and synced before the next run's cache drop;
- the figure is stable only when every counted run is within ±STABLE of the median.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import time
from pathlib import Path

from .catalogue import GOOD
from .restore import RestoreResult, expected_files, verify

DROP_CACHES = Path("/proc/sys/vm/drop_caches")
#: each counted run within this of the median, or the figure is not stable (issue 16: ±10 % in 3 runs)
STABLE = 0.10
WARMUP = 1
POLL_S = 0.02
_FAILED = ("E", "e", "f", "A")
_REPORT = {"elapsed": r"Elapsed time:\s+(.+)", "rate": r"Rate:\s+([\d.]+) KB/s", "termination": r"Termination:\s+(.+)"}


def drop_caches() -> bool:
    """`sync; echo 3 > /proc/sys/vm/drop_caches` (root only; affects performance, never data)."""
    subprocess.run(["sync"], check=True)
    try:
        DROP_CACHES.write_text("3\n")
        return True
    except OSError:
        return False


def _files(folder: Path) -> list[Path]:
    return [Path(root) / f for root, _, names in os.walk(folder) for f in names]


def _fsync_tree(folder: Path) -> None:
    """fsync every restored file and folder: the data is on disk, not only written into the page cache."""
    for root, dirs, names in os.walk(folder):
        for n in names:
            fd = os.open(os.path.join(root, n), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _device_of(path: Path) -> str | None:
    """The /proc/diskstats name of the block device holding `path` (None when it is not found)."""
    dev = os.stat(path).st_dev
    for line in Path("/proc/diskstats").read_text().splitlines():
        f = line.split()
        if os.makedev(int(f[0]), int(f[1])) == dev:
            return f[2]
    return None


def device_io(device: str | None) -> int | None:
    """Bytes read + written on `device` since boot (sectors of 512 bytes, /proc/diskstats fields 6 and 10)."""
    if device is None:
        return None
    for line in Path("/proc/diskstats").read_text().splitlines():
        f = line.split()
        if f[2] == device:
            return (int(f[5]) + int(f[9])) * 512
    return None


def cpu_seconds(pids) -> float:
    """CPU time (user + system) the processes `pids` have used, from /proc/PID/stat (gone processes count 0)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in pids:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(f[11]) + int(f[12])  # utime, stime (fields 14 and 15)
    return total / tick


def steal_seconds() -> float:
    """CPU time the hypervisor gave to other guests while this one wanted it (/proc/stat `cpu` steal column)."""
    f = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(f[8]) / os.sysconf("SC_CLK_TCK") if len(f) > 8 else 0.0


def _job(lab, job_id: int):
    try:
        with lab.catalogue() as con:
            return con.execute("SELECT JobStatus, JobBytes FROM Job WHERE JobId = ?", (job_id,)).fetchone()
    except sqlite3.OperationalError:  # the director is writing: ask again on the next poll
        return None


def timed_restore(lab, client: str, staging: Path, timeout: float = 900) -> tuple[RestoreResult, dict]:
    """Restore `client`'s current backup into the fresh folder `staging` and time it: submitted → terminated in
    the catalogue → fsync'ed; the first restored byte on disk and the director's job report are kept."""
    staging.mkdir(parents=True)  # fresh: an existing folder would be overwritten in place, not restored into
    device = _device_of(staging)
    io0 = device_io(device)
    pids = [p.pid for p in getattr(lab, "procs", {}).values()]
    cpu0, steal0 = cpu_seconds(pids), steal_seconds()
    t0 = time.monotonic()
    out = lab.bconsole(f"restore client={client} where={staging} select current all done yes")
    m = re.search(r"JobId=(\d+)", out)
    res = RestoreResult(False, int(m.group(1)) if m else None, staging, 0.0)
    if res.job_id is None:
        res.errors = [f"the director queued no restore: {out.strip().splitlines()[-1:] or out!r}"]
        return res, {}
    first = job = None
    while time.monotonic() - t0 < timeout:
        if first is None and any(p.stat().st_size for p in _files(staging)):
            first = time.monotonic() - t0
        job = _job(lab, res.job_id)
        if job is not None and (job["JobStatus"] in GOOD or job["JobStatus"] in _FAILED):
            break
        time.sleep(POLL_S)
    ended = time.monotonic() - t0
    _fsync_tree(staging)
    res.seconds = time.monotonic() - t0
    io1 = device_io(device)
    cpu, steal = cpu_seconds(pids) - cpu0, steal_seconds() - steal0
    report = lab.bconsole("messages")
    phases = {"first_byte_s": round(first, 3) if first is not None else None, "job_end_s": round(ended, 3),
              "fsync_s": round(res.seconds - ended, 3), "device": device,
              "device_io_bytes": io1 - io0 if io0 is not None and io1 is not None else None,
              # the director, storage and file daemons' CPU time, and the hypervisor's steal: a run that waited
              # for a CPU shows it here (on 2 shared cores the data path is CPU-bound, not disk-bound)
              "daemons_cpu_s": round(cpu, 2), "steal_s": round(steal, 2),
              **{k: (re.search(p, report) or [None, None])[1] for k, p in _REPORT.items()}}
    if job is None or job["JobStatus"] not in GOOD:
        res.errors = [phases["termination"]
                      or f"restore job {res.job_id} did not terminate well within {timeout:.0f} s"]
        return res, phases
    with lab.catalogue() as con:
        want = expected_files(con, client)
    res.expected, res.bytes = want, int(job["JobBytes"] or 0)
    verify(res, want)
    return res, phases


def stability(rates: list[float], band: float = STABLE) -> dict:
    """median, spread (max − min over the median) and whether every rate is within ±band of the median."""
    med = statistics.median(rates)
    worst = max(abs(r - med) / med for r in rates) if med else None
    return {"median_mbps": round(med, 1), "spread": round((max(rates) - min(rates)) / med, 3) if med else None,
            "max_deviation": round(worst, 3) if worst is not None else None, "stable_band": band,
            "stable": worst is not None and worst <= band}


def measure(lab, client: str, staging_root: Path, runs: int = 3, warmup: int = WARMUP) -> dict:
    """`warmup` restores not counted, then `runs` counted ones; each after a cache drop, into a fresh folder,
    timed to fsync'ed data (not including verification). Raises RuntimeError when a restore does not verify:
    a failed restore measures nothing."""
    out = []
    for i in range(warmup + runs):
        staging = Path(staging_root) / f"run-{i}"
        dropped = drop_caches()
        res, phases = timed_restore(lab, client, staging)
        shutil.rmtree(staging, ignore_errors=True)
        subprocess.run(["sync"], check=True)  # the removal is on disk before the next run's clock starts
        if not res.ok:
            raise RuntimeError(f"restore {i + 1} of {client}: {res.reason}")
        data_s = res.seconds - (phases.get("first_byte_s") or 0.0)
        io = phases.get("device_io_bytes")
        out.append({"bytes": res.bytes, "seconds": round(res.seconds, 3), "data_seconds": round(data_s, 3),
                    "mbps": round(res.bytes / data_s / 1e6, 1),
                    # the restore reads its volume and writes its files: the rest is another job's disk traffic
                    "other_io_bytes": max(0, io - 2 * res.bytes) if io is not None else None,
                    "files_verified": res.files_checked, "caches_dropped": dropped, "counted": i >= warmup,
                    "phases": phases, "load_average": round(os.getloadavg()[0], 2)})
    counted = [r for r in out if r["counted"]]
    return {"engine": "bacula", "client": client, "method": "bytes over first restored byte → job terminated "
            "in the catalogue → fsync'ed; warm-up discarded; fresh folder per run; caches dropped before each",
            "warmup_runs": warmup, "runs": out,
            **stability([r["mbps"] for r in counted]), "caches_dropped": all(r["caches_dropped"] for r in out)}
