"""Rendering: golden files for every platform, determinism, valid syntax, no secrets."""
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from dcops.model import load_inventory
from dcops.net import fleet, platforms, render
from dcops.net.paths import GOLDEN_DIR


@pytest.fixture(scope="module")
def inv():
    return load_inventory()


@pytest.fixture(scope="module")
def rendered(inv):
    out = render.render_all(render.RenderContext.build(inv))
    fw, topo = fleet.stand_in(inv)
    out.append(render.render_device(render.RenderContext.build(inv, topology=topo), fw))
    return out


def test_matches_golden_files(rendered):
    stale = [n for r in rendered for n, text in r.files.items()
             if not (GOLDEN_DIR / n).is_file() or (GOLDEN_DIR / n).read_text(encoding="utf-8") != text]
    assert not stale, f"{stale} differ from {GOLDEN_DIR}: review the change, then `dcops net render --out {GOLDEN_DIR}`"
    orphans = {p.name for p in GOLDEN_DIR.iterdir()} - {n for r in rendered for n in r.files}
    assert not orphans, f"golden files without a device: {orphans}"


def test_every_platform_has_golden_coverage(rendered):
    covered = {r.platform for r in rendered}
    assert set(platforms.available()) <= covered


def test_deterministic(inv, rendered):
    again = render.render_all(render.RenderContext.build(inv))
    assert {n: t for r in again for n, t in r.files.items()} == \
           {n: t for r in rendered[:-1] for n, t in r.files.items()}


def test_secrets_are_references_only(rendered):
    for r in rendered:
        for name, text in r.files.items():
            assert "${secret:env:" in text or r.platform == "linux", name
            assert "BEGIN OPENSSH PRIVATE KEY" not in text


def test_panos_is_well_formed_xml(rendered):
    for r in rendered:
        if r.platform == "panos":
            root = ET.fromstring(r.config.encode())
            rules = root.findall(".//rulebase/security/rules/entry")
            assert any(e.get("name") == "app-to-db" for e in rules)
            assert root.find(".//high-availability/group/peer-ip") is not None


def test_fortios_zone_pairs_follow_the_topology(rendered):
    fw1 = next(r for r in rendered if r.device == "kg-fw-01").config
    # management reaches the DMZ through the core firewalls, so the perimeter pair sees it arrive from "app"
    block = fw1.split('set name "mgmt-ssh-https-mgmt-dmz"')[1].split("next")[0]
    assert 'set srcintf "app"' in block and 'set dstintf "dmz"' in block
    assert 'set name "app-to-db"' not in fw1  # app → db never crosses the perimeter pair
    assert "set gateway 10.20.0.3" in fw1       # default route via the link balancer


@pytest.mark.skipif(not shutil.which("nft") or subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() != "0",
                    reason="nft -c needs root")
def test_linux_outputs_pass_nft_check(rendered):
    for r in rendered:
        if r.platform == "linux":
            proc = subprocess.run(["unshare", "-n", "nft", "-c", "-f", "-"], input=r.config, text=True,
                                  capture_output=True)
            assert proc.returncode == 0, f"{r.device}: {proc.stderr}"


def test_unknown_platform_is_a_clear_error(inv):
    dev = inv.device("kg-lb-01").model_copy(update={"platform": "nosuch"})
    with pytest.raises(platforms.PlatformError, match="unknown platform 'nosuch'"):
        render.render_device(render.RenderContext.build(inv), dev)


@pytest.mark.skipif(subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() != "0",
                    reason="needs root for a throwaway network namespace")
def test_linux_ip_batch_applies_in_a_fresh_namespace(inv, rendered, tmp_path):
    vlan_ok = subprocess.run(["unshare", "-n", "sh", "-c", "ip link add a type veth peer name b && "
                              "ip link add link a name a.5 type vlan id 5"], capture_output=True).returncode == 0
    checked = 0
    for r in rendered:
        if r.platform != "linux":
            continue
        dev = inv.device(r.device) if r.device != "lab-fw1" else fleet.stand_in(inv)[0]
        if any(i.vlan for i in dev.interfaces) and not vlan_ok:
            continue  # this kernel has no 802.1Q module
        checked += 1
        batch = tmp_path / f"{r.device}.batch"
        batch.write_text(r.files[f"{r.device}.ip.batch"])
        # the physical ports (and, for the route next hops, nothing else) exist on the device
        make = " && ".join(f"ip link add {i.name} type veth peer name p{n}" for n, i in enumerate(dev.interfaces))
        proc = subprocess.run(["unshare", "-n", "sh", "-c", f"{make} && ip -batch {batch} && ip -br addr && ip route"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, f"{r.device}: {proc.stderr}"
        for i in dev.interfaces:
            assert str(i.address) in proc.stdout
    assert checked