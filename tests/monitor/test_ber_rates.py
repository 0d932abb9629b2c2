import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from dcops.monitor.snmp import ber
from dcops.monitor.profiles import ABSENT
from dcops.monitor.rates import RateTracker

P = api.v2c


def test_request_decodes_with_pyasn1():
    oids = ["1.3.6.1.2.1.1.3.0", "1.3.6.1.4.1.318.1.1.27.1.4.1.2.1.3.1.83", "1.3.6.1.4.1.9999999.200.1"]
    raw = ber.encode_message(1, "cộng đồng".encode(), ber.encode_pdu(ber.GETBULK, 2**31 - 2, oids, 0, 25))
    msg, rest = decoder.decode(raw, asn1Spec=P.Message())
    assert rest == b""
    pdu = P.apiMessage.get_pdu(msg)
    assert int(P.apiPDU.get_request_id(pdu)) == 2**31 - 2
    assert [str(o) for o, _ in P.apiPDU.get_varbinds(pdu)] == oids
    assert P.apiMessage.get_community(msg).asOctets() == "cộng đồng".encode()


def test_response_decodes_every_type():
    resp = P.Message()
    P.apiMessage.set_defaults(resp)
    pdu = P.GetResponsePDU()
    P.apiPDU.set_defaults(pdu)
    P.apiPDU.set_request_id(pdu, 77)
    vbs = [("1.3.6.1.2.1.1.3.0", P.TimeTicks(4294967295)), ("1.3.6.1.2.1.31.1.1.1.6.1", P.Counter64(2**64 - 1)),
           ("1.3.6.1.2.1.2.2.1.10.1", P.Counter32(2**32 - 1)), ("1.3.6.1.2.1.1.5.0", P.OctetString("Điều hòa".encode())),
           ("1.3.6.1.2.1.33.1.2.7.0", P.Integer(-40)), ("1.3.6.1.2.1.1.2.0", P.ObjectIdentifier("1.3.6.1.4.1.318")),
           ("1.3.6.1.2.1.4.20.1.1.1", P.IpAddress("10.10.1.200")), ("1.3.6.1.2.1.1.9.0", P.NoSuchObject()),
           ("1.3.6.1.2.1.1.9.1", P.NoSuchInstance()), ("1.3.6.1.2.1.1.9.2", P.EndOfMibView())]
    P.apiPDU.set_varbinds(pdu, vbs)
    P.apiMessage.set_pdu(resp, pdu)
    v, comm, ptype, rid, err, eidx, out = ber.decode_message(encoder.encode(resp))
    assert (v, ptype, rid, err) == (1, ber.RESPONSE, 77, 0)
    assert [x[1] for x in out] == [4294967295, 2**64 - 1, 2**32 - 1, "Điều hòa".encode(), -40, "1.3.6.1.4.1.318",
                                    "10.10.1.200", ABSENT, ABSENT, ABSENT]


@pytest.mark.parametrize("v", [0, 1, -1, 127, 128, -128, -129, 255, 256, 2**31 - 1, -2**31])
def test_integer_encoding_matches_pyasn1(v):
    assert int(decoder.decode(ber.enc_int(v))[0]) == v


def test_truncated_message_is_an_error():
    raw = ber.encode_message(1, b"public", ber.encode_pdu(ber.GET, 1, ["1.3.6.1.2.1.1.3.0"]))
    with pytest.raises(ber.BerError):
        ber.decode_message(raw[:-3])


def test_32bit_wrap_gives_the_true_rate():
    r = RateTracker()
    assert r.rate("d", "k", 2**32 - 1000, 32, 0.0) is None  # first sample: no rate
    assert r.rate("d", "k", 9000, 32, 10.0) == pytest.approx(1000.0)


def test_64bit_going_back_is_a_discontinuity_not_a_spike():
    r = RateTracker()
    r.rate("d", "k", 10**12, 64, 0.0)
    assert r.rate("d", "k", 5, 64, 10.0) is None
    assert r.rate("d", "k", 1005, 64, 20.0) == pytest.approx(100.0)


def test_agent_reboot_resets_baselines_so_no_spike():
    r = RateTracker()
    assert not r.restarted("d", 100_000, 0.0)
    r.rate("d", "k", 2**31, 32, 0.0)
    # The agent restarted: uptime went back. The 32-bit counter restarted from 0.
    assert r.restarted("d", 500, 30.0)
    assert r.rate("d", "k", 3000, 32, 30.0) is None  # would have been a ~2^31/30 spike
    assert not r.restarted("d", 3500, 60.0)
    assert r.rate("d", "k", 6000, 32, 60.0) == pytest.approx(100.0)


def test_sysuptime_wrap_is_not_a_reboot():
    r = RateTracker()
    r.restarted("d", 2**32 - 1000, 0.0)
    r.rate("d", "k", 100, 64, 0.0)
    assert not r.restarted("d", 2000, 30.0)  # 3000 ticks = 30 s later, past the wrap
    assert r.rate("d", "k", 400, 64, 30.0) == pytest.approx(10.0)


def test_rate_above_line_speed_is_dropped():
    r = RateTracker()
    r.rate("d", "k", 0, 64, 0.0)
    assert r.rate("d", "k", 10**12, 64, 1.0, ceiling=300e6 / 8) is None
