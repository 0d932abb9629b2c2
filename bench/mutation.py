"""Mutation score of the modules that decide safety (issue 20), with mutmut 3.

    nice -n 10 .venv/bin/python bench/mutation.py                 # all modules
    nice -n 10 .venv/bin/python bench/mutation.py checks rates    # some
    .venv/bin/python bench/mutation.py --list                     # the modules and their tests

Per module: a copy of the tracked tree in a scratch folder, mutmut mutating only that module and running
only the tests that cover it (MODULES below, `-m "not lab"`); prints the score and every surviving mutant
as a diff. Survivors reviewed as equivalent (no observable behaviour changes) are listed with a reason in
tests/mutation_equivalent.yaml and count as killed: score = (killed + equivalent) / mutants.
Results go to bench/results/mutation.json for the README (`dcops docs refresh`).

Not part of the test run: a module takes minutes. Exit status 1 when a module is below TARGET.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._results import record  # noqa: E402

EQUIVALENT = ROOT / "tests" / "mutation_equivalent.yaml"
TARGET = 90.0


@dataclass(frozen=True)
class Module:
    paths: tuple[str, ...]  # the files mutated
    tests: tuple[str, ...]  # the tests that cover them (missing paths are skipped)
    deselect: tuple[str, ...] = ()  # slow tests that add nothing for this module (pytest --deselect)
    #: only the mutants of these functions ("Class.method" or "function"; empty: all of the files'): a file
    #: where one concern (the push lock) sits among others the module's tests do not aim at
    functions: tuple[str, ...] = ()
    #: run mutmut in a pid namespace of its own: the module signals processes by pid (the lock's liveness
    #: probe kill(pid, 0), the revert timer's killpg), so a mutant may signal a real process; in the
    #: namespace only mutmut and its tests' processes exist (see _PID_INIT)
    pid_namespace: bool = False


#: builds the whole DR plan (Pulumi) for one assertion the other DR tests make on a written plan
_PLAN = ("tests/compliance/test_rules.py::test_dr_plan_from_the_cloud_program",)

MODULES: dict[str, Module] = {
    # the corpus (test_broken_corpus.py: a copied inventory validated per case) and test_shipped_inventory.py
    # (CLI subprocesses) would cost about a minute per surviving mutant on the shared 2-core machine
    "checks": Module(("dcops/model/checks.py",), ("tests/model/test_checks_pinned.py",)),
    "lint": Module(("dcops/net/lint.py",), ("tests/net/test_lint.py", "tests/net/test_lint_pinned.py")),
    "alerts": Module(("dcops/monitor/alerts/engine.py", "dcops/monitor/alerts/rules.py"),
                     ("tests/monitor/test_alerts.py", "tests/monitor/test_alerts_pinned.py")),
    "rates": Module(("dcops/monitor/rates.py",),
                    ("tests/monitor/test_ber_rates.py", "tests/monitor/test_plausible.py",
                     "tests/monitor/test_rates_pinned.py")),
    "assess": Module(("dcops/compliance/assess.py",),
                     ("tests/compliance/test_rules.py", "tests/compliance/test_assess_pinned.py"), _PLAN),
    "evidence": Module(("dcops/compliance/evidence.py",),
                       ("tests/compliance/test_rules.py", "tests/compliance/test_assess_pinned.py",
                        "tests/compliance/test_incident_evidence.py", "tests/compliance/test_dr_failover_evidence.py",
                        "tests/compliance/test_evidence_pinned.py"),
                       _PLAN),
    # the TCVN 11930 catalogue: its evidence types (firewall running config), validation, per-level clauses
    "catalogue": Module(("dcops/compliance/catalogue.py",),
                        ("tests/compliance/test_tcvn_catalogue.py", "tests/compliance/test_evidence_pinned.py")),
    # the SNMP decoder (BER) and SNMPv3 USM; test_usm.py runs a real snmpd (not lab: no namespaces)
    "ber": Module(("dcops/monitor/snmp/ber.py",),
                  ("tests/monitor/test_ber_malformed.py", "tests/monitor/test_ber_rates.py",
                   "tests/monitor/test_fuzz.py", "tests/monitor/test_snmp_pinned.py")),
    "usm": Module(("dcops/monitor/snmp/usm.py",),
                  ("tests/monitor/test_usm.py", "tests/monitor/test_usm_fastpath.py", "tests/monitor/test_fuzz.py",
                   "tests/monitor/test_hostile_agents.py",
                   "tests/monitor/test_snmp_pinned.py")),
    # the push lock: the lock file's rules (locking.py) and the API drivers' lock (in-process emulators)
    "lock": Module(("dcops/net/drivers/locking.py", "dcops/net/drivers/api_base.py"),
                   ("tests/net/test_driver_vendor_api.py", "tests/net/test_lock_pinned.py"),
                   # twenty threads meet at a barrier with a 120 s timeout: a lock mutant makes it wait that
                   # long; test_lock_pinned states the same contention in-process
                   ("tests/net/test_driver_vendor_api.py::test_fortios_twenty_concurrent_pushes_one_wins",),
                   functions=("DeviceBusy.__init__", "owner", "parse", "holder_gone",
                              "ApiDriver._lock_path", "ApiDriver._mutex", "ApiDriver._lock_text",
                              "ApiDriver._holds_lock", "ApiDriver._take_lock", "ApiDriver._release_local",
                              "ApiDriver._release_lock", "_LocalLockAdmin.info", "_LocalLockAdmin.unlock",
                              "ApiDriver._take_pending", "_our_timer"),
                   pid_namespace=True),
}

#: mutmut's exit-code verdicts (mutmut.stats.status_by_exit_code) that count as "the tests noticed".
KILLED = {"killed", "timeout", "caught by type check", "segfault"}


def _tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return [p for p in out.splitlines() if p and not p.startswith(("bench/results/", "mutants/"))]


def _scratch_copy(dest: Path) -> None:
    for rel in _tracked_files():
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)


def _config(mod: Module, top: list[str]) -> str:
    tests = [t for t in mod.tests if (ROOT / t).exists()]
    deselect = [x for d in mod.deselect for x in ("--deselect", d)]
    q = lambda xs: "[" + ", ".join(json.dumps(x) for x in xs) + "]"  # noqa: E731
    return ("\n[tool.mutmut]\n"
            'source_paths = ["dcops"]\n'
            f"only_mutate = {q(list(mod.paths))}\n"
            f"pytest_add_cli_args_test_selection = {q(tests)}\n"
            # -n 0: the project's addopts run tests on xdist workers; mutmut needs them in its own process
            f"pytest_add_cli_args = {q(['-n', '0', '-m', 'not lab', '-p', 'no:cacheprovider', '-x', '-q', *deselect])}\n"
            f"also_copy = {q([t for t in top if t not in ('dcops', 'tests', 'pyproject.toml')])}\n"
            "use_git_change_detection = false\n"
            "track_dependencies = false\n")


_DUMP = r"""
import json, sys
from mutmut.__main__ import walk_source_files, SourceFileMutationData, get_diff_for_mutant
from mutmut.stats import status_by_exit_code
out = []
for path in walk_source_files():
    if not str(path).endswith(".py"):
        continue
    m = SourceFileMutationData(path=path)
    m.load()
    for name, code in m.exit_code_by_key.items():
        st = status_by_exit_code[code]
        diff = get_diff_for_mutant(name, path=path) if st not in ("killed", "not checked") else ""
        out.append({"name": name, "path": str(path), "status": st, "diff": diff})
