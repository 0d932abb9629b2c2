"""What scenario steps do, delegated to the monitor (simulated agents), lab and net packages.

`Site` is what a running demo recorded in its lab state (`meta["demo"]`), so the same actions
work inside `dcops demo` and from `dcops demo inject` in another terminal.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from .scenario import BackupJob, FirewallChange, Line, SnmpSet


class ActionUnavailable(RuntimeError):
    pass


@dataclass
class Site:
    lab_name: str
    inventory: Path
    targets_file: Path
    workdir: Path
    lab: bool
    lab_prefix: str | None = None
    lbcheck_state: Path | None = None
    backup: dict | None = None  # the demo's Bacula (dcops.demo.backup.start)

    @classmethod
    def from_state(cls, lab_name: str) -> "Site":
        from . import labstate
        meta = labstate.read(lab_name)["meta"]
        d = meta.get("demo")
        if not d or not d.get("ready"):
            raise ActionUnavailable(f"no running demo named {lab_name!r} (start `dcops demo` first)")
        lb = meta.get("lbcheck") or {}
        return cls(lab_name, Path(d["inventory"]), Path(d["targets_file"]), Path(d["workdir"]), bool(d["lab"]),
                   d.get("lab_prefix"), Path(lb["state"]) if lb.get("state") else None, d.get("backup"))


class Actions:
    def __init__(self, site: Site, inventory=None):
        self.site = site
        self._inv = inventory
        self._sim = None

    # -- helpers
    @property
    def inv(self):
        if self._inv is None:
            from dcops.model import load_inventory
            self._inv = load_inventory(self.site.inventory)
        return self._inv

    @property
    def sim(self):
        if self._sim is None:
            from dcops.monitor.sim import SimHandle, read_targets
            self._sim = SimHandle(self.site.targets_file.parent, read_targets(self.site.targets_file))
        return self._sim

    def devices(self) -> set[str]:
        return {t.device for t in self.sim.targets}

    def _lab(self):
        if not self.site.lab:
            raise ActionUnavailable("the namespace lab is not running (no root, or --no-lab): skipped")
        from dcops.lab import Lab
        return Lab(self.site.lab_prefix, name=self.site.lab_name)

    def _line(self, name: str):
        from dcops.lab.datacentre import spec_from_inventory
        spec = spec_from_inventory(self.inv)
        for ln in spec.lines:
            if ln.name == name:
                return ln
        raise ActionUnavailable(f"no leased line {name!r} in the lab")

    def _line_up(self, name: str) -> bool | None:
        f = self.site.lbcheck_state
        if not f or not f.is_file():
            return None
        try:
            return json.loads(f.read_text())["lines"][name]["up"]
        except (ValueError, KeyError):
            return None

    # -- actions
    def snmp_set(self, a: SnmpSet) -> str | None:
        from dcops.monitor.snmp import ber
        tag = {"integer": ber.T_INT, "gauge32": ber.T_GAUGE32, "counter32": ber.T_COUNTER32,
               "timeticks": ber.T_TIMETICKS}[a.type]
        got = self.sim.set(a.device, a.oid, (tag, a.value)).get(a.oid)
        if got != a.value:  # e.g. a wrong type: the agent answers without storing anything
            raise RuntimeError(f"{a.device} {a.oid}: the agent did not take {a.type} {a.value} (answered {got!r})")
        return None

    def cut_line(self, a: Line) -> str:
        ln = self._line(a.line)
        self._lab().cut_link(ln.isp, "down0")  # far end: the link balancer keeps its carrier
        return self._await_health(a.line, False, "link balancer took the line out of service")

    def restore_line(self, a: Line) -> str:
        ln = self._line(a.line)
        self._lab().restore_link(ln.isp, "down0")
        return self._await_health(a.line, True, "link balancer uses the line again")

    def _await_health(self, line: str, up: bool, what: str, timeout: float = 10.0) -> str:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self._line_up(line) is up:
                return f"{what} after {time.monotonic() - t0:.1f} s (health checker)"
            time.sleep(0.1)
        return f"the health checker did not report {line} {'up' if up else 'down'} within {timeout:.0f} s"

    def backup_job(self, a: BackupJob) -> str:
        """Break (or mend) the client's file daemon, run its job now, say how it ended in the catalogue's words,
        and write the backup metrics the monitor reads."""
        from dcops.backup.jobs import run_jobs
        from dcops.lab import Lab, procs

        from . import backup, labstate
        b = self.site.backup
        if not b:
            raise ActionUnavailable("the demo runs no Bacula (not installed): skipped")
        if a.client not in b["paths"]:
            raise ActionUnavailable(f"{a.client} is not backed up by the demo (clients: {', '.join(b['paths'])})")
        backup.wait_labelled(b)  # the first full backups are queued once the library is labelled
        lab = Lab(self.site.lab_prefix or f"{self.site.lab_name}-", name=self.site.lab_name)
        fd = labstate.read(self.site.lab_name)["meta"]["demo"]["backup"]["pids"]["fd"]
        if a.fault == "fd-stopped" and procs.alive(fd):
            lab.stop(fd)
        elif a.fault == "none" and not procs.alive(fd):
            from dcops.backup.lab import DAEMONS
            fd = lab.spawn(None, [DAEMONS["fd"], "-f", "-c", str(Path(b["conf"]) / "bacula-fd.conf")],
                           what="bacula-fd", log=self.site.workdir / "bacula-fd.log")
            with labstate.edit(self.site.lab_name) as st:
                st["meta"]["demo"]["backup"]["pids"]["fd"] = fd
            backup.wait_fd(b)
        o = run_jobs(backup.director_of(b), [(a.client, f"{a.client}-fd")], timeout=120)[0]
        backup.write_metrics(b, self.inv)
        got = "ok" if o.ok else "failed"
        said = f"JobId {o.job_id}: {o.status_text or '?'}" + (f" — {o.error}" if o.error else
                                                                f", {o.files} files, {o.bytes:,} bytes")
        if got != a.expect:
            raise RuntimeError(f"backup of {a.client}: expected {a.expect}, {said}")
        return said

    def firewall_change(self, a: FirewallChange) -> str:
        """Push the rendered config with a mistake in it through the normal pipeline."""
        from dcops.net import fleet
        from dcops.net.push import Pusher
        lab = self._lab()
        short = lab_short(lab, self.site.lab_name, a.device)
        before = lab.ruleset(short) if short else None
        ms = fleet.members(self.inv, lab=self.site.lab_name, names=[a.device])
        t = fleet.target(ms[0])
        if a.replace.old not in t.candidate:
            raise ActionUnavailable(f"{a.device}: {a.replace.old!r} is not in the rendered config")
        t.candidate = t.candidate.replace(a.replace.old, a.replace.new)
        report = Pusher(self.site.workdir / "backups", commit=True, confirm_timeout=a.confirm_timeout,
                        connect_timeout=5, command_timeout=4).run([t])
        o = report.outcomes[0]
        restored = short is None or lab.ruleset(short) == before
        if o.state != a.expect:
            raise RuntimeError(f"{a.device}: expected {a.expect}, got {o.state} ({o.error})")
        if o.state == "rolled-back":
            return (f"caught at {o.failed_step}: {o.error}; rolled back — running config "
                    f"{'identical to before' if restored else 'DIFFERENT from before'}")
        return f"{a.device}: change confirmed"


def lab_short(lab, lab_name: str, device: str) -> str | None:
    """The namespace (short name) a lab device's sshd runs in, from the lab state."""
    from . import labstate
    ep = labstate.read(lab_name)["meta"].get("endpoints", {}).get(device)
    if not ep:
        return None
    return ep["ns"][len(lab.prefix):]
