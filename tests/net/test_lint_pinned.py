"""Policy lint pinned (issue 20): each check asserted with the FULL set of findings it produces, so a check
that goes silent, says something else, or reports more than it should fails a test."""
from __future__ import annotations

from pathlib import Path

import pytest

from dcops.model import load_inventory
from dcops.net import lint

SERVICES = """\
services:
  HTTPS: [{port: 443, protocol: tcp}]
  POSTGRES: [{port: 5432, protocol: tcp}]
  SSH: [{port: 22, protocol: tcp}]
  DNS: [{port: 53, protocol: tcp}, {port: 53, protocol: udp}]
  SPARE: [{port: 4444, protocol: tcp}]
"""


@pytest.fixture(scope="module")
def inv():
    return load_inventory()


def findings(inv, tmp_path: Path, policy: str, services: str = SERVICES) -> set[tuple]:
    (tmp_path / "definitions").mkdir(exist_ok=True)
    (tmp_path / "definitions" / "services.yaml").write_text(services, encoding="utf-8")
    (tmp_path / "p.yaml").write_text(policy, encoding="utf-8")
    out = lint.lint(inv, tmp_path)
    assert out == sorted(out)  # reported in file/line order
    return {(Path(f.file).name, f.line, f.severity, f.message.replace(str(tmp_path) + "/", "")) for f in out}


def unused(*names: str) -> set[tuple]:
    lines = {"HTTPS": 2, "POSTGRES": 3, "SSH": 4, "DNS": 5, "SPARE": 6}
    return {("services.yaml", lines[n], "warning", f"object '{n}' is defined but never used") for n in names}


