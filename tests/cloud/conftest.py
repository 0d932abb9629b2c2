"""Plans of the shipped site, computed once per session (each takes ~1-2 s under the mock runtime)."""
from __future__ import annotations

import pytest

from dcops.cloud.runner import make_plan
from dcops.model import load_inventory


@pytest.fixture(scope="session")
def inv():
    return load_inventory()


@pytest.fixture(scope="session")
def prod(inv):
    return make_plan("prod", inv=inv)


@pytest.fixture(scope="session")
def dr(inv):
    return make_plan("dr", inv=inv)


#: a system the lead may publish around the WAF (publish: direct): its DMZ VMs get floating IPs again
DIRECT = "du-lich"
#: a system with a load balancer published directly: its VIP gets a floating IP (its VMs stay behind the LB)
DIRECT_VIP = "portal"


def published_directly(inv, system: str = DIRECT, vips: tuple[str, ...] = (DIRECT_VIP,)):
    """The inventory with `system` and `vips` declared `publish: direct` (with a reason) and `system`'s DMZ VMs
    public (the shipped inventory publishes every public system through the WAF)."""
    direct = {system, *vips}
    systems = tuple(s.model_copy(update={"publish": "direct", "publish_reason": "test: not behind the WAF"})
                    if s.name in direct else s for s in inv.systems)
    vms = tuple(v.model_copy(update={"public": True}) if v.system == system and v.zone == "dmz" else v
                for v in inv.vms)
    return inv.model_copy(update={"systems": systems, "vms": vms})


@pytest.fixture(scope="session")
def direct(inv):
    """The prod plan with du-lich's VMs and portal's load balancer published directly: floating IPs, the external
    network and the router exist only then."""
    return make_plan("prod", inv=published_directly(inv))


def of(plan: dict, kind: str) -> list[dict]:
    """Resources of a short kind such as 'compute.Instance'."""
    return [r for r in plan["resources"] if r["kind"] == kind]
