import pytest

from dcops.monitor.sim import SimDevice, start_agents

SITE = [SimDevice("ups-80kva", "ups-rfc1628"), SimDevice("lb-1", "if-mib", "2c"),
        SimDevice("crac-1", "liebert-cooling"), SimDevice("inrow-1", "apc-inrow"),
        SimDevice("env-1", "apc-netbotz"), SimDevice("ups-rack", "apc-ups", "2c")]


@pytest.fixture(scope="session")
def sim():
    """The simulated facility (one snmpsim process), stopped by PID at the end."""
    h = start_agents(SITE)
    try:
        yield h
    finally:
        h.stop()
