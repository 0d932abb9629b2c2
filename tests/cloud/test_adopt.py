"""Adoption and drift on recorded listings made from the shipped plan, with deliberate mismatches."""
from __future__ import annotations

import copy
import json

from typer.testing import CliRunner

from dcops.cli import app
from dcops.cloud.adopt import drift, import_file, match, report
from dcops.cloud.offline import PROJECT

from .listings import from_plan, uid, write

runner = CliRunner()


def _find(rows, name):
    return next(r for r in rows if r["Name"] == name)


def _messy(plan: dict) -> dict:
    """The running cloud as a 2021 data centre really is."""
    c = copy.deepcopy(from_plan(plan))
    # 1. a VM of the inventory was never built
    c["servers"] = [s for s in c["servers"] if s["Name"] != "yte-app-01"]
    c["ports"] = [p for p in c["ports"] if p["Name"] != "yte-app-01-port"]
    c["volumes"] = [v for v in c["volumes"] if v["Name"] != "yte-app-01-boot"]
    # 2. a VM nobody put in the inventory
    c["servers"].append({"ID": uid("server", "legacy-ftp"), "Name": "legacy-ftp", "Status": "ACTIVE",
                         "Networks": {"net-app": ["10.20.20.250"]}, "Flavor Name": "m1.small"})
    c["ports"].append({"ID": uid("port", "legacy-ftp"), "Name": "", "Device Owner": "compute:nova",
                       "Fixed IP Addresses": [{"ip_address": "10.20.20.250"}], "Security Groups": []})
    # 3. built by hand under another name: found by its address
    _find(c["servers"], "portal-db-01")["Name"] = "PORTAL-DB-1"
    _find(c["ports"], "portal-db-01-port")["Name"] = ""
    # 4. Nova's boot-from-image volumes have no name: found as the bootable volume attached to the server
    _find(c["volumes"], "yte-db-01-boot")["Name"] = ""
    # 5. an older openstackclient prints strings, not structures
    s = _find(c["servers"], "du-lich-web-01")
    s["Networks"] = "net-dmz=" + ", ".join(s["Networks"]["net-dmz"])
    v = _find(c["volumes"], "du-lich-web-01-media")
    v["Attached to"] = f"Attached to {uid('server', 'du-lich-web-01')} on /dev/vdb "
    # 6. drift: resized by hand, grown by hand, a security group added by hand
    _find(c["servers"], "yte-db-01")["Flavor Name"] = "db.2xlarge"
    _find(c["volumes"], "yte-db-01-data")["Size"] += 500
    _find(c["ports"], "qlvb-web-01-port")["Security Groups"].append(uid("sg", "default"))
    return c


def test_matching_by_name_address_and_attachment(direct):
    prod = direct  # du-lich published directly: its VMs have floating IPs to match
    a = match(prod.plan, _messy(prod.plan))
    by = a.by_key()
    T = "openstack:"
    assert by[(T + "compute/instance:Instance", "portal-db-01")].how == "address"
    assert by[(T + "compute/instance:Instance", "portal-db-01")].cloud_name == "PORTAL-DB-1"
    assert by[(T + "blockstorage/volume:Volume", "yte-db-01-boot")].how == "attachment"
    assert by[(T + "blockstorage/volume:Volume", "yte-db-01-boot")].id == uid("volume", "yte-db-01-boot")
    assert by[(T + "compute/instance:Instance", "du-lich-web-01")].how == "name"
    attach = by[(T + "compute/volumeAttach:VolumeAttach", "du-lich-web-01-media-attach")]
    assert attach.id == f"{uid('server', 'du-lich-web-01')}/{uid('volume', 'du-lich-web-01-media')}"
    core = {(t.rsplit(":", 1)[-1], n) for t, n in a.inventory_only if t.rsplit(":", 1)[-1] in ("Instance", "Port", "Volume")}
    assert core == {("Instance", "yte-app-01"), ("Port", "yte-app-01-port"), ("Volume", "yte-app-01-boot")}
    assert {(lst, i) for lst, _, i in a.cloud_only} == {("servers", uid("server", "legacy-ftp")),
                                                         ("ports", uid("port", "legacy-ftp"))}
    fip = by[(T + "networking/floatingIp:FloatingIp", "du-lich-web-01-fip")]
    assert (fip.id, fip.how) == (uid("fip", "du-lich-web-01-fip"), "port")
    assert by[(T + "compute/serverGroup:ServerGroup", "sg-portal-web")].id == uid("sg-group", "sg-portal-web")
    assert by[(T + "networking/router:Router", "rt-dmz-public")].how == "name"
    # a load balancer's floating IP sits on Octavia's VIP port: found by the VIP address
    assert by[(T + "networking/floatingIp:FloatingIp", "lb-portal-fip")].id == uid("fip", "lb-portal-fip")
    assert by[(T + "loadbalancer/loadBalancer:LoadBalancer", "lb-dvc")].id == uid("lb", "lb-dvc")
    rules = [m for m in a.matched if m.type.endswith(":SecGroupRule")]
    assert len(rules) == sum(1 for r in prod.plan["resources"] if r["type"].endswith(":SecGroupRule"))
    assert all(m.id == uid("rule", m.name) for m in rules)
    rep = report(a)
    assert rep["renamed_in_cloud"][0]["cloud_name"] == "PORTAL-DB-1"
    assert any("PORTAL-DB-1" in n and "portal-db-01" in n for n in rep["notes"])
    # the default group and the router's port are OpenStack's own, never "outside the inventory"
    assert not any(n == "default" for _, n, _ in a.cloud_only)


