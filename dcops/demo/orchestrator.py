"""`dcops demo`: the whole simulated data centre in one foreground command.

Order: validate → capacity + offline cloud plan → clean up a previous demo → namespace lab (root)
→ simulated SNMP agents → render + push network configs (commit-confirm, confirmed) and prove
them with real traffic → monitor (poller, traps, alerts) → dashboard → URL + login → scenarios.

Every process and namespace is recorded in the lab state (`dcops.lab.state`) the moment it
exists, so SIGINT/SIGTERM tear everything down here, and after a crash (SIGKILL, power cut)
`dcops lab down --name <lab name>` (or `dcops demo down`) removes whatever is left.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from dcops.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from . import labstate
from .scenario import Runner, Scenario

DEMO_USER = "admin"
MARKER = "DCOPS_DEMO_LAB"


class DemoFailed(RuntimeError):
    pass


class Interrupted(BaseException):
    """SIGINT/SIGTERM while starting or running: tear down."""


@dataclass
class Options:
    inventory: Path
    lab_name: str = "dcops-demo"
    host: str = "127.0.0.1"
    port: int = 8080
    interval: float = 5.0
    use_lab: bool = True
    scenarios: list[Scenario] = field(default_factory=list)
    scenario_delay: float = 10.0
    speed: float = 1.0
    duration: float | None = None
    password: str | None = None
    stack: str = "embedded"  # "prometheus": alerts through Debian's Prometheus + Alertmanager on loopback


@contextlib.contextmanager
def shielded():
    """No SIGINT/SIGTERM between starting a process and recording it (delivered right after)."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Steps:
    """The start-up progress: a spinner per step, then ✓/✗/– with the time it took."""

    def __init__(self, console: Console):
        self.console = console

    @contextlib.contextmanager
    def step(self, title: str):
        note: dict = {}
        t0 = time.monotonic()
        try:
            with self.console.status(f"{title} …"):
                yield note
        except BaseException as e:
            if not isinstance(e, Interrupted):
                self.console.print(f"[bold red]✗[/] {title}: {e}", highlight=False)
            raise
        dt = time.monotonic() - t0
        if note.get("skipped"):
            self.console.print(f"[yellow]–[/] {title}: [yellow]skipped[/] — {note['skipped']}", highlight=False)
        else:
            detail = f" — {note['detail']}" if note.get("detail") else ""
            self.console.print(f"[green]✓[/] {title}{detail} [dim]({dt:.1f} s)[/]", highlight=False)


