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


def published_directly(inv, system: str = DIRECT):
    """The inventory with `system` declared `publish: direct` (with a reason) and its DMZ VMs public."""
    systems = tuple(s.model_copy(update={"publish": "direct", "publish_reason": "test: not behind the WAF"})
                    if s.name == system else s for s in inv.systems)
    vms = tuple(v.model_copy(update={"public": True}) if v.system == system and v.zone == "dmz" else v
                for v in inv.vms)
    return inv.model_copy(update={"systems": systems, "vms": vms})


@pytest.fixture(scope="session")
def direct(inv):
    """The prod plan with one system published directly (the shipped inventory publishes all through the WAF)."""
    return make_plan("prod", inv=published_directly(inv))


def of(plan: dict, kind: str) -> list[dict]:
    """Resources of a short kind such as 'compute.Instance'."""
    return [r for r in plan["resources"] if r["kind"] == kind]
