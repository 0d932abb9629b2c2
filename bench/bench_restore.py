#!/usr/bin/env python3
"""Benchmark a real Bacula restore: the throughput dr-readiness estimates restore times from.

    python bench/bench_restore.py                  # 1.1 GB, 3 restores, caches dropped before each
    python bench/bench_restore.py --size-mb 2048 --runs 5

Builds the lab's Bacula (director, storage daemon with the virtual autochanger, file daemon; the
inventory's tape library, cartridges scaled so a run fits), writes a data set of incompressible
random bytes (sparse or zero files would measure nothing), takes one Full backup, then restores it
`--runs` times into a fresh folder, each time after `sync; echo 3 > /proc/sys/vm/drop_caches` (root:
the volume files are read from disk, not from the page cache). Every restore is verified file by file
against the catalogue's SHA-1; the throughput of a run is the restore job's bytes over the restore's
wall time (bconsole `restore … wait`, verification not included). Writes bench/results/restore.json,
which `dcops drill run dr-readiness` reads (readiness.RESTORE_BENCH).
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
    ap.add_argument("--size-mb", type=int, default=1100)
    ap.add_argument("--runs", type=int, default=3)
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
                m = measure(bl, f"{CLIENT_VM}-fd", work / "restore", a.runs)
            except RuntimeError as e:
                print(e, file=sys.stderr)
                return 1
            for i, r in enumerate(m["runs"], 1):
                print(f"restore {i}: {r['bytes'] / 1e9:.2f} GB in {r['seconds']:.1f} s = {r['mbps']:.0f} MB/s "
                      f"({r['files_verified']} files verified; caches dropped: {r['caches_dropped']})")
            version = bl.bconsole("version").split("Version:")[-1].split("\n")[0].strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = record("restore", {
        **m, "bacula_version": version, "data_bytes": size, "data": "random bytes (incompressible), 16 files",
        "backup_seconds": round(backup_s, 1),
        "storage": "lab virtual autochanger: file-backed cartridges on this machine's disk",
    }, notes="Bacula restore of one Full job from the lab's virtual tape library to a local folder; the "
             "throughput of the disk behind the lab's cartridges, not of an LTO-8 drive")
    print(f"median {m['median_mbps']:.0f} MB/s, spread {100 * m['spread']:.0f} % → {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
