#!/usr/bin/env python3
"""A cheap SNMP agent for the many-device cycle of bench_snmp.py: a MIB recorded from a real snmpd,
answered from pre-encoded varbinds.

Why: in the 10,000-device cycle the agents share the 2 cores with the poller. net-snmp's snmpd
spends far more CPU per request than the poller (its MIB handlers, and for SNMPv3 its USM), so with
4 snmpd serving 10,000 devices the cycle's wall time measured mostly the agents. This responder
does what the poller needs from an agent and little else:

- the MIB is a walk of a real snmpd (system, interfaces, ifXTable) taken at the start of the bench,
  with sysUpTime live (TimeTicks since the responder started);
- GET, GETNEXT and GETBULK (RFC 3416 §4.2: non-repeaters, repetitions, endOfMibView,
  noSuchObject) over the sorted OIDs; the varbind list of an answer is cached by request, so a
  steady poll cycle replays encoded answers and only wraps them in a new request-id;
- v2c with a community, and SNMPv3 authPriv (USM, RFC 3414 / RFC 3826) for one user with
  SHA-256 / AES-128: discovery Report, HMAC checked on every request, request decrypted, answer
  encrypted under a fresh salt and authenticated; requests that fail a check are dropped.

It is not a general agent (one user, one protocol pair, no SET, no VACM); bench_snmp.py checks that
the poller reads the same varbinds from it as from the snmpd it recorded, before it is used.

    python bench/snmp_responder.py --mib MIB.json --port P [--v3-user U --v3-auth A --v3-priv X]
"""
from __future__ import annotations

import argparse
import bisect
import hmac
import json
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.decrepit.ciphers.modes import CFB  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms  # noqa: E402

from dcops.monitor.snmp import ber  # noqa: E402
from dcops.monitor.snmp.usm import _AesCfb, _Hmac, localize, parse_message, parse_scoped, priv_key  # noqa: E402

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
UNKNOWN_ENGINE_IDS = "1.3.6.1.6.3.15.1.1.4.0"
MIB_ROOTS = ("1.3.6.1.2.1.1", "1.3.6.1.2.1.2", "1.3.6.1.2.1.31.1.1")
_KEEP = object()  # placeholder of the live sysUpTime in a cached answer


# ---------------------------------------------------------------- the MIB

async def record_mib(host: str, port: int, community: str, roots=MIB_ROOTS) -> list[list]:
    """[[oid, tag, value hex]] of a real agent's subtrees, in MIB order (GETBULK walk, v2c)."""
    from dcops.monitor.snmp.v2c import V2cSession
    s = V2cSession(host, port, community, timeout=2, retries=1)
    out = []
    for root in roots:
        cur = root
        while cur:
            vbs = await s._request(ber.GETBULK, [cur], 0, 50)
            nxt = None
            for oid, val, tag in vbs:
                if val is ber.ABSENT or not oid.startswith(root + "."):
                    nxt = None
                    break
                out.append([oid, tag, ber.enc_value((tag, val)).hex()])
                nxt = oid
            cur = nxt
    return out


