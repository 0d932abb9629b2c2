"""WAF, anti-spam and DDoS platforms: what each device does is derived from the inventory."""
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys

import pytest

from dcops.model import load_inventory
from dcops.net import render
from dcops.net.connect import Endpoint
from dcops.net.push import Pusher, Target


@pytest.fixture(scope="module")
def inv():
    return load_inventory()


@pytest.fixture(scope="module")
def ctx(inv):
    return render.RenderContext.build(inv)


@pytest.fixture(scope="module")
def configs(inv, ctx):
    return {d.name: render.render_device(ctx, d).config
            for d in inv.network_devices if d.platform in ("fortiweb", "fortimail", "fortiddos")}


def _block(text: str, start: str) -> str:
    """From `start` to the matching top-level `end`."""
    i = text.index(start)
    return text[i:text.index("\nend\n", i)]


def test_every_appliance_is_configured(inv, configs):
    for kind in ("waf", "antispam", "ddos"):
        devs = [d for d in inv.network_devices if d.kind.value == kind]
        assert devs and all(d.name in configs for d in devs), kind


def test_waf_publishes_each_public_system_through_its_dmz_vms(inv, configs):
    dmz = {z.name for z in inv.zones if z.kind.value == "dmz"}
    public = [s.name for s in inv.systems if s.public]
    assert {"portal", "qlvb", "mail", "dvc", "lgsp", "gis", "mcu", "du-lich", "phu-quoc-dtm"} <= set(public)
    for name in ("kg-waf-01", "kg-waf-02"):
        text = configs[name]
        pools = _block(text, "config server-policy server-pool")
        for s in public:
            pool = pools.split(f'edit "pool-{s}"')[1].split('\n    next')[0]
            want = sorted(str(v.ip) for v in inv.vms if v.system == s and v.zone in dmz)
            assert sorted(re.findall(r"set ip (\S+)", pool)) == want, s
            assert f'set content-routing-policy-name "route-{s}"' in text
        # nothing but public DMZ VMs is ever a pool member
        members = set(re.findall(r"set ip (\S+)", pools))
        allowed = {str(v.ip) for v in inv.vms if v.zone in dmz and inv.system(v.system).public}
        assert members <= allowed
        policy = _block(text, "config server-policy policy")
        assert "set http-to-https enable" in policy and "set https-service HTTPS" in policy
    assert "set priority 1" in configs["kg-waf-01"] and "set priority 2" in configs["kg-waf-02"]


def test_antispam_relays_the_domain_to_the_mailbox_servers_only(inv, configs):
    text = configs["kg-antispam-01"]
    group = _block(text, "config profile ip-address-group")
    mbox = sorted(str(v.ip) for v in inv.vms if v.system == "mail" and "-mbox-" in v.name)
    assert sorted(re.findall(r"edit (\d+\.\d+\.\d+\.\d+)", group)) == mbox and len(mbox) >= 2
    archive = next(v for v in inv.vms if v.name == "mail-archive-01")
    assert str(archive.ip) not in text
    assert 'edit "kiengiang.gov.vn"' in _block(text, "config domain") and "set relay-type ip-group" in text


def test_ddos_protects_every_leased_line_prefix_with_scaled_thresholds(inv, configs):
    text = configs["kg-ddos-01"]
    for ll in inv.leased_lines:
        spp = text.split(f'    edit "{ll.name}"\n')[1].split("\n    next\n")[0]
        assert f"set ip-netmask {ll.public_prefix}" in spp
        assert f'# spp "{ll.name}" threshold syn-per-second {100 * ll.bandwidth_mbps}' in text  # per_mbps in platform data
        assert f'# spp "{ll.name}" threshold syn-per-source 200' in text                        # fixed in platform data


