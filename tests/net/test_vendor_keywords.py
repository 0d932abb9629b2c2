"""Issue 15 §9 (part): template keywords that did not match the vendor's CLI reference.

FortiWeb CLI Reference 8.0.3, "system ntp" (https://docs.fortinet.com/document/fortiweb/8.0.3/cli-reference/435263):
NTP servers are a numbered table `config ntp-server` / `edit <no.>` / `set server`; FortiWeb 7.6.4
Administration Guide, "Setting the system time & date": a list of NTP servers ("Create New").
FortiWeb CLI Reference 7.0.8, "server-policy allow-hosts"
(https://docs.fortinet.com/document/fortiweb/7.0.8/cli-reference/991441): host-list entries are numbered.
"""
import functools
import re

from dcops.model import load_inventory
from dcops.net import render


@functools.lru_cache(maxsize=1)
def _rendered():
    """The inventory and every configured device's rendering, once per module (read-only in the tests)."""
    inv = load_inventory()
    ctx = render.RenderContext.build(inv)
    return inv, [(d.platform, render.render_device(ctx, d).config) for d in render.configured_devices(inv)]


def _configs(platform):
    inv, rendered = _rendered()
    return inv, [text for p, text in rendered if p == platform]


def _waf_configs():
    return _configs("fortiweb")


def test_fortiweb_ntp_servers_are_a_numbered_table():
    inv, configs = _waf_configs()
    assert configs
    for text in configs:
        ntp = re.search(r"^config system ntp\n(.*?)^end$", text, re.S | re.M).group(1)
        assert "set ntpserver" not in ntp
        servers = re.findall(r'^        edit (\d+)\n            set server "([^"]+)"\n        next$', ntp, re.M)
        assert servers == [(str(i), str(s)) for i, s in enumerate(inv.site.ntp_servers, 1)]


def test_fortiweb_host_list_entries_are_numbered():
    _, configs = _waf_configs()
    for text in configs:
        hosts = re.search(r"^        config host-list\n(.*?)^        end$", text, re.S | re.M).group(1)
        edits = re.findall(r"^            edit (\S+)$", hosts, re.M)
        assert edits and edits == [str(i) for i in range(1, len(edits) + 1)]
        assert len(re.findall(r'^                set host "[^"]+"$', hosts, re.M)) == len(edits)


def test_fortimail_snmp_user_keywords_follow_the_cli_reference():
    """FortiMail CLI Reference 8.0.0, "system snmp user"
    (https://docs.fortinet.com/document/fortimail/8.0.0/cli-reference/585995/system-snmp-user):
    security-level {authnopriv | authpriv | noauthnopriv}, query-status, trap-status, numbered `config host`."""
    inv, texts = _configs("fortimail")
    assert texts
    for text in texts:
        user = re.search(r"^config system snmp user\n(.*?)^end$", text, re.S | re.M).group(1)
        assert re.search(r"^        set security-level (authnopriv|authpriv|noauthnopriv)$", user, re.M).group(1) == "authpriv"
        assert "set query-status enable" in user and "set trap-status enable" in user
        hosts = re.findall(r"^            edit (\S+)\n                set ip (\S+)$", user, re.M)
        assert [h[0] for h in hosts] == [str(i) for i in range(1, len(hosts) + 1)] and hosts


