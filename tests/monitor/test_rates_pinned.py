"""Counter rates and agent restarts, pinned at their edges (issue 20): the exact numbers the rules use.

sysUpTime is in centiseconds and wraps at 2^32; a sysUpTime going back is a restart unless the clock moved
forward and the ticks gone by across the wrap match it (within max(1000 ticks, half the elapsed time))."""
from __future__ import annotations

from dcops.monitor.rates import UPTIME_WRAP, RateTracker

T0 = 1_764_500_000.0  # a real epoch timestamp: the rule must use the difference of times, not their sum
KEY = ("ifHCInOctets", "1")


def _tracker_with_baseline(uptime: int, ts: float = T0) -> RateTracker:
    rt = RateTracker()
    assert rt.restarted("fw1", uptime, ts) is False  # first sample: nothing to compare with
    rt.rate("fw1", KEY, 1000, 64, ts)
    return rt


def _keeps_baseline(rt: RateTracker, ts: float) -> bool:
    return rt.rate("fw1", KEY, 1100, 64, ts) is not None


def test_wrap_constant_is_two_to_the_32():
    assert UPTIME_WRAP == 4_294_967_296


def test_no_uptime_reading_is_no_restart_and_keeps_baselines():
    rt = _tracker_with_baseline(5000)
    assert rt.restarted("fw1", None, T0 + 10) is False
    assert rt.rate("fw1", KEY, 1100, 64, T0 + 10) == 10.0


def test_same_uptime_twice_is_no_restart():
    rt = _tracker_with_baseline(5000)
    assert rt.restarted("fw1", 5000, T0 + 10) is False
    assert _keeps_baseline(rt, T0 + 10)


def test_uptime_going_back_far_from_the_wrap_is_a_restart_and_drops_baselines():
    rt = _tracker_with_baseline(10_000_000)
    assert rt.restarted("fw1", 300, T0 + 60) is True
    assert rt.rate("fw1", KEY, 5, 64, T0 + 60) is None  # no rate across a restart: a new baseline


def test_restart_resets_only_that_device():
    rt = _tracker_with_baseline(10_000_000)
    rt.rate("core1", KEY, 1000, 64, T0)
    assert rt.restarted("fw1", 300, T0 + 60) is True
    assert rt.rate("core1", KEY, 1600, 64, T0 + 60) == 10.0


def test_uptime_wrap_with_matching_elapsed_time_is_not_a_restart():
    # 1000 s = 100,000 ticks went by; the counter was 50,000 ticks from the wrap and shows 50,000 now
    rt = _tracker_with_baseline(UPTIME_WRAP - 50_000)
    assert rt.restarted("fw1", 50_000, T0 + 1000) is False
    assert _keeps_baseline(rt, T0 + 1000)


def test_near_the_wrap_but_ticks_do_not_match_the_clock_is_a_restart():
    """`and`, not `or`: being near the wrap alone is no wrap."""
    rt = _tracker_with_baseline(UPTIME_WRAP - 10)
    assert rt.restarted("fw1", 5, T0 + 3600) is True  # 15 ticks for an hour: the agent restarted


def test_wrap_tolerance_is_half_the_elapsed_time_for_long_gaps():
    # 1000 s = 100,000 ticks
    # 49,900 ticks fewer than the clock says: inside max(1000, 50,000) → a wrap
    rt = _tracker_with_baseline(UPTIME_WRAP - 50_000)
    assert rt.restarted("fw1", 100, T0 + 1000) is False
    # 20,000 off: still a wrap (a tolerance of min(1000, …) would call it a restart)
    rt = _tracker_with_baseline(UPTIME_WRAP - 50_000)
    assert rt.restarted("fw1", 50_000 + 20_000, T0 + 1000) is False
    # 100,000 off (twice the tolerance): a restart, even though the old value was near the wrap
    rt = _tracker_with_baseline(UPTIME_WRAP - 150_000)
    assert rt.restarted("fw1", 50_000, T0 + 1000) is True
    # exactly 50,000 off is outside (strictly less than the tolerance)
    rt = _tracker_with_baseline(UPTIME_WRAP - 50_000)
    assert rt.restarted("fw1", 100_000, T0 + 1000) is True