json.dump(out, sys.stdout)
"""


def _changed_lines(diff: str) -> tuple[str, str]:
    minus = " / ".join(x[1:].strip() for x in diff.splitlines() if x.startswith("-") and not x.startswith("---"))
    plus = " / ".join(x[1:].strip() for x in diff.splitlines() if x.startswith("+") and not x.startswith("+++"))
    return minus, plus


def _function(name: str) -> str:
    # dcops.model.checks.x__rules__mutmut_12 -> _rules ; dcops.x.xǁClassǁmethod__mutmut_3 -> Class.method
    base = name.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[-1]
    if base.startswith("xǁ"):  # a method: xǁClassǁmethod
        return ".".join(base.split("ǁ")[1:])
    return base[2:] if base.startswith("x_") else base


def load_equivalent(path: Path = EQUIVALENT) -> dict[str, list[dict]]:
    """module -> reviewed equivalents: {function, before, after, reason}; a reason is required."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for module, entries in data.items():
        for e in entries or []:
            if not str(e.get("reason", "")).strip():
                raise SystemExit(f"{path}: {module} {e.get('function')}: an equivalent mutant needs a reason")
    return {k: v or [] for k, v in data.items()}


def is_equivalent(mutant: dict, reviewed: list[dict]) -> dict | None:
    before, after = _changed_lines(mutant["diff"])
    fn = _function(mutant["name"])
    return next((e for e in reviewed if e["function"] == fn and e["before"].strip() == before
                 and e["after"].strip() == after), None)


