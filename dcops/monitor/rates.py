"""Per-second rates from SNMP counters.

Rules: 32-bit counters wrap at 2^32 (a wrap is taken when the delta is negative and the
counter is 32-bit); a negative delta on a 64-bit counter is a discontinuity, never a huge rate;
an agent restart (sysUpTime going back) resets every baseline of the device, so it never
produces a spike; a rate above the interface's physical ceiling is dropped as a discontinuity.
"""
from __future__ import annotations

from dataclasses import dataclass

UPTIME_WRAP = 1 << 32  # sysUpTime is TimeTicks (centiseconds), wraps after ~497 days


@dataclass(slots=True)
class _Prev:
    value: int
    ts: float


class RateTracker:
    def __init__(self) -> None:
        self._prev: dict[tuple, _Prev] = {}
        self._uptime: dict[str, tuple[int, float]] = {}

    def restarted(self, device: str, uptime_ticks: int | None, ts: float) -> bool:
        """Record the device's sysUpTime; True (and baselines reset) when the agent restarted."""
        if uptime_ticks is None:
            return False
        prev = self._uptime.get(device)
        self._uptime[device] = (uptime_ticks, ts)
        if prev is None:
            return False
        p_ticks, p_ts = prev
        if uptime_ticks >= p_ticks:
            return False
        # A wrap of sysUpTime itself: the ticks gone by across 2^32 match the wall-clock time gone by (which
        # also says the old value was near 2^32). A clock that did not move forward proves no wrap: a restart
        # is the safe reading (it costs one rate; a wrong "wrap" would turn reset 32-bit counters into a spike).
        elapsed = (ts - p_ts) * 100
        if elapsed > 0 and abs((uptime_ticks + UPTIME_WRAP - p_ticks) - elapsed) < max(1000, elapsed * 0.5):
            return False
        self.reset(device)
        return True

    def reset(self, device: str) -> None:
        for k in [k for k in self._prev if k[0] == device]:
            del self._prev[k]

    def rate(self, device: str, key: tuple, value: int, bits: int, ts: float,
             ceiling: float | None = None) -> float | None:
        """Per-second increase of a counter, or None when there is no trustworthy rate yet."""
        k = (device, key)
        prev = self._prev.get(k)
        self._prev[k] = _Prev(value, ts)
        if prev is None:
            return None
        dt = ts - prev.ts
        if dt <= 0:
            return None
        delta = value - prev.value
        if delta < 0:
            if bits == 32:  # a wrap; a restart was already caught by sysUpTime
                delta += 1 << 32
            else:
                return None  # counter reset / discontinuity: start again from here
        r = delta / dt
        if ceiling is not None and r > ceiling * 1.05:
            return None
        return r
