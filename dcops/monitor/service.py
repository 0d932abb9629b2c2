"""`dcops monitor`: poller + trap receiver + alert engine + store + /metrics, in one asyncio process."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import metrics
from .alerts import AlertEngine, RuleSet, active_alerts, load_rules
from .notify import escalation_from_config, notifier_from_config
from .poller import Poller
from .profiles import get_profile
from .store import Store
from .targets import Target
from .traps import TrapReceiver, TrapUser

log = logging.getLogger("dcops.monitor")


def default_db() -> Path:
    return Path(os.environ.get("DCOPS_STATE_DIR", "~/.local/state/dcops")).expanduser() / "monitor.db"


@dataclass
class MonitorConfig:
    targets: list[Target]
    db: Path = field(default_factory=default_db)
    interval: float = 30.0
    timeout: float = 2.0
    retries: int = 1
    concurrency: int = 64
    trap_host: str = "127.0.0.1"
    trap_port: int | None = 1162  # None: no trap receiver
    trap_communities: tuple[str, ...] = ()
    trap_users: tuple[TrapUser, ...] = ()
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = 9118  # None: no /metrics endpoint
    rules: RuleSet | None = None
    maintain_every: float = 300.0
    deadline: float | None = None  # per-device poll deadline; default: shorter than the interval
    #: node_exporter-style textfile folder: each *.prom file is a device's readings (e.g. backup metrics)
    textfile_dir: Path | None = None


class MonitorService:
    def __init__(self, cfg: MonitorConfig) -> None:
        self.cfg = cfg
        self.store = Store(cfg.db)
        self.rules = cfg.rules or load_rules()
        self.engine = AlertEngine(self.rules, self.store, notifier_from_config(self.rules.notify),
                                  escalation=escalation_from_config(self.rules.notify),
                                  devices={t.name for t in cfg.targets})
        deadline = cfg.deadline or min(max(5.0, 4 * cfg.timeout * (cfg.retries + 1)), 0.8 * cfg.interval)
        self.poller = Poller(cfg.targets, concurrency=cfg.concurrency, timeout=cfg.timeout, retries=cfg.retries,
                             deadline=deadline)
        self.by_name = {t.name: t for t in cfg.targets}
        self.cycles = 0
        self.stop_event = asyncio.Event()
        self._last_maintain = 0.0
        self.traps: TrapReceiver | None = None
        self.metrics_server = None
        self._meta = {t.name: (t.display_name or t.name, t.kind) for t in cfg.targets}
        for t in cfg.targets:
            self.store.register_device(t.name, t.profile, t.kind, t.display_name or t.name)

    async def on_cycle(self, polls) -> None:
        if self.cfg.textfile_dir:
            from .textfile import PROFILE, collect
            extra = await asyncio.to_thread(collect, self.cfg.textfile_dir)
            for p in extra:
                self._meta.setdefault(p.device, (p.device, PROFILE))
            polls = [*polls, *extra]
        # One transaction per cycle, off the event loop (traps keep flowing while it commits).
        await asyncio.to_thread(self.store.write_polls, polls, self._meta)
        for p in polls:
            if p.restarted:
                self.store.event("restart", p.device, "agent restarted (sysUpTime went back): rates re-baselined")
        transitions = self.engine.evaluate(polls)
        for tr in transitions:
            log.info("%s %s %s: %s", tr.kind, tr.rule, tr.device, tr.summary_en)
        await asyncio.to_thread(self.engine.flush_notifications)
        self.cycles += 1
        if time.time() - self._last_maintain > self.cfg.maintain_every:
            self._last_maintain = time.time()
            await asyncio.to_thread(self.store.maintain)

    async def on_trap(self, ev) -> None:
        if ev.device is None or (ev.event is None and ev.trap_oid not in self._known_traps(ev.device)):
            self.store.event("trap", ev.device, f"unhandled trap {ev.trap_oid} from {ev.source}")
            return
        if ev.event is not None:
            self.engine.on_trap(ev.device, ev.event, ev.severity, ev.clears)
        else:
            self.store.event("trap", ev.device, f"{ev.trap_oid}: polling now")
        # Confirm by polling the device at once: the dashboard shows the new values immediately.
        t = self.by_name.get(ev.device)
        if t is not None:
            polls = [await self.poller.poll_device(t)]
            for p in polls:
                self.store.write_poll(p, t.display_name, t.kind)
            self.engine.evaluate(polls)
        await asyncio.to_thread(self.engine.flush_notifications)

    def _known_traps(self, device: str) -> dict:
        t = self.by_name.get(device)
        return get_profile(t.profile).traps if t else {}

    async def _serve_metrics(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.decode("latin-1").split()
            if len(parts) >= 2 and parts[0] == "GET" and parts[1].split("?")[0] == "/metrics":
                body = (await asyncio.to_thread(metrics.render, self.store, active_alerts(self.store))).encode()
                head = (f"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            else:
                body = b"not found\n"
                head = f"HTTP/1.1 404 Not Found\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def run(self, once: bool = False) -> None:
        cfg = self.cfg
        if cfg.trap_port is not None:
            profile_of = {t.name: get_profile(t.profile) for t in cfg.targets}
            addr = {t.host: t.name for t in cfg.targets if t.host not in ("127.0.0.1", "localhost")}
            self.traps = TrapReceiver(self.on_trap, cfg.trap_host, cfg.trap_port, cfg.trap_communities,
                                      cfg.trap_users, addr, profile_of)
            await self.traps.start()
        if cfg.metrics_port is not None:
            self.metrics_server = await asyncio.start_server(self._serve_metrics, cfg.metrics_host, cfg.metrics_port)
        try:
            if once:
                polls = await self.poller.poll_all()
                await self.on_cycle(polls)
                return
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                try:
                    loop.add_signal_handler(sig, self.stop_event.set)
                except (NotImplementedError, RuntimeError):
                    pass
            await self.poller.run(cfg.interval, self.on_cycle, self.stop_event)
        finally:
            if self.traps:
                self.traps.close()
            if self.metrics_server:
                self.metrics_server.close()
            self.store.close()
