"""Every port create in the plan, as Neutron's default policy (enforced by oslo.policy) and Nova answer it."""
from __future__ import annotations

import pytest

from .conftest import of
from .neutron_oracle import ADMIN_PROJECT, evaluate, make_enforcer

TENANT = {"roles": ["member", "reader"], "project_id": "p-tenant", "user_id": "u"}
ADMIN = {"roles": ["admin", "member", "reader"], "project_id": ADMIN_PROJECT, "user_id": "u"}


@pytest.mark.parametrize("new_defaults", [True, False], ids=["new-defaults", "legacy-defaults"])
def test_oracle_matches_neutrons_documented_behaviour(new_defaults):
    """The issue's premise, from the rules themselves: a tenant may create a port on a network shared to it,
    but may not pin its address; the admin and the network's owner may."""
    enf = make_enforcer(new_defaults)
    shared = {"project_id": "p-tenant", "network:project_id": ADMIN_PROJECT, "network:shared": True}
    assert enf.enforce("create_port", shared, TENANT)
    assert enf.enforce("create_port:fixed_ips:subnet_id", shared, TENANT)
    assert not enf.enforce("create_port:fixed_ips:ip_address", shared, TENANT)
    assert enf.enforce("create_port:fixed_ips:ip_address", {**shared, "project_id": "p-tenant"}, ADMIN)
    owned = {"project_id": "p-tenant", "network:project_id": "p-tenant", "network:shared": False}
    assert enf.enforce("create_port:fixed_ips:ip_address", owned, TENANT)
    unshared = {**shared, "network:shared": False}
    # the Wallaby-era create_port is "any user"; only the new defaults refuse an invisible network
    assert enf.enforce("create_port", unshared, TENANT) is not new_defaults


@pytest.mark.parametrize("new_defaults", [True, False], ids=["new-defaults", "legacy-defaults"])
def test_every_port_create_in_the_prod_plan_is_accepted(prod, new_defaults):
    refusals, n = evaluate(prod.plan, new_defaults=new_defaults)
    # no floating IP in the shipped prod plan (every public system is WAF-published): no router, no router port
    assert n == len(prod.inventory.vms) and of(prod.plan, "networking.Router") == []
    assert refusals == []


@pytest.mark.parametrize("new_defaults", [True, False], ids=["new-defaults", "legacy-defaults"])
def test_the_routers_port_is_accepted_when_a_service_is_published_directly(direct, new_defaults):
    refusals, n = evaluate(direct.plan, new_defaults=new_defaults)
    assert n == len(direct.inventory.vms) + 1  # + the router's DMZ port
    assert refusals == []


@pytest.mark.parametrize("new_defaults", [True, False], ids=["new-defaults", "legacy-defaults"])
def test_every_port_create_in_the_dr_plan_is_accepted(dr, new_defaults):
    refusals, n = evaluate(dr.plan, new_defaults=new_defaults)
    assert n > 0 and refusals == []
