"""Simulated SNMP agents of the site's facility devices (snmpsim), startable from Python and the CLI.

Each facility device polled over SNMP gets its own snmpsim process on 127.0.0.1:<port>, serving
the project's recording for its profile (monitors/sim/<profile>.snmprec) with sysName set to the
device name. Inventory addresses are never contacted: the simulator writes a targets file that
maps every device to its agent, and the monitor polls through that override (`--sim FILE`).

In the simulator the data file is named after the device, so the v2c community and the v3
context name are the device name; v3 keys are throwaway values from the environment.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dcops.paths import SIM_DIR as RECORDINGS_DIR  # stated once in dcops/paths.py

SIM_USER = "dcops-noc"
SIM_AUTH_KEY = "sim-auth-key-not-secret"
SIM_PRIV_KEY = "sim-priv-key-not-secret"
#: Fault-injection knobs of the recordings (writecache): OID -> meaning.
UPS_OUTPUT_SOURCE = "1.3.6.1.2.1.33.1.4.1.0"  # 3 normal, 5 battery
UPS_BATTERY_CHARGE = "1.3.6.1.2.1.33.1.2.4.0"  # percent
UPS_MINUTES_REMAINING = "1.3.6.1.2.1.33.1.2.3.0"
UPS_LOAD_PHASE1 = "1.3.6.1.2.1.33.1.4.4.1.5.1"  # percent
IF_OPER_STATUS_WAN1 = "1.3.6.1.2.1.2.2.1.8.1"  # 1 up, 2 down (link balancer wan1 = isp1-vnpt)
NETBOTZ_LEAK_CONTACT = "1.3.6.1.4.1.318.1.1.10.4.3.2.1.7.0.1"  # 1 normal, 3 critical
LIEBERT_RETURN_AIR = "1.3.6.1.4.1.476.1.42.3.4.1.3.3.1.3.1"  # °C
#: Engine id the simulator's trap senders use (a v3 trap receiver must know the sender's engine id).
SIM_TRAP_ENGINE_ID = "0x80001f8880dc0b5e4e00000001"


@dataclass
class SimDevice:
    name: str
    profile: str
    version: str = "3"
    auth_protocol: str = "SHA256"
    priv_protocol: str = "AES"
    recording: str | None = None  # defaults to monitors/sim/<profile>.snmprec


@dataclass
class SimTarget:
    """One simulated agent, in the form the monitor's `--sim` override reads."""

    device: str
    host: str
    port: int
    profile: str
    version: str
    community: str | None
    user: str | None
    context: str | None
    auth_protocol: str
    priv_protocol: str
    auth_key: str | None = None
    priv_key: str | None = None
    pid: int | None = None


@dataclass
class SimHandle:
    workdir: Path
    targets: list[SimTarget]
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)  # process group name -> process
    groups: dict[str, str] = field(default_factory=dict)  # device -> process group name
    targets_file: Path | None = None
    _own_workdir: bool = False

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    def target(self, device: str) -> SimTarget:
        return next(t for t in self.targets if t.device == device)

    def set(self, device: str, oid: str, value) -> dict:
        """SNMP SET on a simulated agent (writecache values): fault injection for tests and the demo,
        e.g. `sim.set("kg-ups-01", UPS_OUTPUT_SOURCE, 5)` puts the UPS on battery."""
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        from .snmp.session import open_session
        from .targets import credentials_of
        t = self.target(device)

        async def run():
            return await open_session(t.host, t.port, credentials_of(t), timeout=2, retries=1).set([(oid, value)])

        with ThreadPoolExecutor(1) as ex:  # works whether or not the caller runs an event loop
            return ex.submit(asyncio.run, run()).result()

    def stop_device(self, device: str) -> None:
        """Silence one agent (a device going unreachable; needs shared=False to spare the others)."""
        p = self.procs.pop(self.groups.get(device, device), None)
        if p is not None:
            _stop(p)

    def stop(self) -> None:
        for name in list(self.procs):
            _stop(self.procs.pop(name))
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "SimHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _responder() -> list[str]:
    exe = shutil.which("snmpsim-command-responder")
    if exe:
        return [exe]
    return [sys.executable, "-m", "snmpsim.commands.responder"]


def recording_text(dev: SimDevice) -> tuple[str, str]:
    """The device's recording and where it came from: its own file, the profile's recording
    (monitors/sim/<profile>.snmprec), else one synthesised from the profile (dcops/monitor/synth.py)."""
    if dev.recording:
        src = Path(dev.recording)
        if not src.exists():
            raise FileNotFoundError(f"no simulator recording {src} for device {dev.name!r}")
        return src.read_text(encoding="utf-8"), str(src)
    src = RECORDINGS_DIR / f"{dev.profile}.snmprec"
    if src.exists():
        return src.read_text(encoding="utf-8"), str(src)
    from . import synth
    from .profiles import get_profile
    return synth.recording(get_profile(dev.profile), dev.name), f"synthetic (profile {dev.profile})"


def render_recording(dev: SimDevice) -> str:
    text, _ = recording_text(dev)
    out = []
    for line in text.splitlines():
        if line.startswith("1.3.6.1.2.1.1.5.0|"):
            line = f"1.3.6.1.2.1.1.5.0|4|{dev.name}"
        out.append(line)
    return "\n".join(out) + "\n"


