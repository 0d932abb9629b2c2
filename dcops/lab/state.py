"""What a lab run created, kept on disk so a crashed run can still be cleaned up.

One JSON file per lab under STATE_DIR records namespaces, processes (pid plus
kernel start time, so a recycled pid is never killed) and scratch folders.
Every change is written under an exclusive lock and replaced atomically.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Iterator

STATE_DIR = Path(os.environ.get("DCOPS_LAB_STATE_DIR", "/run/dcops-lab"))


def _empty(lab: str) -> dict:
    return {"lab": lab, "namespaces": [], "processes": [], "dirs": [], "meta": {}}


def state_path(lab: str) -> Path:
    return STATE_DIR / f"{lab}.json"


@contextlib.contextmanager
def edit(lab: str) -> Iterator[dict]:
    """Read-modify-write the lab's state under a lock."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    lock = STATE_DIR / f".{lab}.lock"
    with open(lock, "w") as lf:
        fcntl.flock(lf, fcntl.LOCK_EX)
        path = state_path(lab)
        data = json.loads(path.read_text()) if path.exists() else _empty(lab)
        yield data
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False))
        os.replace(tmp, path)


def read(lab: str) -> dict:
    path = state_path(lab)
    return json.loads(path.read_text()) if path.exists() else _empty(lab)


def labs() -> list[str]:
    if not STATE_DIR.is_dir():
        return []
    return sorted(p.stem for p in STATE_DIR.glob("*.json"))


def forget(lab: str) -> None:
    for p in (state_path(lab), STATE_DIR / f".{lab}.lock"):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
