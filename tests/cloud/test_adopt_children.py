"""Adoption and drift of the child types (quotas, role assignments, RBAC shares, volume QoS, keypair, LB
listeners/pools/monitors/members, router interface) on recorded listings made from the shipped plan
(tests/cloud/listings.py: column names from python-openstackclient and python-octaviaclient), with deliberate
mismatches. Import IDs are the formats pulumi_openstack's docstrings give for `pulumi import`."""
from __future__ import annotations

import copy
import json

import pytest
from typer.testing import CliRunner

from dcops.cli import app
from dcops.cloud import adopt_children as ch
from dcops.cloud.adopt import ListingInvalid, drift, import_file, load_listings, match
from dcops.cloud.offline import PROJECT

from tests.inventory_facts import count

from .listings import ROLE_IDS, USER_IDS, children_from_plan, from_plan, uid, write_all

CHILD_TYPES = set(ch.ADOPTABLE)
short = lambda t: t.rsplit(":", 1)[-1]  # noqa: E731


def _cloud(plan: dict) -> dict:
    return {**from_plan(plan), **children_from_plan(plan)}


def _messy(plan: dict) -> dict:
    c = copy.deepcopy(_cloud(plan))
    pid = lambda p: uid("project", f"project-{p}")  # noqa: E731
    # quotas: raised by hand on so-du-lich (cores, bronze gigabytes); so-yt's file was never saved
    q = c["quotas"][pid("so-du-lich")]
    next(r for r in q if r["Resource"] == "cores")["Limit"] = 16
    next(r for r in q if r["Resource"] == "gigabytes_bronze")["Limit"] = 3000
    del c["quotas"][pid("so-yt")]
    # an older client printed `quota show` as one object: read the same
    c["quotas"][pid("so-tc")] = {"project": pid("so-tc"), "project_name": "so-tc",
                                 **{r["Resource"]: r["Limit"] for r in c["quotas"][pid("so-tc")]}}
    # the deployer lost its role on so-tc, got admin on so-yt by hand; a person's role is not the program's
    deployer, member, admin = USER_IDS["dcops-deployer"], ROLE_IDS["member"], ROLE_IDS["admin"]
    c["role_assignments"] = [r for r in c["role_assignments"] if r["Project"] != pid("so-tc")]
    c["role_assignments"] += [
        {"Role": admin, "User": deployer, "Group": "", "Project": pid("so-yt"), "Domain": "", "System": "",
         "Inherited": False},
        {"Role": member, "User": USER_IDS["nguyen.van.a"], "Group": "", "Project": pid("so-yt"), "Domain": "",
         "System": "", "Inherited": False}]
    # an RBAC share removed, one added by hand
    c["network_rbac"] = [r for r in c["network_rbac"] if r["id"] != uid("rbac", "rbac-net-app-so-gddt")]
    c["network_rbac"].append({"id": uid("rbac", "hand-made"), "action": "access_as_shared", "object_type": "network",
                              "object_id": uid("net", "net-app"), "project_id": uid("project", "admin"),
                              "target_project_id": uid("project", "someone-else")})
    # volume QoS: gold's read limit raised, bronze unbound from its type
    gold = next(r for r in c["volume_qos"] if r["Name"] == "qos-gold")
    gold["Properties"] = {**gold["Properties"], "read_iops_sec": "8000"}
    next(r for r in c["volume_qos"] if r["Name"] == "qos-bronze")["Associations"] = []
    c["keypairs"] = []  # the ops key was uploaded under another user
    # LB: a listener moved port, a pool's algorithm changed, a monitor slowed, a member drained, one added
    next(r for r in c["lb_listeners"] if r["name"] == "lb-dvc-http-80")["protocol_port"] = 8080
    next(r for r in c["lb_pools"] if r["name"] == "lb-mail-tcp-443-pool")["lb_algorithm"] = "ROUND_ROBIN"
    next(r for r in c["lb_healthmonitors"] if r["id"] == uid("monitor", "lb-portal-http-80-health"))["delay"] = 10
    portal80 = c["lb_members"][uid("pool", "lb-portal-http-80-pool")]
    next(r for r in portal80 if r["name"] == "portal-web-04")["weight"] = 0
    c["lb_members"][uid("pool", "lb-dvc-tcp-443-pool")].append(
        {"id": uid("member", "extra"), "name": "", "project_id": "x", "provisioning_status": "ACTIVE",
         "address": "10.20.10.99", "protocol_port": 443, "operating_status": "ONLINE", "weight": 1})
    # a pool (with a member) nobody declared
    c["lb_pools"].append({"id": uid("pool", "old-pool"), "name": "old-ftp-pool", "project_id": "x",
                          "provisioning_status": "ACTIVE", "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN",
                          "admin_state_up": True})
    c["lb_members"][uid("pool", "old-pool")] = [
        {"id": uid("member", "old"), "name": "ftp-01", "project_id": "x", "provisioning_status": "ACTIVE",
         "address": "10.20.20.250", "protocol_port": 21, "operating_status": "ONLINE", "weight": 1}]
    return c


