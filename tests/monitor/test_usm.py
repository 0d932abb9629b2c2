"""SNMPv3 USM fast path against what we did not write: RFC 3414 vectors, pysnmp's key extensions,
and a differential matrix against a real net-snmp `snmpd` (every auth x priv it supports, and the
ways credentials go wrong, each with its exact error text)."""
import asyncio
import os
import shutil
import signal
import subprocess
from dataclasses import replace

import pytest

from dcops.monitor.poller import Poller
from dcops.monitor.sim import free_port
from dcops.monitor.snmp.errors import Credentials, SnmpError, SnmpTimeout
from dcops.monitor.snmp.session import open_session
from dcops.monitor.snmp.usm import HASHES, PRIVS, V3FastSession, localize, priv_key
from dcops.monitor.targets import Target

ENGINE = bytes.fromhex("000000000000000000000002")
AUTHS = {"MD5": "MD5", "SHA": "SHA", "SHA224": "SHA-224", "SHA256": "SHA-256", "SHA384": "SHA-384",
         "SHA512": "SHA-512"}
PRIV_NETSNMP = {"DES": "DES", "AES": "AES", "AES192": "AES-192", "AES256": "AES-256", "AES192C": "AES-192-C",
                "AES256C": "AES-256-C"}
SYSNAME = "1.3.6.1.2.1.1.5.0"


def test_key_localisation_rfc3414_vectors():
    # RFC 3414 A.3.1 (MD5) and A.3.2 (SHA-1), password "maplesyrup".
    assert localize("maplesyrup", "md5", ENGINE).hex() == "526f5eed9fcce26f8964c2930787d82b"
    assert localize("maplesyrup", "sha1", ENGINE).hex() == "6695febc9288e36282235fc7151f128497b38f3f"


@pytest.mark.parametrize("auth", list(HASHES))
@pytest.mark.parametrize("priv", ["AES192", "AES256", "AES192C", "AES256C"])
def test_key_extension_matches_pysnmp(auth, priv):
    """Blumenthal and Reeder extensions equal pysnmp's (whose class names are the other way round)."""
    import pysnmp.entity.config  # noqa: F401 - pysnmp's own import order (its priv modules import in a cycle)
    from pysnmp.proto.secmod.eso.priv import aes192, aes256
    from pysnmp.proto.secmod.rfc3414.auth import hmacmd5, hmacsha
    from pysnmp.proto.secmod.rfc7860.auth import hmacsha2
    proto = {"MD5": hmacmd5.HmacMd5.SERVICE_ID, "SHA": hmacsha.HmacSha.SERVICE_ID,
             "SHA224": hmacsha2.HmacSha2.SHA224_SERVICE_ID, "SHA256": hmacsha2.HmacSha2.SHA256_SERVICE_ID,
             "SHA384": hmacsha2.HmacSha2.SAH384_SERVICE_ID,  # sic, pysnmp 7
             "SHA512": hmacsha2.HmacSha2.SHA512_SERVICE_ID}[auth]
    cls = {"AES192": aes192.AesBlumenthal192, "AES256": aes256.AesBlumenthal256, "AES192C": aes192.Aes192,
           "AES256C": aes256.Aes256}[priv]
    hash_name = HASHES[auth][0]
    ku = cls().hash_passphrase(proto, b"maplesyrup")
    from pyasn1.type import univ
    theirs = bytes(cls().localize_key(proto, univ.OctetString(ku), univ.OctetString(ENGINE)))
    assert priv_key("maplesyrup", hash_name, ENGINE, priv) == theirs[:PRIVS[priv][1]]


def test_every_v3_protocol_uses_the_fast_path():
    c = Credentials("3", user="u", auth_key="a" * 8, priv_key="p" * 8, auth_protocol="SHA256", priv_protocol="AES256")
    for priv in PRIVS:
        assert isinstance(open_session("127.0.0.1", 161, replace(c, priv_protocol=priv)), V3FastSession)
    assert isinstance(open_session("127.0.0.1", 161, replace(c, priv_protocol="AES-256-C")), V3FastSession)


