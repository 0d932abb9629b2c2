#!/usr/bin/env python3
"""Benchmark a real Bacula restore: the throughput dr-readiness estimates restore times from.

    python bench/bench_restore.py                  # 2 GB, 1 warm-up + 3 counted restores
    python bench/bench_restore.py --size-mb 4096 --runs 5

Builds the lab's Bacula (director, storage daemon with the virtual autochanger, file daemon; the
inventory's tape library, cartridges scaled so a run fits), writes a data set of incompressible
random bytes (sparse or zero files would measure nothing), takes one Full backup, then restores it
`--warmup` times (not counted) and `--runs` times (counted), each into a fresh folder after
`sync; echo 3 > /proc/sys/vm/drop_caches` (root: the volume files are read from disk, not from the
page cache). Every restore is verified file by file against the catalogue's SHA-1; a run's throughput
is its bytes over the data phase: first restored byte on disk → job terminated in the catalogue →
every file fsync'ed (dcops.backup.throughput: why each rule). Writes bench/results/restore.json, which
`dcops drill run dr-readiness` reads (readiness.RESTORE_BENCH), stable or not (readiness refuses a figure
whose counted runs are not all within ±10 % of their median); exits 1 when it is not stable.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dcops.backup.lab import BaculaLab, available  # noqa: E402
from dcops.backup.throughput import measure  # noqa: E402
from dcops.drills.bacula_restore import backup  # noqa: E402
from dcops.model import load_inventory  # noqa: E402

from _results import record  # noqa: E402  (bench/_results.py, beside this script)

CLIENT_VM = "portal-db-01"  # a tape-protected VM of the shipped inventory; only its name is used


def write_data(folder: Path, size: int, files: int = 16) -> int:
    folder.mkdir(parents=True)
    chunk = 16 * 1024 * 1024
    per = size // files
    total = 0
    for i in range(files):
        with open(folder / f"part-{i:03d}.dmp", "wb") as fh:
            left = per
            while left > 0:
                n = min(chunk, left)
                fh.write(os.urandom(n))
                left -= n
            fh.flush()
            os.fsync(fh.fileno())
        total += per
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=2048)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="restores run first and not counted (default 1)")
    ap.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder under /var/tmp")
    a = ap.parse_args()
    if not available():
        print("Bacula (bacula-director/sd/fd/console) is not installed", file=sys.stderr)
        return 2
    inv = load_inventory()
    work = Path(tempfile.mkdtemp(prefix="dcops-bench-restore-", dir=a.workdir or "/var/tmp"))
    data = work / "data"
    try:
        t = time.monotonic()
        size = write_data(data, a.size_mb * 1024 * 1024)
        print(f"data set: {size / 1e9:.2f} GB of random bytes in {time.monotonic() - t:.1f} s")
        # a 12 TB cartridge holds 12 GB here: the whole set fits on one cartridge, as a real Full would
        with BaculaLab(inv, {CLIENT_VM: [str(data)]}, scale=1e-3, workdir=work / "bacula") as bl:
            bl.label_library(dr=False)
            t = time.monotonic()
            job = backup(bl, CLIENT_VM)
            backup_s = time.monotonic() - t
            print(f"backup JobId {job.job_id}: {job.bytes / 1e9:.2f} GB in {backup_s:.1f} s")
            try:
                m = measure(bl, f"{CLIENT_VM}-fd", work / "restore", a.runs, warmup=a.warmup)
            except RuntimeError as e:
                print(e, file=sys.stderr)
                return 1
            for i, r in enumerate(m["runs"], 1):
                p = r["phases"]
                other = r["other_io_bytes"] / 1e6 if r["other_io_bytes"] is not None else float("nan")
                print(f"restore {i}{'' if r['counted'] else ' (warm-up, not counted)'}: {r['bytes'] / 1e9:.2f} GB, "
                      f"first byte {p['first_byte_s']} s, data {r['data_seconds']:.2f} s (fsync {p['fsync_s']} s) = "
                      f"{r['mbps']:.0f} MB/s; director: {p['elapsed']}, {p['rate']} KB/s; other I/O on "
                      f"{p['device']}: {other:.0f} MB; daemons' CPU {p['daemons_cpu_s']} s, steal {p['steal_s']} s; "
                      f"load {r['load_average']}; {r['files_verified']} files verified")
            version = bl.bconsole("version").split("Version:")[-1].split("\n")[0].strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = record("restore", {
        **m, "bacula_version": version, "data_bytes": size, "data": "random bytes (incompressible), 16 files",
        "backup_seconds": round(backup_s, 1),
        "storage": "lab virtual autochanger: file-backed cartridges on this machine's disk",
    }, notes="Bacula restore of one Full job from the lab's virtual tape library to a local folder; the "
             "throughput of the disk behind the lab's cartridges, not of an LTO-8 drive")
    print(f"median {m['median_mbps']:.0f} MB/s, spread {100 * m['spread']:.0f} %, worst run "
          f"{100 * m['max_deviation']:.0f} % from the median: {'stable' if m['stable'] else 'NOT stable'} "
          f"(±{100 * m['stable_band']:.0f} %) → {path}")
    return 0 if m["stable"] else 1


if __name__ == "__main__":
    sys.exit(main())