def test_every_declared_type_is_adoptable(prod):
    from dcops.cloud.adopt import ADOPTABLE

    declared = {r["type"] for r in prod.plan["resources"] if r["type"].startswith("openstack:")}
    assert declared - set(ADOPTABLE) == set()
    clean = _cloud(prod.plan)
    a = match(prod.plan, clean)
    assert (a.inventory_only, a.cloud_only) == ([], [])
    assert len(a.matched) == sum(1 for r in prod.plan["resources"] if r["type"] in ADOPTABLE)
    assert drift(prod.plan, clean, a) == []


def _expected_id(plan: dict, r: dict) -> str:
    i, t = r["inputs"], short(r["type"])
    ref = lambda k: i[k][1:-1].split(":", 1)[1]  # noqa: E731
    if t in ("QuotaSetV2", "QuoteSetV3", "QuotaV2"):
        return f"{uid('project', ref('projectId'))}/RegionOne"
    return {
        "RoleAssignment": lambda: f"/{uid('project', ref('projectId'))}//{USER_IDS['dcops-deployer']}/{ROLE_IDS['member']}",
        "RbacPolicyV2": lambda: uid("rbac", r["name"]),
        "QosV3": lambda: uid("qos", r["name"]),
        "QosAssociationV3": lambda: f"{uid('qos', ref('qosId'))}/{uid('vtype', ref('volumeTypeId'))}",
        "Keypair": lambda: i["name"],
        "Listener": lambda: uid("listener", r["name"]),
        "Pool": lambda: uid("pool", r["name"]),
        "Monitor": lambda: uid("monitor", r["name"]),
        "Members": lambda: uid("pool", ref("poolId")),
        "RouterInterface": lambda: uid("port", ref("portId")),
    }[t]()


def test_import_document_for_the_child_types(prod):
    plan = prod.plan
    doc = import_file(plan, match(plan, _cloud(plan)), project=PROJECT)
    got = [e for e in doc["resources"] if e["type"] in CHILD_TYPES]
    parent_name = lambda key: f"{key.split('::')[0].rsplit(':', 1)[-1].lower()}-{key.split('::')[1]}"  # noqa: E731
    want = sorted(({"type": r["type"], "name": f"{short(r['type']).lower()}-{r['name']}", "logicalName": r["name"],
                    "id": _expected_id(plan, r), "parent": parent_name(r["parent"]), "provider": f"provider-{r['provider']}"}
                   for r in plan["resources"] if r["type"] in CHILD_TYPES), key=lambda e: (e["type"], e["logicalName"]))
    assert got == want
    # per department (tenant): its project's three quota sets and one role assignment — counted from the
    # inventory, so an honest inventory change never edits this test
    by_type = {t: sum(1 for e in got if e["type"] == t) for t in CHILD_TYPES}
    assert [by_type[t] for t in ch.ADOPTABLE if ch.ADOPTABLE[t] in ("quotas", "role_assignments")] == \
        [count("tenants")] * 4
    # every child's parent component and provider are in the same document
    comps = {e["name"] for e in doc["resources"] if e.get("component")}
    assert {e["parent"] for e in got} <= comps
    assert {e["provider"] for e in got} <= set(doc["nameTable"])


