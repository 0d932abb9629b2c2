"""The lab's power button: a graceful "shutdown" of the namespace host this runs in.

SIGTERM to every process of this network namespace (services, sshd), SIGKILL after a grace
period — as an OS shutdown does. It refuses to run anywhere but inside a lab namespace
whose name starts with --ns-prefix: in the machine's own namespace it would stop everything.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time


def _netns_inode(pid: int | str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def _ancestors() -> set[int]:
    out, pid = set(), os.getpid()
    while pid > 1:
        out.add(pid)
        try:
            pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ns-prefix", required=True)
    ap.add_argument("--delay", type=float, default=1.0, help="let the caller's SSH session return first")
    ap.add_argument("--grace", type=float, default=5.0)
    a = ap.parse_args()
    here = _netns_inode("self")
    if here is None or here == _netns_inode(1):
        print("refusing: not inside a lab network namespace", file=sys.stderr)
        return 2
    name = subprocess.run(["ip", "netns", "identify", str(os.getpid())], capture_output=True, text=True).stdout.strip()
    if not name.startswith(a.ns_prefix):
        print(f"refusing: namespace {name!r} is not a {a.ns_prefix}* lab host", file=sys.stderr)
        return 2
    if os.fork():  # detach: the SSH session that started us ends cleanly
        return 0
    os.setsid()
    time.sleep(a.delay)
    keep = _ancestors()
    victims = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in keep
               and _netns_inode(p) == here]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + a.grace
    while time.monotonic() < deadline and any(_netns_inode(p) == here for p in victims):
        time.sleep(0.05)
    for pid in victims:
        if _netns_inode(pid) == here:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
