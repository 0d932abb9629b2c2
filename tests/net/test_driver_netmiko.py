"""The Netmiko adapter (platforms without a NAPALM driver) against a real SSH peer.

FortiOS cannot run here, so the peer is sshd + bash in a namespace and the
platform data gives shell equivalents of a CLI device's recipe: the config is
a file written line by line in a staged session, commit-confirm arms a detached revert timer.
"""
import time

import pytest

from dcops.net.drivers.netmiko_generic import NetmikoDriver

pytestmark = pytest.mark.lab

D = "/var/lib/dcops"
SPEC = {
    "kind": "netmiko", "device_type": "linux", "config_mode": False,
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
                      optional_args={"key_file": str(ep.key), "netns": lab.ns("op")})
    d.open()
    d._send([f"printf 'hostname dev\\nntp 10.10.1.20\\n' > {D}/device.cfg"], raw=True)
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