class Mib:
    def __init__(self, rows: list[list]) -> None:
        rows = sorted(rows, key=lambda r: tuple(map(int, r[0].split("."))))
        self.keys = [tuple(map(int, oid.split("."))) for oid, _t, _v in rows]
        self.oids = [oid for oid, _t, _v in rows]
        self.vbs = [ber.tlv(ber.T_SEQ, ber.enc_oid(oid) + bytes.fromhex(v)) for oid, _t, v in rows]
        self.index = {oid: i for i, oid in enumerate(self.oids)}
        self.started = time.monotonic()
        self.cache: dict[tuple, tuple] = {}

    def _vb(self, i: int):
        return _KEEP if self.oids[i] == SYS_UPTIME else self.vbs[i]

    def _next(self, oid: str) -> int | None:
        i = self.index.get(oid)
        i = i + 1 if i is not None else bisect.bisect_right(self.keys, tuple(map(int, oid.split("."))))
        return i if i < len(self.oids) else None

    def parts(self, ptype: int, non_rep: int, reps: int, oids: tuple[str, ...]) -> tuple:
        """The varbinds of the answer (RFC 3416 §4.2.1-4.2.3), as encoded parts."""
        out: list = []

        def exc(oid: str, tag: int) -> bytes:
            return ber.tlv(ber.T_SEQ, ber.enc_oid(oid) + bytes((tag, 0)))

        if ptype == ber.GET:
            for oid in oids:
                i = self.index.get(oid)
                out.append(exc(oid, ber.T_NOSUCHOBJECT) if i is None else self._vb(i))
        elif ptype == ber.GETNEXT:
            for oid in oids:
                i = self._next(oid)
                out.append(exc(oid, ber.T_ENDOFMIB) if i is None else self._vb(i))
        else:  # GETBULK
            n = min(max(non_rep, 0), len(oids))
            for oid in oids[:n]:
                i = self._next(oid)
                out.append(exc(oid, ber.T_ENDOFMIB) if i is None else self._vb(i))
            cursors = list(oids[n:])
            ended = [False] * len(cursors)
            for _ in range(min(max(reps, 0), 200)):
                if not cursors or all(ended):
                    break
                for k, cur in enumerate(cursors):
                    i = None if ended[k] else self._next(cur)
                    if i is None:  # end of the MIB: endOfMibView, in every repetition from here
                        out.append(exc(cur, ber.T_ENDOFMIB))
                        ended[k] = True
                    else:
                        out.append(self._vb(i))
                        cursors[k] = self.oids[i]
        return tuple(out)

    def varbind_list(self, ptype: int, non_rep: int, reps: int, buf: bytes, s: int, e: int) -> bytes:
        """The answer's VarBindList to the request's, which is buf[s:e] (cached by its bytes: a poll
        cycle asks the same questions of every device)."""
        raw = buf[s:e]
        parts = self.cache.get((ptype, non_rep, reps, raw))
        if parts is None:
            oids = tuple(o for o, _v, _t in ber.decode_varbinds(buf, s, e))
            parts = self.parts(ptype, non_rep, reps, oids)
            if len(self.cache) > 100_000:
                self.cache.clear()
            self.cache[(ptype, non_rep, reps, raw)] = parts
        if _KEEP in parts:
            up = ber.tlv(ber.T_SEQ, ber.enc_oid(SYS_UPTIME) +
                         ber.enc_int(int((time.monotonic() - self.started) * 100) & 0xFFFFFFFF, ber.T_TIMETICKS))
            parts = tuple(up if p is _KEEP else p for p in parts)
        return ber.tlv(ber.T_SEQ, b"".join(parts))


def response_pdu(rid: int, vbl: bytes) -> bytes:
    return ber.tlv(ber.RESPONSE, ber.enc_int(rid) + b"\x02\x01\x00\x02\x01\x00" + vbl)


def open_pdu(buf: bytes, i: int, limit: int) -> tuple[int, int, int, int, int, int]:
    """(type, request-id, non-repeaters/error-status, max-repetitions/error-index, varbind list start, end)."""
    ptype, s, e = ber._hdr(buf, i, limit)
    rid, b = ber._int_field(buf, s, e, "request-id")
    a, b = ber._int_field(buf, b, e, "non-repeaters")
    r, b = ber._int_field(buf, b, e, "max-repetitions")
    tag, vs, ve = ber._hdr(buf, b, e)
    if tag != ber.T_SEQ:
        raise ber.BerError("varbind list is not a SEQUENCE")
    return ptype, rid, a, r, vs, ve


# ---------------------------------------------------------------- the agent

