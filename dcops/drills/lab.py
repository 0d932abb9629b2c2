"""A drill lab: namespace hosts with sshd standing in for inventory targets, built with dcops.lab.

A control namespace (`ctl`) plays the Ansible control node: ansible-playbook runs
inside it (see runner.wrapper) and reaches every target over its own management
link (a veth /30 per target, a star like a management switch). Targets keep
their inventory names; only the connection settings are overlaid, never the
inventory itself.
"""
from __future__ import annotations

import ipaddress
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from dcops.lab import Lab, require_root

MGMT_NET = ipaddress.ip_network("172.31.0.0/16")  # lab-only management addresses, never in the inventory
PRIVATE_DIR = "/var/lib/dcops"  # each lab host's own copy (hosts share the machine's filesystem)


@dataclass
class LabTarget:
    name: str  # inventory name
    short: str  # namespace suffix
    mgmt_ip: str
    ns: str
    sshd_pid: int
    services: tuple[int, ...] = ()


@dataclass
class DrillLab:
    prefix: str
    lab: Lab = field(init=False)
    targets: dict[str, LabTarget] = field(default_factory=dict)
    extra_vars: dict[str, dict] = field(default_factory=dict)
    #: services the lab runs beside its hosts (e.g. "bacula": a BaculaLab), stopped first by down()
    services: dict[str, object] = field(default_factory=dict)
    _links: int = 0

    def __post_init__(self) -> None:
        require_root()
        self.lab = Lab(self.prefix)
        self.lab.host("ctl")
        self.key = self.lab.keypair()

    # -- building
    def _mgmt_pair(self) -> tuple[str, str]:
        base = MGMT_NET.network_address + 4 * self._links
        self._links += 1
        return f"{base + 1}/30", f"{base + 2}/30"

    def target(self, name: str, short: str, *, forwarding: bool = False, services: tuple[int, ...] = (),
               sshd_extra: str = "", **overlay) -> LabTarget:
        """A namespace host standing in for inventory target `name`, reachable from ctl over SSH
        (`sshd_extra`: configuration lines the host's sshd reads first)."""
        ns = self.lab.host(short, forwarding=forwarding)
        ctl_cidr, host_cidr = self._mgmt_pair()
        self.lab.link("ctl", f"m-{short}"[:15], short, "mgmt0", addr_a=ctl_cidr, addr_b=host_cidr)
        ip = host_cidr.split("/")[0]
        ep = self.lab.start_sshd(short, address=ip, authorized_keys=[self.key.public],
                                 private_dirs=(PRIVATE_DIR,), sshd_extra=sshd_extra)
        if services:
            self.lab.tcp_server(short, list(services))
        t = LabTarget(name, short, ip, ns, ep.pid, services)
        self.targets[name] = t
        self.extra_vars[name] = dict(overlay)
        return t

    def host_dir(self, name: str, mount: str = PRIVATE_DIR) -> Path:
        """Where target `name`'s private `mount` lives on the machine (for seeding and fault injection)."""
        t = self.targets[name]
        return self.lab.workdir / "hosts" / t.short / "fs" / mount.strip("/").replace("/", "_")

    def known_hosts(self) -> Path:
        path = self.lab.workdir / "known_hosts"
        lines = []
        for t in self.targets.values():
            pub = (self.lab.workdir / "hosts" / t.short / "sshd" / "ssh_host_ed25519_key.pub").read_text().split()
            lines.append(f"{t.mgmt_ip} {pub[0]} {pub[1]}")
        path.write_text("\n".join(lines) + "\n")
        return path

    def overlay(self) -> dict[str, dict]:
        """Per-target connection settings (inventory name → ansible_* vars) for this lab."""
        kh = self.known_hosts()
        out = {}
        for name, t in self.targets.items():
            out[name] = {
                "ansible_host": t.mgmt_ip, "ansible_user": "root",  # an overlay may log in as someone else
                "ansible_ssh_private_key_file": str(self.key.private),
                "ansible_ssh_common_args": f"-o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes",
                "ansible_python_interpreter": "/usr/bin/python3",
                "dcops_lab_ns": t.ns, "dcops_lab_prefix": self.prefix, "dcops_lab_control_ns": self.control_ns,
                **self.extra_vars.get(name, {}),
            }
        return out

    @property
    def control_ns(self) -> str:
        return self.lab.ns("ctl")

    def save(self, path: Path) -> None:
        """The overlay and control namespace as JSON (`dcops drill run --targets FILE`)."""
        data = {"control_ns": self.control_ns, "overlay": self.overlay()}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)

    def down(self) -> list[str]:
        stopped = []
        for name, svc in reversed(list(self.services.items())):
            try:
                svc.stop()
                stopped.append(f"service {name}")
            finally:
                self.services.pop(name, None)
        return stopped + self.lab.down()

    def __enter__(self) -> "DrillLab":
        return self

    def __exit__(self, *exc) -> None:
        self.down()


class LabNameTaken(Exception):
    """Another lab already uses (or would clash with) this name prefix."""


def check_free(prefix: str) -> None:
    """Refuse a prefix that overlaps a running lab: tearing one down removes namespaces by prefix, so
    neither prefix may start with the other, and no namespace may already start with ours."""
    import subprocess

    from dcops.lab import state
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    existing = [line.split()[0] for line in out.splitlines() if line.strip()]
    clash = [n for n in existing if n.startswith(prefix)]
    if clash:
        raise LabNameTaken(f"namespaces {', '.join(sorted(clash)[:5])} already start with {prefix!r}")
    for name in state.labs():
        theirs = f"{name}-"
        if theirs.startswith(prefix) or prefix.startswith(theirs):
            raise LabNameTaken(f"lab {name!r} is running (state file) and its prefix overlaps {prefix!r}")


def python() -> str:
    return sys.executable
