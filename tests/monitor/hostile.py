"""Fake SNMP agents written for the tests: they answer with what an attacker or a broken device sends.

`FakeAgent(handler)` binds 127.0.0.1 on a free UDP port and, in a thread, sends back whatever
`handler(request_bytes)` returns (a list of datagrams). Stopped by `stop()` / the context manager.
"""
from __future__ import annotations

import socket
import threading

from dcops.monitor.snmp import ber
from dcops.monitor.snmp.usm import parse_message

ENGINE = bytes.fromhex("80001f888062dc7f4c15465c5100000000")
SYS_UPTIME, SYS_NAME = "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"
UNKNOWN_ENGINE_IDS = "1.3.6.1.6.3.15.1.1.4.0"


class FakeAgent:
    def __init__(self, handler) -> None:
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self.requests += 1
            try:
                out = self.handler(data)
            except Exception:  # noqa: BLE001 - a fake agent that cannot parse simply stays silent
                continue
            for d in out or ():
                self.sock.sendto(d, addr)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# ---------------------------------------------------------------- message builders

def v3_message(msg_id: int, flags: int, engine: bytes, boots: int, etime: int, user: bytes, scoped: bytes,
               auth: bytes = b"", priv: bytes = b"") -> bytes:
    glob = ber.tlv(ber.T_SEQ, ber.enc_int(msg_id) + ber.enc_int(65507) + ber.tlv(ber.T_OCTETS, bytes((flags,)))
                   + ber.enc_int(3))
    sec = ber.tlv(ber.T_SEQ, ber.tlv(ber.T_OCTETS, engine) + ber.enc_int(boots) + ber.enc_int(etime) +
                  ber.tlv(ber.T_OCTETS, user) + ber.tlv(ber.T_OCTETS, auth) + ber.tlv(ber.T_OCTETS, priv))
    return ber.tlv(ber.T_SEQ, ber.enc_int(3) + glob + ber.tlv(ber.T_OCTETS, sec) + scoped)


def scoped_pdu(engine: bytes, pdu: bytes, context: bytes = b"") -> bytes:
    return ber.tlv(ber.T_SEQ, ber.tlv(ber.T_OCTETS, engine) + ber.tlv(ber.T_OCTETS, context) + pdu)


def forged_values(rid: int, ptype: int = ber.RESPONSE) -> bytes:
    return ber.encode_pdu(ptype, rid, [SYS_UPTIME, SYS_NAME], values=[(ber.T_TIMETICKS, 4242), b"FORGED"])


def discovery_report(req: bytes, engine: bytes = ENGINE, boots: int = 5, etime: int = 1000) -> bytes:
    m = parse_message(req)
    pdu = ber.encode_pdu(ber.REPORT, m.msg_id, [UNKNOWN_ENGINE_IDS], values=[(ber.T_COUNTER32, 1)])
    return v3_message(m.msg_id, 0, engine, boots, etime, b"", scoped_pdu(engine, pdu))


def plaintext_forger(flags: int = 0):
    """Discovery answered like a real agent; every authPriv request answered by a forged response at a
    lower security level (flags 0: noAuthNoPriv, 1: authNoPriv with a zero digest)."""
    def handler(req: bytes) -> list[bytes]:
        m = parse_message(req)
        if not m.flags & 0x01:
            return [discovery_report(req)]
        auth = b"\x00" * (m.auth_e - m.auth_s) if flags & 1 else b""
        return [v3_message(m.msg_id, flags, ENGINE, m.boots, m.time, m.user,
                           scoped_pdu(ENGINE, forged_values(m.msg_id)), auth=auth)]
    return handler


