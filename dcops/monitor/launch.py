"""Start the monitor and the dashboard as child processes, for `dcops demo` and end-to-end tests.

    sim = start_agents(sim_devices_from_inventory(inv))          # dcops.monitor.sim
    mon = start_monitor(sim.targets_file, db, interval=5)         # poller + traps + alerts + /metrics
    web = start_dashboard(db, port=8080, users={"admin": ("admin", "…")})
    …; web.stop(); mon.stop(); sim.stop()

Each handle has `.pid`, `.url`/ports, `.stop()` (SIGTERM, then SIGKILL after a grace period).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .sim import free_port


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ProcHandle:
    proc: subprocess.Popen
    log: Path
    url: str | None = None
    trap_port: int | None = None
    metrics_port: int | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace: float = 10) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _spawn(args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "dcops.monitor", *args], stdout=fh, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})}, start_new_session=True)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited: {log.read_text(errors='replace')[-500:]}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout:.0f} s")


def start_monitor(targets_file: Path | None, db: Path, interval: float = 5, inventory: Path | None = None,
                  trap_port: int | None = None, metrics_port: int | None = None, log: Path | None = None,
                  extra: list[str] | None = None, timeout: float = 30) -> ProcHandle:
    """`dcops monitor` polling the simulated agents of `targets_file` (or the inventory if None)."""
    trap_port = trap_port or free_port()
    metrics_port = metrics_port or free_tcp_port()
    log = log or Path(db).with_suffix(".monitor.log")
    args = ["monitor", "--db", str(db), "--interval", str(interval), "--trap-port", str(trap_port),
            "--metrics-port", str(metrics_port), *(extra or [])]
    if targets_file:
        args += ["--sim", str(targets_file)]
    if inventory:
        args += ["--inventory", str(inventory)]
    proc = _spawn(args, log)
    h = ProcHandle(proc, log, f"http://127.0.0.1:{metrics_port}/metrics", trap_port, metrics_port)
    try:
        _wait_http(h.url, proc, log, timeout)
    except BaseException:
        h.stop()
        raise
    return h


def start_dashboard(db: Path, port: int | None = None, host: str = "127.0.0.1",
                    users: dict[str, tuple[str, str]] | None = None, log: Path | None = None,
                    session_minutes: int = 30, timeout: float = 30, extra: list[str] | None = None) -> ProcHandle:
    """`dcops dashboard`; `users` = {name: (role, password)} are created first (Argon2id-hashed)."""
    from .web.auth import set_user
    from .store import Store
    if users:
        st = Store(db)
        for name, (role, pw) in users.items():
            set_user(st, name, role, pw)
        st.close()
    port = port or free_tcp_port()
    log = log or Path(db).with_suffix(".dashboard.log")
    proc = _spawn(["dashboard", "--db", str(db), "--host", host, "--port", str(port),
                   "--session-minutes", str(session_minutes), *(extra or [])], log)
    h = ProcHandle(proc, log, f"http://{host}:{port}")
    try:
        _wait_http(h.url + "/livez", proc, log, timeout)
    except BaseException:
        h.stop()
        raise
    return h


@dataclass
class SiteHandle:
    """The simulated facility watched end to end: agents + `dcops monitor` + `dcops dashboard`."""

    sim: object  # sim.SimHandle
    monitor: ProcHandle
    dashboard: ProcHandle
    db: Path

    @property
    def pids(self) -> list[int]:
        return [*self.sim.pids, self.monitor.pid, self.dashboard.pid]

    def stop(self) -> None:
        for part in (self.dashboard, self.monitor, self.sim):
            try:
                part.stop()
            except Exception:  # noqa: BLE001 - stop the rest regardless
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_site(inventory, workdir: Path, interval: float = 5, dashboard_port: int | None = None,
               users: dict[str, tuple[str, str]] | None = None) -> SiteHandle:
    """For `dcops demo`: every SNMP device of `inventory` simulated, polled and on the NOC page.

    `users` = {name: (role, password)}; e.g. {"admin": ("admin", pw), "noc": ("viewer", pw2)}.
    """
    from .sim import sim_devices_from_inventory, start_agents
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "noc.db"
    sim = start_agents(sim_devices_from_inventory(inventory), workdir=workdir / "sim")
    mon = web = None
    try:
        mon = start_monitor(sim.targets_file, db, interval=interval)
        web = start_dashboard(db, port=dashboard_port, users=users)
    except BaseException:
        for part in (web, mon, sim):
            if part is not None:
                part.stop()
        raise
    return SiteHandle(sim, mon, web, db)
