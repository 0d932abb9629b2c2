"""Minimal BER codec for SNMP v1/v2c messages (GET, GETNEXT, GETBULK, SET, RESPONSE).

Why not pyasn1: its generic, schema-driven codec costs tens of microseconds per varbind and
dominates a poller's CPU (the 0.3x of a naive pysnmp poller). SNMP uses a handful of tags,
so a direct codec is small, exact and ~20x faster. Decoded values are plain Python:
int, bytes, str (OIDs, dotted), or ABSENT for noSuchObject/noSuchInstance/endOfMibView.
"""
from __future__ import annotations



class _Absent:
    """noSuchObject / noSuchInstance / endOfMibView: the value does not exist (never zero)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()

GET, GETNEXT, RESPONSE, SET, GETBULK, INFORM, TRAPV2, REPORT = 0xA0, 0xA1, 0xA2, 0xA3, 0xA5, 0xA6, 0xA7, 0xA8

T_INT, T_OCTETS, T_NULL, T_OID, T_SEQ = 0x02, 0x04, 0x05, 0x06, 0x30
T_IPADDR, T_COUNTER32, T_GAUGE32, T_TIMETICKS, T_OPAQUE, T_COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
T_NOSUCHOBJECT, T_NOSUCHINSTANCE, T_ENDOFMIB = 0x80, 0x81, 0x82

APP_INT_TYPES = {T_COUNTER32, T_GAUGE32, T_TIMETICKS, T_COUNTER64}


class BerError(ValueError):
    pass


# ---------------------------------------------------------------- encoding

def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(b),)) + b


def tlv(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + _len(len(payload)) + payload


def enc_int(v: int, tag: int = T_INT) -> bytes:
    if tag == T_INT:
        n = max(1, (v + (v < 0)).bit_length() // 8 + 1)
        return tlv(tag, v.to_bytes(n, "big", signed=True))
    # unsigned application types: add a leading zero byte when the top bit is set
    n = max(1, (v.bit_length() + 8) // 8)
    return tlv(tag, v.to_bytes(n, "big"))


_OID_CACHE: dict[str, bytes] = {}


def enc_oid(oid: str) -> bytes:
    cached = _OID_CACHE.get(oid)
    if cached is not None:
        return cached
    parts = [int(x) for x in oid.split(".")]
    if len(parts) < 2:
        raise BerError(f"bad OID {oid!r}")
    out = bytearray((parts[0] * 40 + parts[1],))
    for p in parts[2:]:
        if p < 0x80:
            out.append(p)
        else:
            stack = []
            while p:
                stack.append(p & 0x7F)
                p >>= 7
            for i, b in enumerate(reversed(stack)):
                out.append(b | (0x80 if i < len(stack) - 1 else 0))
    res = tlv(T_OID, bytes(out))
    if len(_OID_CACHE) < 200_000:
        _OID_CACHE[oid] = res
    return res


def enc_value(v) -> bytes:
    """Encode a SET value given as (tag, python value) or a plain int/bytes/str."""
    if isinstance(v, tuple):
        tag, val = v
    elif isinstance(v, bool):
        tag, val = T_INT, int(v)
    elif isinstance(v, int):
        tag, val = T_INT, v
    elif isinstance(v, bytes | bytearray):
        tag, val = T_OCTETS, bytes(v)
    elif isinstance(v, str):
        tag, val = T_OCTETS, v.encode()
    elif v is None:
        return b"\x05\x00"
    else:
        raise BerError(f"cannot encode {v!r}")
    if tag == T_INT or tag in APP_INT_TYPES:
        return enc_int(int(val), tag)
    if tag == T_OID:
        return enc_oid(val)
    if tag == T_IPADDR:
        return tlv(tag, bytes(int(x) for x in str(val).split(".")))
    return tlv(tag, val if isinstance(val, bytes) else str(val).encode())


_NULL_VB_CACHE: dict[str, bytes] = {}


def _null_varbind(oid: str) -> bytes:
    vb = _NULL_VB_CACHE.get(oid)
    if vb is None:
        vb = tlv(T_SEQ, enc_oid(oid) + b"\x05\x00")
        if len(_NULL_VB_CACHE) < 200_000:
            _NULL_VB_CACHE[oid] = vb
    return vb


def encode_pdu(pdu_type: int, request_id: int, oids, a: int = 0, b: int = 0, values=None) -> bytes:
    if values is None:
        vbs = b"".join(_null_varbind(o) for o in oids)
    else:
        vbs = b"".join(tlv(T_SEQ, enc_oid(o) + enc_value(v)) for o, v in zip(oids, values))
    return tlv(pdu_type, enc_int(request_id) + enc_int(a) + enc_int(b) + tlv(T_SEQ, vbs))


def encode_message(version: int, community: bytes, pdu: bytes) -> bytes:
    """version: 0 = v1, 1 = v2c."""
    return tlv(T_SEQ, enc_int(version) + tlv(T_OCTETS, community) + pdu)


# ---------------------------------------------------------------- decoding

def _hdr(buf: bytes, i: int) -> tuple[int, int, int]:
    """(tag, start of payload, end of payload) of the TLV at i."""
    tag = buf[i]
    ln = buf[i + 1]
    i += 2
    if ln & 0x80:
        k = ln & 0x7F
        ln = int.from_bytes(buf[i:i + k], "big")
        i += k
    end = i + ln
    if end > len(buf):
        raise BerError("truncated message")
    return tag, i, end


_OID_DEC_CACHE: dict[bytes, str] = {}


def dec_oid(buf: bytes, s: int, e: int) -> str:
    """Dotted OID; the same OIDs come back every cycle, so decoded strings are cached by encoding."""
    raw = buf[s:e]
    hit = _OID_DEC_CACHE.get(raw)
    if hit is not None:
        return hit
    out = _dec_oid(buf, s, e)
    if len(_OID_DEC_CACHE) < 500_000:
        _OID_DEC_CACHE[raw] = out
    return out


def _dec_oid(buf: bytes, s: int, e: int) -> str:
    first = buf[s]
    parts = [str(first // 40) if first < 80 else "2", str(first % 40) if first < 80 else str(first - 80)]
    v = 0
    for i in range(s + 1, e):
        c = buf[i]
        if c < 0x80 and v == 0:
            parts.append(str(c))
        else:
            v = (v << 7) | (c & 0x7F)
            if not c & 0x80:
                parts.append(str(v))
                v = 0
    return ".".join(parts)


def dec_value(buf: bytes, tag: int, s: int, e: int):
    if tag == T_INT:
        return int.from_bytes(buf[s:e], "big", signed=True)
    if tag in APP_INT_TYPES:
        return int.from_bytes(buf[s:e], "big")
    if tag == T_OCTETS or tag == T_OPAQUE:
        return buf[s:e]
    if tag == T_OID:
        return dec_oid(buf, s, e)
    if tag == T_IPADDR:
        return ".".join(str(x) for x in buf[s:e])
    if tag == T_NULL:
        return None
    if tag in (T_NOSUCHOBJECT, T_NOSUCHINSTANCE, T_ENDOFMIB):
        return ABSENT
    return buf[s:e]


def decode_varbinds(buf: bytes, s: int, e: int) -> list[tuple[str, object, int]]:
    """[(oid, value, tag)] of a VarBindList payload (the hot loop: short forms inlined)."""
    out = []
    i = s
    n = len(buf)
    while i < e:
        ln = buf[i + 1]
        if ln & 0x80:
            _, vs, ve = _hdr(buf, i)
        else:
            vs, ve = i + 2, i + 2 + ln
        ln = buf[vs + 1]  # OID: always short form in practice
        if ln & 0x80:
            _, os_, oe = _hdr(buf, vs)
        else:
            os_, oe = vs + 2, vs + 2 + ln
        vtag, xs, xe = _hdr(buf, oe)
        if ve > n or oe > n:
            raise BerError("truncated message")
        out.append((dec_oid(buf, os_, oe), dec_value(buf, vtag, xs, xe), vtag))
        i = ve
    return out


def decode_pdu(buf: bytes, i: int) -> tuple[int, int, int, int, list]:
    """(pdu_type, request_id, error_status, error_index, varbinds) of the PDU at i."""
    ptype, s, e = _hdr(buf, i)
    _, a, b = _hdr(buf, s)
    reqid = int.from_bytes(buf[a:b], "big", signed=True)
    _, a, b2 = _hdr(buf, b)
    err = int.from_bytes(buf[a:b2], "big", signed=True)
    _, a, b3 = _hdr(buf, b2)
    eidx = int.from_bytes(buf[a:b3], "big", signed=True)
    _, vs, ve = _hdr(buf, b3)
    return ptype, reqid, err, eidx, decode_varbinds(buf, vs, ve)


def decode_message(buf: bytes) -> tuple[int, bytes, int, int, int, int, list]:
    """(version, community, pdu_type, request_id, error_status, error_index, varbinds) of v1/v2c."""
    try:
        tag, s, e = _hdr(buf, 0)
        if tag != T_SEQ:
            raise BerError("not an SNMP message")
        _, a, b = _hdr(buf, s)
        version = int.from_bytes(buf[a:b], "big")
        _, a, b2 = _hdr(buf, b)
        community = buf[a:b2]
        return (version, community, *decode_pdu(buf, b2))
    except IndexError as exc:
        raise BerError("truncated message") from exc


def peek_request_id(buf: bytes) -> int | None:
    """The request id of a v1/v2c message without decoding the varbinds (dispatch fast path)."""
    try:
        _, s, _ = _hdr(buf, 0)
        _, a, b = _hdr(buf, s)
        if int.from_bytes(buf[a:b], "big") == 3:  # SNMPv3: msgID (we use the same value as request-id)
            _, gs, _ = _hdr(buf, b)
            _, a, b = _hdr(buf, gs)
            return int.from_bytes(buf[a:b], "big", signed=True)
        _, a, b = _hdr(buf, b)
        _, ps, _ = _hdr(buf, b)
        _, a, b = _hdr(buf, ps)
        return int.from_bytes(buf[a:b], "big", signed=True)
    except (IndexError, BerError):
        return None
