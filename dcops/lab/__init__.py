"""dcops.lab — a data centre in network namespaces, built from real software.

Reusable by any dcops area (network pipeline, drills): nothing here knows
about firewalls policies or playbooks.

Library API
-----------
``Lab(prefix, name=None)``
    A set of namespaces/processes sharing a name prefix (``"dcops-"`` for
    ``dcops lab up``; tests use ``"dcn" + suffix + "-"``) and one state file
    ``/run/dcops-lab/<name>.json`` (override with ``DCOPS_LAB_STATE_DIR``).
    Use as a context manager, or call ``down()``.

    - ``host(short, forwarding=False) -> ns``: create namespace ``<prefix><short>``.
    - ``link(a, if_a, b, if_b, addr_a=, addr_b=)``: veth pair straight into two
      namespaces (names <= 15 chars), with optional ``"10.0.0.1/30"`` addresses.
    - ``addr(short, ifname, cidr)``, ``route(short, *spec)`` (``ip route replace``),
      ``sysctl(short, key, value)``, ``exec(short, argv, input=, check=)``.
    - ``spawn(short, argv, what=, binds={host_dir: mount_point})``: start a
      process in the namespace (own session, optional private bind mounts);
      recorded with pid + kernel start time. ``stop(pid)`` ends it.
    - ``keypair() -> KeyPair(private, public)``: throwaway client key in the
      lab's temp dir.
    - ``start_sshd(short, address=, authorized_keys=None, port=22,
      private_dirs=("/var/lib/dcops",)) -> SshEndpoint``: OpenSSH with its own
      config and host key; ``private_dirs`` become per-host folders.
    - ``tcp_server(short, ports) -> pid``: a TCP/HTTP responder answering
      ``dcops-lab <host> <port> <client-ip>``.
    - ``connect(short, address, port) -> str | None``: try a TCP connection
      from inside a namespace (None when blocked).
    - ``nft(short, ruleset)`` / ``ruleset(short)``: apply / list nftables.
    - ``cut_link(short, ifname)`` / ``restore_link(short, ifname)``: drop all
      traffic arriving on an interface (a leased line failing at the far end:
      no carrier loss at the near end).
    - ``kill_sessions(short)``: SIGKILL the sshd session processes (not the
      listener) — a lost SSH session.
    - ``wait_listening(short, port)``, ``workdir`` (temp folder removed on teardown).

``teardown(name)`` / ``status(name)`` / ``state.labs()``
    Clean up or inspect a lab from its state file alone — also after a crash.
``netns.connect_in(ns, address, port)``
    A socket connected from inside a namespace, for SSH clients (paramiko
    ``sock=``) running in the root namespace.
``datacentre.spec_from_inventory(inv) -> DcSpec`` / ``datacentre.build(lab, spec) -> meta``
    The `dcops lab up` data centre (fw1, dmz, app, db, mgmt, wan, lb, isp1, isp2,
    inet) with the inventory's addresses; ``meta["endpoints"]`` says how to SSH
    to the firewall stand-in and the link balancer (from the mgmt namespace).
    Fail a leased line at the far end: ``lab.cut_link(spec.lines[0].isp, "down0")``.
``python -m dcops.lab.prober --target HOST:PORT --out F`` / ``prober.outage(records, since)``
    New TCP connections every 10 ms from inside a namespace; the outage after a fault.
``python -m dcops.lab.tcpserver --name N --port P…``
    The responder ``tcp_server`` starts (usable on its own).

Everything needs root; `require_root()` says so in one line.
"""
from __future__ import annotations

import os

from .builder import Lab, SshEndpoint, status, teardown
from .netns import LabError, connect_in
from .sshd import KeyPair, keypair

__all__ = ["Lab", "SshEndpoint", "KeyPair", "LabError", "connect_in", "keypair", "status", "teardown",
           "require_root", "can_run"]


def can_run() -> bool:
    """True when namespaces can be built here (root, iproute2 netns)."""
    return os.geteuid() == 0 and os.path.exists("/usr/sbin/sshd")


def require_root() -> None:
    if not can_run():
        raise LabError("the lab needs root (network namespaces) and OpenSSH server")