def test_a_clean_policy_has_only_the_unused_objects(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - {name: app-db-pg, destination-port: POSTGRES, protocol: tcp, action: accept}
"""
    assert findings(inv, tmp_path, policy) == unused("HTTPS", "SSH", "DNS", "SPARE")


def test_permits_every_service_between_two_internal_zones_is_a_warning(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - {name: app-db-everything, action: accept}
      - {name: app-db-all-tcp, protocol: tcp, action: accept}
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 4, "warning", "term 'app-db-everything': permits every service app → db; name the ports"),
        ("p.yaml", 5, "warning", "term 'app-db-all-tcp' is redundant: 'app-db-everything' (p.yaml:4) already "
                                 "matches all its traffic app → db"),
    } | unused("HTTPS", "POSTGRES", "SSH", "DNS", "SPARE")


def test_any_any_permit_is_an_error_from_the_internet_or_any_zone(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: public, to: dmz}}
    terms:
      - {name: open-door, action: accept}
  - header: {zones: {from: app, to: any}}
    terms:
      - {name: app-anywhere, action: accept}
  - header: {zones: {from: dmz, to: db}}
    terms:
      - {name: deny-is-fine, action: deny}
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 4, "error", "term 'open-door': any-any permit (public → dmz, every address and service)"),
        ("p.yaml", 7, "error", "term 'app-anywhere': any-any permit (app → any, every address and service)"),
    } | unused("HTTPS", "POSTGRES", "SSH", "DNS", "SPARE")


def test_duplicate_term_names_within_and_across_filters(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - {name: pg, destination-port: POSTGRES, protocol: tcp, action: accept}
      - {name: ssh, destination-port: SSH, protocol: tcp, action: accept}
  - header: {zones: {from: mgmt, to: db}}
    terms:
      - {name: pg, destination-port: POSTGRES, protocol: tcp, action: accept}
  - header: {zones: {from: [mgmt, dmz], to: app}}
    terms:
      - {name: https, destination-port: HTTPS, protocol: tcp, action: accept}
  - header: {zones: {from: mgmt, to: app}}
    terms:
      - {name: https-mgmt-app, destination-port: SSH, protocol: tcp, action: accept}
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 8, "error", "duplicate term name 'pg' (first at p.yaml:4)"),
        # a filter with several zone pairs names each expanded term <name>-<from>-<to>
        ("p.yaml", 14, "error", "duplicate term name 'https-mgmt-app' (first at p.yaml:11)"),
    } | unused("DNS", "SPARE")


def test_zone_pair_no_firewall_enforces_is_a_warning(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: mgmt, to: oob}}
    terms:
      - {name: mgmt-bmc-https, destination-port: HTTPS, protocol: tcp, action: accept}
  - header: {zones: {from: mgmt, to: db}}
    terms:
      - {name: mgmt-db-ssh, destination-port: SSH, protocol: tcp, action: accept}
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 2, "warning", "no firewall in the inventory sits between mgmt and oob: nothing enforces this "
                                 "filter"),
    } | unused("POSTGRES", "DNS", "SPARE")


def test_shadowed_by_an_earlier_term_with_another_action_is_an_error_but_not_behind_a_default_deny(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - {name: deny-pg, destination-port: POSTGRES, protocol: tcp, action: deny}
      - {name: allow-pg, destination-port: POSTGRES, protocol: tcp, action: accept}
      - {name: allow-ssh, destination-port: SSH, protocol: tcp, action: accept}
  - header: {zones: {from: any, to: any}}
    terms:
      - {name: default-deny, action: deny}
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 5, "error", "term 'allow-pg' is shadowed: 'deny-pg' (p.yaml:4) already matches all its traffic "
                               "app → db with action deny"),
    } | unused("HTTPS", "DNS", "SPARE")


def test_a_narrower_earlier_term_neither_shadows_nor_makes_redundant(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - {name: pg-from-one-system, source-address: SYS_QLVB_APP, destination-port: POSTGRES, protocol: tcp,
         action: accept}
      - {name: pg-from-app, destination-port: POSTGRES, protocol: tcp, action: accept}
      - {name: pg-and-ssh, destination-port: POSTGRES SSH, protocol: tcp, action: deny}
      - {name: any-proto-dns, destination-port: DNS, action: accept}
      - {name: dns-tcp, destination-port: DNS, protocol: tcp, action: accept}
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 9, "warning", "term 'dns-tcp' is redundant: 'any-proto-dns' (p.yaml:8) already matches all its "
                                 "traffic app → db"),
    } | unused("HTTPS", "SPARE")


def test_protocols_names_and_numbers(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - {name: by-number, destination-port: POSTGRES, protocol: '6', action: accept}
      - {name: too-big, destination-port: SSH, protocol: '256', action: accept}
      - {name: by-name, destination-port: HTTPS, protocol: TCP, action: accept}
      - {name: src-port, source-port: NOPE, destination-port: SPARE, protocol: tcp, action: accept}
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 5, "error", "term 'too-big': unknown protocol '256'"),
        ("p.yaml", 7, "error", "term 'src-port': unknown service 'NOPE'"),
    } | unused("DNS")


def test_multi_protocol_service_with_matching_protocols_is_no_warning(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - {name: dns-both, destination-port: DNS, protocol: tcp udp, action: accept}
      - {name: ssh-both, destination-port: SSH, protocol: tcp udp, action: accept}
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 5, "warning", "term 'ssh-both': services SSH are single-protocol but the term lists tcp udp: "
                                 "every listed protocol would be allowed on those ports; split the term"),
    } | unused("HTTPS", "POSTGRES", "SPARE")


def test_unknown_zone_in_a_header_and_an_unloadable_policy(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: nowhere, to: db}}
    terms:
      - {name: t, destination-port: POSTGRES, protocol: tcp, action: accept}
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 2, "error", "unknown zone 'nowhere' in filter header")} | unused("HTTPS", "SSH", "DNS", "SPARE")
    got = findings(inv, tmp_path, "filters: [\n")
    assert len(got) == 1 and next(iter(got))[2] == "error" and next(iter(got))[0] == "p.yaml"


def test_address_outside_the_filter_zones_lists_at_most_four_ranges(inv, tmp_path):
    services = SERVICES + """\
networks:
  SCATTERED:
    values:
      - {address: 192.168.1.1/32}
      - {address: 192.168.3.1/32}
      - {address: 192.168.5.1/32}
      - {address: 192.168.7.1/32}
      - {address: 192.168.9.1/32}
"""
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - {name: t, destination-address: SCATTERED, destination-port: POSTGRES, protocol: tcp, action: accept}
"""
    assert findings(inv, tmp_path, policy, services) == {
        ("p.yaml", 4, "error", "term 't': destination-address SCATTERED (192.168.1.1/32, 192.168.3.1/32, "
                               "192.168.5.1/32, 192.168.7.1/32 …) lies outside every zone of the inventory; the term "
                               "can never admit it — file it under a filter for its zones"),
    } | unused("HTTPS", "SSH", "DNS", "SPARE")


def test_finding_text_and_dict():
    f = lint.Finding("/nonexistent/dir/p.yaml", 7, "warning", "m")
    assert str(f) == "/nonexistent/dir/p.yaml:7: warning: m"
    assert f.as_dict() == {"file": "/nonexistent/dir/p.yaml", "line": 7, "severity": "warning", "message": "m"}
    assert str(lint.Finding("network_configs/p.yaml", 1, "error", "x")) == "network_configs/p.yaml:1: error: x"


def test_coverage_by_protocol_and_port(inv, tmp_path):
    """An earlier term covers a later one only if it admits every protocol and port the later one does."""
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - {name: all-tcp-ports, protocol: tcp, action: accept}
      - {name: ssh-tcp, destination-port: SSH, protocol: tcp, action: accept}
      - {name: pg-any-proto, destination-port: POSTGRES, action: accept}
      - {name: dns-udp, destination-port: DNS, protocol: udp, action: accept}
  - header: {zones: {from: mgmt, to: db}}
    terms:
      - {name: pg-only, destination-port: POSTGRES, protocol: tcp, action: accept}
      - {name: pg-and-https, destination-port: POSTGRES HTTPS, protocol: tcp, action: accept}
      - {name: tcp-everything, protocol: tcp, action: accept}
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 5, "warning", "term 'ssh-tcp' is redundant: 'all-tcp-ports' (p.yaml:4) already matches all its "
                                 "traffic app → db"),
    } | unused("SPARE")


