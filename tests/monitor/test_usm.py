"""SNMPv3 USM fast path: RFC test vectors and a real net-snmp snmpd peer."""
import asyncio
import os
import shutil
import signal
import subprocess
from dataclasses import replace

import pytest

from dcops.monitor.poller import Poller
from dcops.monitor.sim import free_port
from dcops.monitor.snmp.errors import Credentials, SnmpError
from dcops.monitor.snmp.pysnmp_v3 import V3Session
from dcops.monitor.snmp.session import open_session
from dcops.monitor.targets import Target
from dcops.monitor.snmp.usm import V3FastSession, localize

ENGINE = bytes.fromhex("000000000000000000000002")


def test_key_localisation_rfc3414_vectors():
    # RFC 3414 A.3.1 (MD5) and A.3.2 (SHA-1), password "maplesyrup".
    assert localize("maplesyrup", "md5", ENGINE).hex() == "526f5eed9fcce26f8964c2930787d82b"
    assert localize("maplesyrup", "sha1", ENGINE).hex() == "6695febc9288e36282235fc7151f128497b38f3f"


def test_protocols_without_fast_path_use_pysnmp():
    c = Credentials("3", user="u", auth_key="a" * 8, priv_key="p" * 8, auth_protocol="SHA256", priv_protocol="AES256")
    assert isinstance(open_session("127.0.0.1", 161, c), V3Session)
    assert isinstance(open_session("127.0.0.1", 161, replace(c, priv_protocol="AES")), V3FastSession)


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory):
    if not shutil.which("snmpd"):
        pytest.skip("net-snmp snmpd not installed")
    d = tmp_path_factory.mktemp("snmpd")
    port = free_port()
    (d / "snmpd.conf").write_text(
        'createUser noc SHA-256 "noc-auth-pass" AES "noc-priv-pass"\n'
        'createUser noc1 SHA "noc-auth-pass" AES "noc-priv-pass"\n'
        "rouser noc priv\nrouser noc1 priv\nsysName snmpd-peer\n")
    p = subprocess.Popen(["snmpd", "-f", "-C", "-c", str(d / "snmpd.conf"), "-Lf", str(d / "log"),
                          "-p", str(d / "pid"), f"udp:127.0.0.1:{port}"],
                         env=dict(os.environ, SNMP_PERSISTENT_DIR=str(d)), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        yield port
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(5)


def _creds(**kw):
    base = dict(user="noc", auth_key="noc-auth-pass", priv_key="noc-priv-pass", auth_protocol="SHA256",
                priv_protocol="AES")
    base.update(kw)
    return Credentials("3", **base)


def _wait(port, creds):
    async def run():
        for _ in range(40):
            try:
                return await V3FastSession("127.0.0.1", port, creds, timeout=0.5, retries=0).get(
                    ["1.3.6.1.2.1.1.5.0"])
            except SnmpError:
                await asyncio.sleep(0.25)
        raise AssertionError("snmpd did not answer")
    return asyncio.run(run())


def test_authpriv_get_and_walk_against_net_snmp(snmpd):
    assert _wait(snmpd, _creds())["1.3.6.1.2.1.1.5.0"] == b"snmpd-peer"
    for creds in (_creds(), _creds(user="noc1", auth_protocol="SHA")):
        t = Target("peer", "127.0.0.1", snmpd, "if-mib", creds)
        poll = asyncio.run(Poller([t], timeout=2).poll_all())[0]
        assert poll.reachable, poll.error
        names = {s.labels.get("ifName") for s in poll.samples if s.metric == "if_oper_status"}
        assert "lo" in names


def test_wrong_keys_are_clear_errors(snmpd):
    _wait(snmpd, _creds())

    async def get(creds):
        return await V3FastSession("127.0.0.1", snmpd, creds, timeout=1, retries=0).get(["1.3.6.1.2.1.1.5.0"])

    with pytest.raises(SnmpError, match="wrongDigests"):
        asyncio.run(get(_creds(auth_key="wrong-auth-pass")))
    with pytest.raises(SnmpError, match="unknownUserNames"):
        asyncio.run(get(_creds(user="nobody")))
    with pytest.raises(SnmpError, match="privacy key|decryptionErrors|undecodable"):
        asyncio.run(get(_creds(priv_key="wrong-priv-pass")))
