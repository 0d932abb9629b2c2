"""Address objects are named after the VM/device they stand for, so a one-VM change is a one-object diff."""
import difflib
import shutil

from ruamel.yaml import YAML

from dcops import DEFAULT_INVENTORY
from dcops.model import load_inventory
from dcops.net import render

import pytest

# (device, VM): a VM in the middle of several of the objects that device uses
CASES = [("kg-fw-01", "portal-app-03"),    # FortiOS: PUBLIC_APP, SYS_PORTAL…
         ("kg-fw-03", "backup-proxy-02")]  # PAN-OS: SYS_BACKUP_STORAGE


def _without_vm(tmp_path, name):
    inv_dir = tmp_path / "inventory"
    shutil.copytree(DEFAULT_INVENTORY, inv_dir)
    yaml = YAML()  # round trip: the copy differs from the original by that VM only
    for path in sorted((inv_dir / "vms").glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"))
        kept = [v for v in data["vms"] if v["name"] != name]
        if len(kept) != len(data["vms"]):
            data["vms"][:] = kept
            with path.open("w", encoding="utf-8") as f:
                yaml.dump(data, f)
            return load_inventory(inv_dir)
    raise AssertionError(f"{name} not found in the inventory")


def _changes(a: str, b: str) -> list[str]:
    return [ln for ln in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
            if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]


@pytest.mark.parametrize("dev,VM", CASES)
def test_removing_one_vm_changes_only_its_object(tmp_path, dev, VM):
    inv = load_inventory()
    ip = str(inv.vm(VM).ip)
    smaller = _without_vm(tmp_path, VM)
    before = render.render_device(render.RenderContext.build(inv), inv.device(dev)).config
    after = render.render_device(render.RenderContext.build(smaller), smaller.device(dev)).config
    changes = _changes(before, after)
    removed = [ln for ln in changes if ln.startswith("-")]
    added = [ln for ln in changes if ln.startswith("+")]
    assert removed, dev
    if dev == "kg-fw-01":  # FortiOS: the object's four lines, and the VM's name out of each group
        obj = [f"-    edit {VM}", "-        set type ipmask", f"-        set subnet {ip} 255.255.255.255",
               "-    next"]
        assert removed[:4] == obj, changes
        members = list(zip(removed[4:], added))
        assert len(removed) == 4 + len(added) and members, changes
        for old, new in members:
            assert old[1:].strip().startswith("set member") and old.replace(f' "{VM}"', "") == "-" + new[1:]
    else:  # PAN-OS: the <entry> of the object and one <member> line per group
        assert not added, changes
        assert f'-            <entry name="{VM}">' in removed and f"-              <ip-netmask>{ip}/32</ip-netmask>" in removed
        allowed = {f"<member>{VM}</member>", f'<entry name="{VM}">', f"<description>{VM}</description>",
                   f"<ip-netmask>{ip}/32</ip-netmask>", "</entry>"}
        assert {ln[1:].strip() for ln in removed} <= allowed, changes
        assert sum(ln.strip() == "-</entry>" or ln[1:].strip() == "</entry>" for ln in removed) == 1


def test_objects_are_named_after_inventory_things():
    inv = load_inventory()
    fw1 = render.render_device(render.RenderContext.build(inv), inv.device("kg-fw-01")).config
    address = fw1[fw1.index("config firewall address\n"):fw1.index("config firewall addrgrp")]
    assert "edit kg-waf-01\n" in address and "edit portal-app-01\n" in address and "edit net-dmz\n" in address
    assert "_0\n" not in address  # no index-named objects left
    names = [ln.split()[1] for ln in address.splitlines() if ln.startswith("    edit ")]
    assert names == sorted(set(names))  # one object per address, sorted


def test_same_name_for_two_addresses_is_disambiguated():
    from dcops.net import addrnames
    inv = load_inventory()
    vm = inv.vms[0]
    twin = inv.network_devices[0].model_copy(update={"name": vm.name})
    from dcops.net import platforms
    known = addrnames.names(inv.model_copy(update={"network_devices": (twin,) + inv.network_devices[1:]}),
                            platforms.load("fortios").address_names)
    named = [n for n in known.values() if n.split("_")[0] == vm.name]
    assert len(named) == 2 and len(set(named)) == 2
