"""Restore throughput measured on the real thing: a Bacula restore of one good backup job, repeated, with the
page cache dropped before each run (the volumes are read from disk, not from memory), every restored file
verified against the catalogue. `bench/bench_restore.py` runs it on ≥ 1 GB of incompressible data and leaves
bench/results/restore.json, which the dr-readiness drill estimates restore times from."""
from __future__ import annotations

import shutil
import statistics
import subprocess
from pathlib import Path

from .restore import restore_verified

DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def drop_caches() -> bool:
    """`sync; echo 3 > /proc/sys/vm/drop_caches` (root only; affects performance, never data)."""
    subprocess.run(["sync"], check=True)
    try:
        DROP_CACHES.write_text("3\n")
        return True
    except OSError:
        return False


def measure(lab, client: str, staging_root: Path, runs: int = 3) -> dict:
    """Restore `client`'s current backup `runs` times; bytes / wall time of each restore job (verification not
    included). Raises RuntimeError when a restore does not verify: a failed restore measures nothing."""
    out = []
    for i in range(runs):
        staging = Path(staging_root) / f"run-{i}"
        dropped = drop_caches()
        res = restore_verified(lab, client, staging)
        shutil.rmtree(staging, ignore_errors=True)
        if not res.ok:
            raise RuntimeError(f"restore {i + 1} of {client}: {res.reason}")
        out.append({"bytes": res.bytes, "seconds": round(res.seconds, 3), "mbps": round(res.bytes / res.seconds / 1e6, 1),
                    "files_verified": res.files_checked, "caches_dropped": dropped})
    rates = [r["mbps"] for r in out]
    med = statistics.median(rates)
    return {"engine": "bacula", "client": client, "runs": out, "median_mbps": round(med, 1),
            "spread": round((max(rates) - min(rates)) / med, 3) if med else None,
            "caches_dropped": all(r["caches_dropped"] for r in out)}
