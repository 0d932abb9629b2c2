"""Issue 15 §4: every device of every platform stays manageable after a full push.

For each rendered device: its mgmt_ip sits on an interface with the management zone's netmask,
that interface (only) admits SSH/HTTPS/SNMP, admin access is limited to the management networks,
the management plane has a way back (on-link or its gateway), and syslog, SNMP traps and SNMPv3
polling are configured and referenced. One checker per platform; a platform without one fails.
"""
import ipaddress
import re
import xml.etree.ElementTree as ET

import pytest

from dcops.model import ZoneKind, load_inventory
from dcops.net import fleet, render


@pytest.fixture(scope="module")
def fleet_rendered():
    inv = load_inventory()
    out = [(d, render.render_device(render.RenderContext.build(inv), d)) for d in render.configured_devices(inv)]
    fw, topo = fleet.stand_in(inv)
    out.append((fw, render.render_device(render.RenderContext.build(inv, topology=topo), fw)))
    return inv, out


def _mgmt_zone(inv, dev):
    z = next(z for z in inv.zones if dev.mgmt_ip in z.subnet)
    assert z.kind is ZoneKind.mgmt, f"{dev.name}: mgmt_ip outside a management zone"
    return z


def _blocks(text, head):
    """The `edit NAME … next` blocks of a FortiOS-style `config HEAD … end` section."""
    sections = re.findall(rf"^config {re.escape(head)}\n(.*?)^end$", text, re.S | re.M)
    assert sections, f"no `config {head}`"
    return {k: v for body in sections for k, v in re.findall(r'^    edit "?([^"\n]+)"?\n(.*?)^    next$', body, re.S | re.M)}


def _on_link_or_gateway(inv, dev, zone, gateway):
    for s in inv.site.syslog_servers:
        assert ipaddress.ip_address(str(s)) in zone.subnet or gateway, f"{dev.name}: syslog {s} unreachable"


def check_forti_cli(inv, dev, text, mgmt_ip_line, trusthost):
    z = _mgmt_zone(inv, dev)
    ifaces = _blocks(text, "system interface")
    on = [n for n, b in ifaces.items() if mgmt_ip_line(z) in b]
    assert len(on) == 1, f"{dev.name}: mgmt_ip {dev.mgmt_ip} on {on}"
    access = set(re.search(r"set allowaccess (.*)", ifaces[on[0]]).group(1).split())
    assert {"ssh", "https", "snmp"} <= access
    for n, b in ifaces.items():
        if n != on[0] and "allowaccess" in b:
            assert re.search(r"set allowaccess (.*)", b).group(1).split() == ["ping"], f"{dev.name}: {n} admits more"
    assert trusthost(z) in text, f"{dev.name}: admin not limited to {z.subnet}"
    snmp = _blocks(text, "system snmp user")
    assert dev.snmp.user in snmp and re.search(r"set security-level auth-?priv", snmp[dev.snmp.user])
    for s in inv.site.syslog_servers:
        assert f"set server {s}" in text or f'set server "{s}"' in text
    return z, on[0]


def check_fortios(inv, dev, text):
    z, port = check_forti_cli(inv, dev, text, lambda z: f"set ip {dev.mgmt_ip} {z.subnet.netmask}",
                              lambda z: f"set trusthost1 {z.subnet.network_address} {z.subnet.netmask}")
    assert "set dedicated-to management" in _blocks(text, "system interface")[port]
    ha = re.search(r"config ha-mgmt-interfaces\n(.*?)\n    end", text, re.S).group(1)
    assert f'set interface "{port}"' in ha and f"set gateway {z.gateway}" in ha
    local_in = _blocks(text, "firewall local-in-policy")
    first, last = local_in["1"], local_in[max(local_in)]
    assert f'set intf "{port}"' in first and "set action accept" in first and '"dcops-mgmt-1"' in first
    assert all(f'"{s}"' in first for s in ("SSH", "HTTPS", "SNMP"))
    assert "set action deny" in last and 'set srcaddr "all"' in last
    addr = _blocks(text, "firewall address")["dcops-mgmt-1"]
    assert f"set subnet {z.subnet.network_address} {z.subnet.netmask}" in addr
    assert "set queries enable" in text and "set trap-status enable" in text
    _on_link_or_gateway(inv, dev, z, z.gateway)


def _mgmt_plane_routed(inv, dev, text, z, mgmt_if, head, dst_key, dev_key):
    """Issue 15 §4 (appliances): every management-plane peer off the management subnet — the other
    management networks, the site's NTP/syslog/DNS servers — has a route via the management gateway on
    the management port (the data-plane default route would otherwise carry it from a data address)."""
    routes = {(re.search(rf"set {dst_key} (\S+)", b).group(1), re.search(r"set gateway (\S+)", b).group(1),
               re.search(rf"set {dev_key} (\S+)", b).group(1)) for b in _blocks(text, head).values()}
    via_mgmt = {d for d, gw, i in routes if gw == str(z.gateway) and i == mgmt_if}
    peers = [ipaddress.ip_network(f"{ip}/32") for ip in (*inv.site.ntp_servers, *inv.site.syslog_servers,
                                                         *inv.site.dns_servers)]
    peers += [o.subnet for o in inv.zones if o.kind is ZoneKind.mgmt and o.name != z.name]
    want = {str(p) for p in peers if not p.subnet_of(z.subnet)}
    assert want and via_mgmt == want, f"{dev.name}: routed via the management gateway {sorted(via_mgmt)}, want {sorted(want)}"
    assert all(gw != str(z.gateway) for d, gw, i in routes if i != mgmt_if), f"{dev.name}: mgmt gateway on a data port"