def test_terms_from_any_zone_are_checked_against_every_pair_seen_so_far(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - {name: app-db-pg, destination-port: POSTGRES, protocol: tcp, action: accept}
  - header: {zones: {from: mgmt, to: db}}
    terms:
      - {name: mgmt-db-ssh, destination-port: SSH, protocol: tcp, action: accept}
  - header: {zones: {from: any, to: any}}
    terms:
      - {name: allow-pg-anywhere, destination-port: POSTGRES, protocol: tcp, action: accept}
      - {name: default-deny, action: deny}
"""
    assert findings(inv, tmp_path, policy) == unused("HTTPS", "DNS", "SPARE")


def test_an_address_in_another_internal_zone_names_that_zone_but_never_the_internet(inv, tmp_path):
    services = SERVICES + """\
networks:
  MIXED:
    values:
      - {address: 10.20.30.5/32}
      - {address: 8.8.8.8/32}
"""
    policy = """\
filters:
  - header: {zones: {from: app, to: dmz}}
    terms:
      - {name: t, destination-address: MIXED, destination-port: HTTPS, protocol: tcp, action: accept}
  - header: {zones: {from: app, to: any}}
    terms:
      - {name: u, destination-address: MIXED, destination-port: POSTGRES, protocol: tcp, action: accept}
  - header: {zones: {from: app, to: nowhere}}
    terms:
      - {name: v, destination-address: MIXED, destination-port: SSH, protocol: tcp, action: accept}
"""
    assert findings(inv, tmp_path, policy, services) == {
        ("p.yaml", 4, "error", "term 't': destination-address MIXED (8.8.8.8/32, 10.20.30.5/32) lies in zone db, "
                               "outside the filter's to-zone dmz; the term can never admit it — file it under a "
                               "filter for its zones"),
        ("p.yaml", 8, "error", "unknown zone 'nowhere' in filter header"),
    } | unused("DNS", "SPARE")


def test_a_zone_term_without_addresses_means_the_zone_subnets_and_the_internet_means_everything(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: public, to: dmz}}
    terms:
      - {name: web, destination-port: HTTPS, protocol: tcp, action: accept}
      - {name: web-to-waf, destination-address: DEV_WAF, destination-port: HTTPS, protocol: tcp, action: accept}
  - header: {zones: {from: dmz, to: app}}
    terms:
      - {name: dmz-app, destination-port: HTTPS, protocol: tcp, action: accept}
      - {name: waf-app, source-address: DEV_WAF, destination-port: HTTPS, protocol: tcp, action: accept}
      - {name: outside-dmz, source-address: ZONE_DB, destination-port: HTTPS, protocol: tcp, action: deny}
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 5, "warning", "term 'web-to-waf' is redundant: 'web' (p.yaml:4) already matches all its traffic "
                                 "public → dmz"),
        ("p.yaml", 9, "warning", "term 'waf-app' is redundant: 'dmz-app' (p.yaml:8) already matches all its traffic "
                                 "dmz → app"),
        ("p.yaml", 10, "error", "term 'outside-dmz': source-address ZONE_DB (10.20.30.0/24) lies in zone db, outside "
                                "the filter's from-zone dmz; the term can never admit it — file it under a filter "
                                "for its zones"),
    } | unused("POSTGRES", "SSH", "DNS", "SPARE")


def test_every_unknown_service_of_a_term_is_reported_and_the_known_ones_count_as_used(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - {name: t, destination-port: NOPE1 NOPE2 SPARE, protocol: tcp, action: accept}
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 4, "error", "term 't': unknown service 'NOPE1'"),
        ("p.yaml", 4, "error", "term 't': unknown service 'NOPE2'"),
    } | unused("HTTPS", "POSTGRES", "SSH", "DNS")


def test_a_filter_to_an_unknown_zone_is_reported_once_and_its_terms_are_not_judged(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: app, to: nowhere}}
    terms:
      - {name: everything, action: accept}
  - header: {zones: {from: nowhere, to: db}}
    terms:
      - {name: everything-else, action: accept}
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 2, "error", "unknown zone 'nowhere' in filter header"),
        ("p.yaml", 5, "error", "unknown zone 'nowhere' in filter header"),
    } | unused("HTTPS", "POSTGRES", "SSH", "DNS", "SPARE")


def test_every_address_on_one_side_only_is_not_an_any_any_permit(inv, tmp_path):
    services = SERVICES + """\
networks:
  EVERYWHERE:
    values:
      - {address: 0.0.0.0/0}
"""
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - {name: from-anywhere, source-address: EVERYWHERE, action: accept}
"""
    got = findings(inv, tmp_path, policy, services)
    assert ("p.yaml", 4, "warning", "term 'from-anywhere': permits every service app → db; name the ports") in got
    assert not any("any-any" in f[3] for f in got)


def test_protocol_numbers_0_to_255_are_known_and_256_is_not(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - {name: t, destination-port: POSTGRES, protocol: 0 255 256, action: accept}
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 4, "error", "term 't': unknown protocol '256'")} | unused("HTTPS", "SSH", "DNS", "SPARE")