_NAMES = r"""
import json, sys
from mutmut.__main__ import walk_source_files, SourceFileMutationData
names = []
for path in walk_source_files():
    if str(path).endswith(".py"):
        m = SourceFileMutationData(path=path)
        m.load()
        names += list(m.exit_code_by_key)
json.dump(names, sys.stdout)
"""


#: pid 1 of the namespace: runs mutmut as its child and reaps every orphan. mutmut itself must not be pid 1:
#: pid 1 ignores signals it has no handler for (a mutant's stray SIGHUP would go unnoticed), and it would
#: inherit the tests' orphaned processes, which mutmut's os.wait() then takes for a worker (KeyError).
_PID_INIT = r"""
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:])
while True:
    pid, status = os.wait()
    if pid == p.pid:
        code = os.waitstatus_to_exitcode(status)
        sys.exit(128 - code if code < 0 else code)
"""


MUTMUT = Path(sys.executable).parent / "mutmut"


class MutmutStopped(SystemExit):
    """mutmut ended without a result for every mutant it was given (a signal, a crash, the timeout)."""


def _mutmut(work: Path, env: dict, args: list[str], timeout: float, *, pid_namespace: bool = False,
            check: bool = True) -> str:
    cmd = [str(MUTMUT), *args]
    if pid_namespace:
        unshare = shutil.which("unshare")
        if not unshare:
            raise SystemExit("this module runs in a pid namespace: `unshare` (util-linux) is not installed")
        cmd = [unshare, *([] if os.geteuid() == 0 else ["--map-root-user"]), "--pid", "--fork", "--kill-child",
               "--mount-proc", sys.executable, "-c", _PID_INIT, *cmd]
    # its own session, so a run past the timeout is ended with every worker it forked
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise MutmutStopped(f"mutmut stopped after {timeout:g} s (--timeout); the mutants not run have no "
                            f"result:\n{out[-3000:]}{err[-3000:]}") from None
    log = out[-3000:] + err[-3000:]
    if check and proc.returncode != 0:
        rc = proc.returncode
        sig = -rc if rc < 0 else rc - 128 if 128 < rc < 128 + 65 else None  # Popen's, or a shell's/our init's
        why = f"killed by {signal.Signals(sig).name}" if sig else f"exit status {rc}"
        raise MutmutStopped(f"mutmut stopped ({why}) before every mutant had a result:\n{log}")
    return log