def test_base_config_snmpv3_syslog_ntp_banner_mgmt_only(inv, configs):
    mgmt_nets = [str(z.subnet) for z in inv.zones if z.name == "mgmt"]
    for name, text in configs.items():
        dev = inv.device(name)
        assert "${secret:env:DCOPS_SNMP_AUTH_KEY}" in text and "${secret:env:DCOPS_SNMP_PRIV_KEY}" in text
        assert re.search(r"security-level auth-?priv", text), name
        assert "Trung tâm dữ liệu tỉnh Kiên Giang" in text and "CẢNH BÁO" in text
        assert all(s in text for s in inv.site.ntp_servers + inv.site.syslog_servers)
        # management services only on the management port; data ports answer ping only
        ifaces = _block(text, "config system interface")
        assert f"set ip {dev.mgmt_ip}/" in ifaces
        assert ifaces.count("allowaccess https ssh snmp ping") == 1
        for i in dev.interfaces:
            port = ifaces.split(f'edit "{i.name}"')[1].split("next")[0]
            assert "set allowaccess ping" in port
        admin = _block(text, "config system admin")
        hosts = re.findall(r"set trusthost\S* (\S+)", admin)
        assert hosts and all(ipaddress.ip_address(h.split("/")[0]) in ipaddress.ip_network(mgmt_nets[0])
                             for h in hosts), name
        assert "BEGIN" not in text


