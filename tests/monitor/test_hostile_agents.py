"""Forged, replayed and broken answers from fake agents written for these tests (tests/monitor/hostile.py):
none of them may become a value; each failure names what was wrong."""
import asyncio
import json
import os
import subprocess
import sys

import pytest

from dcops.monitor.poller import Poller
from dcops.monitor.snmp import ber
from dcops.monitor.snmp.errors import Credentials, SnmpError, SnmpMalformed, SnmpRejected
from dcops.monitor.snmp.transport import DISCARDED
from dcops.monitor.snmp.usm import HASHES, PRIVS, V3FastSession
from dcops.monitor.snmp.v2c import V2cSession
from dcops.monitor.targets import Target

from .hostile import (ENGINE, SYS_NAME, SYS_UPTIME, UNKNOWN_ENGINE_IDS, FakeAgent, authentic_responder,
                      discovery_report, forged_values, plaintext_forger, scoped_pdu, v3_message)

AUTH_PW, PRIV_PW = "noc-auth-pass", "noc-priv-pass"


def _creds(auth="SHA256", priv="AES", **kw):
    return Credentials("3", user="noc", auth_key=AUTH_PW, priv_key=PRIV_PW, auth_protocol=auth, priv_protocol=priv,
                       **kw)


@pytest.mark.parametrize("flags,level", [(0, "noAuthNoPriv"), (1, "authNoPriv")])
def test_plaintext_forgeries_never_become_values_for_any_auth_priv(flags, level):
    with FakeAgent(plaintext_forger(flags)) as agent:
        targets = [Target(f"{a}-{p}", "127.0.0.1", agent.port, "if-mib", _creds(a, p))
                   for a in HASHES for p in PRIVS]
        polls = asyncio.run(Poller(targets, timeout=0.4, retries=0, concurrency=0).poll_all())
    assert agent.requests >= 2 * len(targets)  # discovery + the authPriv GET: the forger was really asked
    for poll in polls:
        assert not poll.reachable and not poll.samples and not poll.info, poll.device
        assert poll.error == (f"no valid response from 127.0.0.1:{agent.port}: 1 answer rejected: security "
                              f"level {level} in answer to an authPriv request"), poll.device
        assert poll.state == "rejected"


def test_probe_rejects_a_plaintext_forgery():
    with FakeAgent(plaintext_forger(0)) as agent:
        r = subprocess.run([sys.executable, "-m", "dcops.cli", "snmp", "probe", f"127.0.0.1:{agent.port}",
                            "--profile", "apc-ups", "--user", "noc", "--auth-key", "env:AK", "--priv-key", "env:PK",
                            "--priv-proto", "AES256", "--timeout", "0.5", "--retries", "0", "--json"],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, AK=AUTH_PW, PK=PRIV_PW))
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["reachable"] is False and out["samples"] == []
    assert "security level noAuthNoPriv in answer to an authPriv request" in out["error"]
    assert out["state"] == "rejected"


def _get(port, creds=None, session=None):
    s = session or V3FastSession("127.0.0.1", port, creds or _creds(), timeout=0.4, retries=0)

    async def run():
        return await s.get([SYS_UPTIME, SYS_NAME])
    return asyncio.run(run())


def test_authentic_agent_is_accepted():
    """The fake agent can succeed: the rejections below are the checks, not a broken fake."""
    with FakeAgent(authentic_responder(AUTH_PW, PRIV_PW)) as agent:
        assert _get(agent.port)[SYS_NAME] == b"REAL"


def _tweak(**kw):
    def answer(i, _m):
        base = dict(pdu=ber.encode_pdu(ber.RESPONSE, i, [SYS_NAME], values=[b"REPLAYED"]), engine=ENGINE,
                    boots=5, etime=1000, ctx=b"")
        base.update({k: (v(i) if callable(v) else v) for k, v in kw.items()})
        return base["pdu"], base["engine"], base["boots"], base["etime"], base["ctx"]
    return answer


@pytest.mark.parametrize("tweak,why", [
    (dict(boots=4), "outside the time window (boots 4, time 1000; engine at boots 5, time 1000)"),
    (dict(etime=1000 - 151), "outside the time window (boots 5, time 849; engine at boots 5, time 1000)"),
    (dict(engine=bytes.fromhex("8000000001020304")), "answer from engine 8000000001020304, not the discovered "
                                                      + ENGINE.hex()),
    (dict(pdu=lambda i: ber.encode_pdu(ber.GET, i, [SYS_NAME])), "PDU type 0xa0 instead of a Response"),
    (dict(pdu=lambda i: ber.encode_pdu(ber.RESPONSE, i + 1, [SYS_NAME], values=[b"X"])),
     "request-id {rid1} instead of {rid}"),
    (dict(ctx=b"other"), "answer for context 'other' of engine " + ENGINE.hex()),
])
def test_authentic_but_wrong_answers_are_rejected(tweak, why):
    with FakeAgent(authentic_responder(AUTH_PW, PRIV_PW, answer=_tweak(**tweak))) as agent:
        with pytest.raises(SnmpRejected) as ei:
            _get(agent.port)
    msg = str(ei.value)
    prefix = f"no valid response from 127.0.0.1:{agent.port}: 1 answer rejected: "
    assert msg.startswith(prefix)
    if "{rid}" in why:
        rid = int(msg.split("request-id ")[1].split(" ")[0]) - 1
        why = why.format(rid=rid, rid1=rid + 1)
    assert msg == prefix + why