def check_fortiweb(inv, dev, text):
    z, on = check_forti_cli(inv, dev, text, lambda z: f"set ip {dev.mgmt_ip}/{z.subnet.prefixlen}",
                            lambda z: f"set trusthostv4 {z.subnet.network_address} {z.subnet.netmask}")
    _on_link_or_gateway(inv, dev, z, None)
    _mgmt_plane_routed(inv, dev, text, z, on, "router static", "dst", "device")


def check_fortimail(inv, dev, text):
    z, on = check_forti_cli(inv, dev, text, lambda z: f"set ip {dev.mgmt_ip}/{z.subnet.prefixlen}",
                            lambda z: f"set trusthosts1 {z.subnet}")
    _on_link_or_gateway(inv, dev, z, None)
    _mgmt_plane_routed(inv, dev, text, z, on, "system route", "destination", "interface")


def check_fortiddos(inv, dev, text):
    z, on = check_forti_cli(inv, dev, text, lambda z: f"set ip {dev.mgmt_ip}/{z.subnet.prefixlen}",
                            lambda z: f"set trusthost1 {z.subnet}")
    _on_link_or_gateway(inv, dev, z, None)
    _mgmt_plane_routed(inv, dev, text, z, on, "router static", "dst", "device")


def check_panos(inv, dev, text):
    z = _mgmt_zone(inv, dev)
    root = ET.fromstring(text)
    system = root.find("./devices/entry/deviceconfig/system")
    assert system.findtext("ip-address") == str(dev.mgmt_ip)
    assert system.findtext("netmask") == str(z.subnet.netmask)
    assert system.findtext("default-gateway") == str(z.gateway)
    assert [e.get("name") for e in system.findall("./permitted-ip/entry")] == [str(z.subnet)]
    svc = system.find("service")
    assert {c.tag: c.text for c in svc} == {"disable-telnet": "yes", "disable-http": "yes", "disable-ssh": "no",
                                           "disable-https": "no", "disable-snmp": "no"}
    v3 = system.find("./snmp-setting/access-setting/version/v3")
    user = v3.find(f"./users/entry[@name='{dev.snmp.user}']")
    assert user is not None and user.findtext("view") in [e.get("name") for e in v3.findall("./views/entry")]
    assert user.findtext("authpwd").startswith("${secret:") and user.findtext("privpwd").startswith("${secret:")
    logs = root.find("./shared/log-settings")
    syslog = {e.get("name") for e in logs.findall("./syslog/entry")}
    traps = {e.get("name") for e in logs.findall("./snmptrap/entry")}
    sys_match = logs.find("./system/match-list/entry")
    assert {m.text for m in sys_match.findall("./send-syslog/member")} == syslog != set()
    assert {m.text for m in sys_match.findall("./send-snmptrap/member")} == traps != set()
    servers = {e.findtext("server") for e in logs.findall("./syslog/entry/server/entry")}
    assert servers == {str(s) for s in inv.site.syslog_servers}
    _on_link_or_gateway(inv, dev, z, z.gateway)


def check_linux(inv, dev, files):
    z = _mgmt_zone(inv, dev)
    nft, batch, system = files[f"{dev.name}.nft"], files[f"{dev.name}.ip.batch"], files[f"{dev.name}.system.conf"]
    on = [i for i in dev.interfaces if i.address.ip == dev.mgmt_ip]
    if on:  # the management address is a data interface's (the lab stand-in)
        assert f"address replace {dev.mgmt_ip}/{z.subnet.prefixlen} dev" in batch
    else:   # the management NIC, its subnet and gateway in a table of its own
        assert f"address replace {dev.mgmt_ip}/32 dev mgmt0" in batch
        assert f"route replace {z.subnet} dev mgmt0 src {dev.mgmt_ip} table" in batch
        assert f"route replace default via {z.gateway} dev mgmt0 table" in batch
        assert f"rule add from {dev.mgmt_ip} lookup" in batch
    assert f'ip saddr {{ {z.subnet} }} tcp dport 22 accept' in nft
    assert f'ip saddr {{ {z.subnet} }} udp dport 161 accept' in nft
    assert "policy drop;" in nft.split("chain input", 1)[1].split("}", 1)[0]
    assert f"ListenAddress {dev.mgmt_ip}" in system and f"agentAddress udp:{dev.mgmt_ip}:161" in system
    assert f"AllowUsers {dev.admin_user}@{z.subnet}" in system
    for s in inv.site.syslog_servers:
        assert f"*.* @{s}:514" in system
    if dev.snmp is None:  # only the lab's stand-in firewall is rendered without SNMP
        assert dev.vendor == "dcops lab", dev.name
        return
    assert f"rouser {dev.snmp.user} priv" in system
    for s in inv.site.syslog_servers:
        assert f" {s}:162" in system


CHECKERS = {"fortios": check_fortios, "fortiweb": check_fortiweb, "fortimail": check_fortimail,
            "fortiddos": check_fortiddos, "panos": check_panos}


def test_every_device_of_every_platform_stays_manageable(fleet_rendered):
    inv, rendered = fleet_rendered
    seen = set()
    for dev, r in rendered:
        if r.platform == "linux":
            check_linux(inv, dev, r.files)
        else:
            assert r.platform in CHECKERS, f"no management check for platform {r.platform}"
            CHECKERS[r.platform](inv, dev, r.config)
        seen.add(r.platform)
    assert seen == {"fortios", "fortiweb", "fortimail", "fortiddos", "panos", "linux"}
