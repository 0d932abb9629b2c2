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


def of(plan: dict, kind: str) -> list[dict]:
    """Resources of a short kind such as 'compute.Instance'."""
    return [r for r in plan["resources"] if r["kind"] == kind]
