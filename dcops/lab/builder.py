"""`Lab`: build namespace hosts, links, servers and sshd; tear everything down by record."""
from __future__ import annotations

import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from . import netns, procs, sshd, state
from .netns import LabError


@dataclass(frozen=True)
class SshEndpoint:
    """How to reach an sshd started in a lab namespace (from inside another namespace or via nsenter)."""

    ns: str
    address: str
    port: int
    username: str
    key: Path
    pid: int


class Lab:
    """A set of namespaces and processes sharing one name prefix and one state file.

    Namespaces are named `<prefix><short>` (prefix e.g. "dcops-" or "dcnab12-").
    Everything created is recorded before it is used, so `teardown(lab_name)`
    — or `dcops lab down` after a crash — removes it all.
    """

    def __init__(self, prefix: str, *, name: str | None = None):
        self.prefix = prefix
        self.name = name or prefix.rstrip("-")
        self._workdir: Path | None = None

    # -- naming and scratch space
    def ns(self, short: str) -> str:
        return f"{self.prefix}{short}"

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            meta = state.read(self.name)["meta"]
            if meta.get("workdir") and Path(meta["workdir"]).is_dir():
                self._workdir = Path(meta["workdir"])
            else:
                self._workdir = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
                self._workdir.chmod(0o700)
                with state.edit(self.name) as st:
                    st["dirs"].append(str(self._workdir))
                    st["meta"]["workdir"] = str(self._workdir)
        return self._workdir

    # -- topology
    def host(self, short: str, *, forwarding: bool = False) -> str:
        name = self.ns(short)
        with state.edit(self.name) as st:
            if name not in st["namespaces"]:
                st["namespaces"].append(name)
        netns.create(name, forwarding=forwarding)
        return name

    def link(self, a: str, if_a: str, b: str, if_b: str, *,
             addr_a: str | None = None, addr_b: str | None = None) -> None:
        netns.veth(self.ns(a), if_a, self.ns(b), if_b)
        if addr_a:
            netns.addr(self.ns(a), if_a, addr_a)
        if addr_b:
            netns.addr(self.ns(b), if_b, addr_b)

    def addr(self, short: str, ifname: str, cidr: str) -> None:
        netns.addr(self.ns(short), ifname, cidr)

    def route(self, short: str, *spec: str) -> None:
        netns.route(self.ns(short), *spec)

    def exec(self, short: str, argv: Sequence[str], **kw):
        return netns.ns_exec(self.ns(short), argv, **kw)

    def sysctl(self, short: str, key: str, value: str) -> None:
        netns.sysctl(self.ns(short), key, value)

    # -- processes
    def spawn(self, short: str | None, argv: Sequence[str], *, what: str,
              binds: Mapping[str, str] | None = None, log: Path | None = None) -> int:
        ns = self.ns(short) if short else None
        return procs.spawn(self.name, ns, argv, what=what, binds=binds,
                           log=log or self.workdir / f"{short or 'root'}-{what}.log")

    def stop(self, pid: int) -> None:
        procs.stop_recorded(self.name, pid)

    def keypair(self) -> sshd.KeyPair:
        return sshd.keypair(self.workdir / "client")

    def start_sshd(self, short: str, *, address: str, authorized_keys: Iterable[str] | None = None,
                   port: int = 22, binds: Mapping[str, str] | None = None,
                   private_dirs: Sequence[str] = (), own_home: bool = True, sshd_extra: str = "") -> SshEndpoint:
        """sshd inside `short` with its own config and host key.

        `private_dirs` are mount points (e.g. "/var/lib/dcops") that this host
        gets a private, per-host copy of, so hosts sharing the machine's
        filesystem keep their own state. With `own_home` the host also gets
        an empty home for the login user (/root): the machine's own shell
        start-up files (e.g. a pyenv .bashrc costing 0.3 s per command) stay
        out of the lab hosts.
        """
        kp = self.keypair()
        keys = list(authorized_keys) if authorized_keys is not None else [kp.public]
        folder = self.workdir / "hosts" / short / "sshd"
        argv = sshd.prepare(folder, keys, port=port, extra=sshd_extra)
        all_binds = dict(binds or {})
        for mp in [*private_dirs, *(["/root"] if own_home else [])]:
            src = self.workdir / "hosts" / short / "fs" / mp.strip("/").replace("/", "_")
            src.mkdir(parents=True, exist_ok=True)
            Path(mp).mkdir(parents=True, exist_ok=True)
            all_binds[str(src)] = mp
        pid = self.spawn(short, argv, what="sshd", binds=all_binds)
        self.wait_listening(short, port, pid=pid)
        return SshEndpoint(self.ns(short), address, port, "root", kp.private, pid)

    def tcp_server(self, short: str, ports: Sequence[int]) -> int:
        argv = [sys.executable, "-m", "dcops.lab.tcpserver", "--name", short]
        for p in ports:
            argv += ["--port", str(p)]
        pid = self.spawn(short, argv, what="tcpserver")
        for p in ports:
            self.wait_listening(short, p, pid=pid)
        return pid

    def wait_listening(self, short: str, port: int, *, pid: int | None = None, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.exec(short, ["ss", "-Hltn", f"sport = :{port}"], check=False).stdout
            if out.strip():
                return
            if pid is not None and not procs.alive(pid):
                log = self.workdir / f"{short}-*.log"
                raise LabError(f"process {pid} in {self.ns(short)} exited before listening on {port} (see {log})")
            time.sleep(0.05)
        raise LabError(f"nothing listens on port {port} in {self.ns(short)} after {timeout}s")

    # -- firewalling and faults
    def nft(self, short: str, ruleset: str) -> None:
        netns.nft(self.ns(short), ruleset)

    def ruleset(self, short: str) -> str:
        return netns.ruleset(self.ns(short))

    def cut_link(self, short: str, ifname: str) -> None:
        """Silently drop everything arriving on `ifname` of `short` — a line failing at the far end.

        The link stays up on both sides, so the near end sees no carrier loss
        and must notice the failure by its own health checks.
        """
        table = f"dcops_cut_{ifname}".replace("-", "_")
        netns.nft(self.ns(short), f"""table netdev {table} {{
  chain ingress {{ type filter hook ingress device "{ifname}" priority -500; policy drop; }}
}}\n""")

    def restore_link(self, short: str, ifname: str) -> None:
        table = f"dcops_cut_{ifname}".replace("-", "_")
        netns.ns_exec(self.ns(short), ["nft", "delete", "table", "netdev", table], check=False)

    # -- client side
    def connect(self, short: str, address: str, port: int, *, timeout: float = 1.0,
                source: str | None = None) -> str | None:
        """TCP-connect from inside `short` (optionally from `source`); the server's line, or None if blocked."""
        src = f", source_address=({source!r}, 0)" if source else ""
        code = (
            "import socket,sys\n"
            f"s=socket.create_connection(({address!r},{port}),timeout={timeout}{src})\n"
            f"s.settimeout({timeout + 1})\n"
            "s.sendall(b'\\n')\n"
            "print(s.recv(200).decode(),end='')\n"
        )
        proc = self.exec(short, [sys.executable, "-c", code], check=False, timeout=timeout + 10)
        return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None

    def kill_sessions(self, short: str, keep: set[int] = frozenset()) -> int:
        """SIGKILL every sshd session process in a namespace (the listener in `keep` survives): a lost SSH session."""
        out = netns.run(["ip", "netns", "pids", self.ns(short)], check=False).stdout
        keep = set(keep) | {p["pid"] for p in state.read(self.name)["processes"]}
        n = 0
        for pid in (int(x) for x in out.split() if x.isdigit()):
            if pid in keep:
                continue
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            except FileNotFoundError:
                continue
            if b"sshd" in cmd:
                procs.stop(pid, procs.start_time(pid), timeout=0.5)
                n += 1
        return n

    def down(self) -> list[str]:
        return teardown(self.name)

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc) -> None:
        self.down()


