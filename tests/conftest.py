"""Fixtures shared by several test areas."""
import json
import os
import re
import secrets
import subprocess
from pathlib import Path

import pytest

from dcops.lab import Lab, can_run


@pytest.fixture
def lab():
    """A throwaway namespace lab (prefix dcn + random), removed by PID and name whatever the outcome."""
    if not can_run():
        pytest.skip("needs root, network namespaces and OpenSSH server")
    lb = Lab(f"dcn{secrets.token_hex(2)}-")
    try:
        yield lb
    finally:
        lb.down()


#: Fixtures that build namespaces or start the demo: a test using one is in the `lab` tier.
LAB_FIXTURES = {"lab", "lab_prefix", "start_demo"}
#: Measured durations (`pytest --record-durations`): a test that took longer than SLOW_SECONDS is in the
#: lab tier too, so the quick loop stays quick as tests are added without anyone marking them by hand.
DURATIONS = Path(__file__).with_name("durations.json")
SLOW_SECONDS = 1.0


_TERMINAL_ENV = ("COLUMNS", "LINES")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """Controller side: the terminal size variables as the user's shell had them. xdist workers start with
    COLUMNS=80 LINES=24 in their environment, and the CLI honours COLUMNS (dcops.console), so tests of
    piped output would see 80-column tables that no user sees."""
    node.workerinput["dcops_terminal_env"] = {k: os.environ.get(k) for k in _TERMINAL_ENV}


def pytest_configure(config):
    seen = getattr(config, "workerinput", {}).get("dcops_terminal_env")
    for k, v in (seen or {}).items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def pytest_addoption(parser):
    parser.addoption("--record-durations", action="store_true",
                     help="write each test's setup+call time to tests/durations.json (merged with what is there)")


def _measured() -> dict[str, float]:
    try:
        return json.loads(DURATIONS.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


#: Test files that start Bacula daemons, and one of them counts the bacula-* processes on the machine: they
#: share one xdist group, so never two at once. A file is in it when its source mentions Bacula.
_BACULA_FILES: dict[str, bool] = {}


def _uses_bacula(item) -> bool:
    key = str(item.path)
    if key not in _BACULA_FILES:
        try:
            _BACULA_FILES[key] = "bacula" in item.path.read_text(encoding="utf-8").lower()
        except OSError:
            _BACULA_FILES[key] = False
    return _BACULA_FILES[key]


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject's addopts): one worker per core, at most 4. Two workers halve the suite's wall time
    on the 2-core CI machine, because most lab tests wait on daemons, timers and the network, not the CPU."""
    return max(1, min(os.cpu_count() or 1, 4))


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    """`pytest -m "not lab"` is the quick local loop: everything that builds namespaces, starts the demo, is
    marked slow (real engines, browsers) or was measured slower than SLOW_SECONDS is in the `lab` tier.
    Under xdist (`--dist loadgroup`) a test file runs on one worker, so its module-scoped labs and engines are
    built once; the Bacula files share one group."""
    measured = _measured()
    for item in items:
        slow = item.get_closest_marker("slow") or measured.get(item.nodeid, 0.0) > SLOW_SECONDS
        if slow or LAB_FIXTURES & set(getattr(item, "fixturenames", ())):
            if not item.get_closest_marker("lab"):
                item.add_marker(pytest.mark.lab)
        if not item.get_closest_marker("xdist_group"):
            module = item.nodeid.split("::")[0]
            item.add_marker(pytest.mark.xdist_group("bacula" if _uses_bacula(item) else module))


_TIMES: dict[str, float] = {}


def _plain_id(nodeid: str) -> str:
    """The test's id without the `@group` suffix xdist's loadgroup adds."""
    return re.sub(r"@[^\[\]/:@]+$", "", nodeid)


def pytest_runtest_logreport(report):
    if report.when in ("setup", "call"):
        key = _plain_id(report.nodeid)
        _TIMES[key] = _TIMES.get(key, 0.0) + report.duration


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def _write_durations(config) -> None:
    if config.getoption("--record-durations") and _TIMES and not _is_worker(config):
        merged = {**_measured(), **{k: round(v, 2) for k, v in _TIMES.items()}}
        tmp = DURATIONS.with_suffix(".tmp")
        tmp.write_text(json.dumps(dict(sorted(merged.items())), indent=0) + "\n", encoding="utf-8")
        tmp.replace(DURATIONS)


#: Namespaces created by this test process (dcops.lab.netns.create is the one place that creates them).
#: Only these are reaped: another pytest run on the same machine owns its own namespaces.
_CREATED: set[str] = set()


def _namespaces() -> set[str]:
    try:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def pytest_sessionstart(session):
    from dcops.lab import netns

    create = netns.create

    def recording_create(ns, **kw):
        _CREATED.add(ns)
        return create(ns, **kw)

    netns.create = recording_create


def pytest_sessionfinish(session, exitstatus):
    """Backstop for the per-test cleanups: a namespace this run created that outlived its test is removed
    here and named in the summary, so a run never leaves the machine dirtier than it found it."""
    _write_durations(session.config)
    leaked = sorted(_CREATED & _namespaces())
    if leaked:
        from dcops.lab import state
        from dcops.lab.builder import teardown
        for lab in state.labs():  # the lab's own teardown also stops its processes (an sshd left running)
            if set(state.read(lab)["namespaces"]) & set(leaked):
                try:
                    teardown(lab)
                except Exception:  # noqa: BLE001 - the backstop must not hide the session's result
                    pass
    for ns in sorted(_CREATED & _namespaces()):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    cfg = session.config
    cfg._dcops_netns_leaked = sorted({*getattr(cfg, "_dcops_netns_leaked", []), *leaked})
    if _is_worker(session.config):  # the controller prints the summary
        session.config.workeroutput["dcops_netns_leaked"] = leaked


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """Controller side under xdist: each worker's leaked namespaces, for the summary below."""
    leaked = getattr(node, "workeroutput", {}).get("dcops_netns_leaked", [])
    cfg = node.config
    cfg._dcops_netns_leaked = sorted({*getattr(cfg, "_dcops_netns_leaked", []), *leaked})


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    leaked = getattr(config, "_dcops_netns_leaked", [])
    if leaked:
        terminalreporter.write_sep("!", f"{len(leaked)} test namespaces outlived their tests (removed now)")
        terminalreporter.write_line(", ".join(leaked))
