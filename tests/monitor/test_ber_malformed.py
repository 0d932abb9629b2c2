"""The decoder refuses what net-snmp and pysnmp refuse: each malformed answer is a BerError, never a
value and never another exception. Wire bytes are built by hand (what a broken agent would send)."""
import pytest
from pyasn1.codec.ber import decoder
from pyasn1.error import PyAsn1Error
from pysnmp.proto import api

from dcops.monitor.snmp import ber

T = ber.tlv


def _msg(value: bytes, oid: bytes = b"\x06\x08\x2b\x06\x01\x02\x01\x01\x03\x00", rid: int = 7) -> bytes:
    vb = T(ber.T_SEQ, oid + value)
    pdu = T(ber.RESPONSE, ber.enc_int(rid) + ber.enc_int(0) + ber.enc_int(0) + T(ber.T_SEQ, vb))
    return T(ber.T_SEQ, ber.enc_int(1) + T(ber.T_OCTETS, b"public") + pdu)


def _pysnmp_rejects(raw: bytes) -> bool:
    """The trusted implementation's verdict on the same bytes."""
    try:
        msg, rest = decoder.decode(raw, asn1Spec=api.v2c.Message())
        for _o, v in api.v2c.apiPDU.get_varbinds(api.v2c.apiMessage.get_pdu(msg)):
            v.prettyPrint()
        return False
    except (PyAsn1Error, ValueError):
        return True


