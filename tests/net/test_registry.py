"""Platform data → driver class: the pusher never names a vendor."""
import pytest
from napalm.base import NetworkDriver

from dcops.net import platforms
from dcops.net.connect import Endpoint, make_driver, resolve_placeholders, SecretUnavailable
from dcops.net.drivers.linux_nft import LinuxNftDriver
from dcops.net.drivers.netmiko_generic import NetmikoDriver
from dcops.net.drivers.registry import DriverUnavailable, driver_class


def test_linux_is_the_projects_napalm_driver():
    d = make_driver("linux", Endpoint("192.0.2.1", "dcops", key_file="/nonexistent"))
    assert isinstance(d, LinuxNftDriver) and isinstance(d, NetworkDriver)
    assert d.state_dir == "/var/lib/dcops/napalm"  # optional_args from platform.yaml


def test_firewalls_go_through_their_vendor_api_drivers():
    from dcops.net.drivers.fortios_rest import FortiOSRestDriver
    from dcops.net.drivers.panos_xapi import PanosXapiDriver
    f = make_driver("fortios", Endpoint("192.0.2.1", "dcops", port=443, password="x"))
    p = make_driver("panos", Endpoint("192.0.2.1", "dcops", port=443, password="x"))
    assert isinstance(f, FortiOSRestDriver) and isinstance(p, PanosXapiDriver)
    assert isinstance(f, NetworkDriver) and isinstance(p, NetworkDriver)
    assert (f.port, f.https, p.port, p.https) == (443, True, 443, True)   # TLS unless told otherwise
    assert platforms.load("fortios").commit_confirm is True and platforms.load("panos").commit_confirm is True


def test_secret_placeholders(monkeypatch):
    monkeypatch.setenv("DCOPS_TEST_SECRET", "s3cr3t")
    assert resolve_placeholders("set pwd ${secret:env:DCOPS_TEST_SECRET}") == "set pwd s3cr3t"
    with pytest.raises(SecretUnavailable, match="DCOPS_NOPE is not set"):
        resolve_placeholders("x ${secret:env:DCOPS_NOPE}")
    with pytest.raises(SecretUnavailable, match="only env:"):
        resolve_placeholders("x ${secret:vault:kv/fw#ha}")


def test_diffs_show_placeholders_not_resolved_secrets(monkeypatch):
    from dcops.net.push import Target
    monkeypatch.setenv("DCOPS_TEST_SECRET", "s3cr3t-value")
    rendered = "set password ${secret:env:DCOPS_TEST_SECRET}\n"
    t = Target("x", "fortios", resolve_placeholders(rendered), Endpoint("127.0.0.1", "u"), "conf", rendered)
    diff = "-set password ENC abc\n+set password s3cr3t-value\n"
    assert t.redact(diff) == "-set password ENC abc\n+set password ${secret:env:DCOPS_TEST_SECRET}\n"