def test_import_file_is_what_pulumi_import_reads(prod):
    a = match(prod.plan, _messy(prod.plan))
    doc = import_file(prod.plan, a, project=PROJECT)
    assert set(doc) == {"nameTable", "resources"}
    names = [e["name"] for e in doc["resources"]]
    assert len(names) == len(set(names))  # unique within the file
    comps = {e["name"]: e for e in doc["resources"] if e.get("component")}
    customs = [e for e in doc["resources"] if not e.get("component")]
    assert len(customs) == len(a.matched) and all(e["id"] for e in customs)
    custom_names = {e["name"] for e in customs}
    for e in customs:
        # every parent is in the same import: a component it creates empty, or an imported resource (a rule's group)
        assert e["parent"] in comps or e["parent"] in custom_names or e["parent"] in doc["nameTable"], e
        assert e["provider"] in doc["nameTable"]
    rule = next(e for e in customs if e["type"].endswith(":SecGroupRule"))
    assert rule["parent"].startswith("secgroup-") and rule["parent"] in custom_names
    inst = next(e for e in customs if e["logicalName"] == "portal-db-01" and e["type"].endswith(":Instance"))
    assert inst["id"] == uid("server", "portal-db-01") and comps[inst["parent"]]["logicalName"] == "portal-db-01"
    assert doc["nameTable"][inst["provider"]] == (
        "urn:pulumi:prod::dcops-cloud::dcops:cloud:Tenant$pulumi:providers:openstack::tenant-"
        + prod.inventory.vm("portal-db-01").tenant)
    port = next(e for e in customs if e["logicalName"] == "portal-db-01-port")
    assert doc["nameTable"][port["provider"]] == "urn:pulumi:prod::dcops-cloud::pulumi:providers:openstack::admin"


def test_drift_reports_exactly_the_hand_changes(prod):
    listings = _messy(prod.plan)
    rows = drift(prod.plan, listings, match(prod.plan, listings))
    assert {(d["resource"], d["field"], str(d["running"])) for d in rows} == {
        ("yte-db-01", "flavor", "db.2xlarge"),
        ("yte-db-01-data", "size_gb", str(next(v for v in listings["volumes"] if v["ID"] == uid("volume", "yte-db-01-data"))["Size"])),
        ("qlvb-web-01-port", "security_groups", "['default', 'sg-dmz']")}
    clean = from_plan(prod.plan)
    assert drift(prod.plan, clean, match(prod.plan, clean)) == []