def test_wrap_tolerance_is_1000_ticks_for_short_gaps():
    # 10 s = 1000 ticks; tolerance max(1000, 500) = 1000 ticks, strictly less
    rt = _tracker_with_baseline(UPTIME_WRAP - 1000)
    assert rt.restarted("fw1", 999, T0 + 10) is False  # 999 off
    rt = _tracker_with_baseline(UPTIME_WRAP - 1000)
    assert rt.restarted("fw1", 1000, T0 + 10) is True  # 1000 off: a restart


def test_a_wrap_long_after_the_old_reading_is_still_a_wrap():
    # 90,000 ticks before the wrap, 1000 s later 10,000 after it: exactly the clock's 100,000 ticks
    rt = _tracker_with_baseline(UPTIME_WRAP - 90_000)
    assert rt.restarted("fw1", 10_000, T0 + 1000) is False


def test_uptime_going_back_with_a_clock_that_did_not_advance_is_a_restart_not_a_wrap():
    # 5 ticks before the wrap, then 3: would look like a wrap "within tolerance" if no time had to pass
    for dt in (0.0, -4.0):
        rt = _tracker_with_baseline(UPTIME_WRAP - 5)
        assert rt.restarted("fw1", 3, T0 + dt) is True, dt


def test_a_wrap_seen_ten_milliseconds_apart_is_still_a_wrap():
    rt = RateTracker()
    rt.restarted("fw1", UPTIME_WRAP - 5, 1000.0)
    assert rt.restarted("fw1", 0, 1000.01) is False  # less than one tick of wall clock, still forward


def test_same_timestamp_twice_gives_no_rate_and_no_division_by_zero():
    rt = RateTracker()
    assert rt.rate("fw1", KEY, 1000, 64, T0) is None
    assert rt.rate("fw1", KEY, 2000, 64, T0) is None
    assert rt.rate("fw1", KEY, 3000, 64, T0 + 10) == 100.0  # the second sample became the baseline


def test_timestamp_going_back_gives_no_rate():
    rt = RateTracker()
    rt.rate("fw1", KEY, 1000, 64, T0)
    assert rt.rate("fw1", KEY, 2000, 64, T0 - 1) is None


def test_sub_second_interval_gives_a_rate():
    rt = RateTracker()
    rt.rate("fw1", KEY, 1000, 64, T0)
    assert rt.rate("fw1", KEY, 1500, 64, T0 + 0.5) == 1000.0


def test_unchanged_32_bit_counter_is_rate_zero_not_a_wrap():
    rt = RateTracker()
    rt.rate("fw1", KEY, 4000, 32, T0)
    assert rt.rate("fw1", KEY, 4000, 32, T0 + 10) == 0.0


def test_32_bit_counter_wrap_adds_two_to_the_32():
    rt = RateTracker()
    rt.rate("fw1", KEY, (1 << 32) - 100, 32, T0)
    assert rt.rate("fw1", KEY, 900, 32, T0 + 10) == 100.0


def test_64_bit_counter_going_back_is_a_discontinuity():
    rt = RateTracker()
    rt.rate("fw1", KEY, 5000, 64, T0)
    assert rt.rate("fw1", KEY, 4999, 64, T0 + 10) is None
    assert rt.rate("fw1", KEY, 5999, 64, T0 + 20) == 100.0


def test_ceiling_allows_five_percent_over_and_drops_more():
    rt = RateTracker()
    rt.rate("fw1", KEY, 0, 64, T0)
    assert rt.rate("fw1", KEY, 1050, 64, T0 + 1, ceiling=1000.0) == 1050.0  # exactly 1.05 × the ceiling
    assert rt.rate("fw1", KEY, 2101, 64, T0 + 2, ceiling=1000.0) is None   # 1051 per second
    assert rt.rate("fw1", KEY, 3101, 64, T0 + 3, ceiling=1000.0) == 1000.0  # at the ceiling