class Agent:
    def __init__(self, mib: Mib, community: str, user: str | None, auth: str | None, priv: str | None) -> None:
        self.mib = mib
        self.community = community.encode()
        self.user = user.encode() if user else None
        self.engine = b"\x80\x00\x1f\x88\x80" + os.urandom(8)
        self.eng_tlv = ber.tlv(ber.T_OCTETS, self.engine)
        self.boots = 1
        self.salt = int.from_bytes(os.urandom(8), "big")
        if self.user:
            akey = localize(auth, "sha256", self.engine)
            pkey = priv_key(priv, "sha256", self.engine, "AES")
            self.mac = _Hmac(akey, "sha256", 24)
            self.aes = _AesCfb(pkey)
            self.algo = algorithms.AES(pkey)
        self.answered = self.dropped = 0

    def handle(self, req: bytes) -> bytes | None:
        try:
            _tag, s, e = ber._hdr(req, 0)
            if ber._int_field(req, s, e, "version")[0] == 3:
                return self._v3(req) if self.user else None
            return self._v2c(req)
        except (ber.BerError, ValueError, IndexError):
            return None

    def _v2c(self, req: bytes) -> bytes | None:
        _tag, s, e = ber._hdr(req, 0)
        version, b = ber._int_field(req, s, e, "version")
        tag, cs, ce = ber._hdr(req, b, e)
        if version != 1 or tag != ber.T_OCTETS or not hmac.compare_digest(req[cs:ce], self.community):
            return None
        ptype, rid, a, r, vs, ve = open_pdu(req, ce, e)
        if ptype not in (ber.GET, ber.GETNEXT, ber.GETBULK):
            return None
        vbl = self.mib.varbind_list(ptype, a, r, req, vs, ve)
        return ber.encode_message(1, self.community, response_pdu(rid, vbl))

    def _etime(self) -> int:
        return int(time.monotonic() - self.mib.started)

    def _v3(self, req: bytes) -> bytes | None:
        m = parse_message(req)
        if not m.flags & 0x01:  # discovery (RFC 3414 §4): an unauthenticated Report with our engine
            if m.encrypted:
                return None
            _ce, _cn, (_pt, rid, _e, _i, _v) = parse_scoped(m.data)
            pdu = ber.encode_pdu(ber.REPORT, rid, [UNKNOWN_ENGINE_IDS], values=[(ber.T_COUNTER32, 1)])
            scoped = ber.tlv(ber.T_SEQ, self.eng_tlv + ber.tlv(ber.T_OCTETS, b"") + pdu)
            return self._message(m.msg_id, 0x00, self._etime(), b"", b"", scoped)
        if m.flags & 0x03 != 0x03 or m.engine_id != self.engine or m.user != self.user or not m.encrypted:
            return None
        if m.auth_e - m.auth_s != 24:
            return None
        view = memoryview(req)
        if not hmac.compare_digest(req[m.auth_s:m.auth_e],
                                   self.mac.digest(view[:m.auth_s], b"\x00" * 24, view[m.auth_e:])):
            return None
        if len(m.priv) != 8:
            return None
        plain = self.aes.decrypt(m.boots.to_bytes(4, "big") + m.time.to_bytes(4, "big") + m.priv, m.data)
        tag, s, e = ber._hdr(plain, 0)
        tag1, a1, b1 = ber._hdr(plain, s, e)
        tag2, a2, b2 = ber._hdr(plain, b1, e)
        if tag != ber.T_SEQ or tag1 != ber.T_OCTETS or tag2 != ber.T_OCTETS or plain[a1:b1] != self.engine:
            return None
        ctx_name = plain[a2:b2]
        ptype, rid, a, r, vs, ve = open_pdu(plain, b2, e)
        if ptype not in (ber.GET, ber.GETNEXT, ber.GETBULK):
            return None
        vbl = self.mib.varbind_list(ptype, a, r, plain, vs, ve)
        scoped = ber.tlv(ber.T_SEQ, self.eng_tlv + ber.tlv(ber.T_OCTETS, ctx_name) + response_pdu(rid, vbl))
        etime = self._etime()
        self.salt = (self.salt + 1) & 0xFFFFFFFFFFFFFFFF
        salt = self.salt.to_bytes(8, "big")
        enc = Cipher(self.algo, CFB(self.boots.to_bytes(4, "big") + etime.to_bytes(4, "big") + salt)).encryptor()
        data = ber.tlv(ber.T_OCTETS, enc.update(scoped) + enc.finalize())
        msg = self._message(m.msg_id, 0x03, etime, b"\x00" * 24, salt, data)
        pos = len(msg) - len(data) - 10 - 24  # the auth parameters come right before the salt's TLV
        return msg[:pos] + self.mac.digest(msg) + msg[pos + 24:]

    def _message(self, msg_id: int, flags: int, etime: int, auth: bytes, priv: bytes, data: bytes) -> bytes:
        glob = ber.tlv(ber.T_SEQ, ber.enc_int(msg_id) + ber.enc_int(65507) + ber.tlv(ber.T_OCTETS, bytes((flags,)))
                       + ber.enc_int(3))
        user = self.user if flags else b""
        sec = ber.tlv(ber.T_SEQ, self.eng_tlv + ber.enc_int(self.boots) + ber.enc_int(etime) +
                      ber.tlv(ber.T_OCTETS, user) + ber.tlv(ber.T_OCTETS, auth) + ber.tlv(ber.T_OCTETS, priv))
        return ber.tlv(ber.T_SEQ, b"\x02\x01\x03" + glob + ber.tlv(ber.T_OCTETS, sec) + data)


def serve(sock: socket.socket, agent: Agent) -> None:
    recv, send, handle = sock.recvfrom, sock.sendto, agent.handle
    while True:
        data, addr = recv(65535)
        out = handle(data)
        if out is None:
            agent.dropped += 1
        else:
            send(out, addr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", required=True, help="JSON [[oid, tag, value hex], ...] (record_mib)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--community", default="public")
    ap.add_argument("--v3-user")
    ap.add_argument("--v3-auth")
    ap.add_argument("--v3-priv")
    a = ap.parse_args()
    agent = Agent(Mib(json.loads(Path(a.mib).read_text())), a.community, a.v3_user, a.v3_auth, a.v3_priv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    except OSError:
        pass
    sock.bind(("127.0.0.1", a.port))
    try:
        serve(sock, agent)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
