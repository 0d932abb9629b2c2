"""bench/mutation.py's bookkeeping (the mutation runs themselves are a bench, not a test): how survivors are
matched to the reviewed equivalent-mutant list, and that the list is well-formed."""
from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from dcops import PROJECT_ROOT


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_mutation", PROJECT_ROOT / "bench" / "mutation.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look themselves up there
    spec.loader.exec_module(mod)
    return mod


DIFF = """\
--- dcops/monitor/rates.py
+++ dcops/monitor/rates.py
@@ -1,3 +1,3 @@
     dt = ts - prev.ts
-    if dt <= 0:
+    if dt < 0:
         return None
"""


def test_function_names_from_mutant_names(bench):
    assert bench._function("dcops.monitor.rates.xǁRateTrackerǁrate__mutmut_12") == "RateTracker.rate"
    assert bench._function("dcops.model.checks.x__rules__mutmut_3") == "_rules"
    assert bench._function("dcops.net.lint.x_lint__mutmut_70") == "lint"


def test_a_survivor_matches_a_reviewed_entry_by_function_and_changed_line(bench):
    mutant = {"name": "dcops.monitor.rates.xǁRateTrackerǁrate__mutmut_12", "diff": DIFF}
    entry = {"function": "RateTracker.rate", "before": "if dt <= 0:", "after": "if dt < 0:", "reason": "r"}
    assert bench._changed_lines(DIFF) == ("if dt <= 0:", "if dt < 0:")
    assert bench.is_equivalent(mutant, [entry]) is entry
    assert bench.is_equivalent(mutant, [dict(entry, after="if dt < 1:")]) is None
    assert bench.is_equivalent(mutant, [dict(entry, function="RateTracker.restarted")]) is None