def _user(auth, priv):
    return f"u-{auth}-{priv}".lower()


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory):
    if not shutil.which("snmpd"):
        pytest.skip("net-snmp snmpd not installed")
    d = tmp_path_factory.mktemp("snmpd")
    port = free_port()
    conf = ['createUser noc SHA-256 "noc-auth-pass" AES "noc-priv-pass"',
            'createUser authonly SHA-256 "noc-auth-pass"',
            "rouser noc priv", "rouser authonly auth", "sysName snmpd-peer"]
    for auth, a in AUTHS.items():
        for priv, p in PRIV_NETSNMP.items():
            conf += [f'createUser {_user(auth, priv)} {a} "auth-{auth}-pass" {p} "priv-{priv}-pass"',
                     f"rouser {_user(auth, priv)} priv"]
    (d / "snmpd.conf").write_text("\n".join(conf) + "\n")
    p = subprocess.Popen(["snmpd", "-f", "-C", "-c", str(d / "snmpd.conf"), "-Lf", str(d / "log"),
                          "-p", str(d / "pid"), f"udp:127.0.0.1:{port}"],
                         env=dict(os.environ, SNMP_PERSISTENT_DIR=str(d)), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait(port, _creds())
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
                return await V3FastSession("127.0.0.1", port, creds, timeout=0.5, retries=0).get([SYSNAME])
            except SnmpError:
                await asyncio.sleep(0.25)
        raise AssertionError("snmpd did not answer")
    return asyncio.run(run())


def test_every_auth_and_priv_against_net_snmp(snmpd):
    """36 users, one per auth x priv; all polled at once through the poller (GET + walk)."""
    targets = [Target(f"{a}-{p}", "127.0.0.1", snmpd, "if-mib",
                      _creds(user=_user(a, p), auth_key=f"auth-{a}-pass", priv_key=f"priv-{p}-pass",
                             auth_protocol=a, priv_protocol=p))
               for a in AUTHS for p in PRIV_NETSNMP]
    polls = asyncio.run(Poller(targets, timeout=3, retries=1, concurrency=8).poll_all())
    bad = {p.device: p.error for p in polls if not p.reachable}
    assert not bad
    for poll in polls:
        assert poll.info.get("sys_name") == "snmpd-peer", poll.device
        assert "lo" in {s.labels.get("ifName") for s in poll.samples if s.metric == "if_oper_status"}


def test_net_snmp_cli_reads_the_same_values(snmpd):
    """Differential: snmpwalk (net-snmp's own manager) and our walk agree on the system group."""
    if not shutil.which("snmpwalk"):
        pytest.skip("snmpwalk not installed")
    out = subprocess.run(["snmpwalk", "-v3", "-l", "authPriv", "-u", "u-sha512-aes256c", "-a", "SHA-512",
                          "-A", "auth-SHA512-pass", "-x", "AES-256-C", "-X", "priv-AES256C-pass", "-On", "-Oe",
                          "-Ot", "-Oq", f"127.0.0.1:{snmpd}", "1.3.6.1.2.1.1"],
                         env=dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR="/nonexistent"),
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    theirs = {}
    for line in out.stdout.splitlines():
        oid, _, val = line.partition(" ")
        theirs[oid.lstrip(".")] = val.strip('"')
    creds = _creds(user="u-sha512-aes256c", auth_key="auth-SHA512-pass", priv_key="priv-AES256C-pass",
                   auth_protocol="SHA512", priv_protocol="AES256C")
    ours = asyncio.run(V3FastSession("127.0.0.1", snmpd, creds).walk(["1.3.6.1.2.1.1"]))
    assert set(ours) == set(theirs)
    for oid in ("1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.1.0"):
        assert ours[oid].decode() == theirs[oid]


def _get(port, creds):
    async def run():
        return await V3FastSession("127.0.0.1", port, creds, timeout=0.5, retries=0).get([SYSNAME])
    return asyncio.run(run())


def _error(port, creds) -> str:
    with pytest.raises(SnmpError) as ei:
        _get(port, creds)
    return str(ei.value)


def test_wrong_auth_key(snmpd):
    assert _error(snmpd, _creds(auth_key="wrong-auth-pass")) == (
        f"127.0.0.1:{snmpd}: SNMPv3 authentication failed: wrong auth key or auth protocol for user 'noc' "
        "(usmStatsWrongDigests, unauthenticated report)")


def test_wrong_auth_protocol(snmpd):
    assert _error(snmpd, _creds(auth_protocol="SHA512")) == (
        f"127.0.0.1:{snmpd}: SNMPv3 authentication failed: wrong auth key or auth protocol for user 'noc' "
        "(usmStatsWrongDigests, unauthenticated report)")


def test_unknown_user(snmpd):
    assert _error(snmpd, _creds(user="nobody")) == (
        f"127.0.0.1:{snmpd}: SNMPv3 user 'nobody' is unknown to the agent "
        "(usmStatsUnknownUserNames, unauthenticated report)")


def test_user_without_privacy(snmpd):
    assert _error(snmpd, _creds(user="authonly")) == (
        f"127.0.0.1:{snmpd}: SNMPv3 the agent does not allow authPriv for user 'authonly' "
        "(usmStatsUnsupportedSecLevels, unauthenticated report)")


@pytest.mark.parametrize("change", [dict(priv_key="wrong-priv-pass"), dict(priv_protocol="AES256")])
def test_wrong_priv_key_or_protocol(snmpd, change):
    priv = change.get("priv_protocol", "AES")
    msg = _error(snmpd, _creds(**change))
    assert msg == (f"no response from 127.0.0.1:{snmpd} to authenticated requests, though it answers discovery: "
                   f"wrong privacy key or privacy protocol ({priv}) for user 'noc' (the agent drops what it "
                   "cannot decrypt), or no access for the user")


def test_wrong_context_is_not_reported_as_a_wrong_priv_key(snmpd):
    msg = _error(snmpd, _creds(context="no-such-context"))
    assert msg == (f"no response from 127.0.0.1:{snmpd} in SNMPv3 context 'no-such-context': the agent answers "
                   "user 'noc' in the default context, so the context is unknown to it or not allowed for the user")
    assert "privacy" not in msg


def test_a_request_outside_net_snmps_time_window_is_resynced_from_its_authenticated_report(snmpd):
    """net-snmp answers a request whose engine time is more than 150 s off (RFC 3414 §3.2 step 7a) with a
    usmStatsNotInTimeWindows Report at authNoPriv: digested, not encrypted. The session verifies that digest,
    takes the agent's clock from the report and asks once more."""
    async def run():
        s = V3FastSession("127.0.0.1", snmpd, _creds(), timeout=0.5, retries=0)
        await s.get([SYSNAME])
        s.time_base -= 1000                        # our notion of the engine's clock runs 1000 s ahead
        return s, await s.get([SYSNAME])
    s, out = asyncio.run(run())
    assert out == {SYSNAME: b"snmpd-peer"}
    assert (s.requests, s.discarded) == (4, 0)    # discovery, GET, GET answered by the report, GET again


def test_reeder_and_blumenthal_are_not_interchangeable(snmpd):
    creds = _creds(user="u-sha-aes256", auth_key="auth-SHA-pass", priv_key="priv-AES256-pass",
                   auth_protocol="SHA", priv_protocol="AES256")
    assert _get(snmpd, creds)[SYSNAME] == b"snmpd-peer"
    with pytest.raises(SnmpTimeout, match=r"privacy protocol \(AES256C\)"):
        _get(snmpd, replace(creds, priv_protocol="AES256C"))


def test_dead_agent_is_unreachable():
    with pytest.raises(SnmpTimeout, match=r"^no response from 127\.0\.0\.1:\d+$"):
        _get(free_port(), _creds())


def test_same_values_through_pysnmp_engine(snmpd, monkeypatch):
    """Differential: the same poll through pysnmp 7 (DCOPS_SNMP_PYSNMP=1) gives the same readings."""
    creds = _creds(user="u-sha256-aes256", auth_key="auth-SHA256-pass", priv_key="priv-AES256-pass",
                   auth_protocol="SHA256", priv_protocol="AES256")
    t = Target("peer", "127.0.0.1", snmpd, "if-mib", creds)
    ours = asyncio.run(Poller([t], timeout=3).poll_all())[0]
    monkeypatch.setenv("DCOPS_SNMP_PYSNMP", "1")
    theirs = asyncio.run(Poller([t], timeout=3).poll_all())[0]
    assert ours.reachable and theirs.reachable, (ours.error, theirs.error)

    def static(p):
        return {(s.metric, tuple(sorted(s.labels.items()))): s.state or s.value for s in p.samples
                if s.type != "counter" and not s.metric.startswith("snmp_")}
    assert static(ours) == static(theirs)
    assert ours.info == theirs.info


def test_net_snmp_restarted_with_its_boots_counter_reset_is_polled_again_at_once(tmp_path):
    """snmpd keeps engineBoots in its persistent store; restored from an old copy (or rewritten) it counts again
    from a lower boot under the same engine ID. Its authentic answers are then outside the window the session
    holds, so the session discovers the engine again and the next poll succeeds (before: rejected for good)."""
    if not shutil.which("snmpd"):
        pytest.skip("net-snmp snmpd not installed")
    conf, store, port = tmp_path / "snmpd.conf", tmp_path / "store", free_port()
    store.mkdir()
    (store / "snmpd.conf").touch()    # read back at start (-C skips the default places, the store included)
    conf.write_text('createUser noc SHA-256 "noc-auth-pass" AES "noc-priv-pass"\nrouser noc priv\n'
                    "sysName snmpd-peer\n")

    def start(boots_before: int | None) -> subprocess.Popen:
        persistent = store / "snmpd.conf"
        if boots_before is not None:    # snmpd adds one at start-up
            kept = [ln for ln in persistent.read_text().splitlines() if not ln.startswith("engineBoots")]
            persistent.write_text("\n".join(kept + [f"engineBoots {boots_before}"]) + "\n")
        return subprocess.Popen(["snmpd", "-f", "-C", "-c", f"{conf},{store / 'snmpd.conf'}", "-Lf", str(tmp_path / "log"),
                                 f"udp:127.0.0.1:{port}"], env=dict(os.environ, SNMP_PERSISTENT_DIR=str(store)),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(p: subprocess.Popen) -> None:
        p.send_signal(signal.SIGTERM)
        p.wait(5)

    session = V3FastSession("127.0.0.1", port, _creds(), timeout=0.5, retries=0)

    async def get_when_up():
        for _ in range(40):
            try:
                return await session.get([SYSNAME])
            except SnmpTimeout:
                await asyncio.sleep(0.1)
        raise AssertionError("snmpd did not answer")

    p = start(None)
    try:
        _wait(port, _creds())
    finally:
        stop(p)             # the store now holds the engine ID and engineBoots 1
    p = start(20)
    try:
        assert asyncio.run(get_when_up()) == {SYSNAME: b"snmpd-peer"}
        engine, first_boots = session.engine_id, session.boots
    finally:
        stop(p)
    p = start(0)
    try:
        assert asyncio.run(get_when_up()) == {SYSNAME: b"snmpd-peer"}
    finally:
        stop(p)
    assert (first_boots, session.boots, session.engine_id) == (21, 1, engine)
