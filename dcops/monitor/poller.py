"""The poll loop: every device, bounded concurrency, per-device deadline, batched requests.

One poll of a device = one batched GET of its profile's scalars (sysUpTime included) plus one
multi-column GETBULK walk of its table columns, all within the device's deadline (shorter than
the interval), so one slow, silent or hostile agent never delays the cycle of the others.
The result is a `DevicePoll`: samples with units, rates of counters, device info — or
`reachable=False` with the reason (never zeros) and a `state` naming what kind of failure it was.
"""
from __future__ import annotations

import asyncio
import functools
import gc
import logging
import time
from dataclasses import dataclass, field

from .profiles import Profile, Sample, evaluate, get_profile, missing_fallbacks, profiles_for_sys_object_id
from .rates import RateTracker
from .snmp.errors import SnmpError, SnmpMalformed, SnmpRejected, SnmpTimeout
from .snmp.session import open_session
from .targets import Target

log = logging.getLogger("dcops.monitor")

#: Device states of a poll. The first three answered (reachable), the next five did not give usable answers;
#: "never_polled" is the store's state of a device without a poll yet (neither up nor down).
STATES = ("ok", "implausible", "profile_matched_nothing", "unreachable", "malformed", "rejected", "deadline", "error",
          "never_polled")
ANSWERED_STATES = STATES[:3]
FAILED_STATES = STATES[3:8]
#: Default ceiling for byte counters of interfaces whose speed is unknown: the leased lines' 300 Mbit/s.
DEFAULT_LINE_CEILING_BPS = 300e6


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
    #: ok | implausible | profile_matched_nothing | unreachable | malformed | rejected | deadline | error (STATES)
    state: str = "ok"
    #: readings dropped as physically implausible: "metric{labels}=value (reason)"
    implausible: list[str] = field(default_factory=list)
    #: walks cut short, scale hints: things an operator should know, the poll still counts
    warnings: list[str] = field(default_factory=list)
    discarded: int = 0  # answers thrown away (forged, malformed, stray) during this poll


def state_of(reachable: bool | None, error: str | None, state: str | None = None) -> str:
    """The state of a poll or a stored device row, for the alert engine, /metrics and the NOC page.
    `state` (DevicePoll.state, stored since it exists) wins when it agrees with `reachable`; otherwise
    (rows written before, hand-made polls) the error text says what kind of failure it was."""
    if reachable is None:
        return "never_polled"
    if reachable:
        return state if state in ANSWERED_STATES else "ok"
    if state in FAILED_STATES:
        return state
    for prefix, state in (("malformed response", "malformed"), ("no valid response", "rejected"),
                          ("poll deadline", "deadline"), ("unreachable", "unreachable"),
                          ("no response", "unreachable")):
        if (error or "").startswith(prefix):
            return state
    return "error"


CONTACT_METRICS = ("env_contact_state", "env_leak_state", "env_contact_alarm")


def facility_alarms(t: Target, samples: list[Sample]) -> list[Sample]:
    """`facility_alarm` readings (state alarm | normal | missing) of the inputs the inventory maps to a
    facility role. A mapped input the appliance does not report is "missing": the wiring or its
    naming broke, and the NOC must not read silence as all-clear."""
    by_input: dict[str, Sample] = {}
    rank = {m: i for i, m in enumerate(CONTACT_METRICS)}  # the electrical state first, a verdict last
    for smp in samples:
        if smp.metric in rank and smp.state is not None:
            name = smp.labels.get("contact", "")
            have = by_input.get(name)
            if have is None or rank[smp.metric] < rank[have.metric]:
                by_input[name] = smp
    out = []
    for name, (role, system, alarm_states) in t.contacts.items():
        smp = by_input.get(name)
        state = "missing" if smp is None else "alarm" if smp.state in alarm_states else "normal"
        labels = {"role": role, "input": name, **({"system": system} if system else {})}
        out.append(Sample("facility_alarm", labels, {"normal": 0.0, "alarm": 1.0}.get(state, -1.0), "enum", "",
                          state=state))
    return out


