"""platform.yaml seams instead of vendor branches (issue 19 §5): the address-book renamer, the rule layout
and the Netmiko recipe are data, checked when the platform loads — every mistake names the file and key."""
from __future__ import annotations

from pathlib import Path

import pytest

from dcops.model import load_inventory
from dcops.net import addrnames, platforms
from tests.extension import SRX_PLATFORM, SRX_TEMPLATE


def _platform(tmp_path: Path, text: str) -> tuple[Path, Path]:
    folder = tmp_path / "junos-srx"
    folder.mkdir()
    (folder / "platform.yaml").write_text(text, encoding="utf-8")
    (folder / "base.j2").write_text(SRX_TEMPLATE, encoding="utf-8")
    return tmp_path, folder / "platform.yaml"


def _error(tmp_path: Path, old: str, new: str) -> str:
    assert old in SRX_PLATFORM
    root, _ = _platform(tmp_path, SRX_PLATFORM.replace(old, new))
    with pytest.raises(platforms.PlatformError) as e:
        platforms.load("junos-srx", root=root)
    return str(e.value)


def test_the_generated_platform_loads_with_all_three_seams(tmp_path) -> None:
    root, _ = _platform(tmp_path, SRX_PLATFORM)
    p = platforms.load("junos-srx", root=root)
    assert (p.layout, p.address_names.syntax, p.address_names.zone, p.driver["kind"]) == \
        ("zone-pairs", "regex", "zone-{zone}", "netmiko")


@pytest.mark.parametrize("old,new,message", [
    ("  layout: zone-pairs\n", "  layout: per-vlan\n",
     "policy.layout must be one of zone-pairs, ingress-interface, single, not 'per-vlan'"),
    ("  layout: zone-pairs\n", "  layout: ingress-interface\n",
     "policy.options: placeholder(s) {egress} are not filled by layout ingress-interface (it fills: "
     "{ingress}, {interface}, {interface_slug})"),
    ("    syntax: regex\n", "    syntax: junos\n",
     "policy.address_names.syntax must be one of fortigate, paloalto, regex, not 'junos'"),
    ("    zone: \"zone-{zone}\"\n", "    zone: \"zone-{vlan}\"\n",
     "policy.address_names.zone: unknown placeholder(s) {vlan} (known: {zone})"),
    ("    max_length: 63 ", "    max_len: 63 ",
     "policy.address_names: unknown key(s) max_len (known: allowed, collision, definition, device, host, "
     "interface, max_length, network, replace_with, syntax, vm, zone)"),
    ("(?P<address>", "(?P<addr>",
     "policy.address_names.definition needs the groups (?P<name>…) and (?P<address>…) (syntax regex)"),
    ("show configuration | no-more", "show configuration | match {pattern}",
     "driver.show_running: unknown placeholder(s) {pattern} (known: {candidate_file}, {host}, {minutes}, "
     "{owner}, {pid}, {seconds}, {since}, {timeout}, {token}, {user})"),
    ('"/var/tmp/dcops-{host}-{token}.conf"', '"/var/tmp/{device}.conf"',
     "driver.candidate_file: unknown placeholder(s) {device} (known: {host}, {token}, {user})"),
    ('["configure private", ', '["configure {private", ',
     "driver.wrap.after[0]: expected '}' before end of string (write a literal brace as {{ or }})"),
])
def test_a_mistake_in_a_seam_names_the_file_and_key(tmp_path, old, new, message) -> None:
    assert _error(tmp_path, old, new) == f"{tmp_path / 'junos-srx' / 'platform.yaml'}: {message}"


def test_regex_renamer_names_dedupes_and_keeps_what_it_does_not_know() -> None:
    """syntax regex on a made-up address book: inventory names, one definition per new name (the same VM
    in two groups), every whole-word reference renamed, IPv6 and unmatched lines untouched."""
    inv = load_inventory()
    vm, zone = inv.vms[0], inv.zones[0]
    rules = addrnames.rules_from({"syntax": "regex", "definition": r"^\s*address (?P<name>\S+) (?P<address>\S+);$",
                                  "zone": "zone-{zone}", "host": "h-{ip}"}, "test")
    text = "\n".join([
        f"  address WEB_0 {vm.ip}/32;", f"  address APP_3 {vm.ip}/32;", f"  address NET_0 {zone.subnet};",
        "  address OTHER_0 192.0.2.7/32;", "  address V6_0 2001:db8::1/128;",
        "  set WEB { address WEB_0; }", "  set APP { address APP_3; address OTHER_0; address V6_0; }",
        "  set WEB_0X { address WEB_0X; }"])
    assert addrnames.rename(text, inv, rules).split("\n") == [
        f"  address {vm.name} {vm.ip}/32;", f"  address zone-{zone.name} {zone.subnet};",
        "  address h-192.0.2.7 192.0.2.7/32;", "  address V6_0 2001:db8::1/128;",
        f"  set WEB {{ address {vm.name}; }}", f"  set APP {{ address {vm.name}; address h-192.0.2.7; address V6_0; }}",
        "  set WEB_0X { address WEB_0X; }"]


def test_the_shipped_firewalls_state_their_naming_as_data() -> None:
    """FortiOS and PAN-OS name their address objects by the same rules, now read from platform.yaml."""
    fortios, panos = platforms.load("fortios").address_names, platforms.load("panos").address_names
    assert (fortios.syntax, panos.syntax) == ("fortigate", "paloalto")
    assert {**fortios.__dict__, "syntax": None} == {**panos.__dict__, "syntax": None}
    assert (fortios.max_length, fortios.allowed, fortios.collision) == (63, "A-Za-z0-9._-", "{name}_{ip}")
