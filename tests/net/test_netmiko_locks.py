"""Issue 15 §1 for the Netmiko platforms: each says how its devices are locked — a recipe, or
`lock: none` with the vendor reference that has no lock — and a device without a lock is never changed
unless the operator accepted that explicitly (optional_args allow_unlocked).

References searched for a configuration lock (none found; the reasons in platform.yaml cite them):
- FortiWeb CLI Reference 6.3.3, "system admin" (only a ban on simultaneous administrator logins):
  https://docs.fortinet.com/document/fortiweb/6.3.3/cli-reference/810797
- FortiWeb CLI Reference 7.0.9, "batch" (groups and rolls back one session's commands; no lock):
  https://docs.fortinet.com/document/fortiweb/7.0.9/cli-reference/346496
- FortiMail CLI Reference 8.0.0, "system web-service" (session/request limits only):
  https://docs.fortinet.com/document/fortimail/8.0.0/cli-reference/375801
- FortiDDoS-F Handbook 6.3.3 (backup/restore; no CLI Reference is published):
  https://docs.fortinet.com/document/fortiddos-f/6.3.3/handbook/142190
"""
import pytest

from dcops.net import platforms
from dcops.net.drivers.netmiko_generic import DeviceLockMissing, NetmikoDriver
from dcops.net.drivers.registry import driver_class

NETMIKO = ("fortiddos", "fortimail", "fortiweb")


def test_every_netmiko_platform_declares_its_lock():
    shipped = {n for n in platforms.available() if platforms.load(n).driver.get("kind") == "netmiko"}
    assert shipped == set(NETMIKO)
    for n in NETMIKO:
        p = platforms.load(n)
        assert p.driver["lock"] == "none"
        assert p.lock_missing == p.driver["lock_reason"]
        assert "no configuration lock" in p.lock_missing and "docs.fortinet.com" in p.lock_missing \
            or n == "fortiddos" and "no CLI Reference" in p.lock_missing, n


@pytest.mark.parametrize("name", NETMIKO)
def test_commit_on_a_platform_without_lock_is_refused_before_the_device_is_touched(name):
    drv = driver_class(platforms.load(name))("192.0.2.1", "dcops")   # never opened: any device call would fail
    assert drv.lock_recipe is None and drv.device_lock is None
    drv.load_replace_candidate(config="config system global\nend\n")   # load/diff stay possible (read-only)
    with pytest.raises(DeviceLockMissing, match=r"192\.0\.2\.1: no device lock on this platform \(Forti"):
        drv.commit_config()
    assert drv.conn is None and drv._candidate is not None


def test_allow_unlocked_is_an_explicit_choice():
    spec = {**platforms.load("fortiweb").driver}
    drv = NetmikoDriver("192.0.2.1", "dcops", optional_args={"allow_unlocked": True}, platform_spec=spec)
    drv.load_replace_candidate(config="x\n")
    with pytest.raises(AttributeError):          # past the lock check: it would now talk to the device
        drv.commit_config()


def _platform(tmp_path, driver_yaml: str):
    folder = tmp_path / "appl"
    folder.mkdir()
    (folder / "base.j2").write_text("x\n")
    (folder / "platform.yaml").write_text(
        "description: t\nextension: conf\ntemplates:\n  waf: {template: base.j2}\ndriver:\n" + driver_yaml)
    return folder / "platform.yaml"


@pytest.mark.parametrize("driver_yaml, message", [
    ("  kind: netmiko\n  device_type: generic\n",
     "a netmiko driver needs `lock:` — a recipe (acquire, release, show, break) or `none` with `lock_reason`"),
    ("  kind: netmiko\n  device_type: generic\n  lock: none\n",
     "driver.lock is none without driver.lock_reason"),
    ("  kind: netmiko\n  device_type: generic\n  lock: {acquire: a, release: r}\n",
     "driver.lock lacks show, break"),
])
def test_platform_data_without_a_lock_decision_is_refused_with_its_file(tmp_path, driver_yaml, message):
    spec_file = _platform(tmp_path, driver_yaml)
    with pytest.raises(platforms.PlatformError) as e:
        platforms.load.__wrapped__("appl", tmp_path)
    assert str(e.value).startswith(f"{spec_file}: ") and message in str(e.value)
