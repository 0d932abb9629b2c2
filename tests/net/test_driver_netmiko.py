"""The Netmiko adapter (platforms without a NAPALM driver) against a real SSH peer.

FortiOS cannot run here, so the peer is sshd + bash in a namespace and the
platform data gives shell equivalents of a CLI device's recipe: the config is
a file written line by line in a staged session, commit-confirm arms a detached revert timer.
"""
import concurrent.futures as cf
import threading
import time

import pytest
from napalm.base.exceptions import CommitError

from dcops.net.drivers.locking import DeviceBusy
from dcops.net.drivers.netmiko_generic import NetmikoDriver

pytestmark = pytest.mark.lab

D = "/var/lib/dcops"
SPEC = {
    "kind": "netmiko", "device_type": "linux", "config_mode": False,
    "lock": "none", "lock_reason": "this bare peer has no lock (the LOCKED spec below adds one)",
    "show_running": f"cat {D}/device.cfg",
    # a config session: lines staged into a new file, swapped in at the end (like `config … end`)
    "wrap": {"before": [f"cp {D}/device.cfg {D}/device.prev; : > {D}/device.new"],
             "after": [f"mv {D}/device.new {D}/device.cfg"]},
    "line_format": f"printf '%s\\n' {{quoted}} >> {D}/device.new",
    "commit_confirm": {
        "arm": [f"setsid sh -c 'sleep {{seconds}}; cp {D}/device.prev {D}/device.cfg' </dev/null >/dev/null 2>&1 & "
                f"echo $! > {D}/revert.pid"],
        "confirm": [f"kill $(cat {D}/revert.pid)"],
        "revert_now": [f"kill $(cat {D}/revert.pid); cp {D}/device.prev {D}/device.cfg"],
    },
}


@pytest.fixture
def device(lab):
    lab.host("op")
    lab.host("dev")
    lab.link("op", "eth0", "dev", "eth0", addr_a="10.9.5.10/24", addr_b="10.9.5.1/24")
    ep = lab.start_sshd("dev", address="10.9.5.1", private_dirs=[D])
    d = NetmikoDriver("10.9.5.1", "root", timeout=20, platform_spec=SPEC,
                      optional_args={"key_file": str(ep.key), "netns": lab.ns("op"), "allow_unlocked": True})
    d.open()
    d._send([f"printf 'hostname dev\\nntp 10.10.1.20\\n' > {D}/device.cfg"])
    yield d
    d.close()


def test_replace_diff_commit_confirm(device):
    d = device
    assert d.is_alive() == {"is_alive": True}
    assert d.get_config()["running"] == "hostname dev\nntp 10.10.1.20\n"
    d.load_replace_candidate(config="hostname dev\nntp 10.10.1.21\n")
    diff = d.compare_config()
    assert "-ntp 10.10.1.20" in diff and "+ntp 10.10.1.21" in diff
    d.commit_config(revert_in=30)
    assert d.has_pending_commit()
    d.confirm_commit()
    assert d.get_config()["running"] == "hostname dev\nntp 10.10.1.21\n"


def test_unconfirmed_commit_reverts_by_itself(device):
    d = device
    d.load_replace_candidate(config="hostname changed\n")
    d.commit_config(revert_in=2)
    assert d.get_config()["running"] == "hostname changed\n"
    time.sleep(3)
    assert d.get_config()["running"] == "hostname dev\nntp 10.10.1.20\n"


def test_rollback_while_pending(device):
    d = device
    d.load_replace_candidate(config="hostname changed\n")
    d.commit_config(revert_in=30)
    d.rollback()
    assert not d.has_pending_commit()
    assert d.get_config()["running"] == "hostname dev\nntp 10.10.1.20\n"