ZONED = SERVICES + """\
networks:
  APPHOST:
    values:
      - {address: 10.20.20.5/32}
  OUTSIDE:
    values:
      - {address: 198.51.100.0/24}
  MIXED:
    values:
      - {address: 10.20.30.5/32}
      - {address: 8.8.8.8/32}
"""


def test_zone_membership_per_side_per_name_over_every_zone_of_the_header(inv, tmp_path):
    """From 'any' the destination side is still checked; an unknown name does not end the check of the next;
    a header's zones are united; the internet zone holds every address no internal zone has (so a public
    source outside the inventory is fine, and an app address claimed to come from the internet is not)."""
    policy = """\
filters:
  - header: {zones: {from: any, to: db}}
    terms:
      - {name: any-db, destination-address: MIXED, destination-port: POSTGRES, protocol: tcp, action: accept}
  - header: {zones: {from: app, to: dmz}}
    terms:
      - {name: app-dmz, destination-address: NOPE MIXED, destination-port: HTTPS, protocol: tcp, action: accept}
  - header: {zones: {from: [app, db], to: dmz}}
    terms:
      - {name: appdb-dmz, source-address: APPHOST, destination-port: SSH, protocol: tcp, action: accept}
  - header: {zones: {from: public, to: dmz}}
    terms:
      - {name: web-in, source-address: OUTSIDE, destination-port: HTTPS, protocol: tcp, action: accept}
      - {name: spoof, source-address: APPHOST, destination-port: DNS, protocol: udp, action: accept}
"""
    never = "the term can never admit it — file it under a filter for its zones"
    assert findings(inv, tmp_path, policy, ZONED) == {
        ("p.yaml", 4, "error", f"term 'any-db': destination-address MIXED (8.8.8.8/32) lies outside every zone of "
                               f"the inventory; {never}"),
        ("p.yaml", 7, "error", f"term 'app-dmz': destination-address MIXED (8.8.8.8/32, 10.20.30.5/32) lies in zone "
                               f"db, outside the filter's to-zone dmz; {never}"),
        ("p.yaml", 7, "error", "term 'app-dmz': unknown network object 'NOPE'"),
        ("p.yaml", 14, "error", f"term 'spoof': source-address APPHOST (10.20.20.5/32) lies in zone app, outside the "
                                f"filter's from-zone public; {never}"),
    } | unused("SPARE")


