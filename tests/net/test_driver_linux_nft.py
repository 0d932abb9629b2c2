"""The NAPALM Linux/nftables driver against sshd + nftables in a namespace."""
import time

import pytest
from napalm.base import NetworkDriver
from napalm.base.exceptions import CommitConfirmException, ReplaceConfigException

from dcops.net.drivers.linux_nft import LinuxNftDriver

from .linux_fw import open_lab_firewall

pytestmark = pytest.mark.lab

R1 = "table inet filter {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 8080 drop\n }\n}\n"
R2 = "table inet filter {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 9090 drop\n }\n}\n"


@pytest.fixture
def device(lab):
    d = open_lab_firewall(lab)
    yield d, lab
    d.close()


def test_is_a_napalm_driver(device):
    d, _ = device
    assert isinstance(d, NetworkDriver)
    assert d.is_alive() == {"is_alive": True}
    facts = d.get_facts()
    assert facts["vendor"] == "Linux" and "mgmt0" in facts["interface_list"]


def test_replace_compare_commit_and_rollback_byte_for_byte(device):
    d, lab = device
    d.load_replace_candidate(config=R1)
    d.commit_config()
    before = lab.ruleset("fw")
    d.load_replace_candidate(config=R2)
    diff = d.compare_config()
    assert "-\t\ttcp dport 8080 drop" in diff and "+\t\ttcp dport 9090 drop" in diff
    d.commit_config()
    assert "9090" in lab.ruleset("fw")
    d.rollback()
    assert lab.ruleset("fw") == before


def test_unconfirmed_commit_reverts_by_itself(device):
    d, lab = device
    d.load_replace_candidate(config=R1)
    d.commit_config()
    before = lab.ruleset("fw")
    d.load_replace_candidate(config=R2)
    t0 = time.monotonic()
    d.commit_config(revert_in=2)
    assert d.has_pending_commit() and "9090" in lab.ruleset("fw")
    while d.has_pending_commit() and time.monotonic() - t0 < 6:
        time.sleep(0.1)
    assert lab.ruleset("fw") == before
    assert time.monotonic() - t0 < 4  # within its timeout (+ scheduling slack)
    with pytest.raises(CommitConfirmException):
        d.confirm_commit()  # too late: the revert won


def test_confirmed_commit_stays(device):
    d, lab = device
    d.load_replace_candidate(config=R2)
    d.commit_config(revert_in=1)
    d.confirm_commit()
    assert not d.has_pending_commit()
    time.sleep(1.5)
    assert "9090" in lab.ruleset("fw")
    assert "9090" in d.get_config(retrieve="startup")["startup"]


def test_invalid_candidate_changes_nothing_and_says_why(device):
    d, lab = device
    d.load_replace_candidate(config=R1)
    d.commit_config()
    before = lab.ruleset("fw")
    with pytest.raises(ReplaceConfigException, match="nft -c"):
        d.load_replace_candidate(config="table inet x {\n chain y {\n  tcp dport 22 frobnicate\n }\n}\n")
    assert d.compare_config() == ""
    assert lab.ruleset("fw") == before


def test_merge_candidate(device):
    d, lab = device
    d.load_replace_candidate(config=R1)
    d.commit_config()
    d.load_merge_candidate(config="table inet extra {\n chain c {\n  type filter hook output priority 0;\n }\n}\n")
    assert "+table inet extra" in d.compare_config()
    d.commit_config()
    rs = lab.ruleset("fw")
    assert "8080" in rs and "table inet extra" in rs


def test_discard(device):
    d, lab = device
    d.load_replace_candidate(config=R2)
    d.discard_config()
    assert d.compare_config() == ""
    assert d.get_config(retrieve="candidate")["candidate"] == ""


# ---------------------------------------------------------------- device lock (issue 15 §1)

def _second(lab, d, **extra):
    """Another operator's session to the same device (own lock token)."""
    other = LinuxNftDriver(d.hostname, d.username, "", optional_args={
        "key_file": d.key_file, "netns": d.netns, "host_key_check": False, **extra})
    other.open()
    return other


def test_a_second_session_is_told_who_holds_the_device(device):
    from dcops.net.drivers.locking import DeviceBusy
    d, lab = device
    other = _second(lab, d, lock_owner="lan@noc-02")
    try:
        other.load_replace_candidate(config=R2)
        t0 = time.monotonic()
        with pytest.raises(DeviceBusy, match=r"device busy: locked by lan@noc-02 since \d{4}-\d\d-\d\dT"):
            d.load_replace_candidate(config=R1)
        assert time.monotonic() - t0 < 5
        d.discard_config()                      # the loser's discard must not touch the holder's candidate
        assert "9090" in other.get_config(retrieve="candidate")["candidate"]
        with pytest.raises(Exception, match="does not hold the device lock"):
            d.commit_config()
        assert "9090" not in lab.ruleset("fw")
        other.commit_config(revert_in=30)       # pending: the lock stays with the holder …
        with pytest.raises(DeviceBusy):
            d.load_replace_candidate(config=R1)
        with pytest.raises(CommitConfirmException, match="held by lan@noc-02"):
            d.confirm_commit()                  # … and only the holder confirms
        other.confirm_commit()                  # … until confirm releases it
        d.load_replace_candidate(config=R1)
        d.commit_config()
        assert "8080" in lab.ruleset("fw") and d.device_lock.info() is None
    finally:
        other.close()


def test_candidate_replaced_behind_the_lock_is_refused_at_commit(device):
    d, lab = device
    d.load_replace_candidate(config=R1)
    d._sh("echo 'flush ruleset' > /var/lib/dcops/napalm/candidate.nft")  # e.g. a tool that ignores the lock
    with pytest.raises(Exception, match="candidate id or checksum differs"):
        d.commit_config()
    d.discard_config()
    assert d.device_lock.info() is None


def test_stale_lock_is_taken_over_only_when_safe(device):
    from dcops.net.drivers.locking import DeviceBusy
    d, lab = device
    # a holder on another machine whose lease ran out, no commit pending: stale, taken over and logged
    ghost = _second(lab, d, lock_owner="tam@noc-09", lock_lease=1)
    ghost.load_replace_candidate(config=R2)
    ghost.close()
    time.sleep(2.2)
    d.load_replace_candidate(config=R1)
    assert "stale lock of tam@noc-09" in d.lock_note
    assert "broke stale lock" in d._sh("cat /var/lib/dcops/napalm/history.log")[1]
    # a holder with a commit-confirm pending is never stale, whatever its lease; unlock refuses too
    d.commit_config(revert_in=3)
    late = _second(lab, d, lock_lease=0)
    try:
        with pytest.raises(DeviceBusy):
            late.load_replace_candidate(config=R2)
        with pytest.raises(Exception, match="commit-confirm .* is pending"):
            late.device_lock.unlock()
        assert d.device_lock.info()["token"] == d.lock_token
        time.sleep(4)                            # the revert timer releases the lock with the revert
        assert not d.has_pending_commit() and late.device_lock.info() is None
        late.load_replace_candidate(config=R2)
        assert late.device_lock.unlock()["token"] == late.lock_token   # the operator's explicit unlock
        assert late.device_lock.info() is None and late.get_config(retrieve="candidate")["candidate"] == ""
    finally:
        late.close()
