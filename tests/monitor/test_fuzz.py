"""Bounded mutation fuzz (Hypothesis) of the BER decoder and the USM parser, seeded with answers captured
from net-snmp's snmpd (tests/monitor/fuzz_corpus/). Any exception other than the project's own error
types is a failure. Bounded: a fixed number of examples per property, no deadline per example.
Set DCOPS_FUZZ_EXAMPLES for a longer run."""
import os
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dcops.monitor.snmp import ber
from dcops.monitor.snmp.errors import Credentials, Discard, SnmpError
from dcops.monitor.snmp.usm import V3FastSession, parse_message
from dcops.monitor.snmp.v2c import V2cSession

from .hostile import authentic_responder

CORPUS = Path(__file__).parent / "fuzz_corpus"
SEEDS = {p.name: p.read_bytes() for p in sorted(CORPUS.glob("*.bin"))}
V2C = [v for k, v in SEEDS.items() if k.startswith("v2c")]
V3 = [v for k, v in SEEDS.items() if k.startswith("v3")]
N = int(os.environ.get("DCOPS_FUZZ_EXAMPLES", "400"))
FUZZ = settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck), database=None)
OURS = (ber.BerError, Discard, SnmpError)


@st.composite
def mutated(draw, seeds):
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete", "length"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[i] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0x81, 0x84, 0x85, 0xFF, 0x30, 0x06, 0x02, 0x46]))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=12))
        elif op == "delete" and data:
            del data[i:i + draw(st.integers(1, 8))]
        elif op == "length" and data:  # a lying length byte: long form, huge, or zero
            data[i] = draw(st.sampled_from([0x80, 0x81, 0x82, 0x83, 0x84, 0xFF, 0x00]))
    return bytes(data)


def test_corpus_decodes_cleanly():
    """The seeds themselves are valid (a corpus of garbage would fuzz nothing)."""
    for raw in V2C:
        assert ber.decode_message(raw)[2] == ber.RESPONSE
    for raw in V3:
        assert parse_message(raw).msg_id > 0


@FUZZ
@given(mutated(V2C))
def test_v2c_decoder_raises_only_its_own_errors(raw):
    try:
        ber.decode_message(raw)
    except ber.BerError:
        pass
    ber.peek_request_id(raw)  # never raises


@FUZZ
@given(mutated(V2C))
def test_v2c_session_accept_raises_only_discard_or_ber_error(raw):
    s = V2cSession("127.0.0.1", 161, "public")
    try:
        s._accept(11, raw)
    except OURS:
        pass


@FUZZ
@given(mutated(V3))
def test_usm_parser_raises_only_its_own_errors(raw):
    try:
        parse_message(raw)
    except ber.BerError:
        pass


def _session_for(raw: bytes) -> tuple[V3FastSession, int]:
    m = parse_message(raw)
    s = V3FastSession("127.0.0.1", 161, Credentials("3", user="fuzz", auth_key="fuzz-auth-pass",
                                                    priv_key="fuzz-priv-pass"))
    s._set_engine(m.engine_id, m.boots, m.time)
    return s, m.msg_id


@FUZZ
@given(mutated(V3))
def test_usm_accept_of_mutated_net_snmp_answers(raw):
    s, msg_id = _session_for(SEEDS["v3-authpriv-response.bin"])
    try:
        s._accept_wrapped(msg_id, b"", raw)
    except OURS:
        pass


# CI found this one: the last varbind's OID ends where the PDU ends, so the value tag lies past the buffer
_OID_AT_THE_END = (b'0\x81\x96\x02\x01\x01\x04\x06public\xa2\x81\x88\x02\x01\x0b\x02\x01\x00\x02\x01\x000}0E'
                   b'\x06\x08+\x06\x01\x02\x01\x01\x01\x00\x049Linux vm 6.18.44-fc-v657 #1 SMP PREEMPT_DYNAMIC @0 x86_64'
                   b'0\x0e\x06\x08+\x06\x01\x02\x01\x01\x03\x00C\x02\x00\x930\x16\x06\x08+\x06\x01\x02\x01\x01\x02\x00'
                   b'\x06\n+\x06\x01\x04\x01\xbf\x08\x03\x02\n0\x0c\x06\n+\x06\x01\x02\x01\x01\t\x00\x80\x00')


@FUZZ
@given(mutated(V2C))
@example(scoped_seed=_OID_AT_THE_END)
def test_usm_accept_of_authentic_messages_with_mutated_pdus(scoped_seed):
    """Past the HMAC and the decryption: an authentic agent sending a broken PDU (the fake agent
    signs and encrypts whatever bytes it is given)."""
    s = V3FastSession("127.0.0.1", 161, Credentials("3", user="noc", auth_key="noc-auth-pass",
                                                    priv_key="noc-priv-pass"))
    pdu_start = scoped_seed.find(b"\xa2")
    pdu = scoped_seed[pdu_start:] if pdu_start >= 0 else scoped_seed
    agent = authentic_responder("noc-auth-pass", "noc-priv-pass",
                                answer=lambda i, _m: (pdu, _engine(), 5, 1000, b""))
    discovery = agent(_request(s, 0))[0]
    m = parse_message(discovery)
    s._set_engine(m.engine_id, m.boots, m.time)
    raw = agent(_request(s, 7, authpriv=True))[0]
    try:
        s._accept_wrapped(7, b"", raw)
    except OURS:
        pass


def _engine() -> bytes:
    from .hostile import ENGINE
    return ENGINE


def _request(s: V3FastSession, msg_id: int, authpriv: bool = False) -> bytes:
    if not authpriv:
        return s._message(msg_id, 0x04, ber.tlv(ber.T_OCTETS, ber.tlv(ber.T_SEQ, ber.tlv(ber.T_OCTETS, b"") +
                          ber.enc_int(0) + ber.enc_int(0) + ber.tlv(ber.T_OCTETS, b"") * 3)), b"\x30\x00")
    return s._build(msg_id, ber.encode_pdu(ber.GET, msg_id, ["1.3.6.1.2.1.1.3.0"]), b"")