#: Garbage-collector thresholds of a polling process (CPython's default: 700, 10, 10).
GC_THRESHOLDS = (20_000, 20, 20)


def tune_gc() -> None:
    """Collect young objects less often in a polling process. A cycle allocates many short-lived objects
    (decoded varbinds, samples, label dicts) next to large long-lived state (sessions, rate baselines,
    decode caches); with the default thresholds the collector took about a quarter of the CPU of a
    3,000-device SNMPv3 cycle (bench/bench_snmp.py) and freed about a thousand objects per cycle:
    reference counting frees the rest at once. Called by `run` (`dcops monitor`); the collector still
    runs, only less often."""
    gc.set_threshold(*GC_THRESHOLDS)


@functools.lru_cache(maxsize=1024)
def _rate_name(metric: str) -> str:
    base = metric[:-len("_total")] if metric.endswith("_total") else metric
    return base + "_per_second"


class Poller:
    def __init__(self, targets: list[Target], profiles: dict[str, Profile] | None = None,
                 concurrency: int = 64, timeout: float = 2.0, retries: int = 1, deadline: float | None = None,
                 walk_max_rows: int = 2_000, walk_max_requests: int = 300,
                 line_ceiling_bps: float = DEFAULT_LINE_CEILING_BPS) -> None:
        self.targets = list(targets)
        self.profiles = profiles or {t.profile: get_profile(t.profile) for t in self.targets}
        self.sem = asyncio.Semaphore(concurrency) if concurrency else None
        self.concurrency = concurrency
        self.timeout, self.retries = timeout, retries
        # A whole device poll (GETs + walks): by default room for a few lost packets per request.
        self.deadline = deadline or max(5.0, 4 * timeout * (retries + 1))
        self.walk_max_rows, self.walk_max_requests = walk_max_rows, walk_max_requests
        self.line_ceiling_bps = line_ceiling_bps
        self.rates = RateTracker()
        self._sessions: dict[str, object] = {}

    def _session(self, t: Target):
        s = self._sessions.get(t.name)
        if s is None:
            s = self._sessions[t.name] = open_session(t.host, t.port, t.creds, self.timeout, self.retries)
            s.walk_max_rows, s.walk_max_requests = self.walk_max_rows, self.walk_max_requests
        return s

    async def _fetch(self, s, prof: Profile, stage: list[str]) -> dict:
        stage[0] = "GET of the scalars"
        vb = await s.get(prof.scalar_oids)
        if prof.walk_oids:
            stage[0] = "walk of the table columns"
            vb.update(await s.walk(prof.walk_oids))
            extra = missing_fallbacks(prof, vb)
            if extra:  # e.g. an agent without ifXTable: its 32-bit columns, in one more walk
                stage[0] = "walk of the fallback columns"
                vb.update(await s.walk(extra))
        return vb

    async def poll_device(self, t: Target) -> DevicePoll:
        prof = self.profiles[t.profile]
        start = time.monotonic()
        ts = time.time()
        stage = ["opening the session"]
        s = None
        before = discarded = 0

        def failed(state: str, error: str) -> DevicePoll:
            return DevicePoll(t.name, t.profile, ts, False, error, duration=time.monotonic() - start, state=state,
                              discarded=getattr(s, "discarded", discarded) - discarded,
                              requests=getattr(s, "requests", before) - before)
        try:
            s = self._session(t)
            before, discarded = s.requests, getattr(s, "discarded", 0)
            s.walk_warnings = []
            async with asyncio.timeout(self.deadline):  # no extra task per poll, unlike wait_for
                vb = await self._fetch(s, prof, stage)
        except TimeoutError:
            return failed("deadline", f"poll deadline of {self.deadline:g} s exceeded during the {stage[0]}")
        except SnmpTimeout as e:
            return failed("unreachable", f"unreachable: {e}")
        except SnmpMalformed as e:
            return failed("malformed", str(e))
        except SnmpRejected as e:
            return failed("rejected", str(e))
        except (SnmpError, OSError) as e:
            return failed("error", str(e))
        except Exception as e:  # noqa: BLE001 - one odd agent must not stop the whole site's polling
            return failed("error", f"internal error: {type(e).__name__}: {e}")
        try:
            ev = evaluate(prof, vb, t.scale)
        except Exception as e:  # noqa: BLE001 - a value no profile foresaw is this device's problem only
            log.warning("%s: evaluating %s failed: %s: %s", t.name, t.profile, type(e).__name__, e)
            return failed("error", f"internal error evaluating the answer: {type(e).__name__}: {e}")
        ts = time.time()  # when the values (counters come last, with the walk) were read: rates stay exact
        readings = len(ev.samples)
        poll = DevicePoll(t.name, t.profile, ts, True, samples=ev.samples, info=ev.info,
                          duration=time.monotonic() - start, requests=s.requests - before, varbinds=len(vb),
                          implausible=ev.implausible, warnings=list(s.walk_warnings) + ev.hints,
                          discarded=getattr(s, "discarded", 0) - discarded)
        if ev.implausible:  # readings were dropped: the device is flagged, what remains is shown
            poll.state = "implausible"
        elif not readings:
            poll.state = "profile_matched_nothing"
            poll.warnings.append(f"profile {t.profile} matched nothing on this device (0 readings from "
                                 f"{len(vb)} values): wrong profile, or the agent lacks these MIBs")
            fits = [p for p in profiles_for_sys_object_id(ev.info.get("sys_object_id", "")) if p != t.profile]
            if fits:
                poll.warnings.append(f"its sysObjectID {ev.info['sys_object_id']} is a device of profile "
                                     f"{fits[0]}: set snmp.profile: {fits[0]} for this device in the inventory")
        if t.lines:  # leased lines: every sample of their interface carries the line name
            for smp in ev.samples:
                line = t.lines.get(smp.labels.get("ifName", ""))
                if line:
                    smp.labels["line"] = line
        if t.contacts:
            poll.samples.extend(facility_alarms(t, ev.samples))
        poll.restarted = self.rates.restarted(t.name, ev.uptime_ticks, ts)
        self._add_rates(t, poll)
        # Data-quality readings of their own, so rules (monitors/alerts.yaml) can raise them.
        poll.samples.append(Sample("snmp_implausible_values", {}, float(len(poll.implausible)), "gauge", ""))
        poll.samples.append(Sample("snmp_profile_readings", {}, float(readings), "gauge", ""))
        return poll

    def _ceiling(self, t: Target, smp: Sample, speeds: dict[str, float]) -> float:
        """Highest believable bytes/s of an interface counter: its speed, else the contracted line
        bandwidth, else the configured line ceiling (the 32-bit wrap ambiguity, docs/monitoring.md)."""
        sp = speeds.get(smp.labels.get("ifIndex", ""))
        if sp:
            return sp / 8
        name = smp.labels.get("ifName") or smp.labels.get("ifDescr") or ""
        bw = t.bandwidth_mbps.get(name)
        return (bw * 1e6 if bw else self.line_ceiling_bps) / 8

    def _add_rates(self, t: Target, poll: DevicePoll) -> None:
        speeds: dict[str, float] = {}
        for smp in poll.samples:
            if smp.metric == "if_speed_bits_per_second":
                speeds[smp.labels.get("ifIndex", "")] = smp.value
        rated = []
        for smp in poll.samples:
            if smp.type != "counter":
                continue
            ceiling = self._ceiling(t, smp, speeds) if smp.unit == "bytes" else None
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
        """Poll every `interval` seconds, aligned to the clock; `on_cycle(polls)` may be async.
        A stop request ends the wait at once, and a cycle in progress within a second."""
        stop = stop or asyncio.Event()
        tune_gc()
        while not stop.is_set():
            start = time.monotonic()
            cycle = asyncio.ensure_future(self.poll_all())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({cycle, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                cycle.cancel()
                await asyncio.gather(cycle, return_exceptions=True)
                break
            stopper.cancel()
            polls = cycle.result()
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
