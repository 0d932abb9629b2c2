"""Open the right session for a device's credentials; every session has get / walk / set."""
from __future__ import annotations

import os

from .errors import Credentials
from .pysnmp_v3 import V3Session
from .usm import V3FastSession
from .v2c import V2cSession


def open_session(host: str, port: int, creds: Credentials, timeout: float = 2.0, retries: int = 1):
    """v2c and SNMPv3 authPriv (every auth and privacy protocol) use the direct codec."""
    if os.environ.get("DCOPS_SNMP_PYSNMP") == "1":  # the pysnmp engine for everything (comparison, debugging)
        return V3Session(host, port, creds, timeout, retries)
    if creds.version == "2c":
        return V2cSession(host, port, creds.community or "public", timeout, retries)
    return V3FastSession(host, port, creds, timeout, retries)
