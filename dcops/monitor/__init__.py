"""SNMP monitoring of the facility: profiles (data) -> poller -> rates -> alerts -> store -> /metrics + NOC page."""
from dcops.paths import MONITORS as MONITORS_DIR  # $DCOPS_MONITORS, stated once in dcops/paths.py
from dcops.paths import PROFILES as PROFILES_DIR  # noqa: F401