def test_fortiddos_spp_follows_the_handbook_syntax():
    """FortiDDoS-F publishes no CLI Reference; the FortiDDoS-F Handbook prints the SPP syntax
    (e.g. 6.4.0 "ACLs", https://docs.fortinet.com/document/fortiddos-f/6.4.0/handbook/768691:
    `config ddos spp rule` / `edit <spp_name>` / nested `config …`; operating modes, `adaptive-mode adaptive`
    and the protected subnets `config address` / `set type ipv4-netmask` / `set ip-netmask` in the 8.0.0
    Handbook). The old `config ddos spp setting "name"` put the name on the config line, which no
    FortiOS-style CLI accepts; thresholds have no CLI and are comments for the operator."""
    inv, texts = _configs("fortiddos")
    assert texts
    for text in texts:
        assert not re.search(r'^config ddos .*"', text, re.M)     # never an SPP name on a config line
        assert "config ddos global spp-" not in text and "config ddos spp threshold" not in text
        spp = re.search(r"^config ddos spp rule\n(.*?)^end$", text, re.S | re.M).group(1)
        names = re.findall(r'^    edit "([^"]+)"$', spp, re.M)
        assert names == [ll.name for ll in inv.leased_lines]
        for ll in inv.leased_lines:
            body = spp.split(f'    edit "{ll.name}"\n')[1].split("\n    next")[0]
            assert re.findall(r"^        set (\S+) (\S+)$", body, re.M) == [
                ("inbound-operating-mode", "prevention"), ("outbound-operating-mode", "detection"),
                ("adaptive-mode", "adaptive")]
            assert (f'        config address\n            edit "{ll.name}-prefix"\n                set type ipv4-netmask\n'
                    f"                set ip-netmask {ll.public_prefix}\n            next\n        end") in body


def test_every_platform_uses_only_the_keywords_of_its_reference_table():
    """Issue 15 §9: docs/network.md lists, per platform, each block, its keywords and its vendor reference;
    the rendered output of every device (and the lab stand-in) uses nothing else."""
    from dcops import PROJECT_ROOT
    from dcops.net import keywords, platforms
    tables = keywords.parse_tables((PROJECT_ROOT / "docs" / keywords.DOC).read_text(encoding="utf-8"))
    used = keywords.fleet(load_inventory())
    assert set(tables) == set(used) == set(platforms.available())   # every platform has its table
    for platform, blocks in used.items():
        table = tables[platform]
        unknown_blocks = sorted(set(blocks) - set(table))
        assert not unknown_blocks, f"{platform}: blocks without a reference row: {unknown_blocks}"
        for block, kws in blocks.items():
            listed, ref = table[block]
            assert ref and ref != "—", f"{platform} {block}: no reference"
            assert kws <= listed, f"{platform} {block}: keywords not in the table: {sorted(kws - listed)}"


def test_keyword_check_catches_a_misspelt_keyword():
    from dcops.net import keywords
    text = "config system snmp user\n    edit \"x\"\n        set security-levl authpriv\n    next\nend\n"
    assert keywords.forti_cli(text) == {"system snmp user": {"security-levl"}}
    xml = "<config><devices><entry name='l'><deviceconfig><system><hostnme>x</hostnme></system></deviceconfig></entry></devices></config>"
    assert keywords.panos_xml(xml) == {"devices/deviceconfig/system": {"hostnme"}}


def test_every_verified_row_names_its_document_and_version():
    """A row marked ✓ says what it was checked against: a document with its version, or a vendor schema/SDK
    with its version or commit (scripts/verify_fortios_keywords.py, scripts/verify_panos_keywords.py), or for
    Linux the man page of the Debian 12 package version."""
    from dcops import PROJECT_ROOT
    from dcops.net import keywords
    tables = keywords.parse_tables((PROJECT_ROOT / "docs" / keywords.DOC).read_text(encoding="utf-8"))
    verified = {(p, b): ref for p, rows in tables.items() for b, (_, ref) in rows.items() if "✓" in ref}
    assert len(verified) >= 40
    for (platform, block), ref in verified.items():
        after = ref.split("✓", 1)[1]
        assert re.search(r"\b\d+\.\d+(\.\d+)?\b|\b[0-9a-f]{7}\b", after), f"{platform} {block}: ✓ without a version: {ref}"
        assert re.search(r"CLI Reference|Handbook|schema|SDKs|REST CMDB|man page", after), f"{platform} {block}: ✓ without a document"
    # the one FortiOS row the schema does not confirm for 7.2.8 stays marked unverified
    assert "✗ unverified" in tables["fortios"]["system replacemsg admin"][1]


