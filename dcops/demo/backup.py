"""The demo's tape backup: Bacula's director, storage daemon (the disk-based virtual library) and file daemon
configured from the inventory by dcops.backup, started as recorded lab processes (Ctrl-C and `dcops demo down`
stop them by PID), the library labelled from its barcodes and a first full backup of a few VMs' data sets
queued at start. The catalogue becomes metrics in the monitor's textfile folder (the director is the device),
so a failed job is an alert on the NOC page and in /metrics."""
from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path
from typing import Callable

DIRECTOR_DEVICE = "kg-bak-dir"
CLIENTS = ("portal-db-01",)  # always among the demo's clients (the backup-job-failed scenario uses it)
HOW_MANY = 3
FILES_PER_SET, FILE_BYTES = 4, 64 * 1024


def _data_sets(inv, folder: Path) -> dict[str, list[str]]:
    """A few tape VMs (one per policy first), each with a small data set of its own."""
    from dcops.backup.config import clients_of
    clients = clients_of(inv)
    chosen = [c.name for c in clients if c.name in CLIENTS]
    for c in clients:  # one per policy, then any
        if len(chosen) < HOW_MANY and c.name not in chosen and c.policy.name not in {
                x.policy.name for x in clients if x.name in chosen}:
            chosen.append(c.name)
    chosen += [c.name for c in clients if c.name not in chosen][:HOW_MANY - len(chosen)]
    out = {}
    for vm in chosen:
        d = folder / vm
        d.mkdir(parents=True, exist_ok=True)
        for i in range(FILES_PER_SET):
            (d / f"data{i}.db").write_bytes(os.urandom(FILE_BYTES))
        out[vm] = [str(d)]
    return out


def _listens(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def start(inv, workdir: Path, spawn: Callable[[str, list[str]], int],
          wait: Callable[[str, Callable[[], bool], float], None]) -> dict:
    """Configure, start, label, queue the first full backups; returns what the demo records (meta["backup"])."""
    from dcops.backup.jobs import Director
    from dcops.backup.lab import DAEMONS, BaculaLab
    paths = _data_sets(inv, workdir / "backup-data")
    bl = BaculaLab(inv, paths, workdir=workdir / "bacula", fd_connect_timeout="5 seconds")
    bl.write()
    director = Director(bl.conf / "bconsole.conf", bl.workdir / "dir" / "bacula.db")
    ports = {"sd": bl.d.sd_port, "fd": bl.d.fd_port}
    pids = {}
    for short, exe in DAEMONS.items():
        what = f"bacula-{short}"
        pids[short] = spawn(what, [exe, "-f", "-c", str(bl.conf / f"{exe}.conf")])
        if short == "dir":
            wait(what, lambda: _version(director), 30)
        else:
            wait(what, lambda p=ports[short]: _listens(p), 30)
    t = bl.tape
    textfile = workdir / "textfile" / f"{DIRECTOR_DEVICE}.prom"
    textfile.parent.mkdir(parents=True, exist_ok=True)
    meta = {"conf": str(bl.conf), "catalogue": str(director.catalogue_path), "paths": paths,
            "fd_port": bl.d.fd_port, "pids": pids, "textfile": str(textfile), "library": t.name,
            "slots": t.slots, "labelled": str(bl.workdir / "labelled")}
    # Labelling the library takes the storage daemon a while (a load and a label per cartridge): it runs beside
    # the rest of the start-up, then the first full backups are queued; jobs wait for the marker.
    threading.Thread(target=_first_backup, args=(director, meta, t), name="bacula-first-backup",
                     daemon=True).start()
    return meta


def _first_backup(director, meta: dict, t) -> None:
    try:
        director.bconsole(f"label barcodes storage={t.name} pool=Scratch slots=1-{t.slots} drive=0\nyes")
        director.bconsole("\n".join(f"run job={vm} level=Full yes" for vm in meta["paths"]))
        Path(meta["labelled"]).touch()
    except Exception as e:  # e.g. the daemons stopped under it (Ctrl-C during start-up, the folder gone)
        with contextlib.suppress(OSError):
            Path(meta["labelled"]).with_suffix(".failed").write_text(str(e))


def wait_labelled(meta: dict, timeout: float = 120) -> None:
    import time
    end = time.monotonic() + timeout
    marker = Path(meta["labelled"])
    while not marker.exists():
        failed = marker.with_suffix(".failed")
        if failed.exists():
            raise RuntimeError(f"labelling the library failed: {failed.read_text()[:300]}")
        if time.monotonic() > end:
            raise RuntimeError(f"the library is not labelled after {timeout:.0f} s")
        time.sleep(0.2)


def _version(director) -> bool:
    try:
        return "Version:" in director.bconsole("version", timeout=5)
    except Exception:  # not up yet: bconsole cannot connect (or times out)
        return False


def director_of(meta: dict):
    from dcops.backup.jobs import Director
    return Director(Path(meta["conf"]) / "bconsole.conf", Path(meta["catalogue"]))


def write_metrics(meta: dict, inv) -> int:
    """The catalogue's backup metrics into the monitor's textfile folder, atomically; returns the sample count."""
    import sqlite3

    from dcops.backup.config import clients_of
    from dcops.backup.metrics import configured_jobs, exposition, samples
    clients = clients_of(inv, lab_paths=meta["paths"], fd_port=meta["fd_port"])
    with sqlite3.connect(f"file:{meta['catalogue']}?mode=ro", uri=True) as con:
        con.row_factory = sqlite3.Row
        items = samples(con, configured_jobs(clients))
    target = Path(meta["textfile"])
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(exposition(items), encoding="utf-8")
    tmp.replace(target)  # the monitor never reads half a file (it reads *.prom only)
    return len(items)


def wait_fd(meta: dict, timeout: float = 15) -> None:
    import time
    end = time.monotonic() + timeout
    while not _listens(meta["fd_port"]):
        if time.monotonic() > end:
            raise RuntimeError(f"the Bacula file daemon does not listen on 127.0.0.1:{meta['fd_port']}")
        time.sleep(0.1)
