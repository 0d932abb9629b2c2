"""`dcops plan` without the CLI: stack config -> offline run -> policy checks -> plan dict."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import PROJECT_ROOT
from ..model import load_inventory
from ..model.schema import Inventory
from . import checks
from .offline import load_stack_config, run_offline
from .plan import build_plan, inventory_digest
from .policy import CloudPolicy, load_policy
from .settings import StackSettings

STACKS = ("prod", "dr")


@dataclass(frozen=True)
class PlanRun:
    plan: dict
    inventory: Inventory
    policy: CloudPolicy
    settings: StackSettings
    #: seconds per phase: load (inventory + policy), run (program under mocks), check (plan + checks)
    timings: dict = field(default_factory=dict, compare=False)
    #: the raw registrations, with the dependencies the engine would order by
    recorded: list = field(default_factory=list, compare=False, repr=False)


def make_plan(stack: str = "prod", *, inventory: Path | str | None = None, policy: Path | str | None = None,
              inv: Inventory | None = None, overrides: dict[str, str] | None = None, fast: bool | frozenset[str] = True,
              root: Path = PROJECT_ROOT) -> PlanRun:
    """Plan one stack offline. `inventory`/`policy` override the stack's files; `inv` skips loading."""
    config, secrets = load_stack_config(stack, root)
    if inventory is not None:
        config["dcops:inventory"] = str(Path(inventory).resolve())
    if policy is not None:
        config["dcops:policy"] = str(Path(policy).resolve())
    config.update(overrides or {})

    from pulumi import Config  # after config is known; reads the isolated context's map

    state: dict = {}

    timings: dict[str, float] = {}

    def program():
        from .program import build

        t = time.perf_counter()
        st = StackSettings.from_config(Config("dcops"))
        model = inv if inv is not None else load_inventory(st.inventory)
        pol = load_policy(model, st.policy)
        state.update(inv=model, policy=pol, settings=st)
        timings["load"] = time.perf_counter() - t
        return build(model, pol, st)

    t0 = time.perf_counter()
    recorded, desired = run_offline(program, stack=stack, config=config, secret_keys=secrets, fast=fast)
    t1 = time.perf_counter()
    timings["run"] = t1 - t0 - timings.get("load", 0.0)
    model, pol, st = state["inv"], state["policy"], state["settings"]
    draft = build_plan(recorded, desired, stack=stack, inventory_digest=inventory_digest(model), findings=[])
    findings = [f.as_dict() for f in checks.run_all(draft, model, pol, st)]
    draft["findings"] = findings
    timings["check"] = time.perf_counter() - t1
    return PlanRun(draft, model, pol, st, timings, recorded)
