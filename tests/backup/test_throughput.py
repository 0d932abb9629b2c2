"""The restore-throughput method (dcops.backup.throughput, bench/bench_restore.py) and the figure dr-readiness
accepts from it: a warm-up restore not counted, a fresh folder per run, the clock from the first restored byte to
fsync'ed data, and a figure refused unless every counted run is within ±10 % of the median (issue 16)."""
import contextlib
import json
import os
import threading
import time

import pytest

from dcops.backup import throughput
from dcops.backup.restore import catalogue_digest
from dcops.drills import readiness

DATA = b"x" * 3_000_000
PATH = "/srv/data/part-000.dmp"


class FakeLab:
    """A director that queues a restore, writes the file after `delays[i]` seconds (the job's start-up) and then
    marks the job terminated in its 'catalogue': the timing the method has to read, without Bacula."""

    def __init__(self, delays):
        self.delays, self.jobs, self.staging = list(delays), {}, []

    def bconsole(self, commands):
        if commands == "messages":
            return ("  Elapsed time:           1 sec\n  Rate:                   3000.0 KB/s\n"
                    "  Termination:            Restore OK\n")
        where = commands.split("where=")[1].split()[0]
        job = len(self.jobs) + 1
        self.jobs[job] = "R"
        self.staging.append(where)
        delay = self.delays.pop(0)

        def work():
            time.sleep(delay)
            target = f"{where}{PATH}"
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(DATA)
            time.sleep(0.05)
            self.jobs[job] = "T"
        threading.Thread(target=work, daemon=True).start()
        return f"Job queued. JobId={job}\n"

    @contextlib.contextmanager
    def catalogue(self):
        jobs = self.jobs

        class Con:
            def execute(self, sql, args):
                return type("C", (), {"fetchone": lambda _: {"JobStatus": jobs[args[0]], "JobBytes": len(DATA)}})()
        yield Con()


def test_the_warm_up_restore_is_run_first_and_not_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(throughput, "drop_caches", lambda: True)
    monkeypatch.setattr(throughput, "expected_files", lambda con, client: {PATH: catalogue_digest(DATA)})
    lab = FakeLab([0.6, 0.1, 0.1, 0.1])  # a slow first restore: the warm-up
    m = throughput.measure(lab, "c-fd", tmp_path / "r", runs=3)
    assert [r["counted"] for r in m["runs"]] == [False, True, True, True]
    assert m["warmup_runs"] == 1 and all(r["files_verified"] == 1 for r in m["runs"])
    # every run restored into its own fresh folder, removed afterwards
    assert lab.staging == [str(tmp_path / "r" / f"run-{i}") for i in range(4)]
    assert not any((tmp_path / "r" / f"run-{i}").exists() for i in range(4))
    # the median is of the counted runs only
    counted = sorted(r["mbps"] for r in m["runs"][1:])
    assert m["median_mbps"] == counted[1]
    # the time before the first byte (job start-up) is kept, and is not in the rate
    warm = m["runs"][0]
    assert warm["phases"]["first_byte_s"] >= 0.6 and warm["data_seconds"] < warm["seconds"] - 0.5
    assert warm["phases"]["elapsed"] == "1 sec" and warm["phases"]["termination"] == "Restore OK"


def test_a_restore_into_an_existing_folder_is_refused(tmp_path):
    (tmp_path / "run-0").mkdir()
    with pytest.raises(FileExistsError):
        throughput.timed_restore(FakeLab([0.0]), "c-fd", tmp_path / "run-0")


@pytest.mark.parametrize("rates, stable, dev", [
    ([100.0, 105.0, 95.0], True, 0.05),
    ([100.0, 110.0, 90.0], True, 0.1),
    ([74.0, 75.0, 66.0], False, 0.108),   # within 25 %, not within ±10 %
    ([137.0, 156.0, 181.0], False, 0.16),  # the idle machine's three runs
])
def test_stability_is_every_counted_run_within_ten_percent_of_the_median(rates, stable, dev):
    s = throughput.stability(rates)
    assert (s["stable"], s["max_deviation"], s["stable_band"]) == (stable, dev, 0.1)


def _result(path, mbps=(74.0, 75.0, 70.0), warm=(60.0,), size=1_205_862_400, steal=None):
    runs = [{"bytes": size, "seconds": round(size / m / 1e6, 3), "mbps": m, "caches_dropped": True,
             "counted": i >= len(warm)} for i, m in enumerate([*warm, *mbps])]
    for r, st in zip(runs[len(warm):], steal or []):
        r["phases"] = {"steal_s": st}
    path.write_text(json.dumps({"bench": "restore", "measured_at": "2026-12-01T00:40:00+00:00",
                                "machine": {"load_average": [0.5, 0.5, 0.5]},
                                "figures": {"engine": "bacula", "warmup_runs": len(warm), "runs": runs}}))
    return path


def test_readiness_uses_the_counted_runs_only(tmp_path):
    # the slow warm-up (60) would make the runs disagree by 20 %: it is not part of the figure
    mbps, source, info = readiness.bacula_measured(_result(tmp_path / "r.json"))
    assert (mbps, info["runs_mbps"], info["warmup_mbps"]) == (74.0, [74.0, 75.0, 70.0], [60.0])
    assert source == "Bacula restore of 1.21 GB, caches dropped, warm-up discarded, median of 3 runs " \
                     "(2026-12-01T00:40:00+00:00)"


@pytest.mark.parametrize("kw, why", [
    ({"mbps": (74.0, 75.0, 66.0)}, "a run 11 % from the median (> ±10 %): not stable"),
    ({"mbps": (137.0, 156.0, 181.0), "warm": (120.0,)}, "a run 16 % from the median (> ±10 %): not stable"),
    ({"warm": ()}, "no warm-up restore discarded: the first run would measure the daemons' start"),
    ({"mbps": (74.0, 75.0), "warm": (60.0,)}, "2 counted restore run(s) < 3"),
    ({"mbps": (238.0, 190.0, 173.0), "steal": (0.18, 0.39, 0.59)},
     "a run 25 % from the median (> ±10 %): not stable (the hypervisor's steal time 0.18–0.59 s per run)"),
])
def test_readiness_refuses_a_figure_that_is_not_stable_or_counts_the_warm_up(tmp_path, kw, why):
    mbps, source, info = readiness.bacula_measured(_result(tmp_path / "r.json", **kw))
    assert (mbps, source, info["why_not"]) == (None, "", why)