def test_a_policy_syntax_error_names_its_file_and_line_even_in_a_folder_with_a_colon(inv, tmp_path):
    folder = tmp_path / "site:1"
    folder.mkdir()
    assert findings(inv, folder, "filters: [\n") == {
        ("p.yaml", 2, "error", "YAML syntax error: expected the node content, but found '<stream end>'")}


def test_a_restricted_source_to_every_address_is_a_warning_not_an_any_any(inv, tmp_path):
    services = ZONED + """\
  EVERYWHERE:
    values:
      - {address: 0.0.0.0/0}
  FOUR:
    values:
      - {address: 192.168.1.1/32}
      - {address: 192.168.3.1/32}
      - {address: 192.168.5.1/32}
      - {address: 192.168.7.1/32}
  DMZHOST:
    values:
      - {address: 10.20.10.5/32}
"""
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - {name: app-to-all, source-address: APPHOST, destination-address: EVERYWHERE, action: accept}
      - {name: four, destination-address: FOUR, destination-port: POSTGRES, protocol: tcp, action: accept}
  - header: {zones: {from: [app, db], to: mgmt}}
    terms:
      - {name: from-dmz, source-address: DMZHOST, destination-port: SSH, protocol: tcp, action: accept}
"""
    never = "the term can never admit it — file it under a filter for its zones"
    assert findings(inv, tmp_path, policy, services) == {
        ("p.yaml", 4, "error", "term 'app-to-all': destination-address EVERYWHERE (0.0.0.0/5, 8.0.0.0/7, 10.0.0.0/12, "
                               "10.16.0.0/14 …) lies in zone mgmt, oob, edge, dmz, app, storage, wan, outside the "
                               f"filter's to-zone db; {never}"),
        ("p.yaml", 4, "warning", "term 'app-to-all': permits every service app → db; name the ports"),
        ("p.yaml", 5, "error", "term 'four': destination-address FOUR (192.168.1.1/32, 192.168.3.1/32, 192.168.5.1/32, "
                               f"192.168.7.1/32) lies outside every zone of the inventory; {never}"),
        ("p.yaml", 8, "error", "term 'from-dmz': source-address DMZHOST (10.20.10.5/32) lies in zone dmz, outside the "
                               f"filter's from-zone app, db; {never}"),
        ("services.yaml", 11, "warning", "object 'OUTSIDE' is defined but never used"),
        ("services.yaml", 14, "warning", "object 'MIXED' is defined but never used"),
    } | unused("HTTPS", "DNS", "SPARE")


def test_an_unknown_source_port_is_reported_on_its_own_line(inv, tmp_path):
    policy = """\
filters:
  - header: {zones: {from: app, to: db}}
    terms:
      - name: t
        source-port: NOSUCH
        destination-port: POSTGRES
        protocol: tcp
        action: accept
"""
    assert findings(inv, tmp_path, policy) == {
        ("p.yaml", 5, "error", "term 't': unknown service 'NOSUCH'")} | unused("HTTPS", "SSH", "DNS", "SPARE")
