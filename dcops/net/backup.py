"""Oxidized-style backups: backups/<device>/<UTC timestamp>.<ext>, newest last, never overwritten."""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path


def save(root: Path, device: str, text: str, ext: str) -> Path:
    folder = Path(root) / device
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    path = folder / f"{stamp}.{ext}"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def history(root: Path, device: str) -> list[Path]:
    folder = Path(root) / device
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def find(root: Path, device: str, ref: str | None) -> Path:
    """A backup by path, file name, unique prefix of the timestamp, or None/'latest' for the newest."""
    items = history(root, device)
    if ref and Path(ref).is_file():
        return Path(ref)
    if not items:
        raise FileNotFoundError(f"no backups of {device} under {root}")
    if ref in (None, "", "latest"):
        return items[-1]
    matches = [p for p in items if p.name == ref or p.name.startswith(ref)]
    if len(matches) != 1:
        raise FileNotFoundError(f"backup {ref!r} of {device}: {len(matches)} matches under {root / device}")
    return matches[0]
