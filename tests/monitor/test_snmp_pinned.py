"""The SNMP codec pinned (issue 20): exact bytes against pyasn1 (the reference BER encoder), exact
values at every length boundary, and the exact reason of every refusal (the reason is what the
operator reads on the device's "malformed" state)."""
from __future__ import annotations

import hashlib
import hmac as _hmac
import time

import pytest
from pyasn1.codec.ber import encoder
from pyasn1.type import univ
from pysnmp.proto import rfc1902

from dcops.monitor.snmp import ber

T = ber.tlv


@pytest.fixture(autouse=True)
def _cold_caches():
    """The codec caches encodings and keys per process: a test must compute them, not read what an earlier
    test (or the mutation bench's baseline run, which the mutants are forked from) left in the cache."""
    from dcops.monitor.snmp import usm as _usm
    for cache in (ber._OID_CACHE, ber._NULL_VB_CACHE, ber._OID_DEC_CACHE):
        cache.clear()
    for fn in (_usm.password_to_key, _usm.localize, _usm.priv_key):
        fn.cache_clear()
    yield


SYSUP = b"\x06\x08\x2b\x06\x01\x02\x01\x01\x03\x00"


def _msg(value: bytes, oid: bytes = SYSUP, rid: int = 7, version: int = 1) -> bytes:
    vb = T(ber.T_SEQ, oid + value)
    pdu = T(ber.RESPONSE, ber.enc_int(rid) + ber.enc_int(0) + ber.enc_int(0) + T(ber.T_SEQ, vb))
    return T(ber.T_SEQ, ber.enc_int(version) + T(ber.T_OCTETS, b"public") + pdu)


def _refused(raw: bytes) -> str:
    with pytest.raises(ber.BerError) as e:
        ber.decode_message(raw)
    return str(e.value)


# ---------------------------------------------------------------- encoding
@pytest.mark.parametrize("n", [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000])
def test_lengths_are_encoded_as_pyasn1_does(n):
    payload = b"x" * n
    assert T(ber.T_OCTETS, payload) == encoder.encode(univ.OctetString(payload))


@pytest.mark.parametrize("v", [0, 1, -1, 127, 128, -129, 255, 256, 32767, 32768, -32769, 2**31 - 1, 2**31,
                               2**63 - 1])
def test_integers_are_encoded_as_pyasn1_does(v):
    assert ber.enc_int(v) == encoder.encode(univ.Integer(v))


@pytest.mark.parametrize("v,content", [(-128, "80"), (-32768, "8000"), (-2**31, "80000000"),
                                       (-2**63, "8000000000000000"), (-2, "fe"), (-256, "ff00")])
