"""Fixtures shared by several test areas."""
import secrets

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
