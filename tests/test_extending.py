"""Extending with data files only (docs/extending.md): a generated tenant, a new UPS model and a new
firewall platform in a private copy of inventory/, monitors/ and network_configs/, reached by every
consumer through the environment (DCOPS_INVENTORY, DCOPS_MONITORS, DCOPS_NETWORK_CONFIGS) — validate,
plan, render, the SNMP simulator, one monitor poll and the compliance report — with zero code changes."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from dcops import PROJECT_ROOT
from tests.extension import DataCopy, add_firewall_platform, add_tenant, add_ups_model, copy_data
from tests.inventory_facts import count

TENANT = "so-thu-nghiem"


def _dcops(data: DataCopy, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = data.env(PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "dcops.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=data.root)


@pytest.fixture(scope="module")
def extended(tmp_path_factory) -> DataCopy:
    data = copy_data(tmp_path_factory.mktemp("extended"))
    add_tenant(data.inventory, TENANT, [(2, 5)])
    add_ups_model(data)
    add_firewall_platform(data)
    return data


def test_validate_sees_all_three(extended: DataCopy) -> None:
    r = _dcops(extended, "validate", "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)["summary"]
    assert (s["tenants"], s["vms"]) == (count("tenants") + 1, count("vms") + 5)
    assert s["facility"]["ups"] == sum(1 for f in yaml.safe_load(
        (PROJECT_ROOT / "inventory/facility.yaml").read_text(encoding="utf-8"))["facility"] if f["kind"] == "ups") + 1
    assert s["ups_shutdown"]["fits"] is True


def test_validate_reads_the_copy_not_the_checkout(tmp_path) -> None:
    """The validator honours the same variables as the consumers (before, it read the checkout's
    platforms whatever DCOPS_NETWORK_CONFIGS said): a platform missing from the copy is an error at
    each device that names it, although the checkout has it."""
    import shutil
    data = copy_data(tmp_path)
    shutil.rmtree(data.network_configs / "platforms" / "panos")
    r = _dcops(data, "validate", "--json")
    assert r.returncode == 1
    errors = json.loads(r.stdout)["errors"]
    network = yaml.safe_load((data.inventory / "network.yaml").read_text(encoding="utf-8"))
    panos = [d for d in network["network_devices"] if d.get("platform") == "panos"]
    assert [e["message"] for e in errors] == ["unknown platform 'panos' (no folder platforms/panos)"] * len(panos)
    # the subprocess runs in the copy: its files print relative to it
    assert {e["file"] for e in errors} == {"inventory/network.yaml"} and len(panos) >= 1


def test_plan_has_the_tenants_vms(extended: DataCopy) -> None:
    out = extended.root / "plan.json"
    r = _dcops(extended, "plan", "--json", str(out))
    assert r.returncode == 0, r.stderr
    plan = json.loads(out.read_text(encoding="utf-8"))
    assert plan["summary"]["by_type"]["compute.Instance"] == count("vms") + 5
    names = {res["name"] for res in plan["resources"] if res["kind"] == "compute.Instance"}
    assert {f"{TENANT}-sys1-app-{i:02d}" for i in range(1, 6)} <= names


def test_render_uses_the_new_platform(extended: DataCopy) -> None:
    # the recipe's review step: the golden files of the copy refreshed from the new platform
    out = extended.network_configs / "golden"
    r = _dcops(extended, "net", "render", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    for fw in ("kg-fw-03", "kg-fw-04"):
        text = (out / f"{fw}.conf").read_text(encoding="utf-8")
        assert f"host-name {fw};" in text and "Juniper Networks SRX4100" in text
        assert "from-zone app to-zone db" in text and "security-zone app { interfaces { xe-0/0/0.0; } }" in text
    # the PAN-OS files of the moved pair are left over: --check names them (before, it said every file matched)
    r = _dcops(extended, "net", "render", "--check", "--json")
    assert r.returncode == 1
    assert json.loads(r.stdout) == {"stale": [], "orphans": ["kg-fw-03.xml", "kg-fw-04.xml"]}
    assert "golden files no device renders any more: kg-fw-03.xml, kg-fw-04.xml" in r.stderr + r.stdout
    # the address-book renamer, from the platform's data (syntax regex, its own patterns): every object
    # is named after the inventory (or its address), every set member follows, aerleon's names are gone
    text = (out / "kg-fw-03.conf").read_text(encoding="utf-8")
    defined = dict(re.findall(r"^ +address (\S+) ([0-9./]+);$", text, re.M))
    inv = yaml.safe_load((extended.inventory / "network.yaml").read_text(encoding="utf-8"))
    zones = {z["name"]: z["subnet"] for z in inv["zones"] if z["name"] in {"app", "db", "mgmt", "storage"}}
    assert {f"zone-{z}": net for z, net in zones.items()}.items() <= defined.items()
    assert all(re.fullmatch(r"zone-[a-z]+|n-[0-9.]+-[0-9]+|h-[0-9.]+|[a-z0-9][a-z0-9._-]*", n) for n in defined)
    members = set(re.findall(r"^ +address (\S+);$", text, re.M))
    assert members and members <= set(defined)
    assert not re.search(r"\b[A-Z_]+_[0-9]+\b", text)  # no index-named object (ZONE_APP_0) left


def _policies_by_ingress(text: str) -> dict[str, set[str]]:
    """SRX zone-pair rendering: ingress zone → names of the policies under `from-zone Z to-zone …`."""
    out: dict[str, set[str]] = {}
    zone = None
    for line in text.splitlines():
        m = re.match(r"^ +from-zone (\S+) to-zone \S+ \{$", line)
        if m:
            zone = m.group(1)
        m = re.match(r"^ +policy (\S+) \{$", line)
        if m and zone:
            out.setdefault(zone, set()).add(m.group(1))
    return out


def test_a_platform_lays_its_rules_out_per_ingress_interface(tmp_path) -> None:
    """platform.yaml `policy.layout: ingress-interface`: one filter per interface traffic enters on (here
    Junos stateless filters, aerleon's `juniper` target), bound inbound on that interface by the template
    (`ingress_filters`), holding exactly the rules the zone-pair layout puts under that interface's zone."""
    data = copy_data(tmp_path)
    add_firewall_platform(data)
    by_zone = _policies_by_ingress(_render(data, tmp_path / "zone-pairs"))
    spec = data.network_configs / "platforms" / "junos-srx" / "platform.yaml"
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text.replace('  generator: srx\n  layout: zone-pairs\n  options: "from-zone {ingress} to-zone {egress}"',
                                 '  generator: juniper\n  layout: ingress-interface\n  options: "in-{interface_slug} inet"'),
                    encoding="utf-8")
    rendered = _render(data, tmp_path / "ingress-interface")
    zone_of = dict(re.findall(r'^    (\S+) \{\n        description "(\S+)";', rendered, re.M))
    inputs = dict(re.findall(r"^    (\S+) \{\n[^\n]*\n[^\n]*filter \{ input (\S+); \}", rendered, re.M))
    filters: dict[str, set[str]] = {}
    current = None
    for line in rendered.splitlines():
        m = re.match(r"^ +replace: filter (\S+) \{$", line)
        current = m.group(1) if m else current
        m = re.match(r"^ +term (\S+) \{$", line)
        if m and current:
            filters.setdefault(current, set()).add(m.group(1))
    assert len(zone_of) == 4 and set(by_zone) <= set(zone_of.values())
    assert inputs == {i: f"in-{i.replace('/', '-')}" for i, z in zone_of.items() if z in by_zone}
    assert set(filters) == set(inputs.values())
    for iface, name in inputs.items():
        assert filters[name] == by_zone[zone_of[iface]] | {"default-deny"}, iface