def test_negative_powers_of_two_take_the_fewest_octets(v, content):
    """X.690 8.3.2: no leading 0xFF before a set top bit (pyasn1 adds one here; net-snmp does not)."""
    assert ber.enc_int(v) == bytes((2, len(content) // 2)) + bytes.fromhex(content)


@pytest.mark.parametrize("tag,cls", [(ber.T_COUNTER32, rfc1902.Counter32), (ber.T_GAUGE32, rfc1902.Gauge32),
                                     (ber.T_TIMETICKS, rfc1902.TimeTicks), (ber.T_COUNTER64, rfc1902.Counter64)])
@pytest.mark.parametrize("v", [0, 1, 127, 128, 255, 256, 2**31 - 1, 2**31, 2**32 - 1])
def test_unsigned_application_integers_are_encoded_as_pyasn1_does(tag, cls, v):
    assert ber.enc_int(v, tag) == encoder.encode(cls(v))


@pytest.mark.parametrize("oid", ["1.3", "1.3.6.1.2.1.1.3.0", "1.3.6.1.4.1.127.128.16383.16384.2097151.4294967295",
                                 "2.100.3", "0.39"])
def test_oids_are_encoded_as_pyasn1_does(oid):
    assert ber.enc_oid(oid) == encoder.encode(univ.ObjectIdentifier(oid))
    assert ber.enc_oid(oid) == encoder.encode(univ.ObjectIdentifier(oid))  # the cached copy too


def test_an_oid_whose_first_two_arcs_make_more_than_127_takes_two_octets():
    """2.100.3: 2*40+100 = 180 is a sub-identifier like any other (X.690 8.19.4), not one raw byte."""
    assert ber.enc_oid("2.100.3") == b"\x06\x03\x81\x34\x03"
    assert ber.decode_message(_msg(b"\x05\x00", oid=ber.enc_oid("2.100.3")))[6][0][0] == "2.100.3"


def test_an_oid_of_one_arc_is_refused():
    with pytest.raises(ber.BerError, match=r"^bad OID '1'$"):
        ber.enc_oid("1")


@pytest.mark.parametrize("value,expected", [
    (True, b"\x02\x01\x01"), (False, b"\x02\x01\x00"), (300, b"\x02\x02\x01\x2c"),
    (b"ab", b"\x04\x02ab"), (bytearray(b"ab"), b"\x04\x02ab"), ("é", b"\x04\x02\xc3\xa9"), (None, b"\x05\x00"),
    ((ber.T_GAUGE32, 2**32 - 1), b"\x42\x05\x00\xff\xff\xff\xff"), ((ber.T_INT, "5"), b"\x02\x01\x05"),
    ((ber.T_OID, "1.3.6"), b"\x06\x02\x2b\x06"), ((ber.T_IPADDR, "10.0.0.1"), b"\x40\x04\x0a\x00\x00\x01"),
    ((ber.T_OCTETS, "x"), b"\x04\x01x"), ((ber.T_OPAQUE, b"\x01"), b"\x44\x01\x01"),
])
def test_set_values_are_encoded_by_type(value, expected):
    assert ber.enc_value(value) == expected


def test_a_value_of_no_snmp_type_is_refused():
    with pytest.raises(ber.BerError, match=r"^cannot encode 1\.5$"):
        ber.enc_value(1.5)


def test_get_and_set_pdus_are_what_pysnmp_decodes():
    from pyasn1.codec.ber import decoder
    from pysnmp.proto import api
    raw = ber.encode_message(1, b"private", ber.encode_pdu(ber.SET, 4242, ["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0"],
                                                           values=[b"name", (ber.T_INT, 7)]))
    msg, rest = decoder.decode(raw, asn1Spec=api.v2c.Message())
    pdu = api.v2c.apiMessage.get_pdu(msg)
    assert rest == b"" and bytes(api.v2c.apiMessage.get_community(msg)) == b"private"
    assert int(api.v2c.apiPDU.get_request_id(pdu)) == 4242
    assert [(str(o), v.prettyPrint()) for o, v in api.v2c.apiPDU.get_varbinds(pdu)] == [
        ("1.3.6.1.2.1.1.5.0", "name"), ("1.3.6.1.2.1.1.6.0", "7")]
    bulk = ber.encode_pdu(ber.GETBULK, 1, ["1.3.6.1"], 0, 25)
    assert bulk == T(ber.GETBULK, b"\x02\x01\x01\x02\x01\x00\x02\x01\x19" + T(ber.T_SEQ, T(ber.T_SEQ,
                     b"\x06\x03\x2b\x06\x01\x05\x00")))


# ---------------------------------------------------------------- decoding: values at their boundaries
@pytest.mark.parametrize("value,expected", [
    (b"\x02\x01\xff", -1), (b"\x02\x08\x7f" + b"\xff" * 7, 2**63 - 1),
    (b"\x41\x04\xff\xff\xff\xff", 2**32 - 1), (b"\x41\x05\x00\xff\xff\xff\xff", 2**32 - 1),
    (b"\x42\x01\x80", 128), (b"\x43\x04\x80\x00\x00\x00", 2**31),
    (b"\x46\x08" + b"\xff" * 8, 2**64 - 1), (b"\x46\x09\x00" + b"\xff" * 8, 2**64 - 1), (b"\x46\x01\x00", 0),
    (b"\x04\x00", b""), (b"\x44\x02\x9f\x78", b"\x9f\x78"), (b"\x40\x04\xc0\xa8\x00\x01", "192.168.0.1"),
    (b"\x06\x03\x2b\x06\x01", "1.3.6.1"), (b"\x05\x00", None),
    (b"\x80\x00", ber.ABSENT), (b"\x81\x00", ber.ABSENT), (b"\x82\x00", ber.ABSENT),
])
def test_values_decode_to_plain_python(value, expected):
    assert ber.decode_message(_msg(value))[6] == [("1.3.6.1.2.1.1.3.0", expected, value[0])]


@pytest.mark.parametrize("oid,expected", [
    (b"\x06\x01\x00", "0.0"), (b"\x06\x01\x27", "0.39"), (b"\x06\x01\x28", "1.0"), (b"\x06\x01\x4f", "1.39"),
    (b"\x06\x01\x50", "2.0"), (b"\x06\x02\x81\x00", "2.48"), (b"\x06\x03\x2b\x8f\x7f", "1.3.2047"),
    (b"\x06\x06\x2b\x8f\xff\xff\xff\x7f", "1.3.4294967295"),
])
def test_oids_decode_with_the_first_two_arcs_split_as_x690_says(oid, expected):
    assert ber.decode_message(_msg(b"\x05\x00", oid=oid))[6][0][0] == expected


def test_an_oid_of_128_arcs_is_the_most_snmp_allows():
    ok = b"\x2b" + b"\x01" * 126
    assert ber.decode_message(_msg(b"\x05\x00", oid=T(ber.T_OID, ok)))[6][0][0] == "1.3" + ".1" * 126
    assert _refused(_msg(b"\x05\x00", oid=T(ber.T_OID, ok + b"\x01"))) == \
        "OID of 129 sub-identifiers (SNMP allows 128)"


MALFORMED_VALUES = [
    (b"\x02\x00", "empty INTEGER"),
    (b"\x02\x09\x01" + b"\x00" * 8, "INTEGER of 9 bytes (more than 64 bits)"),
    (b"\x41\x00", "empty Counter32"),
    (b"\x41\x05\x01\x00\x00\x00\x00", "Counter32 above 2^32-1 (5 bytes)"),
    (b"\x42\x06\x00\x00\x00\x00\x00\x00", "Gauge32 above 2^32-1 (6 bytes)"),
    (b"\x43\x00", "empty TimeTicks"),
    (b"\x46\x00", "empty Counter64"),
    (b"\x46\x09\x01" + b"\x00" * 8, "Counter64 above 2^64-1 (9 bytes)"),
    (b"\x46\x0a\x00\x00" + b"\x00" * 8, "Counter64 above 2^64-1 (10 bytes)"),
    (b"\x40\x03\x0a\x00\x01", "IpAddress of 3 bytes"),
    (b"\x05\x01\x00", "NULL with a 1-byte payload"),
    (b"\x82\x02\x00\x00", "endOfMibView with a 2-byte payload"),
    (b"\x81\x01\x00", "noSuchInstance with a 1-byte payload"),
    (b"\x9e\x01\x00", "value of unknown type 0x9e"),
    (b"\x06\x00", "zero-length OID"),
    (b"\x06\x02\x2b\x86", "OID ends inside a sub-identifier"),
    (b"\x06\x03\x2b\x80\x01", "OID sub-identifier with a leading 0x80 byte"),
    (b"\x06\x06\x2b\x90\x80\x80\x80\x00", "OID sub-identifier above 2^32-1"),
]


def test_first_arc_above_2_to_the_32_is_refused():
    assert _refused(_msg(b"\x05\x00", oid=b"\x06\x05\x90\x80\x80\x80\x50")) == "OID sub-identifier above 2^32-1"


# ---------------------------------------------------------------- decoding: structure
def test_long_form_lengths_decode():
    payload = b"y" * 300
    vb = T(ber.T_SEQ, SYSUP + T(ber.T_OCTETS, payload))
    assert vb[:4] == b"\x30\x82\x01\x3a"
    assert ber.decode_message(_msg(T(ber.T_OCTETS, payload)))[6] == [("1.3.6.1.2.1.1.3.0", payload, 4)]
    long_oid = T(ber.T_OID, b"\x2b" + b"\x01" * 127)      # 128 bytes: a long-form OID length
    assert long_oid[:3] == b"\x06\x81\x80"
    with pytest.raises(ber.BerError, match="^OID of 129 sub-identifiers"):
        ber.decode_message(_msg(b"\x05\x00", oid=long_oid))
    lf_value = b"\x04\x81\x01z"                            # long form for a short length: allowed by BER
    assert ber.decode_message(_msg(lf_value))[6] == [("1.3.6.1.2.1.1.3.0", b"z", 4)]


def _lf(tag: int, payload: bytes, k: int = 2) -> bytes:
    """A TLV whose length takes the definite long form in k octets, more than it needs."""
    return bytes((tag, 0x80 | k)) + len(payload).to_bytes(k, "big") + payload


# RFC 3417 §8: "when using the definite-long form, it is permissible to use more than the minimum number of
# length octets". Each value, and every enclosing TLV, in that form; pyasn1's BER decoder (pysnmp's) is the oracle.
LONG_FORM_VALUES = [
    (ber.T_INT, b"\xfb", -5), (ber.T_INT, b"\x01", 1), (ber.T_INT, b"\x7f\xff\xff\xff", 2**31 - 1),
    (ber.T_INT, b"\x80\x00\x00\x00", -2**31),
    (ber.T_COUNTER32, b"\x07", 7), (ber.T_COUNTER32, b"\x00" + b"\xff" * 4, 2**32 - 1),
    (ber.T_GAUGE32, b"\x00\xff\xff\xff\xff", 2**32 - 1), (ber.T_TIMETICKS, b"\x7f\xff\xff\xff", 2**31 - 1),
    (ber.T_COUNTER64, b"\x00" + b"\xff" * 8, 2**64 - 1), (ber.T_COUNTER64, b"\x2a", 42),
    (ber.T_OCTETS, b"UPS 80 kVA", b"UPS 80 kVA"), (ber.T_IPADDR, b"\x0a\x14\x0a\x05", "10.20.10.5"),
    (ber.T_OID, b"\x2b\x06\x01\x04\x01\x92\x21", "1.3.6.1.4.1.2337"), (ber.T_NULL, b"", None),
]


def _long_form_message(values: list[tuple[int, bytes]], rid: bytes = b"\xff\x38", k: int = 2) -> bytes:
    vbs = b"".join(_lf(ber.T_SEQ, _lf(ber.T_OID, b"\x2b\x06\x01\x02\x01\x21\x01" + bytes((n,)), k)
                       + _lf(tag, content, k), k) for n, (tag, content) in enumerate(values))
    big = max(k, 2)  # the varbind list and what holds it are longer than 255 octets
    pdu = _lf(ber.RESPONSE, _lf(ber.T_INT, rid, k) + _lf(ber.T_INT, b"\x00", k) + _lf(ber.T_INT, b"\x00", k)
              + _lf(ber.T_SEQ, vbs, big), big)
    return _lf(ber.T_SEQ, _lf(ber.T_INT, b"\x01", k) + _lf(ber.T_OCTETS, b"public", k) + pdu, big)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_lengths_in_the_long_form_with_spare_octets_decode_as_pyasn1_decodes_them(k):
    from pyasn1.codec.ber import decoder
    from pysnmp.proto import api
    raw = _long_form_message([(tag, content) for tag, content, _ in LONG_FORM_VALUES], k=k)
    version, community, ptype, rid, err, eidx, vbs = ber.decode_message(raw)
    assert (version, community, ptype, rid, err, eidx) == (1, b"public", ber.RESPONSE, -200, 0, 0)
    assert vbs == [(f"1.3.6.1.2.1.33.1.{n}", want, tag) for n, (tag, _, want) in enumerate(LONG_FORM_VALUES)]
    assert ber.peek_request_id(raw) == -200
    msg, rest = decoder.decode(raw, asn1Spec=api.v2c.Message())
    pdu = api.v2c.apiMessage.get_pdu(msg)
    oracle = api.v2c.apiPDU.get_varbinds(pdu)
    assert rest == b"" and int(api.v2c.apiPDU.get_request_id(pdu)) == -200
    assert [str(o) for o, _ in oracle] == [o for o, _, _ in vbs]
    for (_, value), (_, got, tag) in zip(oracle, vbs):
        if tag == ber.T_NULL:
            assert got is None and value.prettyPrint() == ""
        elif tag in (ber.T_OCTETS, ber.T_OID):
            assert got == (bytes(value) if tag == ber.T_OCTETS else str(value))
        elif tag == ber.T_IPADDR:
            assert got == ".".join(str(b) for b in bytes(value))
        else:
            assert got == int(value)


def test_long_form_lengths_keep_the_64_bit_bounds():
    """Where the codec is more lenient than pysnmp, in the long form too: SNMP's INTEGER is 32-bit (pysnmp refuses
    more), agents that send 64-bit ones are read up to 8 octets; a 4-octet Counter32/TimeTicks without its leading
    zero is read unsigned, as net-snmp reads it (pysnmp reads it as negative and refuses it)."""
    ok = _long_form_message([(ber.T_INT, b"\x80" + b"\x00" * 7), (ber.T_INT, b"\x7f" + b"\xff" * 7),
                             (ber.T_COUNTER32, b"\xff" * 4), (ber.T_TIMETICKS, b"\x80\x00\x00\x00"),
                             (ber.T_COUNTER64, b"\xff" * 8)])
    assert [v for _, v, _ in ber.decode_message(ok)[6]] == [-2**63, 2**63 - 1, 2**32 - 1, 2**31, 2**64 - 1]
    assert ber.decode_message(_long_form_message([(ber.T_NULL, b"")], rid=b"\x7f" + b"\xff" * 7))[3] == 2**63 - 1
    raw = _long_form_message([(ber.T_INT, b"\x01")], rid=b"\x01" * 9)
    assert _refused(raw) == "request-id: INTEGER of 9 bytes"
    assert _refused(_long_form_message([(ber.T_COUNTER32, b"\x01" * 5)])) == "Counter32 above 2^32-1 (5 bytes)"
    assert _refused(_long_form_message([(ber.T_INT, b"")])) == "empty INTEGER"


def test_a_whole_message_decodes_to_its_fields():
    raw = _msg(b"\x41\x01\x05", rid=-3, version=0)
    assert ber.decode_message(raw) == (0, b"public", ber.RESPONSE, -3, 0, 0, [("1.3.6.1.2.1.1.3.0", 5, 0x41)])


def test_varbinds_decode_in_order():
    vbs = T(ber.T_SEQ, SYSUP + b"\x02\x01\x01") + T(ber.T_SEQ, b"\x06\x02\x2b\x06" + b"\x04\x01a")
    pdu = T(ber.REPORT, ber.enc_int(1) + ber.enc_int(2) + ber.enc_int(3) + T(ber.T_SEQ, vbs))
    assert ber.decode_pdu(pdu, 0) == (ber.REPORT, 1, 2, 3, [("1.3.6.1.2.1.1.3.0", 1, 2), ("1.3.6", b"a", 4)])


@pytest.mark.parametrize("raw,reason", [
    (b"\x30", "truncated message"),
    (b"", "truncated message"),
    (b"\x3f\x00", "multi-byte tag at byte 0"),
    (b"\x30\x80\x00\x00", "indefinite or oversized length"),
    (b"\x30\x85\x00\x00\x00\x00\x00", "length of 5 bytes"),
    (b"\x30\x82\x00", "truncated message"),
    (b"\x30\x05\x02\x01", "length 5 beyond the enclosing data (2 bytes left)"),
    (b"\x31\x00", "not an SNMP message"),
    (T(ber.T_SEQ, b"\x04\x01\x01"), "version: expected INTEGER, got tag 0x04"),
    (T(ber.T_SEQ, b"\x02\x00"), "version: INTEGER of 0 bytes"),
    (T(ber.T_SEQ, b"\x02\x09" + b"\x00" * 9), "version: INTEGER of 9 bytes"),
    (T(ber.T_SEQ, b"\x02\x01\x01\x02\x01\x01"), "community is not an OCTET STRING"),
    (T(ber.T_SEQ, b"\x02\x01\x01\x04\x00" + T(0xA4, b"")), "unknown PDU type 0xa4"),
    (T(ber.T_SEQ, b"\x02\x01\x01\x04\x00" + T(ber.GET, b"\x04\x00")), "request-id: expected INTEGER, got tag 0x04"),
    (T(ber.T_SEQ, b"\x02\x01\x01\x04\x00" + T(ber.GET, b"\x02\x01\x01\x02\x00")), "error-status: INTEGER of 0 bytes"),
    (T(ber.T_SEQ, b"\x02\x01\x01\x04\x00" + T(ber.GET, b"\x02\x01\x01\x02\x01\x00\x05\x00")),
     "error-index: expected INTEGER, got tag 0x05"),
    (T(ber.T_SEQ, b"\x02\x01\x01\x04\x00" + T(ber.GET, b"\x02\x01\x01" * 3 + b"\x31\x00")),
     "varbind list is not a SEQUENCE"),
])
def test_malformed_messages_are_refused_with_their_reason(raw, reason):
    assert _refused(raw) == reason


def _vbl(vbl_payload: bytes) -> bytes:
    pdu = T(ber.RESPONSE, ber.enc_int(1) + ber.enc_int(0) + ber.enc_int(0) + T(ber.T_SEQ, vbl_payload))
    return T(ber.T_SEQ, ber.enc_int(1) + T(ber.T_OCTETS, b"") + pdu)


MALFORMED_VARBINDS = [
    (b"\x02\x00", "varbind is not a SEQUENCE"),
    (b"\x30", "truncated message"),
    (b"\x30\x05\x06\x01\x00", "varbind beyond the varbind list"),
    (b"\x30\x81\x05\x06\x01\x00", "length 5 beyond the enclosing data (3 bytes left)"),
    (b"\x30\x01\x06", "varbind without an OID"),
    (b"\x30\x02\x04\x00", "varbind without an OID"),
    (b"\x30\x03\x06\x01\x2b", "varbind without a value"),  # the OID fills its varbind (found by Hypothesis in CI)
    (b"\x30\x03\x06\x05\x2b", "OID beyond its varbind"),
    (b"\x30\x04\x06\x81\x05\x2b", "length 5 beyond the enclosing data (1 bytes left)"),
    (b"\x30\x04\x06\x02\x2b\x06", "varbind without a value"),
    (b"\x30\x05\x06\x01\x2b\x05\x01", "value beyond its varbind"),
    (b"\x30\x06\x06\x01\x2b\x05\x00\x00", "varbind with trailing data"),
    (b"\x30\x07\x06\x01\x2b\x1f\x81\x01\x00", "multi-byte tag at byte 25"),
    (b"\x30\x06\x06\x01\x2b\x04\x82\x00", "truncated message"),
    (b"\x30\x06\x06\x01\x2b\x9f\x01\x00", "multi-byte tag at byte 25"),  # a short length does not hide it
    (b"\x30\x04\x06\x01\x2b\x04" + b"\x30\x03\x06\x01\x2b", "truncated message"),  # a lone tag; more follows
    (b"\x30\x06\x06\x01\x2b\x04\x81\x05" + b"\x04\x03abc", "length 5 beyond the enclosing data (0 bytes left)"),
]


@pytest.mark.parametrize("raw,reason", [(_msg(v), r) for v, r in MALFORMED_VALUES]
                         + [(_vbl(v), r) for v, r in MALFORMED_VARBINDS])
def test_malformed_values_and_varbinds_are_refused_with_their_reason(raw, reason):
    assert _refused(raw) == reason


def test_a_varbind_list_bounds_its_varbinds():
    ok = b"\x30\x05\x06\x01\x2b\x05\x00"
    assert ber.decode_varbinds(ok + b"\x30", 0, len(ok)) == [("1.3", None, 5)]
    assert ber.decode_varbinds(ok, 0, 0) == []


# ---------------------------------------------------------------- dispatch: the request id of any answer
def test_request_id_of_a_v2c_answer():
    assert ber.peek_request_id(_msg(b"\x05\x00", rid=123456)) == 123456


def test_request_id_of_a_truncated_answer_is_still_found():
    raw = _msg(b"\x04\x10" + b"z" * 16, rid=99)
    assert ber.peek_request_id(raw[:30]) == 99
    assert ber.peek_request_id(raw[:22]) == 99


def test_msg_id_of_a_v3_message():
    glob = T(ber.T_SEQ, ber.enc_int(31337) + ber.enc_int(65507) + T(ber.T_OCTETS, b"\x07") + ber.enc_int(3))
    raw = T(ber.T_SEQ, ber.enc_int(3) + glob + T(ber.T_OCTETS, b"usm") + T(ber.T_OCTETS, b"enc"))
    assert ber.peek_request_id(raw) == 31337
    assert ber.peek_request_id(raw[:12]) == 31337


@pytest.mark.parametrize("raw", [b"", b"\x30", b"\x30\x80\x02\x01\x01", b"\x30\x85\x02\x01\x01",
                                 b"\x30\x03\x04\x01\x01", b"\x30\x06\x02\x01\x01\x04\x01",
                                 b"\x30\x05\x02\x01\x01\x04\x00"])
def test_request_id_of_what_is_no_snmp_message_is_none(raw):
    assert ber.peek_request_id(raw) is None


# ---------------------------------------------------------------- SNMPv3 message header (RFC 3412 §6, RFC 3414 §2.4)
from dcops.monitor.snmp import usm  # noqa: E402


def _v3(*, version=b"\x02\x01\x03", glob=None, secwrap=ber.T_OCTETS, usmseq=ber.T_SEQ, engine=b"\x80\x00\x1f\x88\x04x",
        boots=b"\x02\x01\x05", etime=b"\x02\x02\x01\x00", user=b"\x04\x04dcop", auth=b"\x04\x0c" + b"\x00" * 12,
        priv=b"\x04\x08" + b"\x01" * 8, usm_tail=b"", data=b"\x04\x03abc", tail=b"") -> bytes:
    if glob is None:
        glob = T(ber.T_SEQ, ber.enc_int(4711) + ber.enc_int(65507) + b"\x04\x01\x07" + b"\x02\x01\x03")
    sec = T(usmseq, T(ber.T_OCTETS, engine) + boots + etime + user + auth + priv + usm_tail)
    return T(ber.T_SEQ, version + glob + T(secwrap, sec) + data + tail)


@pytest.mark.parametrize("raw", [b"\x30\x00", T(ber.T_SEQ, b"\x02\x01\x03" + T(ber.T_SEQ, b""))])
def test_a_v3_header_that_ends_where_an_integer_should_start_is_truncated(raw):
    """An INTEGER field expected at the very end of the datagram: a BerError, never an IndexError."""
    with pytest.raises(ber.BerError, match="^truncated message$"):
        usm.parse_message(raw)


def test_a_v3_message_header_is_read_field_by_field():
    raw = _v3()
    m = usm.parse_message(raw)
    assert (m.msg_id, m.flags, m.engine_id, m.boots, m.time, m.user, m.priv, m.encrypted, m.data) == (
        4711, 7, b"\x80\x00\x1f\x88\x04x", 5, 256, b"dcop", b"\x01" * 8, True, b"abc")
    assert raw[m.auth_s:m.auth_e] == b"\x00" * 12


def test_a_plaintext_scoped_pdu_is_kept_whole():
    scoped = usm._scoped(b"eng", b"ctx", ber.encode_pdu(ber.REPORT, 9, ["1.3.6.1.6.3.15.1.1.4.0"]))
    m = usm.parse_message(_v3(data=scoped))
    assert (m.encrypted, m.data) == (False, scoped)
    assert usm.parse_scoped(m.data) == (b"eng", b"ctx", (ber.REPORT, 9, 0, 0, [("1.3.6.1.6.3.15.1.1.4.0", None, 5)]))


def test_engine_ids_and_user_names_of_32_octets_are_the_longest_allowed():
    m = usm.parse_message(_v3(engine=b"e" * 32, user=b"\x04\x20" + b"u" * 32))
    assert (m.engine_id, m.user) == (b"e" * 32, b"u" * 32)


def test_boots_and_time_at_2_to_the_31_minus_1_are_the_largest_allowed():
    top = ber.enc_int(2**31 - 1)
    m = usm.parse_message(_v3(boots=top, etime=top))
    assert (m.boots, m.time) == (2**31 - 1, 2**31 - 1)
    zero = ber.enc_int(0)
    m = usm.parse_message(_v3(boots=zero, etime=zero))
    assert (m.boots, m.time) == (0, 0)


@pytest.mark.parametrize("kw,reason", [
    ({"version": b"\x02\x01\x01"}, "SNMP version 2 instead of 3"),
    ({"version": b"\x02\x01\x00"}, "SNMP version 1 instead of 3"),
    ({"version": b"\x02\x01\x02"}, "SNMP version 2 instead of 3"),
    ({"version": b"\x02\x01\x04"}, "SNMP version 4 instead of 3"),
    ({"version": b"\x04\x01\x03"}, "msgVersion: expected INTEGER, got tag 0x04"),
    ({"glob": T(0x31, b"")}, "msgGlobalData is not a SEQUENCE"),
    ({"glob": T(ber.T_SEQ, b"\x04\x01\x01")}, "msgID: expected INTEGER, got tag 0x04"),
    ({"glob": T(ber.T_SEQ, b"\x02\x01\x01\x04\x00")}, "msgMaxSize: expected INTEGER, got tag 0x04"),
    ({"glob": T(ber.T_SEQ, b"\x02\x01\x01\x02\x01\x01\x04\x02\x07\x07\x02\x01\x03")}, "msgFlags is not one octet"),
    ({"glob": T(ber.T_SEQ, b"\x02\x01\x01\x02\x01\x01\x04\x00\x02\x01\x03")}, "msgFlags is not one octet"),
    ({"glob": T(ber.T_SEQ, b"\x02\x01\x01\x02\x01\x01\x02\x01\x07\x02\x01\x03")}, "msgFlags is not one octet"),
    ({"glob": T(ber.T_SEQ, b"\x02\x01\x01\x02\x01\x01\x04\x01\x07\x02\x01\x01")}, "security model 1, not USM (3)"),
    ({"secwrap": ber.T_SEQ}, "msgSecurityParameters is not an OCTET STRING"),
    ({"usmseq": 0x31}, "UsmSecurityParameters is not a SEQUENCE"),
    ({"engine": b"e" * 33}, "bad msgAuthoritativeEngineID"),
    ({"boots": b"\x04\x01\x05"}, "msgAuthoritativeEngineBoots: expected INTEGER, got tag 0x04"),
    ({"etime": b"\x04\x01\x05"}, "msgAuthoritativeEngineTime: expected INTEGER, got tag 0x04"),
    ({"boots": b"\x02\x01\xff"}, "engine boots/time outside 0..2^31-1"),
    ({"etime": b"\x02\x01\xff"}, "engine boots/time outside 0..2^31-1"),
    ({"boots": ber.enc_int(2**31)}, "engine boots/time outside 0..2^31-1"),
    ({"etime": ber.enc_int(2**31)}, "engine boots/time outside 0..2^31-1"),
    ({"user": b"\x02\x01\x01"}, "bad msgUserName"),
    ({"user": b"\x04\x21" + b"u" * 33}, "bad msgUserName"),
    ({"auth": b"\x02\x01\x00"}, "bad msgAuthenticationParameters"),
    ({"priv": b"\x02\x01\x00"}, "bad msgPrivacyParameters"),
    ({"usm_tail": b"\x05\x00"}, "bad msgPrivacyParameters"),
    ({"tail": b"\x05\x00"}, "data after the scoped PDU"),
    ({"data": b"\x02\x01\x00"}, "msgData is neither a scoped PDU nor an encrypted one"),
])
def test_malformed_v3_messages_are_refused_with_their_reason(kw, reason):
    with pytest.raises(ber.BerError) as e:
        usm.parse_message(_v3(**kw))
    assert str(e.value) == reason


def test_a_v3_message_that_is_no_sequence_is_refused():
    with pytest.raises(ber.BerError, match="^not an SNMP message$"):
        usm.parse_message(b"\x31\x00")


@pytest.mark.parametrize("scoped,reason", [
    (b"\x31\x00", "scoped PDU is not a SEQUENCE"),
    (T(ber.T_SEQ, b"\x02\x01\x00"), "bad contextEngineID"),
    (T(ber.T_SEQ, b"\x04\x00\x02\x01\x00"), "bad contextName"),
])
def test_malformed_scoped_pdus_are_refused_with_their_reason(scoped, reason):
    with pytest.raises(ber.BerError) as e:
        usm.parse_scoped(scoped)
    assert str(e.value) == reason


# ---------------------------------------------------------------- SNMPv3 checks in-process (RFC 3414 §3.2)
from dcops.monitor.snmp.errors import Credentials, Discard, SnmpError, SnmpTimeout  # noqa: E402

from .hostile import ENGINE, SYS_NAME, SYS_UPTIME, authentic_responder, scoped_pdu, v3_message  # noqa: E402

AUTH_PW, PRIV_PW = "noc-auth-pass", "noc-priv-pass"


def _session(**kw) -> usm.V3FastSession:
    s = usm.V3FastSession("192.0.2.1", 161, Credentials("3", user="noc", auth_key=AUTH_PW, priv_key=PRIV_PW,
                                                          auth_protocol="SHA256", priv_protocol="AES", **kw))
    s._set_engine(ENGINE, 5, 1000)
    return s


def _answer(s, msg_id=77, **tweak):
    """The session's own request for msg_id, answered by an agent that knows the keys (hostile.py)."""
    def answer(i, _m):
        base = dict(pdu=ber.encode_pdu(ber.RESPONSE, i, [SYS_NAME], values=[b"REAL"]), engine=ENGINE, boots=5,
                    etime=1000, ctx=b"")
        base.update(tweak)
        return base["pdu"], base["engine"], base["boots"], base["etime"], base["ctx"]
    req = s._build(msg_id, ber.encode_pdu(ber.GET, msg_id, [SYS_NAME]), b"")
    return authentic_responder(AUTH_PW, PRIV_PW, answer=answer)(req)[0]


def test_an_authentic_answer_gives_the_error_status_index_and_varbinds():
    s = _session()
    assert s._accept(77, b"", _answer(s)) == (0, 0, [(SYS_NAME, b"REAL", 4)])


def test_an_answer_exactly_at_the_edge_of_the_time_window_is_accepted():
    s = _session()
    assert s._accept(77, b"", _answer(s, etime=1000 - usm.TIME_WINDOW))[2] == [(SYS_NAME, b"REAL", 4)]
    assert (s.boots, s.latest_time) == (5, 1000)          # an older time never moves the clock back


def test_an_authentic_answer_from_later_moves_the_engine_clock_forward():
    s = _session()
    s._accept(77, b"", _answer(s, etime=1300))
    assert (s.boots, s.latest_time) == (5, 1300)
    s._accept(78, b"", _answer(s, msg_id=78, boots=6, etime=3))
    assert (s.boots, s.latest_time) == (6, 3)
    assert abs(s.time_base - (time.monotonic() - 3)) < 5


def test_an_engine_at_the_last_boot_count_is_outside_every_time_window():
    s = _session()
    s._set_engine(ENGINE, usm.MAX_BOOTS, 1000)
    with pytest.raises(Discard) as e:
        s._accept(77, b"", _answer(s, boots=usm.MAX_BOOTS))
    assert str(e.value) == (f"outside the time window (boots {usm.MAX_BOOTS}, time 1000; "
                            f"engine at boots {usm.MAX_BOOTS}, time 1000)")


def test_an_answer_for_another_msg_id_is_discarded():
    s = _session()
    with pytest.raises(Discard, match="^msgID 77 instead of 78$"):
        s._accept(78, b"", _answer(s))


def test_a_report_in_an_authentic_answer_is_a_report_with_its_clock():
    s = _session()
    pdu = ber.encode_pdu(ber.REPORT, 77, ["1.3.6.1.6.3.15.1.1.2.0"], values=[(ber.T_COUNTER32, 1)])
    r = s._accept_wrapped(77, b"", _answer(s, pdu=pdu, etime=1200))
    assert (type(r).__name__, r.oid, r.authenticated, r.boots, r.time) == (
        "_Report", "1.3.6.1.6.3.15.1.1.2.0", True, 5, 1200)
    s = _session()
    empty = s._accept_wrapped(77, b"", _answer(s, pdu=ber.encode_pdu(ber.REPORT, 77, [])))
    assert (empty.oid, empty.authenticated) == ("", True)


def test_an_answer_for_another_user_or_with_a_short_digest_is_discarded():
    s = _session()
    raw = _answer(s)
    other = _session()
    other.user = b"nob"
    with pytest.raises(Discard, match="^answer for user 'noc'$"):
        other._accept(77, b"", raw)
    m = usm.parse_message(raw)
    short = raw[:m.auth_s - 1] + bytes((m.auth_e - m.auth_s - 1,)) + raw[m.auth_s:m.auth_e - 1] + raw[m.auth_e:]
    fixed = _fix_lengths(short, -1)
    with pytest.raises(Discard, match=r"^authentication parameters of 23 bytes \(24 expected\)$"):
        s._accept(77, b"", fixed)


def _fix_lengths(raw: bytes, delta: int) -> bytes:
    """Re-encode the outer SEQUENCE, the security-parameters OCTET STRING and its SEQUENCE after a field
    inside them shrank by -delta bytes (short-form lengths in these small messages)."""
    out = bytearray(raw)

    def patch(i):
        ln = out[i + 1]
        if ln & 0x80:
            k = ln & 0x7F
            n = int.from_bytes(out[i + 2:i + 2 + k], "big") + delta
            out[i + 2:i + 2 + k] = n.to_bytes(k, "big")
            return i + 2 + k
        out[i + 1] = ln + delta
        return i + 2
    start = patch(0)
    _, _, gend = ber._hdr(raw, start)                      # msgVersion
    _, _, gend = ber._hdr(raw, gend)                       # msgGlobalData
    inner = patch(gend)                                     # msgSecurityParameters OCTET STRING
    patch(inner)                                            # UsmSecurityParameters SEQUENCE
    return bytes(out)


@pytest.mark.parametrize("flags,reason", [(2, "security level invalid (priv without auth) in answer to an authPriv "
                                              "request"),
                                          (0, "security level noAuthNoPriv in answer to an authPriv request")])
def test_an_answer_below_authpriv_that_is_not_a_report_is_discarded(flags, reason):
    s = _session()
    msg = v3_message(77, flags, ENGINE, 5, 1000, b"noc",
                     scoped_pdu(ENGINE, ber.encode_pdu(ber.RESPONSE, 77, [SYS_UPTIME], values=[(ber.T_TIMETICKS, 1)])))
    with pytest.raises(Discard) as e:
        s._accept(77, b"", msg)
    assert str(e.value) == reason


def test_an_unauthenticated_report_is_a_report_that_changes_no_clock():
    s = _session()
    pdu = ber.encode_pdu(ber.REPORT, 77, ["1.3.6.1.6.3.15.1.1.3.0"], values=[(ber.T_COUNTER32, 1)])
    r = s._accept_wrapped(77, b"", v3_message(77, 0, b"\x80\x00\x00\x00\x09", 99, 99999, b"noc",
                                              scoped_pdu(b"", pdu)))
    assert (r.oid, r.authenticated, r.boots, r.time) == ("1.3.6.1.6.3.15.1.1.3.0", False, 99, 99999)
    assert (s.engine_id, s.boots, s.latest_time) == (ENGINE, 5, 1000)


def test_an_authpriv_answer_in_plaintext_is_malformed():
    s = _session()
    msg = v3_message(77, 3, ENGINE, 5, 1000, b"noc", scoped_pdu(ENGINE, ber.encode_pdu(ber.RESPONSE, 77, [])),
                     auth=b"\x00" * 24, priv=b"\x00" * 8)
    with pytest.raises(Discard, match="^authPriv answer with a plaintext scoped PDU$") as e:
        s._accept(77, b"", msg)
    assert e.value.kind == "malformed"


def test_an_answer_from_an_empty_engine_id_is_discarded_and_named_none():
    s = _session()
    with pytest.raises(Discard) as e:
        s._accept(77, b"", _answer(s, engine=b""))
    assert str(e.value) == f"answer from engine (none), not the discovered {ENGINE.hex()}"


TIME_WINDOW_REPORT = "1.3.6.1.6.3.15.1.1.2.0"


def _auth_no_priv_report(boots: int, etime: int, auth_pw: str = AUTH_PW) -> bytes:
    """A usmStatsNotInTimeWindows Report at authNoPriv, as net-snmp sends it (RFC 3414 §3.2 step 7a): digested
    with `auth_pw`'s key, not encrypted."""
    pdu = ber.encode_pdu(ber.REPORT, 77, [TIME_WINDOW_REPORT], values=[(ber.T_COUNTER32, 1)])
    raw = v3_message(77, 1, ENGINE, boots, etime, b"noc", scoped_pdu(ENGINE, pdu), auth=b"\x00" * 24)
    m = usm.parse_message(raw)
    return raw[:m.auth_s] + _hmac.digest(usm.localize(auth_pw, "sha256", ENGINE), raw, "sha256")[:24] + raw[m.auth_e:]


def test_an_authnopriv_report_with_a_valid_digest_is_authenticated_and_moves_the_clock():
    s = _session()
    r = s._accept_wrapped(77, b"", _auth_no_priv_report(5, 1200))
    assert (type(r).__name__, r.oid, r.authenticated, r.boots, r.time) == ("_Report", TIME_WINDOW_REPORT, True, 5, 1200)
    assert (s.boots, s.latest_time) == (5, 1200)


def test_an_authnopriv_report_with_a_forged_digest_is_discarded_and_moves_no_clock():
    """Else a forged time-window report, accepted as authentic, would resync the session to the forger's clock."""
    s = _session()
    with pytest.raises(Discard, match=r"^HMAC does not verify \(forged, or another auth key\)$"):
        s._accept(77, b"", _auth_no_priv_report(9, 99999, auth_pw="forger-auth-pass"))
    assert (s.boots, s.latest_time) == (5, 1000)


def test_discovery_asks_at_noauthnopriv_with_empty_engine_id_user_and_parameters():
    """RFC 3414 §4 and §3.1 step 8: no engine, boots and time 0, no user name, empty authentication and privacy
    parameters, the reportable flag alone, a GET without varbinds in the default context. net-snmp's snmpd
    answers a user name or a digest there with the same Report, so only the request shows them."""
    import asyncio

    from .hostile import FakeAgent, discovery_report
    sent = []

    def handler(req):
        sent.append(req)
        return [discovery_report(req)]

    with FakeAgent(handler) as agent:
        s = usm.V3FastSession("127.0.0.1", agent.port, Credentials("3", user="noc", auth_key=AUTH_PW,
                                                                     priv_key=PRIV_PW, context="ctx"),
                              timeout=0.3, retries=0)
        assert asyncio.run(asyncio.wait_for(s._discover(), 10)) == (ENGINE, 5, 1000)
    m = usm.parse_message(sent[0])
    assert (m.flags, m.engine_id, m.boots, m.time, m.user, sent[0][m.auth_s:m.auth_e], m.priv, m.encrypted) == (
        0x04, b"", 0, 0, b"", b"", b"", False)
    assert sent == [v3_message(m.msg_id, 0x04, b"", 0, 0, b"", scoped_pdu(b"", ber.encode_pdu(ber.GET, m.msg_id, [])))]


def test_a_v3_session_made_without_a_timeout_waits_as_long_as_open_session_and_v2c():
    from dcops.monitor.snmp.session import open_session
    from dcops.monitor.snmp.v2c import V2cSession
    creds = Credentials("3", user="noc", auth_key=AUTH_PW, priv_key=PRIV_PW)
    made = [usm.V3FastSession("192.0.2.1", 161, creds), open_session("192.0.2.1", 161, creds),
            V2cSession("192.0.2.1", 161)]
    assert [(type(x).__name__, x.timeout, x.retries) for x in made] == [
        ("V3FastSession", 2.0, 1), ("V3FastSession", 2.0, 1), ("V2cSession", 2.0, 1)]


def _discovery(engine=ENGINE, flags=0, ptype=ber.REPORT, msg_id=5):
    return v3_message(msg_id, flags, engine, 7, 4242, b"", scoped_pdu(engine, ber.encode_pdu(ptype, msg_id, [])))


def test_discovery_takes_engine_id_boots_and_time_from_the_report():
    s = _session()
    assert s._accept_discovery(5, _discovery()) == (ENGINE, 7, 4242)
    assert s._accept_discovery(5, _discovery(engine=b"e" * 5))[0] == b"e" * 5
    assert s._accept_discovery(5, _discovery(engine=b"e" * 32))[0] == b"e" * 32


@pytest.mark.parametrize("kw,reason", [
    (dict(engine=b"e" * 4), "engine ID of 4 bytes (RFC 3411: 5 to 32)"),
    (dict(engine=b""), "engine ID of 0 bytes (RFC 3411: 5 to 32)"),
    (dict(flags=1), "discovery answered at security level authNoPriv"),
    (dict(flags=2), "discovery answered at security level invalid (priv without auth)"),
    (dict(flags=4), None),
    (dict(ptype=ber.RESPONSE), "PDU type 0xa2 in answer to discovery (a Report was expected)"),
    (dict(msg_id=6), "msgID 6 instead of 5"),
])
def test_discovery_answers_that_are_no_report_are_discarded(kw, reason):
    s = _session()
    if reason is None:           # the reportable flag is no security level
        assert s._accept_discovery(5 if "msg_id" not in kw else kw["msg_id"], _discovery(**kw)) == (ENGINE, 7, 4242)
        return
    with pytest.raises(Discard) as e:
        s._accept_discovery(5, _discovery(**kw))
    assert str(e.value) == reason


def test_privacy_parameters_other_than_8_bytes_are_malformed():
    s = _session()
    m = usm.parse_message(_answer(s))
    m.priv = b"\x00" * 7
    with pytest.raises(Discard, match=r"^privacy parameters of 7 bytes \(8 expected\)$") as e:
        s._decrypt(m)
    assert e.value.kind == "malformed"


def test_des_requests_round_trip_and_odd_ciphertext_is_malformed():
    s = usm.V3FastSession("192.0.2.1", 161, Credentials("3", user="noc", auth_key=AUTH_PW, priv_key=PRIV_PW,
                                                          auth_protocol="MD5", priv_protocol="DES"))
    s._set_engine(ENGINE, 9, 1000)
    plain = b"\x30\x03\x04\x01z"
    data, salt = s._encrypt(plain, 1000)
    assert (len(data), salt[:4]) == (8, (9).to_bytes(4, "big"))
    m = usm._Msg()
    m.priv, m.data, m.boots, m.time = salt, data, 9, 1000
    assert s._decrypt(m) == plain + b"\x00\x00\x00"
    m.data = data[:7]
    with pytest.raises(Discard, match="^DES ciphertext not a multiple of 8 bytes$"):
        s._decrypt(m)


def test_aes_salts_never_repeat_and_wrap_at_64_bits():
    s = _session()
    s._salt = 2**64 - 1
    _, a = s._encrypt(b"x", 1)
    _, b = s._encrypt(b"x", 1)
    assert (a, b) == (b"\x00" * 8, b"\x00" * 7 + b"\x01")


@pytest.mark.parametrize("kw,reason", [
    (dict(user=None), "SNMPv3 authPriv needs a user, an auth key and a priv key"),
    (dict(auth_key=""), "SNMPv3 authPriv needs a user, an auth key and a priv key"),
    (dict(priv_key=None), "SNMPv3 authPriv needs a user, an auth key and a priv key"),
    (dict(auth_protocol="SHA1024"), "unknown SNMPv3 auth protocol 'SHA1024' (known: MD5, SHA, SHA224, SHA256, "
                                    "SHA384, SHA512)"),
    (dict(priv_protocol="3DES"), "unknown SNMPv3 privacy protocol '3DES' (known: DES, AES, AES128, AES192, "
                                 "AES256, AES192C, AES256C)"),
])
def test_incomplete_or_unknown_credentials_are_refused(kw, reason):
    creds = dict(user="noc", auth_key=AUTH_PW, priv_key=PRIV_PW, auth_protocol="SHA", priv_protocol="AES") | kw
    with pytest.raises(SnmpError) as e:
        usm.V3FastSession("192.0.2.1", 161, Credentials("3", **creds))
    assert str(e.value) == reason


def test_protocol_names_in_any_spelling():
    assert usm.normalise_priv("aes-256_c") == "AES256C" and usm.normalise_auth("sha-2_56") == "SHA256"
    assert usm.supports("sha-256", "AES-192-C") is True
    assert usm.supports("sha-256", "3des") is False and usm.supports("sha3", "AES") is False


def test_an_empty_passphrase_is_refused():
    with pytest.raises(SnmpError, match="^empty SNMPv3 passphrase$"):
        usm.password_to_key(b"", "sha1")


def test_a_passphrase_longer_than_a_mebibyte_is_cut_there():
    long = b"a" * 1048577
    assert usm.password_to_key(long, "md5") == hashlib.md5(long[:1048576]).digest()


def test_the_request_carries_engine_boots_time_user_and_a_digest_that_verifies():
    s = _session()
    req = s._build(12, ber.encode_pdu(ber.GET, 12, [SYS_UPTIME]), b"ctx")
    m = usm.parse_message(req)
    assert (m.msg_id, m.flags, m.engine_id, m.boots, m.user, len(m.priv), m.encrypted) == (
        12, 7, ENGINE, 5, b"noc", 8, True)
    assert 1000 <= m.time <= 1010

    key = usm.localize(AUTH_PW, "sha256", ENGINE)
    zeroed = req[:m.auth_s] + b"\x00" * 24 + req[m.auth_e:]
    assert req[m.auth_s:m.auth_e] == _hmac.digest(key, zeroed, "sha256")[:24]
    plain = s._aes.decrypt(m.boots.to_bytes(4, "big") + m.time.to_bytes(4, "big") + m.priv, m.data)
    assert usm.parse_scoped(plain) == (ENGINE, b"ctx", (ber.GET, 12, 0, 0, [(SYS_UPTIME, None, 5)]))


def test_encodings_are_cached_and_the_cache_returns_the_same_bytes():
    first = ber.enc_oid("1.3.6.1.2.1.2.2.1.10.7")
    assert ber._OID_CACHE["1.3.6.1.2.1.2.2.1.10.7"] == first == ber.enc_oid("1.3.6.1.2.1.2.2.1.10.7")
    vb = ber.encode_pdu(ber.GET, 1, ["1.3.6.1.2.1.1.3.0"])
    assert ber._NULL_VB_CACHE["1.3.6.1.2.1.1.3.0"] == T(ber.T_SEQ, SYSUP + b"\x05\x00") and vb.endswith(
        T(ber.T_SEQ, T(ber.T_SEQ, SYSUP + b"\x05\x00")))
    assert ber.decode_message(_msg(b"\x05\x00"))[6][0][0] == ber._OID_DEC_CACHE[SYSUP[2:]] == "1.3.6.1.2.1.1.3.0"


def test_request_id_is_read_within_the_message_even_when_the_datagram_goes_on():
    """An outer SEQUENCE that ends inside the request-id: bytes after it belong to no field."""
    pdu = T(ber.RESPONSE, ber.enc_int(0x01020304) + ber.enc_int(0) + ber.enc_int(0) + T(ber.T_SEQ, b""))
    body = ber.enc_int(1) + T(ber.T_OCTETS, b"public") + pdu
    cut = len(body) - len(pdu) + 4                      # PDU header, then 2 of the request-id's 6 bytes
    raw = bytes((ber.T_SEQ, cut)) + body
    assert ber.peek_request_id(raw) is None
    assert ber.peek_request_id(bytes((ber.T_SEQ, len(body))) + body) == 0x01020304


def test_a_report_at_security_level_priv_without_auth_is_discarded_not_read():
    s = _session()
    pdu = ber.encode_pdu(ber.REPORT, 77, ["1.3.6.1.6.3.15.1.1.4.0"], values=[(ber.T_COUNTER32, 1)])
    with pytest.raises(Discard, match=r"^security level invalid \(priv without auth\) in answer to an authPriv "
                                      r"request$"):
        s._accept(77, b"", v3_message(77, 2, ENGINE, 5, 1000, b"noc", scoped_pdu(ENGINE, pdu)))


def test_an_agent_that_drops_every_authenticated_request_in_a_context_is_diagnosed_once():
    """net-snmp drops what it cannot decrypt: with a context, the diagnosis asks once more in the default
    context, itself without a diagnosis (no recursion), and names the keys."""
    from .hostile import discovery_report

    def handler(req):
        return [] if usm.parse_message(req).flags & 0x01 else [discovery_report(req)]

    error, agent = _get_in_context_ctx(handler)
    assert error == (f"no response from 127.0.0.1:{agent.port} to authenticated requests, though it "
                     "answers discovery: wrong privacy key or privacy protocol (AES) for user 'noc' "
                     "(the agent drops what it cannot decrypt), or no access for the user")
    assert agent.requests == 4     # discovery, the request, discovery again, the default-context request


def _get_in_context_ctx(handler):
    """(the SnmpTimeout's text, the agent) of one GET in context 'ctx' from the fake agent `handler`."""
    import asyncio

    from .hostile import FakeAgent
    with FakeAgent(handler) as agent:
        s = usm.V3FastSession("127.0.0.1", agent.port, Credentials("3", user="noc", auth_key=AUTH_PW,
                                                                     priv_key=PRIV_PW, context="ctx"),
                              timeout=0.2, retries=0)
        with pytest.raises(SnmpTimeout) as e:
            asyncio.run(asyncio.wait_for(s.get([SYS_UPTIME]), 10))
    return str(e.value), agent


# ---------------------------------------------------------------- SNMPv3 requests against agents that know the keys
def _agent_get(answer, oids=(SYS_NAME,), session=None, serves=None, **creds):
    """(result or exception, session, plaintext PDUs the agent received) of one GET; given `serves`, the agent
    drops, unanswered, what comes in any other context (net-snmp's way with a context it does not serve)."""
    import asyncio

    from .hostile import FakeAgent
    seen = []
    inner = authentic_responder(AUTH_PW, PRIV_PW, answer=answer)

    def handler(req):
        m = usm.parse_message(req)
        if m.flags & 0x01:
            aes = usm._AesCfb(usm.priv_key(PRIV_PW, "sha256", m.engine_id, "AES"))
            _engine, ctx, pdu = usm.parse_scoped(aes.decrypt(m.boots.to_bytes(4, "big") + m.time.to_bytes(4, "big")
                                                             + m.priv, m.data))
            seen.append(pdu)
            if serves is not None and ctx != serves:
                return []
        return inner(req)

    with FakeAgent(handler) as agent:
        s = session or usm.V3FastSession("127.0.0.1", agent.port, Credentials(
            "3", user="noc", auth_key=AUTH_PW, priv_key=PRIV_PW, **creds), timeout=0.3, retries=0)
        try:
            out = asyncio.run(asyncio.wait_for(s.get(list(oids)), 10))
        except Exception as e:  # noqa: BLE001 — the test asserts the exact exception
            out = e
    return out, s, seen, agent.port


def _report(oid: str, boots: int = 5, etime: int = 1000, ctx: bytes = b""):
    return lambda i, _m: (ber.encode_pdu(ber.REPORT, i, [oid], values=[(ber.T_COUNTER32, 1)]), ENGINE, boots,
                          etime, ctx)


def test_a_get_sends_zero_error_status_and_index():
    out, _s, seen, _ = _agent_get(None)
    assert out == {SYS_UPTIME: 100, SYS_NAME: b"REAL"}
    assert [(t, e, i) for t, _rid, e, i, _vbs in seen] == [(ber.GET, 0, 0)]


def test_an_agent_error_names_the_status_and_the_oid():
    from dcops.monitor.snmp.errors import PduError
    out, *_ = _agent_get(lambda i, _m: (T(ber.RESPONSE, ber.enc_int(i) + ber.enc_int(5) + ber.enc_int(1)
                                          + T(ber.T_SEQ, T(ber.T_SEQ, ber.enc_oid(SYS_NAME) + b"\x05\x00"))),
                                        ENGINE, 5, 1000, b""))
    assert type(out) is PduError and (out.status, out.index, str(out)) == (5, 1, f"agent error genErr at {SYS_NAME}")


def test_an_authenticated_report_of_an_unknown_context_is_that_error_at_once():
    out, _s, seen, port = _agent_get(_report("1.3.6.1.6.3.12.1.5.0", ctx=b"ops"), context="ops")
    assert type(out) is SnmpError and str(out) == (f"127.0.0.1:{port}: SNMPv3 context 'ops' is unknown to the agent "
                                                   "(snmpUnknownContexts)")
    assert len(seen) == 1                  # not retried: only a time-window report is


def test_an_authenticated_report_the_usm_does_not_name_is_a_refusal():
    out, _s, _seen, port = _agent_get(_report("1.3.6.1.4.1.9.9.9.0"))
    assert str(out) == f"127.0.0.1:{port}: SNMPv3 the agent refused the request (1.3.6.1.4.1.9.9.9.0)"


def test_an_authenticated_time_window_report_resyncs_once_then_the_request_succeeds():
    calls = {"n": 0}

    def answer(i, m):
        calls["n"] += 1
        if calls["n"] == 1:
            return _report("1.3.6.1.6.3.15.1.1.2.0", 5, 2000)(i, m)
        return (ber.encode_pdu(ber.RESPONSE, i, [SYS_NAME], values=[b"REAL"]), ENGINE, 5, 2000, b"")
    out, s, seen, _ = _agent_get(answer)
    assert (out, s.boots, s.latest_time, len(seen)) == ({SYS_NAME: b"REAL"}, 5, 2000, 2)


def test_a_second_time_window_report_after_the_resync_is_an_error():
    out, _s, seen, port = _agent_get(_report("1.3.6.1.6.3.15.1.1.2.0", 5, 2000))
    assert str(out) == f"127.0.0.1:{port}: SNMPv3 request outside the agent's time window (usmStatsNotInTimeWindows)"
    assert len(seen) == 2


def _gen_err(i, _m):
    return (T(ber.RESPONSE, ber.enc_int(i) + ber.enc_int(5) + ber.enc_int(1)
              + T(ber.T_SEQ, T(ber.T_SEQ, ber.enc_oid(SYS_UPTIME) + b"\x05\x00"))), ENGINE, 5, 1000, b"")


@pytest.mark.parametrize("default_context_answer", [None, _gen_err], ids=["response", "authentic-error"])
def test_a_context_the_agent_drops_is_told_apart_by_a_plain_get_in_the_default_context(default_context_answer):
    """The diagnosis asks for sysUpTime in the default context with error-status and index 0 (RFC 3416 §3); any
    authentic answer there, a value or an error, proves the keys right, so the context is at fault."""
    out, _s, seen, port = _agent_get(default_context_answer, serves=b"", context="ctx")
    assert type(out) is SnmpTimeout and str(out) == (
        f"no response from 127.0.0.1:{port} in SNMPv3 context 'ctx': the agent answers user 'noc' in the default "
        "context, so the context is unknown to it or not allowed for the user")
    assert [(t, e, i, vbs) for t, _rid, e, i, vbs in seen] == [(ber.GET, 0, 0, [(SYS_NAME, None, 5)]),
                                                               (ber.GET, 0, 0, [(SYS_UPTIME, None, 5)])]


def test_the_diagnosis_asks_for_discovery_once_whatever_the_sessions_retries():
    """An agent that answers discovery, then falls silent: the request is sent 1 + retries times, the diagnosis's
    discovery once, and the error is that the device does not answer."""
    import asyncio

    from .hostile import FakeAgent, discovery_report
    sent = []

    def handler(req):
        sent.append(usm.parse_message(req).flags)
        return [discovery_report(req)] if len(sent) == 1 else []

    with FakeAgent(handler) as agent:
        s = usm.V3FastSession("127.0.0.1", agent.port, Credentials("3", user="noc", auth_key=AUTH_PW,
                                                                     priv_key=PRIV_PW), timeout=0.1, retries=1)
        with pytest.raises(SnmpTimeout) as e:
            asyncio.run(asyncio.wait_for(s.get([SYS_NAME]), 10))
    assert str(e.value) == f"no response from 127.0.0.1:{agent.port}"
    assert sent == [0x04, 0x07, 0x07, 0x04]      # discovery, the request and its one retry, discovery again


def test_an_unauthenticated_unknown_engine_report_asks_for_discovery_next_time():
    import asyncio

    from .hostile import FakeAgent, discovery_report
    n = {"auth": 0}

    def handler(req):
        m = usm.parse_message(req)
        if not m.flags & 0x01:
            return [discovery_report(req)]
        n["auth"] += 1
        pdu = ber.encode_pdu(ber.REPORT, m.msg_id, ["1.3.6.1.6.3.15.1.1.4.0"], values=[(ber.T_COUNTER32, 1)])
        return [v3_message(m.msg_id, 0, ENGINE, 5, 1000, b"", scoped_pdu(ENGINE, pdu))]

    with FakeAgent(handler) as agent:
        s = usm.V3FastSession("127.0.0.1", agent.port, Credentials("3", user="noc", auth_key=AUTH_PW,
                                                                     priv_key=PRIV_PW), timeout=0.3, retries=0)
        with pytest.raises(SnmpError, match=r"\(usmStatsUnknownEngineIDs, unauthenticated report\)$"):
            asyncio.run(s.get([SYS_NAME]))
        assert s._rediscover is True
        requests = agent.requests
        with pytest.raises(SnmpError):
            asyncio.run(s.get([SYS_NAME]))
        assert agent.requests - requests == 2           # discovery again, then the request


def _usm_fields(priv: bytes = b"\x04\x08" + b"\x01" * 8) -> bytes:
    return (T(ber.T_OCTETS, ENGINE) + b"\x02\x01\x05" + b"\x02\x02\x01\x00" + b"\x04\x03noc" + b"\x04\x0c"
            + b"\x00" * 12 + priv)


_GLOB = T(ber.T_SEQ, ber.enc_int(4711) + ber.enc_int(65507) + b"\x04\x01\x07" + b"\x02\x01\x03")


def _refused_v3(raw: bytes) -> str:
    with pytest.raises(ber.BerError) as e:
        usm.parse_message(raw)
    return str(e.value)


def test_v3_fields_are_bounded_by_their_enclosing_sequence_not_by_the_datagram():
    tail = b"\x04\x05abcde"                              # bytes after the message: part of no field
    # msgGlobalData that ends inside msgID
    glob = b"\x30\x03\x02\x02\x12" + b"\x34"
    body = b"\x02\x01\x03" + glob
    assert _refused_v3(T(ber.T_SEQ, body) + tail) == "length 2 beyond the enclosing data (1 bytes left)"
    # msgSecurityParameters claiming 5 bytes more than the message holds
    sec = T(ber.T_SEQ, _usm_fields())
    body = b"\x02\x01\x03" + _GLOB + b"\x04" + bytes((len(sec) + 5,)) + sec
    assert _refused_v3(b"\x30" + bytes((len(body),)) + body + tail) == \
        f"length {len(sec) + 5} beyond the enclosing data ({len(sec)} bytes left)"
    # msgPrivacyParameters claiming 2 bytes past the end of UsmSecurityParameters
    fields = _usm_fields(b"\x04\x0a" + b"\x01" * 8)
    sec = b"\x30" + bytes((len(fields),)) + fields + b"\x01\x01"
    body = b"\x02\x01\x03" + _GLOB + T(ber.T_OCTETS, sec) + b"\x04\x03abc"
    assert _refused_v3(T(ber.T_SEQ, body)) == "length 10 beyond the enclosing data (8 bytes left)"


_HEAD = T(ber.T_OCTETS, ENGINE) + b"\x02\x01\x05" + b"\x02\x02\x01\x00"     # engine ID, boots 5, time 256


@pytest.mark.parametrize("sec,reason", [
    # UsmSecurityParameters claiming 3 bytes more than its OCTET STRING holds (they are msgData's)
    (b"\x30" + bytes((len(_usm_fields()) + 3,)) + _usm_fields(),
     f"length {len(_usm_fields()) + 3} beyond the enclosing data ({len(_usm_fields())} bytes left)"),
    # then, inside an OCTET STRING that goes on: a field whose length runs past the SEQUENCE
    (b"\x30\x02\x04\x05" + b"abcde", "length 5 beyond the enclosing data (0 bytes left)"),           # engine ID
    (T(ber.T_SEQ, _HEAD + b"\x04\x05") + b"abcde", "length 5 beyond the enclosing data (0 bytes left)"),  # user
    (T(ber.T_SEQ, _HEAD + b"\x04\x03noc\x04\x0c") + b"\x00" * 12,                               # auth parameters
     "length 12 beyond the enclosing data (0 bytes left)"),
], ids=["usm-sequence", "engine-id", "user-name", "auth-parameters"])
def test_usm_fields_are_bounded_by_usm_security_parameters_not_by_the_datagram(sec, reason):
    assert _refused_v3(T(ber.T_SEQ, b"\x02\x01\x03" + _GLOB + T(ber.T_OCTETS, sec) + b"\x04\x03abc")) == reason


def test_a_security_model_that_is_no_integer_is_named():
    glob = T(ber.T_SEQ, ber.enc_int(1) + ber.enc_int(65507) + b"\x04\x01\x07" + b"\x04\x01\x03")
    assert _refused_v3(_v3(glob=glob)) == "msgSecurityModel: expected INTEGER, got tag 0x04"


def test_absent_says_so():
    assert repr(ber.ABSENT) == "ABSENT"


TRAIL = b"\x05\x00" * 5                               # bytes after the message: part of no field


def _with_trailing(body: bytes) -> bytes:
    return T(ber.T_SEQ, body) + TRAIL


@pytest.mark.parametrize("body,reason", [
    # version INTEGER running past the message
    (b"\x02\x05\x01", "length 5 beyond the enclosing data (1 bytes left)"),
    # community running past the message
    (b"\x02\x01\x01\x04\x09pub", "length 9 beyond the enclosing data (3 bytes left)"),
    # PDU running past the message
    (b"\x02\x01\x01\x04\x00\xa2\x08\x02\x01\x01", "length 8 beyond the enclosing data (3 bytes left)"),
])
def test_fields_are_bounded_by_the_message_not_by_the_datagram(body, reason):
    assert _refused(_with_trailing(body)) == reason


def _vbl_trailing(vbl_payload: bytes) -> bytes:
    pdu = T(ber.RESPONSE, ber.enc_int(1) + ber.enc_int(0) + ber.enc_int(0) + T(ber.T_SEQ, vbl_payload))
    return T(ber.T_SEQ, ber.enc_int(1) + T(ber.T_OCTETS, b"") + pdu) + TRAIL


@pytest.mark.parametrize("vbl,reason", [
    (b"\x30", "truncated message"),                                   # a lone SEQUENCE tag at the list's end
    (b"\x30\x81\x05\x06\x01\x2b", "length 5 beyond the enclosing data (3 bytes left)"),
    (b"\x30\x05\x06\x81\x05\x2b\x05", "length 5 beyond the enclosing data (2 bytes left)"),
])
def test_varbinds_are_bounded_by_their_list_not_by_the_datagram(vbl, reason):
    assert _refused(_vbl_trailing(vbl)) == reason


@pytest.mark.parametrize("vbl,reason", [
    (b"\x30\x01", "varbind beyond the varbind list"),
    (b"\x30\x02\x06\x00", "varbind without a value"),
])
def test_the_shortest_broken_varbinds_are_refused_with_their_reason(vbl, reason):
    assert _refused(_vbl(vbl)) == reason


def test_request_id_of_a_truncated_answer_with_long_form_lengths_is_still_found():
    raw = _msg(T(ber.T_OCTETS, b"z" * 300), rid=4242)
    assert raw[:2] == b"\x30\x82"
    assert ber.peek_request_id(raw[:40]) == 4242


@pytest.mark.parametrize("k", [1, 4])
def test_request_id_of_a_truncated_answer_is_found_behind_one_to_four_length_octets(k):
    body = ber.enc_int(1) + T(ber.T_OCTETS, b"public") + T(ber.RESPONSE, ber.enc_int(4242) + ber.enc_int(0)
                                                          + ber.enc_int(0) + T(ber.T_SEQ, b"z" * 200))
    raw = _lf(ber.T_SEQ, body, k)
    assert ber.peek_request_id(raw[:30]) == 4242


def test_a_varbind_list_is_bounded_by_its_pdu_not_by_the_datagram():
    pdu = T(ber.RESPONSE, ber.enc_int(1) + ber.enc_int(0) + ber.enc_int(0) + b"\x30\x07\x30\x03\x06\x01\x2b")
    raw = T(ber.T_SEQ, ber.enc_int(1) + T(ber.T_OCTETS, b"") + pdu) + TRAIL
    assert _refused(raw) == "length 7 beyond the enclosing data (5 bytes left)"


@pytest.mark.parametrize("head", [b"\x30\x80", b"\x30\x85\x00\x00\x00\x00\x20"])
def test_request_id_behind_an_indefinite_or_five_byte_length_is_none(head):
    body = ber.enc_int(1) + T(ber.T_OCTETS, b"x") + T(ber.GET, ber.enc_int(77) + ber.enc_int(0) + ber.enc_int(0)
                                                        + T(ber.T_SEQ, b""))
    assert ber.peek_request_id(head + body) is None
    assert ber.peek_request_id(T(ber.T_SEQ, body)) == 77


def test_msg_id_is_read_within_msg_global_data():
    glob = b"\x30\x03\x02\x02\x7a"                          # msgGlobalData ends inside msgID
    raw = T(ber.T_SEQ, ber.enc_int(3) + glob + b"\x69" + ber.enc_int(65507) + T(ber.T_OCTETS, b"usm"))
    assert ber.peek_request_id(raw) is None


def test_error_index_is_read_within_the_pdu():
    pdu = b"\xa2\x08" + b"\x02\x01\x07" + b"\x02\x01\x00" + b"\x02\x01" + b"\x00" + T(ber.T_SEQ, b"")  # ends in error-index
    assert _refused(T(ber.T_SEQ, b"\x02\x01\x01\x04\x00" + pdu)) == "length 1 beyond the enclosing data (0 bytes left)"


def test_an_answer_for_a_user_name_that_is_not_utf8_is_discarded_and_named():
    s = _session()
    raw = _answer(s)
    m = usm.parse_message(raw)
    forged = raw.replace(b"\x04\x03noc", b"\x04\x03n\xffc", 1)
    with pytest.raises(Discard, match="^answer for user 'n\ufffdc'$"):
        s._accept(77, b"", forged)
    assert m.user == b"noc"


def test_odd_des_ciphertext_is_a_malformed_answer():
    s = usm.V3FastSession("192.0.2.1", 161, Credentials("3", user="noc", auth_key=AUTH_PW, priv_key=PRIV_PW,
                                                          auth_protocol="MD5", priv_protocol="DES"))
    s._set_engine(ENGINE, 9, 1000)
    m = usm._Msg()
    m.priv, m.data, m.boots, m.time = b"\x00" * 8, b"\x00" * 7, 9, 1000
    with pytest.raises(Discard) as e:
        s._decrypt(m)
    assert e.value.kind == "malformed"


def test_msg_max_size_is_read_within_msg_global_data():
    glob = b"\x30\x06\x02\x01\x01\x02\x02\xff"                # msgGlobalData ends inside msgMaxSize
    raw = T(ber.T_SEQ, b"\x02\x01\x03" + glob + b"\xe3" + b"\x04\x01\x07\x02\x01\x03")
    assert _refused_v3(raw) == "length 2 beyond the enclosing data (1 bytes left)"


def test_an_unauthenticated_refusal_in_the_default_context_is_the_diagnosis_not_proof_of_the_keys():
    """The context's requests go unanswered and the default context draws an unauthenticated Report: nothing
    proves the keys right, so the diagnosis names what the agent said rather than blaming the context."""
    from .hostile import discovery_report

    def handler(req):
        m = usm.parse_message(req)
        if not m.flags & 0x01:
            return [discovery_report(req)]
        handler.n += 1
        if handler.n == 1:                       # the request in context 'ctx' goes unanswered
            return []
        pdu = ber.encode_pdu(ber.REPORT, m.msg_id, ["1.3.6.1.6.3.15.1.1.5.0"], values=[(ber.T_COUNTER32, 1)])
        return [v3_message(m.msg_id, 0, ENGINE, 5, 1000, b"", scoped_pdu(ENGINE, pdu))]
    handler.n = 0

    error, agent = _get_in_context_ctx(handler)
    where = f"127.0.0.1:{agent.port}"
    assert error == (f"no response from {where} in SNMPv3 context 'ctx'; in the default context: {where}: "
                            "SNMPv3 authentication failed: wrong auth key or auth protocol for user 'noc' "
                            "(usmStatsWrongDigests, unauthenticated report)")


def _rebooting_agent(answers_boots):
    """An agent that knows the keys, at engine boots `answers_boots()` (read per datagram, so a test can reset
    the counter between requests), answering discovery and GETs alike from that boot."""
    from .hostile import discovery_report

    def handler(req):
        boots = answers_boots()
        if not usm.parse_message(req).flags & 0x01:
            return [discovery_report(req, boots=boots, etime=10)]
        return authentic_responder(AUTH_PW, PRIV_PW, boots=boots, etime=10)(req)
    return handler


def test_an_agent_whose_boots_counter_was_reset_is_discovered_again_within_the_request():
    """snmpd lost its persistent store and counts boots from 1 under the same engine ID: its authentic answers
    are outside the window the session knows (RFC 3414 §3.2 step 7b) and are never adopted as they are; the
    session discovers the engine afresh and the same request then succeeds."""
    import asyncio

    from .hostile import FakeAgent
    boots = {"now": 7}
    with FakeAgent(_rebooting_agent(lambda: boots["now"])) as agent:
        s = usm.V3FastSession("127.0.0.1", agent.port, Credentials("3", user="noc", auth_key=AUTH_PW,
                                                                     priv_key=PRIV_PW), timeout=0.2, retries=0)

        async def run():
            first = await s.get([SYS_NAME])
            boots["now"] = 1
            return first, await s.get([SYS_NAME])
        first, second = asyncio.run(asyncio.wait_for(run(), 10))
    assert first == second == {SYS_UPTIME: 100, SYS_NAME: b"REAL"}
    assert (s.boots, s.requests, s.discarded) == (1, 5, 1)   # discovery, GET; GET (discarded), discovery, GET


def test_a_replayed_answer_from_an_earlier_boot_is_never_adopted():
    """Discovery keeps saying boots 7 and every authentic answer says boots 1 (a replay of old answers): one
    fresh discovery, one more request, then the request fails as rejected and the session stays at boots 7."""
    import asyncio

    from dcops.monitor.snmp.errors import SnmpRejected

    from .hostile import FakeAgent, discovery_report

    def handler(req):
        if not usm.parse_message(req).flags & 0x01:
            return [discovery_report(req, boots=7, etime=10)]
        return authentic_responder(AUTH_PW, PRIV_PW, boots=1, etime=10)(req)

    with FakeAgent(handler) as agent:
        s = usm.V3FastSession("127.0.0.1", agent.port, Credentials("3", user="noc", auth_key=AUTH_PW,
                                                                     priv_key=PRIV_PW), timeout=0.2, retries=0)
        with pytest.raises(SnmpRejected, match=r"outside the time window \(boots 1, time 10; engine at boots 7"):
            asyncio.run(asyncio.wait_for(s.get([SYS_NAME]), 10))
    assert (s.boots, s.requests) == (7, 4)   # discovery, GET, discovery again, GET: then the error


def test_an_unauthenticated_refusal_of_another_kind_does_not_ask_for_discovery():
    """Only an unknown-engine report sends the session back to discovery: a forged or genuine unauthenticated
    wrong-digest report is an error, and the next request goes out with the engine already known."""
    import asyncio

    from .hostile import FakeAgent, discovery_report

    def handler(req):
        m = usm.parse_message(req)
        if not m.flags & 0x01:
            return [discovery_report(req)]
        pdu = ber.encode_pdu(ber.REPORT, m.msg_id, ["1.3.6.1.6.3.15.1.1.5.0"], values=[(ber.T_COUNTER32, 1)])
        return [v3_message(m.msg_id, 0, ENGINE, 5, 1000, b"", scoped_pdu(ENGINE, pdu))]

    with FakeAgent(handler) as agent:
        s = usm.V3FastSession("127.0.0.1", agent.port, Credentials("3", user="noc", auth_key=AUTH_PW,
                                                                     priv_key=PRIV_PW), timeout=0.3, retries=0)
        for _ in range(2):
            with pytest.raises(SnmpError, match=r"\(usmStatsWrongDigests, unauthenticated report\)$"):
                asyncio.run(s.get([SYS_NAME]))
        assert (s._rediscover, agent.requests) == (False, 3)   # discovery, request, request


def test_an_answer_for_a_context_name_that_is_not_utf8_is_discarded_with_the_bytes_replaced():
    """The context name is bytes from the wire: a name that is not UTF-8 is shown with U+FFFD, never a crash."""
    def answer(i, _m):
        return (ber.encode_pdu(ber.RESPONSE, i, [SYS_NAME], values=[b"REAL"]), ENGINE, 5, 1000, b"\xffops")
    s = _session()
    handler = authentic_responder(AUTH_PW, PRIV_PW, answer=answer)
    req = s._build(9, ber.encode_pdu(ber.GET, 9, [SYS_NAME]), b"")
    with pytest.raises(Discard, match=f"^answer for context '\ufffdops' of engine {ENGINE.hex()}$"):
        s._accept(9, b"", handler(req)[0])