def test_fortiweb_snmp_user_security_level_follows_the_cli_reference():
    """FortiWeb CLI Reference, "system snmp user" (6.3.15 https://docs.fortinet.com/document/fortiweb/6.3.15/cli-reference/393441/system-snmp-user,
    7.2.2 https://docs.fortinet.com/document/fortiweb/7.2.2/cli-reference/393441):
    `set security-level { noauthnopriv | authnopriv | authpriv }` — FortiWeb's spelling, not FortiOS's `auth-priv`
    (Fortinet's FortiWeb Ansible collection, examples/fwebos_snmp_user.yml, sends `authnopriv` too)."""
    _, configs = _waf_configs()
    assert configs
    for text in configs:
        user = re.search(r"^config system snmp user\n(.*?)^end$", text, re.S | re.M).group(1)
        assert re.findall(r"^        set security-level (\S+)$", user, re.M) == ["authpriv"]


def test_fortiweb_snmp_managers_are_the_numbered_hosts_table():
    """FortiWeb CLI Reference 6.3.15, "system snmp user" (docs.fortinet.com/document/fortiweb/6.3.15/cli-reference/393441):
    the SNMP managers of a v3 user are `config hosts` / `edit "<snmp-manager_index>"` / the manager's address;
    Fortinet's FortiWeb Terraform provider (fortinetdev/terraform-provider-fortiweb 5fd31a8, FortiWeb 8.0:
    `fortiweb_system_snmp_user_hosts`, cmdb/system/snmp.user/hosts) names that field `ip`. There is no
    `snmp-user-query-host`/`snmp-user-trap-host` table; the one list both answers queries and receives traps,
    so it holds the NOC's collectors (the site's syslog servers, which FortiOS also sends its traps to)."""
    inv, configs = _waf_configs()
    assert configs
    for text in configs:
        user = re.search(r"^config system snmp user\n(.*?)^end$", text, re.S | re.M).group(1)
        assert "snmp-user-query-host" not in user and "snmp-user-trap-host" not in user and "host-type" not in user
        hosts = re.search(r"^        config hosts\n(.*?)^        end$", user, re.S | re.M).group(1)
        assert re.findall(r"^            edit (\d+)\n                set ip (\S+)\n            next$", hosts, re.M) == [
            (str(i), str(s)) for i, s in enumerate(inv.site.syslog_servers, 1)]


def test_fortiweb_ha_uses_fortiwebs_own_keywords():
    """FortiWeb CLI Reference 7.2.0, "system ha" (docs.fortinet.com/document/fortiweb/7.2.0/cli-reference/352695):
    `set hbdev "<interface_name>"` and `set hbdev-backup "<interface_name>"` — one port each, not a list
    (FortiWeb 7.0.0 Administration Guide, HA FAQ: up to 2 heartbeat interfaces); Fortinet's FortiWeb schema
    (terraform-provider-fortiweb 5fd31a8 `fortiweb_system_ha`, ansible FortiWeb collection 7bd16fa `fwebos_ha`,
    cmdb/system/ha) has no `password` (that is FortiOS's HA keyword): the pair is matched by group-id."""
    _, configs = _waf_configs()
    assert configs
    for text in configs:
        ha = re.search(r"^config system ha\n(.*?)^end$", text, re.S | re.M).group(1)
        sets = dict(re.findall(r"^    set (\S+) (.*)$", ha, re.M))
        assert sets["hbdev"] == "port7" and sets["hbdev-backup"] == "port8"
        assert "password" not in sets
        assert set(sets) == {"mode", "group-name", "group-id", "priority", "override", "hbdev", "hbdev-backup", "monitor"}


