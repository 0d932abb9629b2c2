"""Errors of the SNMP stack, and the credentials of one device."""
from __future__ import annotations

from dataclasses import dataclass


class SnmpError(Exception):
    #: the error came from an answer that proved it was sent with our keys (an HMAC that verified)
    authentic = False


class SnmpTimeout(SnmpError):
    """No usable answer: the device is unreachable (or drops what we send)."""


class SnmpMalformed(SnmpError):
    """The agent answered, but with something that is not valid SNMP: a device state of its own."""


class SnmpRejected(SnmpError):
    """Answers came, and every one failed a security check (forged, wrong security level, ...)."""


class Discard(Exception):
    """An answer to throw away (and count) while waiting for a valid one: the reason is the text."""

    def __init__(self, reason: str, kind: str = "rejected") -> None:
        super().__init__(reason)
        self.kind = kind  # "malformed" | "rejected"


class PduError(SnmpError):
    authentic = True  # only read from a Response that passed every check

    def __init__(self, status: int, index: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.index = index


_ERRORS = {1: "tooBig", 2: "noSuchName", 3: "badValue", 4: "readOnly", 5: "genErr", 6: "noAccess",
           7: "wrongType", 8: "wrongLength", 9: "wrongEncoding", 10: "wrongValue", 11: "noCreation",
           12: "inconsistentValue", 13: "resourceUnavailable", 14: "commitFailed", 15: "undoFailed",
           16: "authorizationError", 17: "notWritable", 18: "inconsistentName"}


def pdu_error(err: int, eidx: int, oids: list[str]) -> PduError:
    where = f" at {oids[eidx - 1]}" if 0 < eidx <= len(oids) else ""
    return PduError(err, eidx, f"agent error {_ERRORS.get(err, err)}{where}")


@dataclass(frozen=True)
class Credentials:
    version: str = "3"  # "3" | "2c"
    community: str | None = None
    user: str | None = None
    auth_key: str | None = None
    priv_key: str | None = None
    auth_protocol: str = "SHA256"
    priv_protocol: str = "AES"
    context: str | None = None