def authentic_responder(auth_pw: str, priv_pw: str, hash_name: str = "sha256", mac_len: int = 24,
                        engine: bytes = ENGINE, boots: int = 5, etime: int = 1000, answer=None):
    """An agent that knows the keys (AES-128) and answers authentically; `answer(msg_id, m)` returns
    (pdu, engine, boots, time, context) to tweak what it sends (default: a correct Response)."""
    import hmac as _hmac

    from cryptography.hazmat.decrepit.ciphers.modes import CFB
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    from dcops.monitor.snmp.usm import localize, priv_key

    def handler(req: bytes) -> list[bytes]:
        m = parse_message(req)
        if not m.flags & 0x01:
            return [discovery_report(req, engine, boots, etime)]
        pdu, eng, b, t, ctx = (answer or (lambda i, _m: (ber.encode_pdu(
            ber.RESPONSE, i, [SYS_UPTIME, SYS_NAME], values=[(ber.T_TIMETICKS, 100), b"REAL"]),
            engine, boots, etime, b"")))(m.msg_id, m)
        akey = localize(auth_pw, hash_name, eng)
        pkey = priv_key(priv_pw, hash_name, eng, "AES")
        salt = b"\x01" * 8
        enc = Cipher(algorithms.AES(pkey), CFB(b.to_bytes(4, "big") + t.to_bytes(4, "big") + salt)).encryptor()
        data = ber.tlv(ber.T_OCTETS, enc.update(scoped_pdu(eng, pdu, ctx)) + enc.finalize())
        msg = v3_message(m.msg_id, 0x03, eng, b, t, m.user, data, auth=b"\x00" * mac_len, priv=salt)
        pos = len(msg) - len(data) - 10 - mac_len
        mac = _hmac.digest(akey, msg, hash_name)[:mac_len]
        return [msg[:pos] + mac + msg[pos + mac_len:]]
    return handler


# ---------------------------------------------------------------- v2c agents that misbehave in tables

IF_DESCR = "1.3.6.1.2.1.2.2.1.2"


def v2c_agent(walk_row=None, scalars=None, community: bytes = b"public", delay: float = 0.0, garbage=None):
    """A v2c agent: GETs answered from `scalars` (sysUpTime/sysName by default, others noSuchObject);
    GETBULK/GETNEXT answered by `walk_row(oid) -> (next_oid, value)` for every requested column
    (None: endOfMibView); `garbage(request) -> bytes` replaces every answer when given."""
    import time as _time
    scalars = scalars if scalars is not None else {SYS_UPTIME: (ber.T_TIMETICKS, 100), SYS_NAME: b"hostile"}

    def handler(req: bytes) -> list[bytes]:
        if delay:
            _time.sleep(delay)
        if garbage is not None:
            return [garbage(req)]
        _v, _c, ptype, rid, _e, reps, vbs = ber.decode_message(req)
        oids, values = [], []
        if ptype == ber.GET:
            for oid, _val, _t in vbs:
                oids.append(oid)
                values.append(scalars.get(oid, (ber.T_NOSUCHOBJECT, b"")))
        else:
            cursors = [o for o, _v2, _t in vbs]
            for _ in range(max(1, reps if ptype == ber.GETBULK else 1)):
                for i, cur in enumerate(cursors):
                    nxt = walk_row(cur) if walk_row else None
                    if nxt is None:
                        oids.append(cur)
                        values.append((ber.T_ENDOFMIB, b""))
                    else:
                        oids.append(nxt[0])
                        values.append(nxt[1])
                        cursors[i] = nxt[0]
        pdu = ber.encode_pdu(ber.RESPONSE, rid, oids, values=values)
        return [ber.encode_message(1, community, pdu)]
    return handler


BASE = 1_000_000  # row indexes the misbehaving agents invent start here (column roots end in small arcs)


def _split(oid: str) -> tuple[str, int | None]:
    head, _, last = oid.rpartition(".")
    return (head, int(last)) if int(last) >= BASE else (oid, None)


def endless_rows(oid: str):
    """Every column goes on forever with increasing indexes (an agent bug seen in the field)."""
    col, idx = _split(oid)
    nxt = (idx or BASE) + 1
    return f"{col}.{nxt}", (ber.T_COUNTER32, nxt - BASE)


def backwards_rows(oid: str):
    """After the first row, the agent hands back an OID before the one asked for."""
    col, idx = _split(oid)
    return (f"{col}.{BASE + 5}", b"eth5") if idx is None else (f"{col}.{idx - 1}", b"eth-back")
