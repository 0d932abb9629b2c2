"""Leased-line failover drill for real: two lines, ECMP + health checker, far-end failure, probes."""
import pytest

from dcops.drills.core import run_drill
from dcops.drills.registry import get

pytestmark = pytest.mark.lab


def test_line_failover_keeps_service_and_measures_outage(inv, lab_prefix, report_dir):
    r, paths = run_drill(get("leased-line-failover"), inv, execute=True, options={"hold_s": 2, "pre_s": 1, "post_s": 2},
                         lab_prefix=lab_prefix, report_dir=report_dir)
    assert r.verdict == "pass", (r.reason, r.details.get("failover"))
    f = r.details["failover"]
    assert f["line"] == "isp1-vnpt"
    # the far end failed silently: some probes hashed onto it failed until the health checker reacted
    assert f["failed_probes"] > 0 and 0 < f["outage_s"] < 10
    assert f["during_lines"] == ["isp2-viettel"]
    assert f["after_lines"] == ["isp1-vnpt", "isp2-viettel"]
    checks = {s.name: s.status for s in r.steps if s.source == "dcops"}
    assert checks == {"service reachable before the failure": "pass",
                      "service reachable over the other line during the failure": "pass",
                      "service reachable after the restore": "pass", "both lines carry traffic again": "pass"}
    assert [m.name for m in r.measurements] == ["outage"]