def _render(data: DataCopy, out: Path) -> str:
    r = _dcops(data, "net", "render", "--out", str(out), "-d", "kg-fw-03")
    assert r.returncode == 0, r.stderr
    return (out / "kg-fw-03.conf").read_text(encoding="utf-8")


def test_the_netmiko_recipe_is_data_with_placeholders(extended: DataCopy) -> None:
    """The generated platform's driver is a Netmiko recipe: its commands are patterns filled from the device
    and the candidate ({host} {user} {seconds} {minutes} {candidate_file} {quoted} …) — no vendor code."""
    from dcops.net import platforms
    from dcops.net.drivers.registry import driver_class
    plat = platforms.load("junos-srx", root=extended.network_configs / "platforms")
    drv = driver_class(plat)("10.10.0.5", "netops", timeout=45, optional_args={"lock_token": "t0k"})
    staged = "/var/tmp/dcops-10.10.0.5-t0k.conf"
    assert drv.recipe("commit_confirm.arm", seconds=300) == [
        'commit confirmed 5 comment "dcops netops: reverts in 300 s unless confirmed"']
    assert drv.recipe("commit_confirm.arm", seconds=61) == [
        'commit confirmed 2 comment "dcops netops: reverts in 61 s unless confirmed"']
    assert drv.candidate_commands("set system host-name kg-fw-03\n# comment\n") == [
        f'start shell command "rm -f {staged}"',
        f"start shell command \"printf '%s\\n' 'set system host-name kg-fw-03' >> {staged}\"",
        "configure private", f"load override {staged}"]
    assert drv.recipe("session") == ["set cli screen-length 0", "set cli screen-width 0"]
    assert drv.recipe("show_running") == ["show configuration | no-more"]
    assert plat.commit_confirm is True


