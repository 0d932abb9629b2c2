"""Leased-line failover drill for real: two lines, ECMP + health checker, far-end failure, probes."""
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from dcops.drills.core import run_drill
from dcops.drills.registry import get

pytestmark = pytest.mark.lab


def test_line_failover_keeps_service_and_measures_outage(inv, lab_prefix, report_dir):
    # the checker waits 1 s before dropping the silent line: ~10 probes fall in that window and each hashes onto
    # the dead line with probability 1/2, so "no probe failed" would be a 1-in-1000 accident, not a race
    r, paths = run_drill(get("leased-line-failover"), inv, execute=True,
                         options={"hold_s": 2, "pre_s": 1, "post_s": 2, "lb_dead_after_ms": 1000},
                         lab_prefix=lab_prefix, report_dir=report_dir)
    assert r.verdict == "pass", (r.reason, r.details.get("failover"))
    f = r.details["failover"]
    assert f["line"] == "isp1-vnpt"
    # the far end failed silently: some probes hashed onto it failed until the health checker reacted
    assert f["failed_probes"] + f["slow_probes"] > 0 and 0 < f["outage_s"] < 10
    assert f["during_lines"] == ["isp2-viettel"]
    assert f["after_lines"] == ["isp1-vnpt", "isp2-viettel"]
    checks = {s.name: s.status for s in r.steps if s.source == "dcops"}
    assert checks == {"service reachable before the failure": "pass",
                      "service reachable over the other line during the failure": "pass",
                      "service reachable after the restore": "pass", "both lines carry traffic again": "pass"}
    assert [m.name for m in r.measurements] == ["outage"]
    (outage,) = r.measurements
    assert outage.met is None and outage.measured_in == "lab" and "slower than 250 ms" in outage.detail
    # the probe log is kept with the record, hashed
    (log,) = r.artefacts
    lines = [json.loads(x) for x in Path(log["path"]).read_text().splitlines()]
    assert len(lines) == f["probes"] and hashlib.sha256(Path(log["path"]).read_bytes()).hexdigest() == log["sha256"]
    assert r.end_state == [{"what": "leased line", "host": "kg-lb-01", "ok": True, "detail": "",
                            "state": "isp1-vnpt back in the default route (verified)"}]
    events = [e["event"] for e in r.timeline]
    assert "line isp1-vnpt restored" not in events and "both lines back in the default route (verified)" in events


def _probes(t0, spec):
    """A probe log: (offset s, ok, ms) every 100 ms."""
    return [{"t": t0 + off, "ok": ok, "ms": ms, "reply": "dcops-lab inet 80 100.64.1.1"} for off, ok, ms in spec]


def test_slow_probes_count_as_outage(inv):
    from dcops.drills.line_failover import analyse
    t0 = 1_800_000_000.0
    marks = {"line_failed": "2027-01-15T08:00:00Z", "line_restoring": "2027-01-15T08:00:10Z",
             "both_lines_back": "2027-01-15T08:00:12Z"}
    tf = dt.datetime(2027, 1, 15, 8, 0, 0, tzinfo=dt.timezone.utc).timestamp()
    spec = [(-1.0 + 0.1 * i, True, 5.0) for i in range(10)]
    # after the failure: three handshakes that only succeed after a SYN retransmission (~1 s), no failure
    spec += [(0.1, True, 1010.0), (0.2, True, 1003.0), (1.3, True, 1001.0)]
    spec += [(2.5 + 0.1 * i, True, 4.0) for i in range(60)]
    lines = [ln for ln in inv.leased_lines if ln.device == "kg-lb-01"]
    a = analyse(_probes(tf, spec), marks, lines, 30.0)
    assert a["failed_probes"] == 0 and a["slow_probes"] == 3
    assert a["outage_s"] == pytest.approx(1.3 + 1.001 - 0.1, abs=0.01)  # first slow start → last slow end
    # the same log with a 2 s threshold: no outage (what the old analysis reported for everything)
    assert analyse(_probes(tf, spec), marks, lines, 30.0, slow_ms=2000)["outage_s"] == 0.0


def test_a_line_that_did_not_come_back_is_reported_down_with_its_revert_deadline(inv):
    from dcops.drills import record as rec
    from dcops.drills.core import DrillContext
    from dcops.drills.line_failover import _line_state
    r = rec.DrillRecord("leased-line-failover", "t", "execute")
    ctx = DrillContext(inv, True, {}, r, "run-1")
    _line_state(ctx, "kg-lb-01", "isp1-vnpt", {"line_failed": "2027-01-15T08:00:00Z",
                                               "line_restored": "2027-01-15T08:00:10Z"}, 120)
    (s,) = r.end_state
    assert not s["ok"] and "STILL DOWN" in s["state"] and s["revert_deadline"] == "2027-01-15T08:02:00+00:00"
    assert "restore command sent" in s["state"]


def test_a_line_that_stays_down_is_never_reported_restored(inv, lab_prefix, report_dir):
    """While the line is failed, a real fault appears on it too (and the drill's own cut vanishes, so the
    restore command fails): the record must say the line is still down, keep the figures measured
    before, and never write "restored"."""
    seen = {}

    def hook(ctx):
        seen["dl"] = ctx.lab

    def progress(kind, data):
        if kind == "task" and data.get("task") == "Hold the failure while the probe measures the service" \
                and "fault" not in seen:
            lab = seen["dl"].lab
            lab.cut_link("lb", "wan1")  # the real fault: everything arriving on the line is lost
            lab.exec("lb", ["nft", "delete", "table", "netdev", "dcops_drill_cut"])
            seen["fault"] = True

    r, paths = run_drill(get("leased-line-failover"), inv, execute=True, lab_prefix=lab_prefix,
                         report_dir=report_dir, options={"hold_s": 2, "pre_s": 1, "post_s": 1, "revert_after_s": 20,
                                  "back_wait_s": 10},
                         lab_hook=hook, progress=progress)
    assert seen.get("fault") and r.verdict == "fail"
    (state,) = r.end_state
    assert not state["ok"] and "isp1-vnpt STILL DOWN" in state["state"] and state["revert_deadline"]
    events = " | ".join(e["event"] for e in r.timeline)
    assert "restored" not in events.replace("restore command", "") and "(verified)" not in events
    # the outage measured before the fault is kept, with its probe log
    assert [m.name for m in r.measurements] == ["outage"] and r.artefacts
    assert "(verified)" not in paths["md"].read_text().split("## End state")[1].split("##")[0]
    assert any(s.name == "Both lines are back in the default route" and s.status == "failed" for s in r.steps)
