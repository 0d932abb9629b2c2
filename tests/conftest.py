"""Fixtures shared by several test areas."""
import secrets
import subprocess

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


def pytest_collection_modifyitems(config, items):
    """`pytest -m "not lab"` is the quick local loop: everything that builds namespaces, starts the demo or
    is marked slow (real engines, browsers) is in the `lab` tier, whether or not its module says so."""
    for item in items:
        if item.get_closest_marker("slow") or LAB_FIXTURES & set(getattr(item, "fixturenames", ())):
            if not item.get_closest_marker("lab"):
                item.add_marker(pytest.mark.lab)


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
    leaked = sorted(_CREATED & _namespaces())
    for ns in leaked:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    session.config._dcops_netns_leaked = leaked


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    leaked = getattr(config, "_dcops_netns_leaked", [])
    if leaked:
        terminalreporter.write_sep("!", f"{len(leaked)} test namespaces outlived their tests (removed now)")
        terminalreporter.write_line(", ".join(leaked))