def teardown(lab: str) -> list[str]:
    """Stop every recorded process, delete every recorded namespace and folder; returns what was removed."""
    st = state.read(lab)
    removed = []
    for p in reversed(st["processes"]):
        if procs.alive(p["pid"], p.get("start")):
            procs.stop(p["pid"], p.get("start"))
            removed.append(f"process {p['pid']} ({p['what']} in {p['ns']})")
    present = set(netns.list_namespaces())
    for ns in reversed(st["namespaces"]):
        if ns in present:
            _kill_leftovers(ns)
            netns.delete(ns)
            removed.append(f"namespace {ns}")
    _confirm_deleted(lab, st["namespaces"])
    for d in st["dirs"]:
        if Path(d).exists():
            shutil.rmtree(d, ignore_errors=True)
            removed.append(f"folder {d}")
    state.forget(lab)
    return removed


def _confirm_deleted(lab: str, recorded: list[str], attempts: int = 5) -> None:
    """`ip netns del` can fail transiently (a process still leaving the namespace): retry, and if a namespace
    survives, keep the state file and say so — never report a clean teardown that left namespaces behind."""
    for attempt in range(attempts):
        left = [ns for ns in recorded if netns.exists(ns)]
        if not left:
            return
        time.sleep(0.2 * (attempt + 1))
        for ns in left:
            _kill_leftovers(ns)
            netns.delete(ns)
    left = [ns for ns in recorded if netns.exists(ns)]
    if left:
        raise netns.LabError(f"lab {lab}: namespaces still present after teardown: {', '.join(left)} "
                             f"(state kept; run `dcops lab down --name {lab}` again)")


def _kill_leftovers(ns: str) -> None:
    """Processes still inside a namespace we created (e.g. a detached revert timer) end with it."""
    out = netns.run(["ip", "netns", "pids", ns], check=False).stdout
    for pid in (int(x) for x in out.split() if x.isdigit()):
        procs.stop(pid, procs.start_time(pid), timeout=1.0)


def status(lab: str) -> dict:
    st = state.read(lab)
    present = set(netns.list_namespaces())
    return {
        "lab": lab,
        "namespaces": [{"name": n, "present": n in present} for n in st["namespaces"]],
        "processes": [{**p, "alive": procs.alive(p["pid"], p.get("start"))} for p in st["processes"]],
        "dirs": st["dirs"],
        "meta": st["meta"],
    }


def free_socket_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
