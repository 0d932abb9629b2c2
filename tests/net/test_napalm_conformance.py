"""Issue 15 §7: NAPALM's own harness against the Linux/nftables driver on sshd + nftables in a namespace.

`TestConfigNetworkDriver` (replace, typo, diff/discard, rollback, merge, merge typo, template) runs with
the configs in napalm_linux_nft/ — the .diff files are the driver's expected output, reviewed by hand;
`BaseTestGetters.test_method_signatures` checks every public method against napalm.base; the getters
are checked against NAPALM's models (napalm.base.models) on the live namespace.
"""
import secrets
import unittest
from pathlib import Path

import pytest
from napalm.base import models
from napalm.base.test import base as harness
from napalm.base.test import getters as getter_harness
from napalm.base.test.helpers import test_model as napalm_model

from dcops.lab import Lab, can_run
from dcops.net.drivers.linux_nft import LinuxNftDriver

from .linux_fw import open_lab_firewall

pytestmark = pytest.mark.lab
CONFIGS = Path(__file__).parent / "napalm_linux_nft"


def _device(lab):
    return open_lab_firewall(lab)


class TestLinuxNftConfigDriver(unittest.TestCase, harness.TestConfigNetworkDriver):
    vendor = str(CONFIGS)

    @classmethod
    def setUpClass(cls):
        if not can_run():
            raise unittest.SkipTest("needs root, network namespaces and OpenSSH server")
        if "lab" in cls.__dict__:  # setUpClass runs twice for this class here: a second lab would leak
            return
        cls.lab = Lab(f"dcn{secrets.token_hex(2)}-")
        try:
            cls.device = _device(cls.lab)
            cls.device.load_replace_candidate(filename=f"{cls.vendor}/initial.conf")
            cls.device.commit_config()
        except Exception:
            cls.lab.down()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.lab.down()


def test_method_signatures_match_napalm_base():
    class Signatures(getter_harness.BaseTestGetters):
        driver = LinuxNftDriver
    Signatures().test_method_signatures()


@pytest.fixture
def device(lab):
    d = _device(lab)
    d.load_replace_candidate(filename=str(CONFIGS / "initial.conf"))
    d.commit_config()
    yield d, lab
    d.close()


def test_getters_follow_napalm_models(device):
    d, lab = device
    lab.exec("fw", ["ip", "link", "set", "mgmt0", "alias", "management"])
    lab.exec("fw", ["ip", "route", "add", "192.0.2.0/24", "via", "10.9.0.10"])
    # the SSH session itself gave the device an ARP entry for the operator station

    ifaces = d.get_interfaces()
    assert all(napalm_model(models.InterfaceDict, v) for v in ifaces.values())
    assert ifaces["mgmt0"]["is_up"] and ifaces["mgmt0"]["description"] == "management"
    assert len(ifaces["mgmt0"]["mac_address"]) == 17 and ifaces["mgmt0"]["mtu"] == 1500

    ips = d.get_interfaces_ip()
    assert ips["mgmt0"]["ipv4"]["10.9.0.1"] == {"prefix_length": 24}
    assert all(napalm_model(models.InterfacesIPDictEntry, e) for i in ips.values()
               for fam in i.values() for e in fam.values())

    arp = d.get_arp_table()
    assert all(napalm_model(models.ARPTableDict, e) for e in arp)
    assert any(e["ip"] == "10.9.0.10" and e["interface"] == "mgmt0" for e in arp), arp

    routes = d.get_route_to("192.0.2.7")
    assert list(routes) == ["192.0.2.0/24"]
    r = routes["192.0.2.0/24"][0]
    assert napalm_model(models.RouteDict, r) and r["next_hop"] == "10.9.0.10" and r["outgoing_interface"] == "mgmt0"
    assert "10.9.0.0/24" in d.get_route_to("10.9.0.0/16", longer=True)

    pol = d.get_firewall_policies()
    rules = pol["inet filter input"]
    assert all(napalm_model(models.FirewallPolicyDict, r) for r in rules)
    assert rules[0]["service"] == "tcp/8080" and rules[0]["action"] == "drop" and rules[0]["position"] == 1
