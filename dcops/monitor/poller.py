"""The poll loop: every device, bounded concurrency, per-device timeout/retry, batched requests.

One poll of a device = one batched GET of its profile's scalars (sysUpTime included) plus one
multi-column GETBULK walk of its table columns. The result is a `DevicePoll`: samples with
units, rates of counters, device info — or `reachable=False` with the reason (never zeros).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from .profiles import Profile, Sample, evaluate, get_profile, missing_fallbacks
from .rates import RateTracker
from .snmp.errors import SnmpError, SnmpTimeout
from .snmp.session import open_session
from .targets import Target

log = logging.getLogger("dcops.monitor")


@dataclass
class DevicePoll:
    device: str
    profile: str
    ts: float
    reachable: bool
    error: str | None = None
    samples: list[Sample] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)
    duration: float = 0.0
    restarted: bool = False
    requests: int = 0
    varbinds: int = 0  # values received (GET results + in-column walk results)


def _rate_name(metric: str) -> str:
    base = metric[:-len("_total")] if metric.endswith("_total") else metric
    return base + "_per_second"


class Poller:
    def __init__(self, targets: list[Target], profiles: dict[str, Profile] | None = None,
                 concurrency: int = 64, timeout: float = 2.0, retries: int = 1) -> None:
        self.targets = list(targets)
        self.profiles = profiles or {t.profile: get_profile(t.profile) for t in self.targets}
        self.sem = asyncio.Semaphore(concurrency) if concurrency else None
        self.concurrency = concurrency
        self.timeout, self.retries = timeout, retries
        self.rates = RateTracker()
        self._sessions: dict[str, object] = {}

    def _session(self, t: Target):
        s = self._sessions.get(t.name)
        if s is None:
            s = self._sessions[t.name] = open_session(t.host, t.port, t.creds, self.timeout, self.retries)
        return s

    async def poll_device(self, t: Target) -> DevicePoll:
        prof = self.profiles[t.profile]
        start = time.monotonic()
        ts = time.time()
        try:
            s = self._session(t)
            before = s.requests
            vb = await s.get(prof.scalar_oids)
            if prof.walk_oids:
                vb.update(await s.walk(prof.walk_oids))
                extra = missing_fallbacks(prof, vb)
                if extra:  # e.g. an agent without ifXTable: its 32-bit columns, in one more walk
                    vb.update(await s.walk(extra))
        except SnmpTimeout as e:
            return DevicePoll(t.name, t.profile, ts, False, f"unreachable: {e}", duration=time.monotonic() - start)
        except (SnmpError, OSError) as e:
            return DevicePoll(t.name, t.profile, ts, False, str(e), duration=time.monotonic() - start)
        except Exception as e:  # noqa: BLE001 - one odd agent must not stop the whole site's polling
            return DevicePoll(t.name, t.profile, ts, False, f"internal error: {type(e).__name__}: {e}",
                              duration=time.monotonic() - start)
        ev = evaluate(prof, vb)
        ts = time.time()  # when the values (counters come last, with the walk) were read: rates stay exact
        poll = DevicePoll(t.name, t.profile, ts, True, samples=ev.samples, info=ev.info,
                          duration=time.monotonic() - start, requests=s.requests - before, varbinds=len(vb))
        if t.lines:  # leased lines: every sample of their interface carries the line name
            for smp in ev.samples:
                line = t.lines.get(smp.labels.get("ifName", ""))
                if line:
                    smp.labels["line"] = line
        poll.restarted = self.rates.restarted(t.name, ev.uptime_ticks, ts)
        self._add_rates(t, poll)
        return poll

    def _add_rates(self, t: Target, poll: DevicePoll) -> None:
        speeds: dict[str, float] = {}
        for smp in poll.samples:
            if smp.metric == "if_speed_bits_per_second":
                speeds[smp.labels.get("ifIndex", "")] = smp.value
        rated = []
        for smp in poll.samples:
            if smp.type != "counter":
                continue
            ceiling = None
            if smp.unit == "bytes":
                sp = speeds.get(smp.labels.get("ifIndex", ""))
                ceiling = sp / 8 if sp else None
            r = self.rates.rate(t.name, smp.key, smp.raw, smp.bits, poll.ts, ceiling)
            if r is None:
                continue
            scale = smp.value / smp.raw if smp.raw else 1.0
            unit = "bytes_per_second" if smp.unit == "bytes" else "per_second"
            rated.append(Sample(_rate_name(smp.metric), dict(smp.labels), r * scale, "gauge", unit))
            if smp.unit == "bytes":
                name = smp.labels.get("ifName") or smp.labels.get("ifDescr") or ""
                bw = t.bandwidth_mbps.get(name)
                denom = bw * 1e6 if bw else speeds.get(smp.labels.get("ifIndex", ""))
                if denom:
                    lab = dict(smp.labels)
                    direction = "in" if "_in_" in smp.metric else "out"
                    rated.append(Sample(f"if_{direction}_utilisation_ratio", lab, r * 8 / denom, "gauge", "ratio"))
        poll.samples.extend(rated)

    async def _bounded(self, t: Target) -> DevicePoll:
        if self.sem is None:
            return await self.poll_device(t)
        async with self.sem:
            return await self.poll_device(t)

    async def poll_all(self) -> list[DevicePoll]:
        return list(await asyncio.gather(*(self._bounded(t) for t in self.targets)))

    async def run(self, interval: float, on_cycle, stop: asyncio.Event | None = None) -> None:
        """Poll every `interval` seconds, aligned to the clock; `on_cycle(polls)` may be async."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            start = time.monotonic()
            polls = await self.poll_all()
            try:
                res = on_cycle(polls)
                if asyncio.iscoroutine(res):
                    await res
            except Exception:  # noqa: BLE001 - keep polling; the next cycle may store fine
                log.exception("poll cycle handling failed")
            delay = max(0.0, interval - (time.monotonic() - start))
            try:
                await asyncio.wait_for(stop.wait(), delay)
            except asyncio.TimeoutError:
                pass