def run_module(name: str, mod: Module, *, children: int, keep: bool, timeout: float,
               sample: int | None = None) -> dict:
    """`sample`: run a simple random sample of at most `sample` mutants (seeded by the module's name and
    mutant count: the same code gives the same sample); the score is then an estimate over the mutants run."""
    work = Path(tempfile.mkdtemp(prefix=f"dcops-mutation-{name}-"))
    t0 = time.monotonic()
    total_generated = None
    try:
        _scratch_copy(work)
        top = sorted({p.split("/", 1)[0] for p in _tracked_files() if (work / p.split("/", 1)[0]).exists()})
        with (work / "pyproject.toml").open("a", encoding="utf-8") as f:
            f.write(_config(mod, top))
        env = {**os.environ, "PYTHONPATH": "", "PYTHONDONTWRITEBYTECODE": "1"}
        run_args = ["run", "--max-children", str(children)]
        if sample or mod.functions:
            # generate the mutants and the test map without running any, then pick
            log = _mutmut(work, env, [*run_args, "no-such-mutant-xyz"], timeout, pid_namespace=mod.pid_namespace,
                          check=False)  # the unknown name ends it with an error once the mutants exist
            names = json.loads(subprocess.run([sys.executable, "-c", _NAMES], cwd=work, env=env,
                                              capture_output=True, text=True).stdout or "[]")
            names = [n for n in names if any(n.startswith(_module_name(p) + ".") for p in mod.paths)
                     and (not mod.functions or _function(n) in mod.functions)]
            total_generated = len(names)
            run_args += pick_sample(names, sample, seed=f"{name}:{len(names)}") if sample else names
        log = _mutmut(work, env, run_args, max(60.0, timeout - (time.monotonic() - t0)),
                      pid_namespace=mod.pid_namespace)
        dump = subprocess.run([sys.executable, "-c", _DUMP], cwd=work, env=env, capture_output=True, text=True)
        if dump.returncode != 0 or not dump.stdout.strip():
            raise SystemExit(f"{name}: mutmut produced no results:\n{log}\n{dump.stderr[-3000:]}")
        mutants = [m for m in json.loads(dump.stdout) if any(m["path"].endswith(p) for p in mod.paths)]
        if sample or mod.functions:
            chosen = set(run_args[3:])
            mutants = [m for m in mutants if m["name"] in chosen]
        unrun = [m["name"] for m in mutants if m["status"] == "not checked"]
        if unrun:  # mutmut said nothing wrong, yet some mutants have no result: no score from a partial run
            raise MutmutStopped(f"{name}: mutmut ended with {len(unrun)} of {len(mutants)} mutants not run "
                                f"(first: {unrun[0]}):\n{log}")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    reviewed = load_equivalent().get(name, [])
    counts: dict[str, int] = {}
    survivors, equivalent = [], []
    for m in mutants:
        st = m["status"]
        if st not in KILLED and (e := is_equivalent(m, reviewed)):
            equivalent.append({**m, "reason": e["reason"]})
            st = "equivalent"
        elif st not in KILLED:
            survivors.append(m)
        counts[st] = counts.get(st, 0) + 1
    checked = len(mutants) - counts.get("not checked", 0)
    caught = sum(v for k, v in counts.items() if k in KILLED) + len(equivalent)
    generated = total_generated or len(mutants)
    return {"module": name, "paths": list(mod.paths), "mutants": len(mutants), "checked": checked,
            "generated": generated, "counts": counts, "killed": caught - len(equivalent),
            "ci95": list(wilson(caught, checked, generated)),
            "functions": list(mod.functions),
            "score": round(100.0 * caught / checked, 1) if checked else 0.0,
            "survivors": [m for m in survivors if m["status"] != "not checked"],
            "equivalent": equivalent, "seconds": round(time.monotonic() - t0, 1),
            "workdir": str(work) if keep else None}


def pick_sample(names: list[str], n: int, *, seed: str) -> list[str]:
    """A simple random sample of `n` names, in their order. Not every k-th: mutmut numbers a line's mutants
    one after another, so a stride lands on the same kinds of mutation; the lint module's every-5th sample
    found no survivor (100 %, interval 97.3-100 %) where the complete run then found 40 (92.6 %)."""
    if n >= len(names):
        return list(names)
    keep = set(random.Random(seed).sample(range(len(names)), n))
    return [x for i, x in enumerate(names) if i in keep]


def wilson(caught: int, n: int, population: int, z: float = 1.96) -> tuple[float, float]:
    """95 % interval (percent) of the score of all `population` mutants from `caught` of `n` sampled: the
    Wilson score interval, narrowed by the finite-population correction (a sample of most mutants says
    more than one of few); the sample is a simple random one (pick_sample)."""
    if n == 0:
        return 0.0, 100.0
    if n >= population:
        s = round(100.0 * caught / n, 1)
        return s, s
    p = caught / n
    zz = z * z * (population - n) / (population - 1)
    centre = (p + zz / (2 * n)) / (1 + zz / n)
    half = (zz ** 0.5) * ((p * (1 - p) / n + zz / (4 * n * n)) ** 0.5) / (1 + zz / n)
    return round(100.0 * max(0.0, centre - half), 1), round(100.0 * min(1.0, centre + half), 1)


