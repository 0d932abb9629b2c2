"""Device locks: who holds a device between load and confirm/discard, and when a lock is stale.

The lock lives on the device (so two operator machines cannot race), as a
small key=value file written under the device's own mutex (`flock`):

    token=<candidate id>   owner=USER@HOST   pid=<operator process>
    since=<UTC time>       expires=<device epoch seconds>

A lock is never broken while a commit-confirm is pending (its revert timer
releases it). Otherwise it is stale — and the next load may take it over —
when its lease has expired on the device clock, or when its holder ran on this
very machine and that process is gone. Everything else is "device busy".
"""
from __future__ import annotations

import getpass
import os
import socket

from napalm.base.exceptions import ReplaceConfigException


class DeviceBusy(ReplaceConfigException):
    """Another operator holds the device's lock."""

    def __init__(self, device: str, holder: dict[str, str]):
        self.holder = holder
        super().__init__(f"{device}: device busy: locked by {holder.get('owner', '?')} since "
                         f"{holder.get('since', '?')} (pid {holder.get('pid', '?')}, candidate "
                         f"{holder.get('token', '?')[:12]}); if that push is gone: `dcops net unlock {device}`")


def owner() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry (containers): the uid still says who
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def parse(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep and k.strip():
            out[k.strip()] = v.strip()
    return out


def holder_gone(holder: dict[str, str]) -> bool:
    """True when the holder ran on this machine and its process no longer exists."""
    who = holder.get("owner", "")
    if who.rpartition("@")[2] != socket.gethostname():
        return False
    try:
        pid = int(holder.get("pid", ""))
    except ValueError:
        return False
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