def test_unauthenticated_report_after_discovery_changes_no_engine_state():
    state = {"n": 0}
    good = authentic_responder(AUTH_PW, PRIV_PW)

    def handler(req):
        state["n"] += 1
        if state["n"] <= 2:  # discovery, then one good answer
            return good(req)
        from dcops.monitor.snmp.usm import parse_message
        m = parse_message(req)
        other = bytes.fromhex("80000000aabbccddee")
        pdu = ber.encode_pdu(ber.REPORT, m.msg_id, [UNKNOWN_ENGINE_IDS], values=[(ber.T_COUNTER32, 9)])
        return [v3_message(m.msg_id, 0, other, 999, 999999, b"noc", scoped_pdu(other, pdu))]

    with FakeAgent(handler) as agent:
        s = V3FastSession("127.0.0.1", agent.port, _creds(), timeout=0.4, retries=0)
        assert _get(agent.port, session=s)[SYS_NAME] == b"REAL"
        before = (s.engine_id, s.boots, s.latest_time, s.time_base)
        with pytest.raises(SnmpError) as ei:
            _get(agent.port, session=s)
        assert str(ei.value) == (f"127.0.0.1:{agent.port}: SNMPv3 the agent does not know our engine ID "
                                 "(usmStatsUnknownEngineIDs, unauthenticated report)")
        assert (s.engine_id, s.boots, s.latest_time, s.time_base) == before


def test_forged_hmac_is_rejected():
    def handler(req):
        from dcops.monitor.snmp.usm import parse_message
        m = parse_message(req)
        if not m.flags & 1:
            return [discovery_report(req)]
        return [v3_message(m.msg_id, 3, ENGINE, 5, 1000, m.user, ber.tlv(ber.T_OCTETS, os.urandom(40)),
                           auth=os.urandom(24), priv=os.urandom(8))]
    with FakeAgent(handler) as agent:
        with pytest.raises(SnmpRejected, match=r"1 answer rejected: HMAC does not verify \(forged, or another auth key\)$"):
            _get(agent.port)


# ---------------------------------------------------------------- v2c

def _v2c_answer(req, community=b"public", ptype=ber.RESPONSE, version=1):
    _v, _c, _t, rid, *_ = ber.decode_message(req)
    return ber.encode_message(version, community, forged_values(rid, ptype))


@pytest.mark.parametrize("kw,why", [
    (dict(community=b"private"), "answer with another community"),
    (dict(ptype=ber.GET), "PDU type 0xa0 instead of a Response"),
    (dict(ptype=ber.TRAPV2), "PDU type 0xa7 instead of a Response"),
    (dict(version=0), "SNMP version 1 answer to a v2c request"),
])
def test_v2c_answers_that_do_not_match_are_rejected(kw, why):
    with FakeAgent(lambda req: [_v2c_answer(req, **kw)]) as agent:
        before = DISCARDED["rejected"]
        with pytest.raises(SnmpRejected) as ei:
            asyncio.run(V2cSession("127.0.0.1", agent.port, "public", timeout=0.3, retries=1).get([SYS_NAME]))
    assert str(ei.value) == f"no valid response from 127.0.0.1:{agent.port}: 2 answers rejected: {why}"
    assert DISCARDED["rejected"] - before == 2


def test_v2c_forgery_racing_the_real_answer_loses():
    """A forged answer arriving first is discarded; the genuine one that follows is taken."""
    def handler(req):
        return [_v2c_answer(req, community=b"forged"), _v2c_answer(req)]
    with FakeAgent(handler) as agent:
        s = V2cSession("127.0.0.1", agent.port, "public", timeout=0.5, retries=0)
        vb = asyncio.run(s.get([SYS_NAME]))
    assert vb[SYS_NAME] == b"FORGED"  # the "real" fake agent's value, carried with the right community
    assert s.discarded == 1


def test_garbage_is_a_malformed_response_not_unreachable():
    def handler(req):
        _v, _c, _t, rid, *_ = ber.decode_message(req)
        good = ber.encode_message(1, b"public", forged_values(rid))
        return [good[:-3]]  # truncated
    with FakeAgent(handler) as agent:
        with pytest.raises(SnmpMalformed, match=r"^malformed response from 127\.0\.0\.1:\d+: "):
            asyncio.run(V2cSession("127.0.0.1", agent.port, "public", timeout=0.3, retries=0).get([SYS_NAME]))
