"""SNMP monitoring of the facility: profiles (data) -> poller -> rates -> alerts -> store -> /metrics + NOC page."""
from dcops import PROJECT_ROOT

MONITORS_DIR = PROJECT_ROOT / "monitors"
PROFILES_DIR = MONITORS_DIR / "profiles"
