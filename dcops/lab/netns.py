"""Network namespaces, veth pairs, addresses and routes through iproute2."""
from __future__ import annotations

import subprocess
from typing import Sequence

IFNAMSIZ = 15


class LabError(RuntimeError):
    """A lab operation failed; the message says which command and why."""


def run(argv: Sequence[str], *, input: str | None = None, check: bool = True,
        timeout: float = 30) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {(proc.stderr or proc.stdout).strip()}")
    return proc


def ns_exec(ns: str, argv: Sequence[str], **kw) -> subprocess.CompletedProcess:
    return run(["ip", "netns", "exec", ns, *argv], **kw)


def exists(ns: str) -> bool:
    return ns in list_namespaces()


def list_namespaces() -> list[str]:
    out = run(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def create(ns: str, *, forwarding: bool = False) -> None:
    if len(ns) > 60:
        raise LabError(f"namespace name too long: {ns}")
    run(["ip", "netns", "add", ns])
    ns_exec(ns, ["ip", "link", "set", "lo", "up"])
    if forwarding:
        sysctl(ns, "net.ipv4.ip_forward", "1")


def delete(ns: str) -> None:
    """Delete a namespace; its veth ends disappear with it (and so do the peers)."""
    run(["ip", "netns", "del", ns], check=False)


def sysctl(ns: str, key: str, value: str) -> None:
    ns_exec(ns, ["sysctl", "-qw", f"{key}={value}"])


def veth(ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
    """A veth pair created directly inside both namespaces (no name clash in the root namespace)."""
    for n in (if_a, if_b):
        if len(n) > IFNAMSIZ:
            raise LabError(f"interface name {n!r} is longer than {IFNAMSIZ} characters")
    run(["ip", "link", "add", "name", if_a, "netns", ns_a, "type", "veth", "peer", "name", if_b, "netns", ns_b])
    ns_exec(ns_a, ["ip", "link", "set", if_a, "up"])
    ns_exec(ns_b, ["ip", "link", "set", if_b, "up"])


def addr(ns: str, ifname: str, cidr: str) -> None:
    ns_exec(ns, ["ip", "addr", "add", cidr, "dev", ifname])


def route(ns: str, *spec: str) -> None:
    """`route(ns, "default", "via", "10.0.0.1")` → `ip route replace default via 10.0.0.1`."""
    ns_exec(ns, ["ip", "route", "replace", *spec])


def nft(ns: str, ruleset: str, *, check_only: bool = False) -> subprocess.CompletedProcess:
    """Apply (or with check_only, only validate) an nftables script inside a namespace, atomically."""
    return ns_exec(ns, ["nft", *(["-c"] if check_only else []), "-f", "-"], input=ruleset)


def ruleset(ns: str) -> str:
    return ns_exec(ns, ["nft", "list", "ruleset"]).stdout


_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    import ctypes
    import os as _os
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, _os.strerror(err))


def connect_in(ns: str, address: str, port: int, *, timeout: float = 5.0):
    """A TCP socket connected from inside namespace `ns`, usable from this (root-namespace) process.

    The calling thread enters the namespace only for socket()+connect() and
    returns at once: a socket keeps the namespace it was created in. This is
    how the pusher reaches lab devices without touching the root namespace.
    """
    import os as _os
    import socket as _socket
    here = _os.open("/proc/thread-self/ns/net", _os.O_RDONLY)
    target = _os.open(f"/run/netns/{ns}", _os.O_RDONLY)
    try:
        _setns(target)
        try:
            sock = _socket.create_connection((address, port), timeout=timeout)
        finally:
            _setns(here)
    finally:
        _os.close(here)
        _os.close(target)
    return sock