MALFORMED = {
    "INTEGER of 9 bytes (wider than 64 bits)": _msg(b"\x02\x09\x01" + b"\x00" * 8),
    "empty INTEGER": _msg(b"\x02\x00"),
    "Counter32 above 2^32-1": _msg(b"\x41\x05\x01\x00\x00\x00\x00"),
    "Gauge32 above 2^32-1": _msg(b"\x42\x05\x01\x00\x00\x00\x00"),
    "TimeTicks above 2^32-1": _msg(b"\x43\x06\x00\x01\x00\x00\x00\x00"),
    "Counter64 above 2^64-1": _msg(b"\x46\x09\x01" + b"\x00" * 8),
    "Counter64 of 10 bytes": _msg(b"\x46\x0a\x00\x01" + b"\x00" * 8),
    "zero-length OID": _msg(b"\x05\x00", oid=b"\x06\x00"),
    "OID sub-identifier above 2^32-1": _msg(b"\x05\x00", oid=b"\x06\x07\x2b\x90\x80\x80\x80\x00\x01"),
    "OID ending inside a sub-identifier": _msg(b"\x05\x00", oid=b"\x06\x03\x2b\x06\x81"),
    "OID value of 0 bytes": _msg(b"\x06\x00"),
    "IpAddress of 5 bytes": _msg(b"\x40\x05\x0a\x00\x00\x01\x02"),
    "NULL with a payload": _msg(b"\x05\x01\x00"),
    "noSuchObject with a payload": _msg(b"\x80\x01\x00"),
    "nested SEQUENCE as a value (too deep for SNMP)": _msg(T(ber.T_SEQ, T(ber.T_SEQ, T(ber.T_SEQ, b"\x05\x00")))),
    "unknown value tag": _msg(b"\x9f\x01\x00"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_value_is_rejected(name):
    with pytest.raises(ber.BerError):
        ber.decode_message(MALFORMED[name])


#: Where pysnmp 7 / pyasn1 decodes what we refuse (we are stricter, and say why).
PYSNMP_ACCEPTS = {
    "empty INTEGER": "X.690 8.3.1: an INTEGER has at least one content octet",
    "OID sub-identifier above 2^32-1": "RFC 2578 §3.5: sub-identifiers are 0..2^32-1",
    "unknown value tag": "RFC 3416 §3: no other value type exists in SNMPv2",
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_pysnmp_verdict_is_the_same_or_we_are_stricter_for_a_stated_reason(name):
    assert _pysnmp_rejects(MALFORMED[name]) is (name not in PYSNMP_ACCEPTS)


def test_the_limits_themselves_are_accepted():
    for raw, want in ((b"\x41\x05\x00\xff\xff\xff\xff", 2**32 - 1), (b"\x41\x04\xff\xff\xff\xff", 2**32 - 1),
                      (b"\x46\x09\x00" + b"\xff" * 8, 2**64 - 1), (b"\x02\x08\x80" + b"\x00" * 7, -2**63),
                      (b"\x43\x01\x00", 0)):
        assert ber.decode_message(_msg(raw))[6][0][1] == want
    oid = ".".join(["1", "3"] + ["4294967295"] * 126)
    assert ber.decode_message(_msg(b"\x05\x00", oid=ber.enc_oid(oid)))[6][0][0] == oid


def test_too_many_sub_identifiers():
    oid = ".".join(["1", "3"] + ["1"] * 127)
    with pytest.raises(ber.BerError, match="129 sub-identifiers"):
        ber.decode_message(_msg(b"\x05\x00", oid=ber.enc_oid(oid)))


@pytest.mark.parametrize("cut", [1, 2, 5, 10, 20, 30])
def test_every_truncation_is_rejected(cut):
    raw = _msg(b"\x04\x05hello")
    with pytest.raises(ber.BerError):
        ber.decode_message(raw[:-cut])


def test_inner_length_beyond_the_datagram():
    raw = bytearray(_msg(b"\x04\x05hello"))
    i = raw.index(b"\x04\x05hello")
    raw[i + 1] = 0x7F  # the OCTET STRING claims 127 bytes
    with pytest.raises(ber.BerError, match="beyond"):
        ber.decode_message(bytes(raw))


def test_length_of_five_octets_and_indefinite_length():
    with pytest.raises(ber.BerError):
        ber.decode_message(b"\x30\x85\x00\x00\x00\x00\x10" + b"\x00" * 16)
    with pytest.raises(ber.BerError, match="indefinite"):
        ber.decode_message(b"\x30\x80" + _msg(b"\x05\x00")[2:] + b"\x00\x00")


def test_truncated_answer_still_finds_its_request():
    """The dispatcher must route a truncated answer to its request (to report it malformed)."""
    raw = _msg(b"\x04\x05hello", rid=123456)
    assert ber.peek_request_id(raw[:-4]) == 123456
    assert ber.peek_request_id(b"\x30\x03\x02\x01") is None


def _pysnmp_values(raw: bytes) -> list:
    msg, _rest = decoder.decode(raw, asn1Spec=api.v2c.Message())
    return [(str(o), v) for o, v in api.v2c.apiPDU.get_varbinds(api.v2c.apiMessage.get_pdu(msg))]


def test_inline_fast_path_decodes_what_pysnmp_decodes():
    """decode_varbinds decodes the common types inline (the poller's hot loop): every value, at the type's
    limits and in long-form lengths, must come out as pysnmp's decoder reads the same bytes."""
    values = [(ber.T_INT, v) for v in (0, 1, 127, 128, 255, -1, -128, -129, 2**31 - 1, -2**31)]  # Integer32
    values += [(t, v) for t in (ber.T_COUNTER32, ber.T_GAUGE32, ber.T_TIMETICKS) for v in (0, 127, 2**31, 2**32 - 1)]
    values += [(ber.T_COUNTER64, v) for v in (0, 2**32, 2**63, 2**64 - 1)]
    values += [(ber.T_OCTETS, v) for v in (b"", b"eth0", bytes(range(256)) * 2)]  # 512 bytes: a long-form length
    values += [(ber.T_IPADDR, "10.0.0.254"), (ber.T_OID, "1.3.6.1.4.1.52674.500")]
    oids = [f"1.3.6.1.2.1.2.2.1.{i}.{10**9 + i}" for i in range(len(values))]
    raw = ber.encode_message(1, b"public", ber.encode_pdu(ber.RESPONSE, 9, oids, 0, 0, values))
    ours = ber.decode_message(raw)[6]
    theirs = _pysnmp_values(raw)
    assert [o for o, _v, _t in ours] == oids == [o for o, _v in theirs]
    assert [t for _o, _v, t in ours] == [t for t, _v in values]
    for (_o, got, tag), (_o2, ref), (_t, sent) in zip(ours, theirs, values):
        if tag == ber.T_OCTETS:
            assert got == bytes(ref) == sent
        elif tag in (ber.T_IPADDR, ber.T_OID):
            assert got == ref.prettyPrint() == sent
        else:
            assert got == int(ref) == sent
