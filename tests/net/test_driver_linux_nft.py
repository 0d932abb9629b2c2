"""The NAPALM Linux/nftables driver against sshd + nftables in a namespace."""
import time

import pytest
from napalm.base import NetworkDriver
from napalm.base.exceptions import CommitConfirmException, ReplaceConfigException

from dcops.net.drivers.linux_nft import LinuxNftDriver

pytestmark = pytest.mark.lab

R1 = "table inet filter {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 8080 drop\n }\n}\n"
R2 = "table inet filter {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 9090 drop\n }\n}\n"


@pytest.fixture
def device(lab):
    lab.host("mgmt")
    lab.host("fw", forwarding=True)
    lab.link("mgmt", "eth0", "fw", "mgmt0", addr_a="10.9.0.10/24", addr_b="10.9.0.1/24")
    ep = lab.start_sshd("fw", address="10.9.0.1", private_dirs=["/var/lib/dcops"])
    d = LinuxNftDriver("10.9.0.1", "root", optional_args={
        "key_file": str(ep.key), "netns": lab.ns("mgmt"), "host_key_check": False})
    d.open()
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