def test_mismatches_are_reported_exactly(prod):
    plan = prod.plan
    messy = _messy(plan)
    a = match(plan, messy)
    pid = lambda p: uid("project", f"project-{p}")  # noqa: E731
    assert {(short(t), n) for t, n in a.inventory_only} == {
        ("QuotaSetV2", "quota-compute-so-yt"), ("QuoteSetV3", "quota-volume-so-yt"), ("QuotaV2", "quota-network-so-yt"),
        ("RoleAssignment", "role-so-tc"), ("RbacPolicyV2", "rbac-net-app-so-gddt"),
        ("QosAssociationV3", "qos-bronze-assoc"), ("Keypair", "keypair-dcops-ops")}
    assert set(a.cloud_only) == {
        ("role_assignments", f"{ROLE_IDS['admin']}@{pid('so-yt')}",
         f"{pid('so-yt')}/{USER_IDS['dcops-deployer']}/{ROLE_IDS['admin']}"),
        ("network_rbac", "", uid("rbac", "hand-made")),
        ("lb_pools", "old-ftp-pool", uid("pool", "old-pool")),
        ("lb_members", "ftp-01", uid("member", "old"))}
    rows = drift(plan, messy, a)
    child = {(d["resource"], d["field"], json.dumps(d["declared"]), json.dumps(d["running"]))
             for d in rows if d["type"] in CHILD_TYPES}
    portal = [f"10.20.10.{n}:80 weight 1" for n in (10, 11, 12)]
    dvc = [f"10.20.10.{n}:443 weight 1" for n in (23, 24, 25, 26)]
    assert child == {
        ("quota-compute-so-du-lich", "quota cores", "10", "16"),
        ("quota-volume-so-du-lich", "quota gigabytes_bronze", "2162", "3000"),
        ("qos-gold", "specs", json.dumps(next(r["inputs"]["specs"] for r in plan["resources"] if r["name"] == "qos-gold")),
         json.dumps({**next(r["inputs"]["specs"] for r in plan["resources"] if r["name"] == "qos-gold"),
                     "read_iops_sec": "8000"})),
        ("lb-dvc-http-80", "protocol_port", "80", "8080"),
        ("lb-mail-tcp-443-pool", "lb_algorithm", '"LEAST_CONNECTIONS"', '"ROUND_ROBIN"'),
        ("lb-portal-http-80-health", "delay", "5", "10"),
        ("lb-portal-http-80-members", "members", json.dumps(portal + ["10.20.10.13:80 weight 1"]),
         json.dumps(portal + ["10.20.10.13:80 weight 0"])),
        ("lb-dvc-tcp-443-members", "members", json.dumps(dvc), json.dumps(sorted(dvc + ["10.20.10.99:443 weight 1"])))}
    assert [d for d in rows if d["type"] not in CHILD_TYPES] == []


def test_listing_files_and_cli(prod, tmp_path, monkeypatch):
    d = write_all(_messy(prod.plan), tmp_path / "messy")
    loaded = load_listings(d)
    assert loaded["quotas"][uid("project", "project-so-tc")]["cores"] == next(
        r["inputs"]["cores"] for r in prod.plan["resources"] if r["name"] == "quota-compute-so-tc")
    assert drift(prod.plan, loaded, match(prod.plan, loaded)) == drift(prod.plan, _messy(prod.plan),
                                                                      match(prod.plan, _messy(prod.plan)))
    monkeypatch.setattr("dcops.cloud.runner.make_plan", lambda stack, **kw: prod)  # the session's plan
    out = tmp_path / "drift.json"
    r = CliRunner().invoke(app, ["cloud", "drift", "--from", str(d), "--json", str(out)])
    assert r.exit_code == 1 and "drift: 8 difference(s), 0 missing" in r.output, r.output
    assert "lb-portal-http-80-members" in r.output and "quota cores" in r.output
    assert json.loads(out.read_text())["drift"] == drift(prod.plan, loaded, match(prod.plan, loaded))
    r = CliRunner().invoke(app, ["cloud", "import", "--from", str(d), "-o", str(tmp_path / "import.json")])
    assert r.exit_code == 1
    assert "in the cloud, not in the inventory: network_rbac  " + uid("rbac", "hand-made") in r.output