class Demo:
    def __init__(self, opts: Options, console: Console | None = None):
        self.o = opts
        self.console = console or Console()
        self.steps = Steps(self.console)
        self.inv = None
        self.lab = None
        self.spec = None
        self.use_lab = False
        self.url = None
        self.pids: dict[str, int] = {}
        self.runner: Runner | None = None
        self.password = opts.password or secrets.token_urlsafe(9)
        self._stopping = False
        self.owns_lab = False
        self.stack_urls: dict[str, str] = {}
        self.backup: dict | None = None  # the demo's Bacula (dcops.demo.backup.start), None when not installed

    # -- signals
    def _on_signal(self, signum, frame):
        if self._stopping:
            return
        self._stopping = True
        raise Interrupted(signal.Signals(signum).name)

    def run(self) -> int:
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        code = 0
        try:
            self.start()
            self.serve()
        except Interrupted as e:
            self.console.print(f"\n{e.args[0] if e.args else 'interrupted'}: stopping the demo", highlight=False)
        except DemoFailed as e:
            self.console.print(f"[bold red]demo failed:[/] {e}", highlight=False)
            code = 1
        finally:
            self._stopping = True
            try:
                self.teardown()
            finally:
                for s, h in old.items():
                    signal.signal(s, h)
        if self.runner and self.runner.errors and code == 0:
            code = 1
        return code

    # -- start-up
    def start(self) -> None:
        from dcops.lab import Lab, can_run
        from dcops.lab.builder import teardown
        o = self.o
        # Every process the demo starts inherits this marker: the final check finds stragglers by it,
        # independently of the record.
        os.environ[MARKER] = o.lab_name
        self.console.print(f"[bold]dcops demo[/] — the Kiên Giang data centre, simulated on this machine "
                           f"(lab name [cyan]{o.lab_name}[/])", highlight=False)
        with self.steps.step("Validate the inventory") as s:
            self.inv = self._validate()
            s["detail"] = self._summary_line()
        with self.steps.step("Capacity") as s:
            s["detail"] = self._capacity()
        with self.steps.step("Offline cloud plan (stack prod)") as s:
            s["detail"] = self._plan()
        with self.steps.step("Clean up a previous demo") as s:
            self._refuse_if_running()
            with shielded():
                removed = teardown(o.lab_name)
                self.owns_lab = True
                with labstate.edit(o.lab_name) as st:  # who owns this lab now (a second demo must not take it)
                    st["meta"]["owner"] = {"pid": os.getpid(), "start": _start_time(os.getpid())}
            s["detail"] = f"removed {len(removed)} leftover item(s)" if removed else "nothing left over"
        self.lab = Lab(f"{o.lab_name}-", name=o.lab_name)
        self.use_lab = o.use_lab and can_run()
        with self.steps.step("Namespace lab (firewall, zones, link balancer, 2 leased lines, ISPs)") as s:
            if not self.use_lab:
                s["skipped"] = ("--no-lab" if not o.use_lab else "needs root and OpenSSH server") + \
                    ": no namespaces, no config push, no leased-line or firewall incidents; SNMP simulation, " \
                    "monitor and dashboard still run"
            else:
                s["detail"] = self._build_lab()
        self.workdir = self.lab.workdir  # recorded in the state: removed by teardown
        with self.steps.step("Simulated SNMP agents (snmpsim) for every facility device") as s:
            s["detail"] = self._start_sim()
        with self.steps.step("Render and push network configs (backup, commit-confirm, verify, confirm)") as s:
            if not self.use_lab:
                s["skipped"] = "no lab devices"
            else:
                s["detail"] = self._push()
        if self.use_lab:
            with self.steps.step("Real traffic through the pushed firewall policy") as s:
                s["detail"] = self._flows()
        with self.steps.step("Tape backup: Bacula director, storage daemon (virtual library), file daemon") as s:
            s.update(self._start_backup())
        with self.steps.step(f"Monitor: poller every {o.interval:g} s, traps, alert engine, /metrics") as s:
            s["detail"] = self._start_monitor()
        if o.stack == "prometheus":
            with self.steps.step("Scale-out stack: Prometheus (generated rules) and Alertmanager on 127.0.0.1") as s:
                s["detail"] = self._start_stack()
        with self.steps.step("NOC dashboard") as s:
            s["detail"] = self._start_dashboard()
        self._record(ready=True)
        self._announce()

    def _refuse_if_running(self) -> None:
        owner = labstate.read(self.o.lab_name)["meta"].get("owner")
        if owner and owner["pid"] != os.getpid() and _start_time(owner["pid"]) == owner.get("start"):
            raise DemoFailed(f"a demo named {self.o.lab_name!r} is already running (pid {owner['pid']}): stop it "
                             "first, or start this one with another --lab-name")

    def _validate(self):
        from dcops.model import validate
        r = validate(self.o.inventory)
        if refused := r.refusals():
            for e in refused[:20]:
                self.console.print(str(e), markup=False, highlight=False)
            raise DemoFailed(f"inventory {self.o.inventory} is invalid: {len(refused)} error(s)")
        return r.inventory

    def _summary_line(self) -> str:
        from dcops.model.cli import summary
        s = summary(self.inv)
        return (f"{s['site']}: {s['hosts']} hosts, {s['vms']} VMs ({s['vcpus']} vCPU, {s['ram_gb']:,} GB RAM), "
                f"{s['systems']} systems, SAN {s['san_usable_tb']:g} TB, {len(s['leased_lines'])} leased lines")

    def _capacity(self) -> str:
        from dcops.model import capacity
        rep = capacity.compute(self.inv)
        t = Table(show_edge=False, box=None, padding=(0, 2))
        for c in ("resource", "demand", "supply", "used", "fits (N+1)"):
            t.add_column(c)
        for r in rep.rows:
            ok = "[green]yes[/]" if r.fits and r.fits_n1 is not False else ("[yellow]not N+1[/]" if r.fits else "[red]NO[/]")
            t.add_row(r.name, f"{r.demand:,.0f} {r.unit}", f"{r.supply:,.0f} {r.unit}", f"{r.used_pct:.0f} %", ok)
        self.console.print(t)
        worst = max(rep.rows, key=lambda r: r.used_pct)
        return f"fullest: {worst.name} {worst.used_pct:.0f} %"

    def _plan(self) -> str:
        from dcops.cloud.runner import make_plan
        plan = make_plan("prod", inv=self.inv).plan
        s = plan["summary"]
        errors = sum(1 for x in plan["findings"] + plan["notes"] if x["severity"] == "error")
        warnings = sum(1 for x in plan["findings"] + plan["notes"] if x["severity"] == "warning")
        top = ", ".join(f"{v} {k}" for k, v in sorted(s["by_type"].items(), key=lambda kv: -kv[1])[:3])
        if errors:
            raise DemoFailed(f"the cloud plan has {errors} policy error(s): run `dcops plan` for details")
        return f"{s['resources']} resources ({top}, …); policy checks: 0 errors, {warnings} warning(s)"

    def _build_lab(self) -> str:
        from dcops.lab.datacentre import build, spec_from_inventory
        self.spec = spec_from_inventory(self.inv)
        meta = build(self.lab, self.spec)
        meta["lbcheck"] = self._start_lbcheck()
        with labstate.edit(self.o.lab_name) as st:
            st["meta"].update(meta)
        n = len(labstate.read(self.o.lab_name)["namespaces"])
        return f"{n} namespaces, sshd on {', '.join(meta['endpoints'])}, health checker on both lines"

    def _start_lbcheck(self) -> dict:
        """The link balancer's health checker from its rendered config (as `dcops lab up` does)."""
        from dcops.net import render
        r = render.render_device(render.RenderContext.build(self.inv), self.inv.device(self.spec.lb_name))
        name = next(n for n in r.files if n.endswith("lbcheck.yaml"))
        cfg = self.lab.workdir / name
        cfg.write_text(r.files[name], encoding="utf-8")
        st = self.lab.workdir / "lbcheck-state.json"
        with shielded():
            pid = self.lab.spawn("lb", [sys.executable, "-m", "dcops.net.lbcheck", "--config", str(cfg),
                                        "--state", str(st)], what="lbcheck")
        return {"pid": pid, "config": str(cfg), "state": str(st)}

    def _spawn(self, what: str, argv: list[str]) -> int:
        with shielded():
            pid = self.lab.spawn(None, argv, what=what, log=self.workdir / f"{what}.log")
        self.pids[what] = pid
        return pid

    def _log_tail(self, what: str) -> str:
        p = self.workdir / f"{what}.log"
        return p.read_text(errors="replace").strip()[-600:] if p.exists() else ""

    def _wait(self, what: str, ready, timeout: float, tick=None) -> None:
        from dcops.lab import procs
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if tick:
                tick()
            if ready():
                return
            if not procs.alive(self.pids[what]):
                raise DemoFailed(f"{what} exited: {self._log_tail(what)}")
            time.sleep(0.2)
        raise DemoFailed(f"{what} not ready after {timeout:.0f} s: {self._log_tail(what)}")

    def _start_sim(self) -> str:
        from dcops.lab import procs
        from dcops.monitor.sim import read_targets
        self.targets_file = self.workdir / "sim-targets.json"
        # The agents run in sessions of their own: record them as soon as they exist (the wrapper stops
        # them on SIGTERM, but a wrapper killed while still starting them would leave them behind).
        seen: set[int] = set()

        def record_agents(pids=()):
            new = [p for p in (*children_of(self.pids["snmp-sim"]), *pids) if p not in seen]
            if new:
                with shielded(), labstate.edit(self.o.lab_name) as st:
                    for pid in new:
                        seen.add(pid)
                        st["processes"].append({"pid": pid, "start": procs.start_time(pid), "ns": None,
                                                "what": "snmpsim"})
        for attempt in (1, 2):  # an agent slow to answer on a busy machine: one more try, then give up
            self._spawn("snmp-sim", [sys.executable, "-m", "dcops.cli", "snmp", "sim", "--inventory",
                                     str(self.o.inventory), "--targets-out", str(self.targets_file),
                                     "--workdir", str(self.workdir / f"sim{attempt}")])
            try:
                self._wait("snmp-sim", self.targets_file.exists, 60, tick=record_agents)
                break
            except DemoFailed as e:
                if attempt == 2:
                    raise
                self.console.print(f"[yellow]  {e}; trying once more[/]", highlight=False)
                with shielded():
                    self.lab.stop(self.pids["snmp-sim"])
        targets = read_targets(self.targets_file)
        record_agents([t.pid for t in targets if t.pid])
        v3 = sum(1 for t in targets if t.version == "3")
        return f"{len(targets)} agents on 127.0.0.1 ({v3} SNMPv3 authPriv, {len(targets) - v3} v2c)"

    def _push(self) -> str:
        from dcops.net import fleet
        from dcops.net.push import Pusher
        targets = [fleet.target(m) for m in fleet.members(self.inv, lab=self.o.lab_name)]
        done: list[str] = []

        def hook(device, step, phase):
            if phase == "done":
                done.append(f"{device}:{step}")
        report = Pusher(self.workdir / "backups", commit=True, confirm_timeout=60, timeout=10, hook=hook).run(targets)
        rows = [f"{o.device} {o.state} ({o.as_dict()['changed_lines']} lines)" for o in report.outcomes]
        if not report.ok:
            raise DemoFailed(f"push failed: {report.summary()}")
        return "; ".join(rows) + f" in {report.seconds:.1f} s"

    def _flows(self) -> str:
        from . import flows
        results = flows.check(self.lab, self.inv, self.spec, flows.load())
        t = Table(show_edge=False, box=None, padding=(0, 2))
        for c in ("flow", "connection", "expected", "seen"):
            t.add_column(c)
        for r in results:
            style = "green" if r.ok else "red"
            t.add_row(r.name, r.detail, r.expect, f"[{style}]{r.got}[/]")
        self.console.print(t)
        bad = [r for r in results if not r.ok]
        if bad:
            raise DemoFailed(f"{len(bad)} flow(s) not as the policy says: " + ", ".join(r.name for r in bad))
        tested = [r for r in results if r.got != "skipped"]
        return f"{len(tested)} flows as the policy says ({sum(r.got == 'allow' for r in tested)} allowed, " \
               f"{sum(r.got == 'deny' for r in tested)} blocked)"

    def _start_backup(self) -> dict:
        from dcops.backup.lab import available
        from . import backup
        if not available():
            return {"skipped": "Bacula is not installed (bacula-director, bacula-sd, bacula-fd, bacula-console)"}
        self.backup = backup.start(self.inv, self.workdir, self._spawn, self._wait)
        backup.write_metrics(self.backup, self.inv)
        vms = ", ".join(self.backup["paths"])
        return {"detail": f"director, storage and file daemon up; labelling {self.backup['library']} "
                          f"({self.backup['slots']} cartridges), then a first full backup of {vms}"}

    def _start_monitor(self) -> str:
        from dcops.monitor.web.auth import set_user
        from dcops.monitor.launch import free_tcp_port
        from dcops.monitor.sim import free_port
        from dcops.monitor.store import Store
        self.db = self.workdir / "noc.db"
        st = Store(self.db)
        try:
            set_user(st, DEMO_USER, "admin", self.password)
        finally:
            st.close()
        trap_port, self.metrics_port = free_port(), free_tcp_port()
        self._spawn("monitor", [sys.executable, "-m", "dcops.monitor", "monitor", "--sim", str(self.targets_file),
                                "--db", str(self.db), "--interval", f"{self.o.interval:g}",
                                "--trap-port", str(trap_port), "--metrics-port", str(self.metrics_port),
                                "--inventory", str(self.o.inventory),
                                *(["--textfile-dir", str(Path(self.backup["textfile"]).parent)] if self.backup else [])])
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self._wait("monitor", lambda: _http_ok(url), 60)
        return f"/metrics on {url}, traps on udp/{trap_port}"

    def _start_stack(self) -> str:
        """Debian's binaries from the bundle `dcops monitor prometheus` writes, scraping the demo's monitor;
        recorded like every other process, so Ctrl-C and `dcops demo down` stop them by PID."""
        from dcops.monitor.alerts import load_rules
        from dcops.monitor.launch import free_tcp_port
        from dcops.monitor.scaleout import bundle, write
        from dcops.monitor.stack import ALERTMANAGER_BIN, PROMETHEUS_BIN, StackError, find_binary
        try:
            prom_bin, am_bin = find_binary(PROMETHEUS_BIN), find_binary(ALERTMANAGER_BIN)
        except StackError as e:
            raise DemoFailed(str(e)) from e
        prom_port, am_port = free_tcp_port(), free_tcp_port()
        every = f"{max(1, round(self.o.interval))}s"
        b = bundle(self.inv, load_rules(), exporters=[f"127.0.0.1:{self.metrics_port}"],
                   alertmanagers=[f"127.0.0.1:{am_port}"], scrape_interval=every, evaluation_interval=every)
        folder = self.workdir / "stack"
        write(b, folder)
        self._spawn("alertmanager", [am_bin, f"--config.file={folder / 'alertmanager.yml'}",
                                     f"--storage.path={folder / 'am-data'}",
                                     f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="])
        self._spawn("prometheus", [prom_bin, f"--config.file={folder / 'prometheus.yml'}",
                                   f"--storage.tsdb.path={folder / 'prom-data'}",
                                   f"--web.listen-address=127.0.0.1:{prom_port}"])
        self.stack_urls = {"prometheus": f"http://127.0.0.1:{prom_port}",
                           "alertmanager": f"http://127.0.0.1:{am_port}"}
        for what, url in self.stack_urls.items():
            self._wait(what, lambda u=url: _http_ok(u + "/-/ready"), 90)
        notes = f"; note: {b.warnings[0]}" if b.warnings else ""
        return f"Prometheus {self.stack_urls['prometheus']}, Alertmanager {self.stack_urls['alertmanager']}{notes}"

    def _start_dashboard(self) -> str:
        host, port = self.o.host, self.o.port
        if port == 0:
            from dcops.monitor.launch import free_tcp_port
            port = free_tcp_port()
        elif not _port_free(host, port):
            raise DemoFailed(f"port {port} on {host} is in use: choose another with --port")
        scaleout = ["--alertmanager", self.stack_urls["alertmanager"], "--site", self.inv.site.code] \
            if self.stack_urls else []
        self._spawn("dashboard", [sys.executable, "-m", "dcops.monitor", "dashboard", "--db", str(self.db),
                                  "--host", host, "--port", str(port), *scaleout])
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self.url = f"http://{shown}:{port}"
        self._wait("dashboard", lambda: _http_ok(self.url + "/livez"), 60)
        return self.url

    def _record(self, **extra) -> None:
        with labstate.edit(self.o.lab_name) as st:
            st["meta"]["demo"] = {
                "pid": os.getpid(), "inventory": str(Path(self.o.inventory).resolve()),
                "targets_file": str(self.targets_file), "workdir": str(self.workdir), "db": str(self.db),
                "url": self.url, "user": DEMO_USER, "lab": self.use_lab, "lab_prefix": self.lab.prefix,
                "metrics": f"http://127.0.0.1:{self.metrics_port}/metrics", "processes": self.pids,
                "stack": self.o.stack, "backup": self.backup, **self.stack_urls, **extra}

    def _announce(self) -> None:
        o = self.o
        lines = [f"NOC dashboard: [bold cyan]{self.url}/[/]",
                 f"demo login:    [bold]{DEMO_USER}[/] / [bold]{self.password}[/]  "
                 + ("(from DCOPS_DEMO_PASSWORD)" if o.password else "(random, this run only)"),
                 f"metrics:       http://127.0.0.1:{self.metrics_port}/metrics"]
        if self.stack_urls:
            lines.append(f"Prometheus:    {self.stack_urls['prometheus']}/alerts   (the generated rules)")
            lines.append(f"Alertmanager:  {self.stack_urls['alertmanager']}/   (the NOC page reads its alerts)")
        if self.use_lab:
            lines.append(f"lab:           dcops lab status --name {o.lab_name};  "
                         f"dcops net diff lab-fw1 --lab {o.lab_name}")
        lines.append(f"incidents:     dcops demo inject mains-failure --lab-name {o.lab_name}   "
                     "(see `dcops demo scenarios`)")
        lines.append("stop:          Ctrl-C (everything is removed); after a crash: "
                     f"dcops lab down --name {o.lab_name}")
        self.console.print(Panel("\n".join(lines), title="the data centre is running", expand=False),
                           highlight=False)
        getattr(self.console.file, "flush", lambda: None)()  # headless readers wait for this line

    # -- running
    def serve(self) -> None:
        from dcops.lab import procs
        o = self.o
        if o.scenarios:
            from .actions import Actions, Site
            from .scenario import check_against
            site = Site.from_state(o.lab_name)
            actions = Actions(site, self.inv)
            problems = [p for sc in o.scenarios for p in check_against(sc, actions.devices(),
                                                                          {ln.name for ln in self.inv.leased_lines})]
            if problems:
                raise DemoFailed("; ".join(problems))
            self.runner = Runner(actions, self._scenario_log, speed=o.speed)
            for sc in o.scenarios:
                if sc.needs_lab() and not self.use_lab:
                    self.console.print(f"[yellow]scenario {sc.name}: its lab steps are skipped (no lab)[/]")
                self.runner.start(sc, delay=o.scenario_delay)
                self.console.print(f"scenario [bold]{sc.name}[/] starts in {o.scenario_delay:g} s: {sc.summary}",
                                   highlight=False)
        end = time.monotonic() + o.duration if o.duration else None
        next_backup_metrics = time.monotonic()
        while end is None or time.monotonic() < end:
            if self.backup and time.monotonic() >= next_backup_metrics:  # the catalogue as it is now
                from .backup import write_metrics
                write_metrics(self.backup, self.inv)
                next_backup_metrics = time.monotonic() + o.interval
            for what in ("monitor", "dashboard", "snmp-sim", *self.stack_urls):
                if not procs.alive(self.pids[what]):
                    raise DemoFailed(f"{what} stopped unexpectedly: {self._log_tail(what)}")
            time.sleep(0.5 if end is None else max(0.0, min(0.5, end - time.monotonic())))
        if end is not None:
            self.console.print(f"--duration {o.duration:g} s reached: stopping the demo")

    def _scenario_log(self, name: str, msg: str) -> None:
        self.console.print(f"[magenta]{time.strftime('%H:%M:%S')} {escape('[' + name + ']')}[/] {escape(msg)}",
                           highlight=False)

    # -- teardown
    def teardown(self) -> None:
        from dcops.lab.builder import teardown
        if self.runner:
            self.runner.stop()
        if not self.owns_lab:  # stopped before it started anything (or another demo owns the lab name)
            return
        from dcops.lab import procs
        with self.console.status("Tearing down …"):
            removed = stop_all(self.o.lab_name)
            removed += teardown(self.o.lab_name)
            for pid in marked_processes(self.o.lab_name):  # started but not yet recorded when we stopped
                procs.stop(pid, procs.start_time(pid))
                removed.append(f"process {pid} (unrecorded)")
        left = leftovers(self.o.lab_name, self.lab.prefix if self.lab else f"{self.o.lab_name}-")
        msg = f"removed {len(removed)} item(s) (processes, namespaces, folders)"
        if left:
            self.console.print(f"[bold red]teardown incomplete:[/] {msg}; still present: {', '.join(left)}")
        else:
            self.console.print(f"[green]✓[/] Torn down: {msg}; nothing left behind", highlight=False)


def stop_all(lab_name: str) -> list[str]:
    """Stop every recorded process at once (SIGTERM, SIGKILL after a grace period), not one by one.

    Some programs (snmpsim) ignore SIGTERM: stopped in sequence, each would cost its full grace period.
    """
    import concurrent.futures as cf

    from dcops.lab import procs
    live = [p for p in labstate.read(lab_name)["processes"] if procs.alive(p["pid"], p.get("start"))]
    if not live:
        return []
    with cf.ThreadPoolExecutor(max_workers=len(live)) as ex:
        list(ex.map(lambda p: procs.stop(p["pid"], p.get("start")), live))
    return [f"process {p['pid']} ({p['what']} in {p['ns']})" for p in live]


def leftovers(lab_name: str, prefix: str) -> list[str]:
    """Namespaces with the demo's prefix still present, and processes still alive from its record."""
    from dcops.lab import netns, procs
    left = [f"namespace {n}" for n in netns.list_namespaces() if n.startswith(prefix)]
    for p in labstate.read(lab_name)["processes"]:
        if procs.alive(p["pid"], p.get("start")):
            left.append(f"process {p['pid']} ({p['what']})")
    left += [f"process {pid} (unrecorded)" for pid in marked_processes(lab_name)
             if f"process {pid} " not in " ".join(left) + " "]
    return left


def children_of(ppid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == ppid:
                    out.append(int(d.name))
            except (OSError, ValueError, IndexError):
                continue
    return out


def marked_processes(lab_name: str) -> list[int]:
    """Live processes carrying the demo's environment marker (other than this one)."""
    from dcops.lab import procs
    needle = f"{MARKER}={lab_name}".encode() + b"\0"
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            env = (d / "environ").read_bytes()
        except OSError:
            continue
        if needle in env + b"\0" and procs.alive(int(d.name)):
            found.append(int(d.name))
    return found


def _start_time(pid: int) -> int | None:
    from dcops.lab import procs
    return procs.start_time(pid)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False