# Issue 15 §2: the device's lock from the platform recipe. On this peer: a lock file created with the
# shell's noclobber (atomic O_EXCL), holding token/owner/pid/since like the Linux driver's lock.
LOCKED = {**SPEC, "lock": {
    "acquire": (f"(set -C; printf 'token=%s\\nowner=%s\\npid=%s\\nsince=%s\\n' {{token}} {{owner}} {{pid}} {{since}}"
                f" > {D}/lock) 2>/dev/null && echo dcops-lock-ok || "
                f"{{{{ grep -qx 'token={{token}}' {D}/lock && echo dcops-lock-ok || cat {D}/lock; }}}}"),
    "release": f"grep -qx 'token={{token}}' {D}/lock && rm -f {D}/lock; true",
    "show": f"cat {D}/lock 2>/dev/null; true",
    "break": f"rm -f {D}/lock",
}}


@pytest.fixture
def locked_peer(lab):
    lab.host("op")
    lab.host("dev")
    lab.link("op", "eth0", "dev", "eth0", addr_a="10.9.6.10/24", addr_b="10.9.6.1/24")
    ep = lab.start_sshd("dev", address="10.9.6.1", private_dirs=[D])

    def session(owner="ops@station"):
        d = NetmikoDriver("10.9.6.1", "root", timeout=60, platform_spec=LOCKED,
                          optional_args={"key_file": str(ep.key), "netns": lab.ns("op"), "lock_owner": owner})
        d.open()
        return d
    first = session()
    first._send([f"printf 'hostname dev\\n' > {D}/device.cfg; rm -f {D}/lock"])
    yield session
    first.close()


def test_lock_second_session_is_told_who_holds_the_device(locked_peer):
    a, b = locked_peer("alice@station-a"), locked_peer("bob@station-b")
    a.load_replace_candidate(config="hostname a\n")
    with pytest.raises(DeviceBusy, match=r"device busy: locked by alice@station-a since \S+Z"):
        b.load_replace_candidate(config="hostname b\n")
    a.commit_config(revert_in=30)
    a.confirm_commit()                      # releases the lock
    b.load_replace_candidate(config="hostname b\n")
    b.discard_config()
    assert b.get_config()["running"] == "hostname a\n"
    assert b.device_lock.info() == {}
    a.close()
    b.close()


def test_lock_commit_refused_when_the_lock_was_taken_over(locked_peer):
    a, op = locked_peer("alice@station-a"), locked_peer("root@noc")
    a.load_replace_candidate(config="hostname a\n")
    op.device_lock.unlock()                 # an operator removed it (`dcops net unlock`)
    op.load_replace_candidate(config="hostname op\n")
    with pytest.raises(CommitError, match="does not hold the device lock any more"):
        a.commit_config(revert_in=30)
    assert a.get_config()["running"] == "hostname dev\n"
    op.discard_config()
    a.close()
    op.close()


def test_lock_ten_concurrent_pushes_one_wins(locked_peer):
    """Ten operators load different candidates at one moment: one commits, nine are told busy."""
    n = 10
    sessions = [locked_peer(f"op{i}@station-{i}") for i in range(n)]
    at_load = threading.Barrier(n, timeout=120)
    done, cond = [], threading.Condition()

    def push(i):
        d = sessions[i]
        at_load.wait()
        try:
            d.load_replace_candidate(config=f"hostname cand-{i}\n")
        except DeviceBusy as e:
            with cond:
                done.append(i)
                cond.notify_all()
            return str(e)
        with cond:                           # commit only once every other operator has had its answer
            cond.wait_for(lambda: len(done) >= n - 1, timeout=120)
        d.commit_config(revert_in=60)
        d.confirm_commit()
        return "confirmed"

    with cf.ThreadPoolExecutor(n) as pool:
        results = list(pool.map(push, range(n)))
    winners = [i for i, r in enumerate(results) if r == "confirmed"]
    assert len(winners) == 1
    assert all("device busy: locked by op" in r for i, r in enumerate(results) if i != winners[0]), results
    assert sessions[0].get_config()["running"] == f"hostname cand-{winners[0]}\n"
    assert sessions[0].device_lock.info() == {}
    for d in sessions:
        d.close()
