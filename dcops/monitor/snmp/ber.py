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

def tlv(tag: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 0x80:
        return bytes((tag, n)) + payload
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")  # the definite long form, in the fewest octets
    return bytes((tag, 0x80 | len(b))) + b + payload


def enc_int(v: int, tag: int = T_INT) -> bytes:
    if tag == T_INT:
        if 0 <= v < 0x80:
            return bytes((T_INT, 1, v))
        n = max(1, (v + (v < 0)).bit_length() // 8 + 1)
    else:  # unsigned application types: add a leading zero byte when the top bit is set
        n = max(1, (v.bit_length() + 8) // 8)
        return tlv(tag, v.to_bytes(n, "big"))
    return tlv(T_INT, v.to_bytes(n, "big", signed=True))


_OID_CACHE: dict[str, bytes] = {}


def enc_oid(oid: str) -> bytes:
    cached = _OID_CACHE.get(oid)
    if cached is not None:
        return cached
    parts = [int(x) for x in oid.split(".")]
    if len(parts) < 2:
        raise BerError(f"bad OID {oid!r}")
    out = bytearray()
    for p in [parts[0] * 40 + parts[1], *parts[2:]]:  # X.690 8.19.4: the first two arcs are one sub-identifier
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
#
# Every read is bounded by the enclosing TLV (never by the datagram alone), so a lying length
# cannot make a field reach into its neighbour or past the datagram. Values are checked against
# their SNMP type (RFC 2578 / RFC 3416): anything else is a BerError = "malformed response".

MAX_OID_ARCS = 128  # RFC 2578 §3.5
_U32 = (1 << 32) - 1
_EXCEPTIONS = (T_NOSUCHOBJECT, T_NOSUCHINSTANCE, T_ENDOFMIB)


def _hdr(buf: bytes, i: int, limit: int | None = None) -> tuple[int, int, int]:
    """(tag, start of payload, end of payload) of the TLV at i, which must end by `limit`."""
    if limit is None:
        limit = len(buf)
    if i + 2 > limit:
        raise BerError("truncated message")
    tag = buf[i]
    if tag & 0x1F == 0x1F:
        raise BerError(f"multi-byte tag at byte {i}")
    ln = buf[i + 1]
    i += 2
    if ln & 0x80:
        k = ln & 0x7F
        if k == 0 or k > 4:
            raise BerError("indefinite or oversized length" if k == 0 else f"length of {k} bytes")
        if i + k > limit:
            raise BerError("truncated message")
        ln = int.from_bytes(buf[i:i + k], "big")
        i += k
    end = i + ln
    if end > limit:
        raise BerError(f"length {ln} beyond the enclosing data ({limit - i} bytes left)")
    return tag, i, end


def _int_field(buf: bytes, i: int, limit: int, what: str) -> tuple[int, int]:
    """(value, end) of an INTEGER field of the message header/PDU."""
    if i + 2 <= limit and buf[i] == T_INT:  # fast path: a short-form, 1..8 byte INTEGER inside its limit
        n = buf[i + 1]
        e = i + 2 + n
        if 0 < n <= 8 and e <= limit:
            return int.from_bytes(buf[i + 2:e], "big", signed=True), e
    tag, s, e = _hdr(buf, i, limit)
    if tag != T_INT:
        raise BerError(f"{what}: expected INTEGER, got tag 0x{tag:02x}")
    if not 0 < e - s <= 8:
        raise BerError(f"{what}: INTEGER of {e - s} bytes")
    return int.from_bytes(buf[s:e], "big", signed=True), e


_OID_DEC_CACHE: dict[bytes, str] = {}


def dec_oid(buf: bytes, s: int, e: int) -> str:
    """Dotted OID; the same OIDs come back every cycle, so decoded strings are cached by encoding
    (only valid encodings enter the cache)."""
    raw = buf[s:e]
    hit = _OID_DEC_CACHE.get(raw)
    if hit is not None:
        return hit
    out = _dec_oid(raw)
    if len(_OID_DEC_CACHE) < 500_000:
        _OID_DEC_CACHE[raw] = out
    return out


def _dec_oid(raw: bytes) -> str:
    if not raw:
        raise BerError("zero-length OID")
    if raw[-1] & 0x80:
        raise BerError("OID ends inside a sub-identifier")
    arcs: list[int] = []
    v = 0
    for c in raw:
        if v == 0 and c == 0x80:
            raise BerError("OID sub-identifier with a leading 0x80 byte")
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            arcs.append(v)
            v = 0
    first = arcs[0]
    if first < 80:
        parts = [first // 40, first % 40]
    else:
        parts = [2, first - 80]
    parts += arcs[1:]
    if len(parts) > MAX_OID_ARCS:
        raise BerError(f"OID of {len(parts)} sub-identifiers (SNMP allows {MAX_OID_ARCS})")
    if max(parts) > _U32:
        raise BerError("OID sub-identifier above 2^32-1")
    return ".".join(map(str, parts))


def dec_value(buf: bytes, tag: int, s: int, e: int):
    n = e - s
    if tag == T_INT:
        if not 0 < n <= 8:
            raise BerError(f"INTEGER of {n} bytes (more than 64 bits)" if n else "empty INTEGER")
        return int.from_bytes(buf[s:e], "big", signed=True)
    if tag == T_OCTETS:
        return buf[s:e]
    if tag == T_COUNTER32 or tag == T_GAUGE32 or tag == T_TIMETICKS:
        # Up to 4 bytes read unsigned, as net-snmp does (agents that drop the leading zero of
        # values >= 2^31 exist); a 5th byte only as the sign pad.
        if not 0 < n <= 4 and not (n == 5 and buf[s] == 0):
            raise BerError(f"{_NAMES[tag]} above 2^32-1 ({n} bytes)" if n else f"empty {_NAMES[tag]}")
        return int.from_bytes(buf[s:e], "big")
    if tag == T_COUNTER64:
        if not 0 < n <= 8 and not (n == 9 and buf[s] == 0):
            raise BerError(f"Counter64 above 2^64-1 ({n} bytes)" if n else "empty Counter64")
        return int.from_bytes(buf[s:e], "big")
    if tag == T_OID:
        return dec_oid(buf, s, e)
    if tag == T_IPADDR:
        if n != 4:
            raise BerError(f"IpAddress of {n} bytes")
        return ".".join(str(x) for x in buf[s:e])
    if tag == T_NULL or tag in _EXCEPTIONS:
        if n:
            raise BerError(f"{_NAMES[tag]} with a {n}-byte payload")
        return None if tag == T_NULL else ABSENT
    if tag == T_OPAQUE:
        return buf[s:e]
    raise BerError(f"value of unknown type 0x{tag:02x}")


_NAMES = {T_COUNTER32: "Counter32", T_GAUGE32: "Gauge32", T_TIMETICKS: "TimeTicks", T_NULL: "NULL",
          T_NOSUCHOBJECT: "noSuchObject", T_NOSUCHINSTANCE: "noSuchInstance", T_ENDOFMIB: "endOfMibView"}


def decode_varbinds(buf: bytes, s: int, e: int) -> list[tuple[str, object, int]]:
    """[(oid, value, tag)] of a VarBindList payload.

    The hot loop of the poller: short-form lengths, cached OIDs and the common value types
    (INTEGER, OCTET STRING, Counter32/Gauge32/TimeTicks, Counter64) are decoded inline; anything
    else, and every malformed case, goes through _hdr / dec_oid / dec_value with the same checks."""
    out = []
    append = out.append
    oid_get = _OID_DEC_CACHE.get
    from_bytes = int.from_bytes
    i = s
    while i < e:
        if buf[i] != T_SEQ:
            raise BerError("varbind is not a SEQUENCE")
        ln = buf[i + 1] if i + 1 < e else 0x80
        if ln & 0x80:
            _, vs, ve = _hdr(buf, i, e)
        else:
            vs = i + 2
            ve = vs + ln
            if ve > e:
                raise BerError("varbind beyond the varbind list")
        if vs + 2 > ve or buf[vs] != T_OID:
            raise BerError("varbind without an OID")
        ln = buf[vs + 1]
        if ln & 0x80:
            _, os_, oe = _hdr(buf, vs, ve)
        else:
            os_ = vs + 2
            oe = os_ + ln
            if oe > ve:
                raise BerError("OID beyond its varbind")
        if oe >= ve:
            raise BerError("varbind without a value")
        ln = buf[oe + 1] if oe + 1 < ve else 0x80
        vtag = buf[oe]
        if ln & 0x80 or vtag & 0x1F == 0x1F:
            vtag, xs, xe = _hdr(buf, oe, ve)
        else:
            xs = oe + 2
            xe = xs + ln
        if xe != ve:
            raise BerError("varbind with trailing data" if xe < ve else "value beyond its varbind")
        oid = oid_get(buf[os_:oe])
        if oid is None:
            oid = dec_oid(buf, os_, oe)
        # inline fast cases (valid values only); the rest, and every error, in dec_value
        if vtag == T_OCTETS:
            val = buf[xs:xe]
        elif vtag == T_INT and 0 < ln <= 8:
            val = from_bytes(buf[xs:xe], "big", signed=True)
        elif (vtag == T_COUNTER32 or vtag == T_GAUGE32 or vtag == T_TIMETICKS) and 0 < ln <= 4:
            val = from_bytes(buf[xs:xe], "big")
        else:
            val = dec_value(buf, vtag, xs, xe)
        append((oid, val, vtag))
        i = ve
    return out


PDU_TYPES = frozenset((GET, GETNEXT, RESPONSE, SET, GETBULK, INFORM, TRAPV2, REPORT))


def decode_pdu(buf: bytes, i: int, limit: int | None = None) -> tuple[int, int, int, int, list]:
    """(pdu_type, request_id, error_status, error_index, varbinds) of the PDU at i."""
    ptype, s, e = _hdr(buf, i, limit)
    if ptype not in PDU_TYPES:
        raise BerError(f"unknown PDU type 0x{ptype:02x}")
    reqid, b = _int_field(buf, s, e, "request-id")
    err, b = _int_field(buf, b, e, "error-status")
    eidx, b = _int_field(buf, b, e, "error-index")
    tag, vs, ve = _hdr(buf, b, e)
    if tag != T_SEQ:
        raise BerError("varbind list is not a SEQUENCE")
    return ptype, reqid, err, eidx, decode_varbinds(buf, vs, ve)


def decode_message(buf: bytes) -> tuple[int, bytes, int, int, int, int, list]:
    """(version, community, pdu_type, request_id, error_status, error_index, varbinds) of v1/v2c."""
    try:
        tag, s, e = _hdr(buf, 0)
        if tag != T_SEQ:
            raise BerError("not an SNMP message")
        version, b = _int_field(buf, s, e, "version")
        tag, a, b2 = _hdr(buf, b, e)
        if tag != T_OCTETS:
            raise BerError("community is not an OCTET STRING")
        return (version, buf[a:b2], *decode_pdu(buf, b2, e))
    except IndexError as exc:  # pragma: no cover - every read is bounds-checked; belt and braces
        raise BerError("truncated message") from exc


def _open(buf: bytes, i: int, limit: int) -> tuple[int, int, int]:
    """Like _hdr, but a container claiming more than the datagram holds is cut at the datagram's end:
    the dispatcher still finds the request a truncated answer belongs to (and reports it malformed)."""
    try:
        return _hdr(buf, i, limit)
    except BerError:
        if i + 2 > limit:
            raise
        ln = buf[i + 1]
        k = ln & 0x7F if ln & 0x80 else 0
        if ln & 0x80 and not 0 < k <= 4:
            raise
        return buf[i], i + 2 + k, limit


def peek_request_id(buf: bytes) -> int | None:
    """The request id of a v1/v2c message (msgID of a v3 one) without decoding the varbinds
    (dispatch fast path); None when the datagram is not even that."""
    try:
        _, s, e = _open(buf, 0, len(buf))
        version, b = _int_field(buf, s, e, "version")
        if version == 3:  # SNMPv3: msgID (we use the same value as request-id)
            _, gs, ge = _open(buf, b, e)
            return _int_field(buf, gs, ge, "msgID")[0]
        _, a, b = _hdr(buf, b, e)
        _, ps, pe = _open(buf, b, e)
        return _int_field(buf, ps, pe, "request-id")[0]
    except (IndexError, BerError):
        return None