def test_an_unknown_recipe_placeholder_names_the_file(tmp_path) -> None:
    from dcops.net import platforms
    data = copy_data(tmp_path, folders=("network_configs",))
    folder = data.network_configs / "platforms" / "junos-srx"
    folder.mkdir()
    from tests.extension import SRX_PLATFORM, SRX_TEMPLATE
    (folder / "platform.yaml").write_text(SRX_PLATFORM.replace("commit confirmed {minutes}",
                                                               "commit confirmed {minuets}"), encoding="utf-8")
    (folder / "base.j2").write_text(SRX_TEMPLATE, encoding="utf-8")
    with pytest.raises(platforms.PlatformError) as e:
        platforms.load("junos-srx", root=data.network_configs / "platforms")
    assert str(e.value) == (f"{folder / 'platform.yaml'}: driver.commit_confirm.arm[0]: unknown placeholder(s) "
                            "{minuets} (known: {candidate_file}, {host}, {minutes}, {owner}, {pid}, {seconds}, "
                            "{since}, {timeout}, {token}, {user})")


def _start_sim(data: DataCopy, targets: Path) -> subprocess.Popen:
    env = data.env(PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-m", "dcops.cli", "snmp", "sim", "--targets-out", str(targets),
                             "--workdir", str(data.root / "simwork")], env=env, cwd=data.root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


@pytest.mark.slow
def test_simulator_and_one_poll_cover_the_new_ups_model(extended: DataCopy) -> None:
    """No recording exists for eaton-xups: the simulator synthesises one from the profile, and one poll
    reads every metric the profile declares, with the values its `sim:` hints name."""
    targets = extended.root / "sim-targets.json"
    (extended.root / "simwork").mkdir()
    sim = _start_sim(extended, targets)
    try:
        deadline = time.monotonic() + 240
        while not targets.exists() and sim.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert targets.exists(), sim.stderr.read() if sim.poll() is not None else "simulator did not start"
        simulated = {t["device"]: t for t in json.loads(targets.read_text(encoding="utf-8"))}
        assert simulated["kg-ups-03"]["profile"] == "eaton-xups"
        r = _dcops(extended, "monitor", "--once", "--sim", str(targets), "--json", "--db",
                   str(extended.root / "monitor.db"), "--trap-port", "0", "--metrics-port", "0")
        assert r.returncode == 0, r.stderr
        polls = {p["device"]: p for p in json.loads(r.stdout)}
        assert set(polls) == set(simulated)
        assert {d: p["state"] for d, p in polls.items() if p["state"] != "ok"} == {}
        ups = {(s["metric"], tuple(sorted(s["labels"].items()))): (s["value"], s.get("state"))
               for s in polls["kg-ups-03"]["samples"] if not s["metric"].startswith("snmp_")}
        assert ups == {("ups_output_source", ()): (3.0, "normal"),
                       ("ups_battery_charge_ratio", ()): (0.97, None),
                       ("ups_battery_runtime_seconds", ()): (1500.0, None),
                       ("ups_output_load_ratio", ()): (0.4, None),
                       **{("ups_input_voltage_volts", (("phase", str(i)),)): (230.0, None) for i in (1, 2, 3)}}
    finally:
        os.killpg(sim.pid, signal.SIGTERM)
        try:
            sim.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(sim.pid, signal.SIGKILL)
            sim.wait()


def test_compliance_assesses_the_new_systems(extended: DataCopy) -> None:
    r = _dcops(extended, "compliance", "--json", "--lang", "en")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    mine = {s["name"]: s for s in report["systems"] if s["owner"] == TENANT}
    assert set(mine) == {f"{TENANT}-sys1"}
    controls = {c["id"]: c for c in mine[f"{TENANT}-sys1"]["controls"]}
    # the generated VMs have no backup policy: a finding, never a pass
    assert controls["backup-restore-drill"]["status"] == "fail"
    # policy evidence comes from the copy, not the checkout
    assert controls["firewall-default-deny"]["evidence"].startswith(str(extended.network_configs))


def test_a_platform_names_its_post_processing_hook(tmp_path) -> None:
    """The seam instead of a branch in render.py: platform.yaml names a function by module path; an unknown
    name is an error naming the file, for that platform's devices only."""
    data = copy_data(tmp_path)
    add_firewall_platform(data)
    spec = data.network_configs / "platforms" / "junos-srx" / "platform.yaml"
    text = spec.read_text(encoding="utf-8")
    spec.write_text(text.replace("  layout: zone-pairs\n",
                                 "  layout: zone-pairs\n  postprocess: tests.extension:srx_policy_banner\n"),
                    encoding="utf-8")
    out = tmp_path / "rendered"
    r = _dcops(data, "net", "render", "--out", str(out), "-d", "kg-fw-03")
    assert r.returncode == 0, r.stderr
    rendered = (out / "kg-fw-03.conf").read_text(encoding="utf-8")
    banner = next(ln for ln in rendered.splitlines() if ln.startswith("/* policy for "))
    assert banner.startswith("/* policy for kg-dc: ") and banner.endswith(" policies */")

    spec.write_text(text.replace("  layout: zone-pairs\n", "  layout: zone-pairs\n  postprocess: srx-magic\n"),
                    encoding="utf-8")
    r = _dcops(data, "net", "render", "--out", str(tmp_path / "again"))
    assert r.returncode != 0
    assert "junos-srx/platform.yaml: unknown policy.postprocess 'srx-magic' (known: " \
           "panos-vsys, none, or package.module:function)" in r.stderr + r.stdout