def test_fortimail_domain_settings_are_the_domain_setting_sub_command():
    """FortiMail CLI Reference, "domain" (6.2.0, 7.0.4, 7.6.1, 8.0.0: docs.fortinet.com/document/fortimail/8.0.0/cli-reference/10685):
    `config domain` / `edit <domain_name>` holds sub-commands only (`config domain-setting ...`, `config policy
    recipient ...`, …); the protected domain's relay settings belong in `config domain-setting`, never as
    `set` options of the domain's edit."""
    inv, texts = _configs("fortimail")
    assert texts
    for text in texts:
        dom = re.search(r"^config domain\n(.*?)^end$", text, re.S | re.M).group(1)
        edit = re.search(r'^    edit "([^"]+)"\n(.*?)^    next$', dom, re.S | re.M)
        assert not re.findall(r"^        set ", edit.group(2), re.M)        # nothing set on the edit itself
        setting = re.search(r"^        config domain-setting\n(.*?)^        end$", edit.group(2), re.S | re.M).group(1)
        assert re.findall(r"^            set (\S+) ", setting, re.M) == [
            "relay-type", "ip-group-profile", "port", "recipient-verification"]


def test_fortimail_global_settings_follow_the_cli_reference():
    """FortiMail CLI Reference, "system global" (7.0.4: docs.fortinet.com/document/fortimail/7.0.4/cli-reference/13449,
    and the latest edition): `set pre-login-banner {admin}` — the banner is switched on by naming where it
    shows, not with FortiOS's `enable` — and `set operation-mode {gateway | server | transparent}` is an
    option of `config system global` (there is no `config system settings` in that reference)."""
    inv, texts = _configs("fortimail")
    assert texts
    for text in texts:
        glob = re.search(r"^config system global\n(.*?)^end$", text, re.S | re.M).group(1)
        sets = dict(re.findall(r"^    set (\S+) (.*)$", glob, re.M))
        assert sets["pre-login-banner"] == "admin" and sets["operation-mode"] == "gateway"
        assert set(sets) == {"hostname", "local-domain-name", "admin-idle-timeout", "pre-login-banner", "operation-mode"}
        assert "config system settings" not in text


def test_fortimail_remote_log_uses_the_remote_destinations_own_option_names():
    """FortiMail CLI Reference 7.4.1, "log setting remote" (docs.fortinet.com/document/fortimail/7.4.1/cli-reference/820362;
    6.2.0 and the latest edition alike): a remote destination logs spam and viruses with `spam-log-status` and
    `virus-log-status`; `antispam-log-status`/`antivirus-log-status` are the names of `log setting local`
    (7.6.0 …/cli-reference/897426), which a remote entry does not accept."""
    inv, texts = _configs("fortimail")
    assert texts
    for text in texts:
        remote = re.search(r"^config log setting remote\n(.*?)^end$", text, re.S | re.M).group(1)
        entries = re.findall(r"^    edit (\d+)\n(.*?)^    next$", remote, re.S | re.M)
        assert [e[0] for e in entries] == [str(i) for i in range(1, len(inv.site.syslog_servers) + 1)]
        for _, body in entries:
            assert re.findall(r"^        set (\S+) ", body, re.M) == [
                "status", "server", "port", "facility", "event-log-status", "history-log-status",
                "spam-log-status", "virus-log-status"]


def test_row_verdicts_and_counts_for_the_docs_figures():
    """docs/network.md's figures `net.keywords.*` (dcops docs refresh): a ✗ wins over a partial ✓."""
    from dcops.net import keywords
    tables = {"a": {"x": (set(), "ref — ✓ 1.0 CLI Reference"), "y": (set(), "ref — ✓ part; ✗ the rest"),
                    "z": (set(), "ref")},
              "b": {"w": (set(), "ref — ✗ unverified")}}
    assert [keywords.verdict(r) for _, r in tables["a"].values()] == ["verified", "open", "unchecked"]
    assert keywords.counts(tables) == {"rows": 4, "verified": 1, "open": 2, "unchecked": 1}
