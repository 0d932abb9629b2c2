"""Check the panos keyword table (docs/network.md) against Palo Alto Networks' own PAN-OS SDKs.

pango (github.com/PaloAltoNetworks/pango, generated from the PAN-OS schema: `xml:"…"` tags) and
pan-os-python (github.com/PaloAltoNetworks/pan-os-python: ParamPath paths and xpaths) name the XML
elements of each configuration object. Per table row, this prints the element names neither SDK has
for that object. An element-name check per object, not a full-path schema validation.

    python scripts/verify_panos_keywords.py /path/to/pango /path/to/pan-os-python   (git checkouts)

Not a test: it needs those checkouts (the rows it confirmed are marked ✓ in docs/network.md).
"""
import re
import subprocess
import sys

from dcops import PROJECT_ROOT
from dcops.net import keywords

PANGO, PPY = (sys.argv[1:3] + ["", ""])[:2]
def show(repo, path): return subprocess.run(["git","-C",repo,"show",f"HEAD:{path}"],capture_output=True,text=True).stdout
def pyclass(names):
    src = show(PPY, "panos/device.py") + show(PPY, "panos/ha.py") + show(PPY,"panos/objects.py") + show(PPY,"panos/policies.py") + show(PPY,"panos/network.py")
    out=""
    for n in names:
        m = re.search(rf"^class {n}\(.*?(?=^class )", src, re.S|re.M); out += m.group(0) if m else ""
    return out
def toks(text):
    t=set()
    for m in re.findall(r'xml:"([^",]+)', text): t.update(m.split(">"))
    for m in re.findall(r'(?:path|value)="([^"]+)"', text): t.update(x for x in re.split(r"[/]", m) if x and "{" not in x)
    for m in re.findall(r'(?:path|value)=\(?\s*"([^"]+)"', text): t.update(x for x in m.split("/") if x and "{" not in x)
    for m in re.findall(r'Var\("([^"]+)"', text): t.add(m)
    for m in re.findall(r'add_profile\([^)]*value="([^"]+)"', text): t.update(x for x in m.split("/") if x)
    for m in re.findall(r'xpath = "([^"]+)"|SUFFIX = \w+|_xpaths.set_path\("([^"]+)"\)|ROOT = "([^"]+)"', text):
        for x in m:
            t.update(y for y in x.split("/") if y and "{" not in y)
    return t
M = {
 "devices/vsys/address": (["objects/address/entry.go"], ["AddressObject"]),
 "devices/vsys/address-group": (["objects/address/group/entry.go"], ["AddressGroup"]),
 "devices/vsys/service": (["objects/service/entry.go"], ["ServiceObject"]),
 "devices/vsys/tag": (["objects/tag/entry.go"], ["Tag"]),
 "devices/vsys/zone": (["network/zone/entry.go"], ["Zone"]),
 "devices/vsys/rulebase": (["policies/rules/security/entry.go"], ["SecurityRule","Rulebase"]),
 "devices/network/interface": (["network/interface/ethernet/entry.go","network/interface/ethernet/subinterface/layer3/entry.go"], ["EthernetInterface","Layer3Subinterface"]),
 "devices/network/virtual-router": (["network/virtual_router/entry.go","network/virtual_router/ipv4/staticroute/entry.go"], ["VirtualRouter","StaticRoute"]),
 "shared/log-settings/syslog": (["device/profiles/syslog/entry.go"], ["SyslogServerProfile","SyslogServer"]),
 "shared/log-settings/config": (["device/logsettings/config/entry.go"], ["LogSettingsConfig"]),
 "shared/log-settings/system": (["device/logsettings/system/entry.go"], ["LogSettingsSystem"]),
 "shared/log-settings/snmptrap": ([], ["SnmpServerProfile","SnmpV3Server","SnmpV2cServer"]),
 "devices/deviceconfig/system": (["device/services/dns/config.go","device/services/ntp/config.go","device/services/general/config.go"], ["SystemSettings","NTPServer","NTPServerPrimary","NTPServerSecondary"]),
 "devices/deviceconfig/high-availability": ([], ["HighAvailability","HighAvailabilityInterface","HA1"]),
 "mgt-config/users/permissions": ([], ["Administrator"]),
 "mgt-config/users/public-key": ([], ["Administrator"]),
 "devices/vsys/application": ([], ["ApplicationObject"]),
 "devices/vsys/application-group": ([], ["ApplicationGroup"]),
}
t = keywords.parse_tables((PROJECT_ROOT / "docs" / keywords.DOC).read_text(encoding="utf-8"))["panos"]
bad = 0
for b,(kws,ref) in t.items():
    if b not in M: print(b, "-> no mapping"); continue
    go, py = M[b]
    text = "".join(show(PANGO,g) for g in go) + pyclass(py) + (show(PANGO, "util/member.go") if go else "")
    have = toks(text)
    missing = sorted(k for k in kws if k not in have)
    leaf = b.split("/")[-1]
    bad += bool(missing) or leaf not in have
    print(f"{b}: block-leaf {leaf!r} {'found' if leaf in have else 'NOT found'}; {len(kws)-len(missing)}/{len(kws)} missing={missing}")
sys.exit(1 if bad else 0)
