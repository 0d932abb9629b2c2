"""The DR site's inventory (inventory-dr/, site.role: dr): the devices its own monitor polls, nothing else. It
validates on its own, only monitoring reads it, and it cannot grow a second copy of the production site's cloud."""
import shutil

import pytest

from dcops import paths
from dcops.model import InventoryInvalid, load_inventory, validate
from dcops.monitor.scaleout import device_labels, site_systems

DR = paths.DR_INVENTORY


def test_the_shipped_dr_inventory_validates_as_the_dr_site_of_kg_dc():
    r = validate(DR)
    assert r.ok is True, [str(e) for e in r.errors]
    site = r.inventory.site
    assert (site.code, site.role, site.primary) == ("kg-dr", "dr", "kg-dc")
    assert r.inventory.storage is None and r.inventory.hosts == () and r.inventory.systems == ()
    assert {(f.name, f.kind.value, f.snmp.profile if f.snmp else None) for f in r.inventory.facility} == {
        ("kg-dr-ups-01", "ups", "ups-rfc1628"), ("kg-dr-crac-01", "cooling", None),
        ("kg-dr-env-01", "sensor", "apc-netbotz")}
    # the UPS ratings are not known (the seed is silent): said, not invented
    assert [(w.message, w.loc.file.endswith("inventory-dr/facility.yaml")) for w in r.warnings] == [
        ("UPS kg-dr-ups-01: capacity_kva and battery_runtime_min not known yet", True)]


def test_every_consumer_but_monitoring_refuses_the_dr_inventory_and_says_why():
    with pytest.raises(InventoryInvalid) as e:
        load_inventory(DR)
    (p,) = e.value.problems
    assert p.loc.file.endswith("inventory-dr/site.yaml") and p.loc.line == 15
    assert p.message == ("site kg-dr is a DR site's inventory (role: dr, its monitored devices only): only "
                         "monitoring reads it; give the production inventory of kg-dc here")
    assert validate(DR).refusals() == [p]
    assert validate(DR).refusals(dr_ok=True) == []
    assert load_inventory(DR, dr_ok=True).site.code == "kg-dr"


def test_dr_devices_carry_the_level_of_the_systems_that_must_run_at_dr():
    prod, dr = load_inventory(), load_inventory(DR, dr_ok=True)
    systems = site_systems(dr, [prod, dr])
    assert {s.name for s in systems} == {s.name for s in prod.systems if s.dr_required}
    assert device_labels(dr, systems) == {
        "kg-dr-ups-01": {"kind": "ups", "system": "shared", "level": "3"},
        "kg-dr-env-01": {"kind": "sensor", "system": "shared", "level": "3"}}
    with pytest.raises(ValueError, match=r"^site kg-dr is the DR site of kg-dc: its systems .* give that "
                                         r"inventory too \(--inventory\)$"):
        site_systems(dr, [dr])


def _copy(tmp_path):
    inv = tmp_path / "inventory-dr"
    shutil.copytree(DR, inv)
    return inv


def _messages(path):
    return sorted((p.loc.file.rsplit("/", 1)[-1], p.loc.line, p.message) for p in validate(path).errors)


def test_a_dr_inventory_with_a_cloud_of_its_own_is_refused_at_the_line(tmp_path):
    inv = _copy(tmp_path)
    (inv / "cloud.yaml").write_text("# a second copy of the cloud\nflavors: []\nvms: []\n", encoding="utf-8")
    tail = ("does not belong in a DR site's inventory (site.role: dr): the DR site's cloud, storage and systems are "
            "the production inventory's DR stack (Pulumi.dr.yaml); keep here only site, zones, network_devices, "
            "facility, leased_lines")
    assert _messages(inv) == [("cloud.yaml", 2, f"section 'flavors' {tail}"), ("cloud.yaml", 3, f"section 'vms' {tail}")]


def test_a_dr_site_names_its_production_site_and_only_a_dr_site_does(tmp_path):
    inv = _copy(tmp_path)
    site = inv / "site.yaml"
    site.write_text(site.read_text(encoding="utf-8").replace("  primary: kg-dc\n", ""), encoding="utf-8")
    assert _messages(inv) == [("site.yaml", 15, "a DR site (role: dr) names the production site it stands in for: "
                                                "primary: <its site.code>")]
    prod = tmp_path / "inventory"
    shutil.copytree(paths.INVENTORY, prod)
    site = prod / "site.yaml"
    site.write_text(site.read_text(encoding="utf-8").replace("  code: kg-dc\n", "  code: kg-dc\n  primary: kg-x\n"),
                    encoding="utf-8")
    assert _messages(prod) == [("site.yaml", 2, "primary: names the production site of a DR site; set role: dr or "
                                                "remove it")]


def test_a_production_ups_still_needs_its_ratings(tmp_path):
    prod = tmp_path / "inventory"
    shutil.copytree(paths.INVENTORY, prod)
    f = prod / "facility.yaml"
    text = f.read_text(encoding="utf-8")
    assert text.count("    battery_runtime_min: 15\n") == 1
    f.write_text(text.replace("    battery_runtime_min: 15\n", ""), encoding="utf-8")
    assert _messages(prod) == [("facility.yaml", 14, "a UPS needs capacity_kva and battery_runtime_min")]


def test_a_dr_sites_noc_page_reads_the_dr_inventory(tmp_path, monkeypatch):
    """`DCOPS_INVENTORY=inventory-dr dcops dashboard --alertmanager URL`: the page's site is kg-dr (its matchers
    and the alerts it shows on a central Alertmanager), not "" as a refused inventory would leave it."""
    import dcops
    from dcops.monitor.store import Store
    from dcops.monitor.web.alertsource import make_source
    monkeypatch.setattr(dcops, "DEFAULT_INVENTORY", DR)
    assert make_source(Store(tmp_path / "m.db"), "http://127.0.0.1:9").site == "kg-dr"