def test_public_system_without_dmz_vm_is_an_error(inv):
    dmz = {z.name for z in inv.zones if z.kind.value == "dmz"}
    broken = inv.model_copy(update={"vms": tuple(v for v in inv.vms if not (v.system == "gis" and v.zone in dmz))})
    with pytest.raises(render.RenderError, match="public system 'gis' has no VM in a DMZ zone"):
        render.render_device(render.RenderContext.build(broken), broken.device("kg-waf-01"))


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "dcops.cli", "net", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_push_appliance_without_reach_shows_diff_against_last_backup(tmp_path, configs):
    backup = tmp_path / "kg-waf-01" / "20260101T000000.000000Z.conf"
    backup.parent.mkdir(parents=True)
    backup.write_text(configs["kg-waf-01"].replace("set group-id 11", "set group-id 3"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "DCOPS_NET_SSH_KEY"}
    proc = _cli("push", "--device", "kg-waf-01", "--backups", str(tmp_path), env=env)
    assert proc.returncode == 1
    assert "not contacted: kg-waf-01 (fortiweb): dcops has no driver for the FortiWeb API" in " ".join(proc.stderr.split())
    assert "dry run against the last backup" in proc.stderr
    assert "push refused for kg-waf-01 (fortiweb)" in " ".join(proc.stderr.split())
    assert "no device lock either: FortiWeb documents no configuration lock" in " ".join(proc.stderr.split())
    assert "-    set group-id 3" in proc.stdout and "+    set group-id 11" in proc.stdout
    assert "2 changed line(s)" in proc.stdout
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["20260101T000000.000000Z.conf", "kg-waf-01"]


def test_commit_refused_for_platforms_without_commit_confirm():
    proc = _cli("push", "--device", "kg-waf-01", "--device", "kg-ddos-01", "--commit")
    assert proc.returncode == 1
    assert "kg-waf-01 (fortiweb)" in proc.stderr and "no commit-confirm" in proc.stderr


def test_pusher_dry_run_of_unreachable_device_diffs_against_backup(tmp_path, configs):
    with socket.socket() as s:       # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text = configs["kg-antispam-01"]
    folder = tmp_path / "kg-antispam-01"
    folder.mkdir()
    (folder / "20260101T000000.000000Z.conf").write_text(text.replace("set port 25", "set port 2525"), encoding="utf-8")
    t = Target("kg-antispam-01", "fortimail", text, Endpoint("127.0.0.1", "dcops", port=port), "conf", text)
    report = Pusher(tmp_path, commit=False, timeout=5).run([t])
    o = report.outcomes[0]
    assert not report.ok and o.failed_step == "connect"
    assert "cannot reach the device" in o.error and "diff shown against its last backup" in o.error
    assert "+            set port 25" in o.diff and "-            set port 2525" in o.diff   # under config domain-setting


@pytest.mark.parametrize("name", ["fortiweb", "fortimail", "fortiddos"])
def test_appliance_platforms_are_data_with_a_real_netmiko_device_type(name):
    from netmiko.ssh_dispatcher import CLASS_MAPPER

    from dcops.net import platforms
    from dcops.net.drivers.registry import driver_class
    plat = platforms.load(name)
    assert plat.driver["device_type"] in CLASS_MAPPER
    drv = driver_class(plat)("192.0.2.1", "dcops")  # constructing never connects
    assert drv.spec["show_running"] and not plat.commit_confirm


def test_backup_of_an_appliance_without_api_driver_is_refused_not_pretended(tmp_path):
    """Issue 15 §8: FortiWeb/FortiMail/FortiDDoS are never contacted by `net backup`; named, it exits non-zero."""
    proc = _cli("backup", "--device", "kg-waf-01", "--device", "kg-antispam-01", "--device", "kg-ddos-01",
                "--backups", str(tmp_path), "--json")
    assert proc.returncode == 1
    rows = json.loads(proc.stdout)
    assert sorted((r["device"], r["ok"], r["refused"]) for r in rows) == [
        ("kg-antispam-01", False, True), ("kg-ddos-01", False, True), ("kg-waf-01", False, True)]
    waf = next(r for r in rows if r["device"] == "kg-waf-01")
    assert waf["error"].startswith("refused: dcops has no driver for the FortiWeb API")
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_diff_without_key_falls_back_to_the_last_backup(tmp_path, configs):
    env = {k: v for k, v in os.environ.items() if k != "DCOPS_NET_SSH_KEY"}
    proc = _cli("diff", "kg-ddos-01", "--backups", str(tmp_path), env=env)
    assert proc.returncode == 1 and "no backup under" in proc.stderr
    folder = tmp_path / "kg-ddos-01"
    folder.mkdir()
    (folder / "20260101T000000.000000Z.conf").write_text(
        configs["kg-ddos-01"].replace("threshold syn-per-source 200", "threshold syn-per-source 100"), encoding="utf-8")
    proc = _cli("diff", "kg-ddos-01", "--backups", str(tmp_path), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "diff against its last backup" in proc.stderr
    assert len(re.findall(r'^\+# spp "[^"]+" threshold syn-per-source 200$', proc.stdout, re.M)) == 2  # one SPP per line


def test_fleet_commit_leaves_out_platforms_without_commit_confirm(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DCOPS_NET_SSH_KEY"}
    proc = _cli("push", "--commit", "--backups", str(tmp_path), env=env)
    assert proc.returncode == 1  # no key here: nothing is contacted
    left_out = " ".join(proc.stderr.split("left out (no API driver in dcops; never contacted)")[1].split("\n\n")[0].split())
    assert "kg-waf-01 (fortiweb)" in left_out and "kg-ddos-01 (fortiddos)" in left_out and "kg-fw-01" not in left_out
    assert "--- kg-fw-01 (fortios)" in proc.stdout and "--- kg-waf-01" not in proc.stdout
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_diff_json_names_its_source_and_carries_the_diff(tmp_path, configs):
    env = {k: v for k, v in os.environ.items() if k != "DCOPS_NET_SSH_KEY"}
    folder = tmp_path / "kg-ddos-01"
    folder.mkdir()
    (folder / "20260101T000000.000000Z.conf").write_text(configs["kg-ddos-01"], encoding="utf-8")
    same = json.loads(_cli("diff", "kg-ddos-01", "--backups", str(tmp_path), "--json", env=env).stdout)
    assert same == {"device": "kg-ddos-01", "against": "backup:latest", "changed": False, "diff": ""}
    (folder / "20260102T000000.000000Z.conf").write_text(
        configs["kg-ddos-01"].replace("threshold syn-per-source 200", "threshold syn-per-source 100"), encoding="utf-8")
    changed = json.loads(_cli("diff", "kg-ddos-01", "--backups", str(tmp_path), "--json", env=env).stdout)
    assert changed["changed"] is True
    assert len(re.findall(r'^\+# spp "[^"]+" threshold syn-per-source 200$', changed["diff"], re.M)) == 2
