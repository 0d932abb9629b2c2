"""Issue 15 §9 (part): template keywords that did not match the vendor's CLI reference.

FortiWeb CLI Reference 8.0.3, "system ntp" (https://docs.fortinet.com/document/fortiweb/8.0.3/cli-reference/435263):
NTP servers are a numbered table `config ntp-server` / `edit <no.>` / `set server`; FortiWeb 7.6.4
Administration Guide, "Setting the system time & date": a list of NTP servers ("Create New").
FortiWeb CLI Reference 7.0.8, "server-policy allow-hosts"
(https://docs.fortinet.com/document/fortiweb/7.0.8/cli-reference/991441): host-list entries are numbered.
"""
import re

from dcops.model import load_inventory
from dcops.net import render


def _waf_configs():
    inv = load_inventory()
    ctx = render.RenderContext.build(inv)
    return inv, [render.render_device(ctx, d).config for d in render.configured_devices(inv) if d.platform == "fortiweb"]


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
    inv = load_inventory()
    ctx = render.RenderContext.build(inv)
    texts = [render.render_device(ctx, d).config for d in render.configured_devices(inv) if d.platform == "fortimail"]
    assert texts
    for text in texts:
        user = re.search(r"^config system snmp user\n(.*?)^end$", text, re.S | re.M).group(1)
        assert re.search(r"^        set security-level (authnopriv|authpriv|noauthnopriv)$", user, re.M).group(1) == "authpriv"
        assert "set query-status enable" in user and "set trap-status enable" in user
        hosts = re.findall(r"^            edit (\S+)\n                set ip (\S+)$", user, re.M)
        assert [h[0] for h in hosts] == [str(i) for i in range(1, len(hosts) + 1)] and hosts
