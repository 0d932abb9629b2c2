"""Open the right session for a device's credentials; every session has get / walk / set."""
from __future__ import annotations

import os

from . import usm
from .errors import Credentials
from .pysnmp_v3 import V3Session
from .v2c import V2cSession


def open_session(host: str, port: int, creds: Credentials, timeout: float = 2.0, retries: int = 1):
    """v2c and v3 authPriv with AES-128 use the direct codec; other v3 privacy protocols use pysnmp."""
    if os.environ.get("DCOPS_SNMP_PYSNMP") == "1":  # the pysnmp engine for everything (comparison, debugging)
        return V3Session(host, port, creds, timeout, retries)
    if creds.version == "2c":
        return V2cSession(host, port, creds.community or "public", timeout, retries)
    if usm.supports(creds.auth_protocol, creds.priv_protocol):
        return usm.V3FastSession(host, port, creds, timeout, retries)
    return V3Session(host, port, creds, timeout, retries)
