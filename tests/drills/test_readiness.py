"""DR readiness: coverage against a DR plan, backup freshness on a real media server, restore estimates."""
import json

import pytest

from dcops.drills import readiness
from dcops.drills.core import run_drill
from dcops.drills.registry import get

pytestmark = pytest.mark.lab


def _plan(inv, path, leave_out):
    need = readiness.required(inv)
    resources = [{"kind": "compute.Instance", "name": v, "type": "openstack:compute/instance:Instance"}
                 for vms in need.values() for v in vms if v != leave_out]
    path.write_text(json.dumps({"format": "dcops-plan/1", "stack": "dr", "systems": sorted(need),
                                "resources": resources}))
    return path


def _bench(path, mbps=(70.0, 74.0, 75.0, 69.0), size=1_205_862_400, dropped=True, engine="bacula"):
    """A result of bench/bench_restore.py (bench/_results.py's format): the first run is the warm-up."""
    path.write_text(json.dumps({"bench": "restore", "measured_at": "2026-11-30T18:58:00+00:00",
                                "machine": {"cpus": 2, "load_average": [9.8, 6.7, 3.7]}, "figures": {
                                    "engine": engine, "warmup_runs": 1, "runs": [
                                        {"bytes": size, "seconds": round(size / m / 1e6, 3), "mbps": m,
                                         "caches_dropped": dropped, "counted": i > 0} for i, m in enumerate(mbps)]}}))
    return path


def test_readiness_reports_coverage_freshness_and_estimates(inv, lab_prefix, report_dir, tmp_path):
    from dcops.drills.lab import DrillLab
    plan = _plan(inv, tmp_path / "dr.json", leave_out="portal-db-02")
    bench = _bench(tmp_path / "restore.json")
    drill = get("dr-readiness")
    with DrillLab(lab_prefix) as dl:
        readiness.build_lab(dl, inv, drill.targets(inv, {}), {})
        r, paths = run_drill(drill, inv, execute=True, lab=dl, report_dir=report_dir,
                             options={"dr_plan": str(plan), "throughput_mbps": "250", "records": str(tmp_path)})
        # the measured Bacula restore (≥ 1 GB, caches dropped, 3 runs) is the figure: the same inputs give the
        # same estimates and verdict on every run (the dd of a page-cached file flipped it run to run)
        again = [run_drill(drill, inv, execute=True, lab=dl, report_dir=report_dir,
                           options={"dr_plan": str(plan), "records": str(tmp_path), "restore_bench": str(bench)})[0]
                 for _ in range(3)]
    for x in again:
        t = x.details["throughput"]
        assert (t["mbps"], t["measured_in"]) == (74.0, "lab")
        assert t["source"] == ("Bacula restore of 1.21 GB, caches dropped, warm-up discarded, median of 3 "
                               "runs (2026-11-30T18:58:00+00:00) (runs spread 8 %)")
        est = [m for m in x.measurements if m.name == "estimated_restore"]
        assert est and all(m.met is None and m.measured_in == "lab" for m in est)  # a lab figure is never "met"
        # the store's dd read is kept as a diagnostic only (2 MB archives: not even measured)
        assert "< 1 GB" in x.details["store_read_diagnostic"]["kg-bak-01"]["why_not"]
    assert len({json.dumps([(m.name, m.target, m.value) for m in x.measurements]) for x in again}) == 1
    assert {(x.verdict, x.reason) for x in again} == {(again[0].verdict, again[0].reason)}
    assert r.verdict == "fail"
    msgs = " | ".join(f["message"] for f in r.findings)
    assert "portal: 1 VM(s) not in the DR plan: portal-db-02" in msgs
    assert "backup older than the RPO" in msgs  # the lab's third backup set is 36 h old
    cov = next(m for m in r.measurements if m.name == "dr_coverage")
    total = sum(len(v) for v in readiness.required(inv).values())
    assert cov.value == round(100 * (total - 1) / total, 1) and cov.met is False
    est = {m.target: m for m in r.measurements if m.name == "estimated_restore"}
    row = next(x for x in r.details["systems"] if x["system"] == "sso")
    assert est["sso"].value == pytest.approx(row["data_gb"] * 1e3 / 250, rel=1e-3)
    assert r.details["throughput"]["source"] == "declared (-o throughput_mbps)"
    assert est["sso"].measured_in == "model" and est["sso"].met is not None  # a declared figure is compared
    assert len(r.details["tape_backups_found"]) == 3
    portal = next(s for s in r.systems if s["system"] == "portal")
    assert portal["verified"] is False and portal["evidence"] == "dr-readiness"


@pytest.mark.parametrize("kw, why", [
    ({"size": 2_097_152}, "a restore of 2 MB < 1 GB: would measure overhead"),
    ({"dropped": False}, "page cache not dropped before every run: would measure memory"),
    ({"mbps": (70.0, 74.0, 75.0)}, "2 counted restore run(s) < 3"),
    ({"mbps": (70.0, 50.0, 75.0, 74.0)}, "a run 32 % from the median (> ±10 %): not stable"),
    ({"engine": "dd"}, "not a Bacula restore (engine 'dd')"),
])
def test_a_bacula_measurement_that_cannot_stand_for_a_restore_is_refused(tmp_path, kw, why):
    mbps, source, info = readiness.bacula_measured(_bench(tmp_path / "r.json", **kw))
    assert (mbps, source, info["why_not"]) == (None, "", why)


def test_without_a_bacula_measurement_the_throughput_is_unknown(tmp_path):
    mbps, _, info = readiness.bacula_measured(tmp_path / "absent.json")
    assert mbps is None and info["why_not"].startswith("no Bacula restore measurement (FileNotFoundError")


def test_the_shipped_bench_result_is_measured_by_the_method_and_used_only_if_stable():
    # bench/bench_restore.py writes its result stable or not: readiness takes the figure exactly when it is stable
    f = json.loads(readiness.RESTORE_BENCH.read_text(encoding="utf-8"))["figures"]
    assert f["engine"] == "bacula" and f["warmup_runs"] >= 1 and [r["counted"] for r in f["runs"]][:1] == [False]
    assert all(r["bytes"] >= 1e9 and r["caches_dropped"] is True and "first_byte_s" in r["phases"] for r in f["runs"])
    mbps, source, info = readiness.bacula_measured(readiness.RESTORE_BENCH)
    assert (mbps is not None) is f["stable"], info


def test_readiness_without_plan_reports_coverage_unknown(inv, report_dir, tmp_path):
    # no lab, no reachable media server: the playbook's failure is reported, coverage is unknown
    r, _ = run_drill(get("dr-readiness"), inv, execute=False, report_dir=report_dir,
                     options={"records": str(tmp_path), "timeout": 60},
                     overlay={h: {"ansible_host": "127.0.0.1", "ansible_port": 9} for h in ("kg-bak-01", "kg-bak-02")})
    assert r.verdict == "fail"
    assert any("DR coverage unknown" in f["message"] for f in r.findings)