def test_cli_import_and_drift(prod, tmp_path, monkeypatch):
    monkeypatch.setattr("dcops.cloud.runner.make_plan", lambda stack, **kw: prod)  # the session's plan, not 6 more
    clean = write(from_plan(prod.plan), tmp_path / "clean")
    out = tmp_path / "import.json"
    r = runner.invoke(app, ["cloud", "import", "--from", str(clean), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "resources matched" in r.output and json.loads(out.read_text())["resources"]
    r = runner.invoke(app, ["cloud", "drift", "--from", str(clean), "--json", "-"])
    assert r.exit_code == 0 and json.loads(r.output)["drift"] == []
    messy = write(_messy(prod.plan), tmp_path / "messy")
    rep = tmp_path / "report.json"
    r = runner.invoke(app, ["cloud", "import", "--from", str(messy), "-o", str(out), "--report", str(rep)])
    assert r.exit_code == 1
    assert "in the cloud, not in the inventory: servers legacy-ftp" in r.output
    assert "in the inventory, not in the cloud: Instance yte-app-01" in r.output
    assert json.loads(rep.read_text())["inventory_only"]
    r = runner.invoke(app, ["cloud", "import", "--from", str(messy), "-o", str(out), "--json"])
    assert r.exit_code == 1 and json.loads(r.output) == {**json.loads(rep.read_text()), "import_file": str(out)}
    r = runner.invoke(app, ["cloud", "drift", "--from", str(messy)])
    assert r.exit_code == 1 and "db.2xlarge" in r.output and "drift: 3 difference(s), 3 missing" in r.output
    (messy / "servers.json").write_text("[{not json", encoding="utf-8")
    r = runner.invoke(app, ["cloud", "drift", "--from", str(messy)])
    assert r.exit_code == 1 and "servers.json:1: not JSON" in r.output


def test_hostile_listings_fail_with_the_file_and_write_nothing(prod, tmp_path):
    d = write(from_plan(prod.plan), tmp_path / "l")
    out = tmp_path / "import.json"
    (d / "volumes.json").write_text('{"volumes": []}', encoding="utf-8")  # an object, not the list OSC prints
    r = runner.invoke(app, ["cloud", "import", "--from", str(d), "-o", str(out)])
    assert r.exit_code == 1 and "volumes.json: expected the JSON list" in r.output and not out.exists()
    (d / "volumes.json").write_text('[{"Name": "no-id"}]', encoding="utf-8")
    r = runner.invoke(app, ["cloud", "import", "--from", str(d), "-o", str(out)])
    assert r.exit_code == 1 and "objects with an ID" in r.output and not out.exists()
    write(from_plan(prod.plan), d)
    (d / "ports.json").unlink()
    r = runner.invoke(app, ["cloud", "drift", "--from", str(d)])
    assert r.exit_code == 1 and "ports.json: missing (openstack port list --long -f json)" in r.output
    r = runner.invoke(app, ["cloud", "import", "--from", str(tmp_path / "nowhere")])
    assert r.exit_code == 1 and "not a folder" in r.output and r.output.startswith("dcops cloud:")


def test_the_running_clouds_floating_ips_around_the_waf_are_named(prod, direct, tmp_path, monkeypatch):
    """The cloud as the program built it until VIPs were checked (portal's load balancer with a floating IP, du-lich's
    web VMs with theirs: the `direct` plan's listings), read against the shipped plan, which declares none: each is
    named by what it sits on and why, import refuses (exit 1) and drift reports it (exit 1); floating IPs on
    addresses the program does not own stay plain cloud-only rows."""
    from dcops.cloud.exposure import undeclared_floating_ips

    was = from_plan(direct.plan)
    was["floating_ips"].append({"ID": uid("fip", "elsewhere"), "Floating IP Address": "203.0.113.99",
                                "Fixed IP Address": "10.99.0.5", "Port": uid("port", "elsewhere")})
    a = match(prod.plan, was)
    found = undeclared_floating_ips(prod.plan, was, a, prod.inventory)
    du_lich = [v for v in prod.inventory.vms if v.system == "du-lich" and v.zone == "dmz"]
    fips = {r["ID"]: r for r in was["floating_ips"]}
    assert [(f["on"], f["fixed_ip"], f["system"], f["address"]) for f in found] == sorted(
        [("lb-portal VIP", "10.20.10.200", "portal", fips[uid("fip", "lb-portal-fip")]["Floating IP Address"])]
        + [(f"{v.name}-port", str(v.ip), "du-lich", fips[uid("fip", f"{v.name}-fip")]["Floating IP Address"])
           for v in du_lich])
    assert du_lich and {f["why"] for f in found} == {
        "portal is published through the WAF (pool-portal): this floating IP is a path around it",
        "du-lich is published through the WAF (pool-du-lich): this floating IP is a path around it"}
    assert uid("fip", "elsewhere") not in {f["id"] for f in found}
    assert {i for lst, _, i in a.cloud_only if lst == "floating_ips"} == set(fips)  # none is imported
    # and clean listings of the shipped plan have none
    clean = from_plan(prod.plan)
    assert undeclared_floating_ips(prod.plan, clean, match(prod.plan, clean), prod.inventory) == []

    monkeypatch.setattr("dcops.cloud.runner.make_plan", lambda stack, **kw: prod)
    d = write(was, tmp_path / "was")
    r = runner.invoke(app, ["cloud", "drift", "--from", str(d), "--json", "-"])
    assert "dcops cloud: drift: 3 difference(s), 0 missing" in r.output  # on stderr; the JSON on stdout
    rows = [x for x in json.loads(r.output[r.output.index("{\n"):])["drift"] if x["field"] == "floating_ip"]
    assert r.exit_code == 1 and [x["resource"] for x in rows] == [f["on"] for f in found]
    assert rows[0]["declared"] is None and "path around it" in rows[0]["running"]
    r = runner.invoke(app, ["cloud", "import", "--from", str(d), "-o", str(tmp_path / "i.json")])
    assert r.exit_code == 1
    assert (f"undeclared floating IP {found[0]['address']} ({found[0]['id']}) on {found[0]['on']} "
            f"{found[0]['fixed_ip']}: {found[0]['why']}; release it, do not import it") in r.output


def test_bacula_files_are_the_fragments_the_program_declares(prod, tmp_path, monkeypatch):
    """`dcops cloud bacula-files` writes, for the running director to move its definitions into, exactly the file
    the provider would write for each Bacula resource the prod program registers (the first `pulumi up` adopts
    identical files: dynamic-provider resources cannot be `pulumi import`ed)."""
    import ast

    from dcops.model.bacula import canonical, render_fragment

    monkeypatch.setattr("dcops.cloud.runner.make_plan", lambda stack, **kw: prod)
    monkeypatch.delenv("DCOPS_BACULA_FD_PASSWORD", raising=False)
    monkeypatch.setenv("DCOPS_BACULA_SD_PASSWORD", "sd-pw")
    r = runner.invoke(app, ["cloud", "bacula-files", "--out", str(tmp_path / "f")])
    assert r.exit_code == 2 and "set DCOPS_BACULA_FD_PASSWORD to the stack's" in r.output
    assert not (tmp_path / "f").exists()
    monkeypatch.setenv("DCOPS_BACULA_FD_PASSWORD", "fd-pw")
    r = runner.invoke(app, ["cloud", "bacula-files", "--out", str(tmp_path / "f")])
    assert r.exit_code == 0, r.output
    want = {}
    for rec in prod.recorded:
        if not rec.type.startswith("pulumi-python:dynamic/bacula:"):
            continue
        d = rec.inputs["directives"]
        d = ast.literal_eval(d) if isinstance(d, str) else dict(d)
        if d.get("Password") == "[secret]":  # the stack secrets, as the operator exports them
            d["Password"] = {"Client": "fd-pw", "Storage": "sd-pw"}[rec.inputs["kind"]]
        want[f"{rec.inputs['kind'].lower()}-{rec.inputs['name']}.conf"] = render_fragment(
            rec.inputs["kind"], rec.inputs["name"], d, rec.inputs.get("comment") or "")
    got = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "f").iterdir()}
    # the recorded inputs come back in the mock's key order; the provider compares as Bacula reads (any order)
    assert len(got) == len(want) > 100
    assert {n: canonical(t) for n, t in got.items()} == {n: canonical(t) for n, t in want.items()}
    job = next(n for n in got if n.startswith("job-"))
    assert canonical(got[job]) != canonical(got[job].replace("FileSet = ", "FileSet = x", 1))  # a changed value
    assert canonical(got[job]) != canonical(got[job].replace("}", "  Priority = 5\n}", 1))  # an added directive
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "f").iterdir()} == {0o600}
    assert f"{len(want)} fragments -> " in r.output
    r = runner.invoke(app, ["cloud", "bacula-files", "--out", str(tmp_path / "j"), "--json"])
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and sorted(f["file"] for f in doc["fragments"]) == sorted(got)
    assert "fd-pw" not in r.stdout and "sd-pw" not in r.stdout
