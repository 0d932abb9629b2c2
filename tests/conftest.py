"""Fixtures shared by several test areas."""
import re
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


#: Namespace names the tests create (lab fixtures, drills, e2e demo, drills CLI): `<tag><4 hex>-<short>`.
TEST_NAMESPACE = re.compile(r"^(dcn|dcd|dce|kgt|kgu)[0-9a-f]{4}-")


def _namespaces() -> set[str]:
    try:
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def pytest_sessionstart(session):
    session.config._dcops_netns_before = _namespaces()


def pytest_sessionfinish(session, exitstatus):
    """Backstop for the per-test cleanups: a test namespace that outlived its test is removed here and
    named in the summary, so a run never leaves the machine dirtier than it found it."""
    before = getattr(session.config, "_dcops_netns_before", set())
    leaked = sorted(n for n in _namespaces() - before if TEST_NAMESPACE.match(n))
    for ns in leaked:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
    session.config._dcops_netns_leaked = leaked


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    leaked = getattr(config, "_dcops_netns_leaked", [])
    if leaked:
        terminalreporter.write_sep("!", f"{len(leaked)} test namespaces outlived their tests (removed now)")
        terminalreporter.write_line(", ".join(leaked))