def test_an_entry_without_a_reason_is_refused(bench, tmp_path):
    p = tmp_path / "eq.yaml"
    p.write_text("rates:\n  - {function: f, before: a, after: b, reason: ' '}\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="an equivalent mutant needs a reason"):
        bench.load_equivalent(p)


def test_the_reviewed_list_names_only_known_modules_and_gives_every_reason(bench):
    reviewed = bench.load_equivalent()
    assert set(reviewed) <= set(bench.MODULES)
    for entries in reviewed.values():
        for e in entries:
            assert set(e) == {"function", "before", "after", "reason"} and e["before"] != e["after"]


def test_every_mapped_test_file_and_module_exists(bench):
    for name, m in bench.MODULES.items():
        assert all((PROJECT_ROOT / p).is_file() for p in m.paths), name
        assert all((PROJECT_ROOT / t).is_file() for t in m.tests), name


def test_a_complete_run_has_no_interval_and_a_sample_has_the_wilson_one(bench):
    assert bench.wilson(67, 67, 67) == (100.0, 100.0)
    assert bench.wilson(215, 219, 219) == (98.2, 98.2)
    # 274 of 286 sampled from 1,144: Wilson 95 % with the finite-population correction
    assert bench.wilson(274, 286, 1144) == (93.3, 97.4)
    lo, hi = bench.wilson(109, 109, 542)
    assert (lo, hi) == (97.3, 100.0) and lo > bench.wilson(109, 109, 10_000_000)[0]
    assert bench.wilson(0, 0, 10) == (0.0, 100.0)


def test_every_function_a_module_filters_on_is_one_its_files_define(bench):
    import ast
    for name, m in bench.MODULES.items():
        defined = set()
        for p in m.paths:
            tree = ast.parse((PROJECT_ROOT / p).read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.FunctionDef):
                    defined.add(node.name)
                elif isinstance(node, ast.ClassDef):
                    defined |= {f"{node.name}.{f.name}" for f in node.body if isinstance(f, ast.FunctionDef)}
        assert set(m.functions) <= defined, (name, set(m.functions) - defined)


def test_the_readme_table_says_which_figures_are_samples_and_their_interval():
    from dcops.docs.figures import _mutation_table

    class Src:
        def bench(self, name):
            assert name == "mutation"
            return {"lock": {"score": 100.0, "mutants": 10, "checked": 10, "generated": 10, "killed": 8,
                             "equivalent": 2, "survived": 0, "ci95": [100.0, 100.0], "functions": ["parse"],
                             "paths": ["dcops/net/drivers/locking.py"]},
                    "checks": {"score": 95.8, "mutants": 286, "checked": 286, "generated": 1144, "killed": 274,
                               "equivalent": 0, "survived": 12, "ci95": [93.3, 97.4], "paths": ["dcops/model/checks.py"]},
                    "usm": {"score": 97.3, "mutants": 110, "checked": 110, "generated": 1208, "killed": 104,
                            "equivalent": 3, "survived": 3, "ci95": [92.6, 99.0], "sampling": "random",
                            "paths": ["dcops/monitor/snmp/usm.py"]}}
    rows = _mutation_table(Src()).splitlines()
    assert rows[2] == ("| lock | `dcops/net/drivers/locking.py` (1 functions named in `bench/mutation.py`) | 10 / 10 "
                       "| 8 | 2 | 0 | 100.0 % |")
    # recorded before samples were random: an every-k-th sample has no valid interval
    assert rows[3] == ("| checks | `dcops/model/checks.py` | 286 / 1,144 | 274 | 0 | 12 | 95.8 % (every-k-th "
                       "sample, no valid interval: a stride can miss whole kinds of mutant) |")
    assert rows[4] == ("| usm | `dcops/monitor/snmp/usm.py` | 110 / 1,208 | 104 | 3 | 3 | "
                       "97.3 % (random sample; 95 % interval 92.6–99.0 %) |")


def _fake_mutmut(bench, monkeypatch, tmp_path, script: str):
    exe = tmp_path / "mutmut"
    exe.write_text("#!/bin/sh\n" + script + "\n", encoding="utf-8")
    exe.chmod(0o755)
    monkeypatch.setattr(bench, "MUTMUT", exe)


# The fake mutmut SIGHUPs itself with SIGHUP's default action restored first: a run started under nohup (or
# any parent ignoring SIGHUP) hands the ignored disposition down, and `kill -HUP $$` from sh would do nothing.
HUP_SELF = (f"exec {sys.executable} -c 'import os, signal; signal.signal(signal.SIGHUP, signal.SIG_DFL); "
            "os.kill(os.getpid(), signal.SIGHUP)'")


def test_a_mutmut_run_ended_by_a_signal_is_an_error_naming_it(bench, monkeypatch, tmp_path):
    """A mutant that signals the runner (the lock's kill(pid, 1) mutant SIGHUPed mutmut) stops the run: an
    error, never a score over the mutants that happened to run."""
    _fake_mutmut(bench, monkeypatch, tmp_path, "echo 'Running mutation testing'; " + HUP_SELF)
    with pytest.raises(bench.MutmutStopped, match=r"^mutmut stopped \(killed by SIGHUP\) before every mutant "
                                                  r"had a result:\nRunning mutation testing"):
        bench._mutmut(tmp_path, {}, ["run"], 10)


def test_a_mutmut_run_failing_or_past_the_timeout_is_an_error(bench, monkeypatch, tmp_path):
    _fake_mutmut(bench, monkeypatch, tmp_path, "echo KeyError: 1829 >&2; exit 1")
    with pytest.raises(bench.MutmutStopped, match=r"^mutmut stopped \(exit status 1\) .*\nKeyError: 1829"):
        bench._mutmut(tmp_path, {}, ["run"], 10)
    assert bench._mutmut(tmp_path, {}, ["run", "no-such-mutant"], 10, check=False) == "KeyError: 1829\n"
    _fake_mutmut(bench, monkeypatch, tmp_path, "sleep 30")
    with pytest.raises(bench.MutmutStopped, match=r"^mutmut stopped after 0.5 s \(--timeout\)"):
        bench._mutmut(tmp_path, {}, ["run"], 0.5)


def test_in_a_pid_namespace_mutmut_is_not_pid_1_and_its_tests_cannot_reach_outside(bench, monkeypatch, tmp_path):
    """pid 1 is the reaping init: mutmut runs as its child (a stray signal to it is seen, not ignored as
    pid 1 ignores it), and the only processes a mutant can signal are the run's own."""
    import shutil
    import subprocess
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", *([] if os.geteuid() == 0 else ["-r"]), "--pid", "--fork", "--mount-proc", "true"],
            capture_output=True).returncode != 0:
        pytest.skip("no pid namespaces here (unshare missing or refused)")
    _fake_mutmut(bench, monkeypatch, tmp_path,
                 "sleep 5 & echo pid=$$ procs=$(ls /proc | grep -c '^[0-9]') init=$(tr '\\0' '\\n' < /proc/1/cmdline "
                 "| head -1); " + HUP_SELF)
    with pytest.raises(bench.MutmutStopped, match=r"killed by SIGHUP") as e:
        bench._mutmut(tmp_path, {"PATH": os.environ["PATH"]}, ["run"], 20, pid_namespace=True)
    first = str(e.value).splitlines()[1]
    assert first.startswith("pid=2 procs=") and int(first.split()[1].split("=")[1]) < 10, first
    assert first.endswith(f"init={sys.executable}"), first


def test_a_sample_is_random_seeded_and_in_mutmut_order(bench):
    names = [f"m{i:03d}" for i in range(500)]
    a = bench.pick_sample(names, 100, seed="lint:500")
    assert len(a) == 100 and a == sorted(a) and a == bench.pick_sample(names, 100, seed="lint:500")
    assert a != names[::5] and a != bench.pick_sample(names, 100, seed="checks:500")
    assert {int(x[1:]) % 5 for x in a} == {0, 1, 2, 3, 4}      # no stride: every position of a line's run
    assert bench.pick_sample(names, 600, seed="x") == names
