"""Diff a rendered config against a device's last backup, without contacting the device.

Used when the device cannot be reached from here (no key, no route, an appliance
that is rendered and golden-tested only): the operator still sees what a push
would change, as of the last backup.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from . import backup as backup_mod
from . import platforms
from .drivers.linux_nft import unified


def diff_against_backup(device: str, platform: str, rendered: str, backups: Path,
                        ref: str | None = "latest") -> tuple[str, Path]:
    """(unified diff backup → rendered, backup path); FileNotFoundError when there is no such backup."""
    b = backup_mod.find(backups, device, ref)
    canon = platforms.load(platform).driver.get("offline_canonical")
    if canon:  # e.g. nftables: compare canonical forms, as the device would
        mod, _, fn = canon.partition(":")
        rendered = getattr(importlib.import_module(mod), fn)(rendered) or rendered
    return unified(b.read_text(encoding="utf-8"), rendered, str(b), f"{device} (rendered)"), b