def _module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def _record(r: dict, children: int) -> None:
    if not r["checked"]:  # a run that tested nothing (a broken test setup) is no figure
        raise SystemExit(f"{r['module']}: no mutant was run; nothing recorded")
    path = ROOT / "bench" / "results" / "mutation.json"
    figures = json.loads(path.read_text(encoding="utf-8"))["figures"] if path.exists() else {}
    figures[r["module"]] = {"score": r["score"], "mutants": r["mutants"], "checked": r["checked"],
                            "generated": r["generated"], "killed": r["killed"], "ci95": r["ci95"],
                            "functions": r["functions"], "survived": len(r["survivors"]),
                            **({"sampling": "random"} if r["checked"] < r["generated"] else {}),
                            "equivalent": len(r["equivalent"]), "seconds": r["seconds"], "paths": r["paths"],
                            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            "load_average": [round(x, 2) for x in os.getloadavg()]}
    order = list(MODULES)
    record("mutation", dict(sorted(figures.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)),
           notes=f"mutmut 3, per module with only its tests (-m 'not lab'), {children} workers under nice; "
                 "score = (killed + reviewed equivalent) / mutants")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*", help=f"some of {', '.join(MODULES)} (default: all)")
    ap.add_argument("--list", action="store_true", help="print the modules and their tests, run nothing")
    ap.add_argument("--children", type=int, default=2, help="mutmut worker processes (the machine is shared)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per module before giving up")
    ap.add_argument("--sample", type=int, default=None, metavar="N",
                    help="run a random sample of at most N mutants per module (an estimate, for a bounded run)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folders (mutmut browse there)")
    ap.add_argument("--no-record", action="store_true", help="do not write bench/results/mutation.json")
    ap.add_argument("--json", action="store_true", help="results as JSON on stdout")
    a = ap.parse_args(argv)
    names = a.modules or list(MODULES)
    unknown = set(names) - set(MODULES)
    if unknown:
        ap.error(f"unknown module(s) {sorted(unknown)}; known: {', '.join(MODULES)}")
    if a.list:
        for n in names:
            m = MODULES[n]
            print(f"{n}: {', '.join(m.paths)} <- {', '.join(m.tests)}"
                  + (f" (without {', '.join(m.deselect)})" if m.deselect else "")
                  + (f" [only {', '.join(m.functions)}]" if m.functions else ""))
        return 0
    results, stopped = [], []
    for n in names:
        try:
            r = run_module(n, MODULES[n], children=a.children, keep=a.keep, timeout=a.timeout, sample=a.sample)
        except MutmutStopped as e:  # no score from a partial run; the other modules still run
            print(f"{n}: ERROR: {e}", file=sys.stderr, flush=True)
            stopped.append(n)
            continue
        results.append(r)
        if not a.json:
            c = r["counts"]
            ci = "" if r["checked"] >= r["generated"] else f" (95 % interval {r['ci95'][0]}–{r['ci95'][1]} %)"
            print(f"{n:9} {r['score']:5.1f} %{ci}  {r['checked']} of {r['generated']} mutants run, killed {r['killed']}, "
                  f"equivalent {len(r['equivalent'])}, survived {len(r['survivors'])} "
                  f"({', '.join(f'{k} {v}' for k, v in sorted(c.items()) if k not in ('killed', 'equivalent'))}) "
                  f"in {r['seconds']:.0f} s", flush=True)
            for s in r["survivors"]:
                print(f"  {s['status']}: {s['name']}\n" + "".join(f"    {ln}\n" for ln in s["diff"].splitlines()
                                                                  if ln.startswith(("+", "-"))
                                                                  and not ln.startswith(("+++", "---"))),
                      flush=True)
        if not a.no_record:  # after each module: a long run stopped half-way keeps what it measured
            _record(r, a.children)
    if a.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0 if not stopped and all(r["score"] >= TARGET for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