@pytest.mark.parametrize("name, text, message", [
    ("role_assignments.json", '[{"Role": "member", "User": "dcops-deployer@Default", "Project": "so-yt@Default"}]',
     "role_assignments.json: printed with --names; `pulumi import` needs the IDs"),
    ("quotas/p1.json", '{"not": "a"', "quotas/p1.json:1: not JSON"),
    ("quotas/p1.json", '[{"cores": 1}]', "quotas/p1.json: expected what `openstack quota show PROJECT -f json` prints"),
    ("lb_members/p1.json", '[{"address": "10.0.0.1"}]',
     "lb_members/p1.json: expected the JSON list `mkdir -p lb_members;"),
    ("network_rbac.json", '{"id": "x"}', "network_rbac.json: expected the JSON list `openstack network rbac list"),
])
def test_bad_child_listing_names_the_file(prod, tmp_path, name, text, message):
    d = write_all(from_plan(prod.plan), tmp_path / "l")
    (d / name).parent.mkdir(exist_ok=True)
    (d / name).write_text(text, encoding="utf-8")
    with pytest.raises(ListingInvalid) as e:
        load_listings(d)
    assert message in str(e.value) and str(d) in str(e.value)


def test_rule_changed_by_hand_is_drift_of_its_group(prod):
    """Neutron rules are immutable: a widened CIDR or a moved port is a declared rule gone plus one undeclared."""
    c = _cloud(prod.plan)
    rules = c["security_group_rules"]
    ssh = next(r for r in rules if r["ID"] == uid("rule", "sg-dmz-ssh-tcp-22-from-10.10.0.0_23"))
    ssh["IP Range"] = "0.0.0.0/0"  # opened to the world
    rules.append({"ID": uid("rule", "hand"), "IP Protocol": "tcp", "Ethertype": "IPv4", "IP Range": "10.10.0.0/23",
                  "Direction": "ingress", "Remote Security Group": None, "Port Range": "5432:5432",
                  "Security Group": uid("sg", "sg-app")})
    rows = drift(prod.plan, c, match(prod.plan, c))
    assert rows == [
        {"type": "openstack:networking/secGroup:SecGroup", "resource": "sg-app", "field": "rules",
         "declared": [], "running": ["ingress IPv4 tcp 5432:5432 10.10.0.0/23"]},
        {"type": "openstack:networking/secGroup:SecGroup", "resource": "sg-dmz", "field": "rules",
         "declared": ["ingress IPv4 tcp 22:22 10.10.0.0/23"], "running": ["ingress IPv4 tcp 22:22 0.0.0.0/0"]}]


def _shape(ident: str) -> tuple:
    """'uuid' for an OpenStack ID (UUID, or Keystone's 32 hex digits), '' for a blank part, 'name' else."""
    import re

    return tuple("" if not p else "uuid" if re.fullmatch(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?"
                                                          r"[0-9a-f]{12}", p) else "name" for p in ident.split("/"))


def test_import_ids_have_the_shape_the_provider_documents(prod):
    """Each child type's ID has the shape of the example in pulumi_openstack's own "## Import" section."""
    import importlib
    import inspect
    import re

    a = match(prod.plan, _cloud(prod.plan))
    ours = {m.type: _shape(m.id) for m in a.matched if m.type in CHILD_TYPES}
    documented = {}
    for typ in CHILD_TYPES:
        mod, cls = typ.split(":")[1].split("/")[0], typ.rsplit(":", 1)[1]
        src = inspect.getsource(getattr(importlib.import_module(f"pulumi_openstack.{mod}"), cls))
        documented[typ] = _shape(re.search(rf"pulumi import {re.escape(typ)} \S+ (\S+)", src).group(1))
    # the router interface's example is the placeholder `port_id` ("imported using the port `id`")
    rif = "openstack:networking/routerInterface:RouterInterface"
    assert documented.pop(rif) == ("name",) and ours.pop(rif) == ("uuid",)
    # quotas: `project_id/region` — the region is a name
    assert ours == documented
    assert documented["openstack:identity/roleAssignment:RoleAssignment"] == ("", "uuid", "", "uuid", "uuid")
    assert documented["openstack:networking/quotaV2:QuotaV2"] == ("uuid", "name")