def start_agents(devices: list[SimDevice], workdir: Path | None = None, ports: dict[str, int] | None = None,
                 wait: float = 30.0, shared: bool = True) -> SimHandle:
    """Start the simulated agents; returns when every agent answers (or raises).

    Ports are picked free and bound by snmpsim a moment later; on a busy machine another process can take
    one in between, and that agent never answers (or snmpsim exits). So agents that are not ready on ports
    we picked get one more start on fresh ports (given ports are the caller's: no retry)."""
    try:
        return _start_agents(devices, workdir, ports, wait, shared)
    except AgentNotReady:
        if ports:
            raise
        return _start_agents(devices, workdir, ports, wait, shared)


class AgentNotReady(RuntimeError):
    pass


def _start_agents(devices: list[SimDevice], workdir: Path | None, ports: dict[str, int] | None,
                  wait: float, shared: bool) -> SimHandle:
    """One attempt of `start_agents`.

    shared=True: one snmpsim process serves every device, each on its own UDP port (the data
    file, named after the device, is chosen by v2c community / v3 context). shared=False: one
    process per device, so a test can silence a single device (`stop_device`).
    """
    own = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="dcops-sim-"))
    workdir.mkdir(parents=True, exist_ok=True)
    handle = SimHandle(workdir, [], _own_workdir=own)
    env = dict(os.environ, SNMPSIM_ALLOW_ROOT="true")
    groups = [("all", devices)] if shared else [(d.name, [d]) for d in devices]
    protos = {(d.auth_protocol, d.priv_protocol) for d in devices}
    if shared and len(protos) > 1:  # one snmpsim process has one v3 user: split by protocol pair
        groups = [(f"{a}-{p}".lower(), [d for d in devices if (d.auth_protocol, d.priv_protocol) == (a, p)])
                  for a, p in sorted(protos)]
    try:
        for gname, devs in groups:
            gdir = workdir / gname
            (gdir / "data").mkdir(parents=True, exist_ok=True)
            (gdir / "cache").mkdir(exist_ok=True)
            endpoints = []
            for dev in devs:
                (gdir / "data" / f"{dev.name}.snmprec").write_text(render_recording(dev), encoding="utf-8")
                port = (ports or {}).get(dev.name) or free_port()
                endpoints.append(f"--agent-udpv4-endpoint=127.0.0.1:{port}")
                v3 = dev.version == "3"
                handle.targets.append(SimTarget(
                    device=dev.name, host="127.0.0.1", port=port, profile=dev.profile, version=dev.version,
                    community=None if v3 else dev.name, user=SIM_USER if v3 else None,
                    context=dev.name if v3 else None, auth_protocol=dev.auth_protocol,
                    priv_protocol=dev.priv_protocol, auth_key=SIM_AUTH_KEY if v3 else None,
                    priv_key=SIM_PRIV_KEY if v3 else None))
            cmd = [*_responder(), f"--data-dir={gdir / 'data'}", f"--cache-dir={gdir / 'cache'}",
                   *endpoints, "--logging-method=null",
                   f"--v3-user={SIM_USER}", f"--v3-auth-key={SIM_AUTH_KEY}",
                   f"--v3-auth-proto={devs[0].auth_protocol}", f"--v3-priv-key={SIM_PRIV_KEY}",
                   f"--v3-priv-proto={devs[0].priv_protocol}"]
            with open(gdir / "agent.log", "wb") as log:
                proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=gdir,
                                        start_new_session=True)
            handle.procs[gname] = proc
            for t in handle.targets[-len(devs):]:
                t.pid = proc.pid
                handle.groups[t.device] = gname
        _wait_ready(handle, wait)
        handle.targets_file = write_targets(handle.targets, workdir / "targets.json")
    except BaseException:
        handle.stop()
        raise
    return handle


def _wait_ready(handle: SimHandle, wait: float) -> None:
    """Each agent answers a v2c/v3 GET of sysUpTime before we hand it out."""
    import asyncio

    from .snmp.errors import SnmpError
    from .snmp.session import open_session
    from .targets import credentials_of

    async def ready(t: SimTarget) -> None:
        deadline = time.monotonic() + wait
        while True:
            gname = handle.groups[t.device]
            proc = handle.procs[gname]
            if proc.poll() is not None:
                log = (handle.workdir / gname / "agent.log").read_text(errors="replace")[-400:]
                raise AgentNotReady(f"simulated agent for {t.device} exited: {log.strip()}")
            try:
                s = open_session(t.host, t.port, credentials_of(t), timeout=0.5, retries=0)
                await s.get(["1.3.6.1.2.1.1.3.0"])
                return
            except SnmpError:
                if time.monotonic() > deadline:
                    raise AgentNotReady(f"simulated agent for {t.device} did not answer on port {t.port}")
                await asyncio.sleep(0.3)

    async def all_ready() -> None:
        await asyncio.gather(*(ready(t) for t in handle.targets))

    asyncio.run(all_ready())


def write_targets(targets: list[SimTarget], path: Path) -> Path:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([asdict(t) for t in targets], indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
    return path


def read_targets(path: Path) -> list[SimTarget]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [SimTarget(**d) for d in data]


def sim_devices_from_inventory(inventory) -> list[SimDevice]:
    """Every SNMP-polled facility and network device of the inventory."""
    out = []
    for dev in (*inventory.facility, *inventory.network_devices):
        if dev.snmp is None:
            continue
        out.append(SimDevice(dev.name, dev.snmp.profile, dev.snmp.version, dev.snmp.auth_protocol,
                             dev.snmp.priv_protocol))
    return out
