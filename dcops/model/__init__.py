"""The source of truth: load and validate `inventory/` into one immutable `Inventory`.

    from dcops.model import load_inventory
    inv = load_inventory()            # the shipped inventory; raises InventoryInvalid
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import DEFAULT_INVENTORY
from .. import paths
from . import checks, contracts
from .errors import InventoryInvalid, Loc, Problem
from .loader import SourceMap, load_raw
from .schema import *  # noqa: F401,F403  (the schema is the model's public surface)
from .schema import Inventory

# the validator reads the same folders as the consumers ($DCOPS_MONITORS, $DCOPS_NETWORK_CONFIGS)
PROFILES_DIR = paths.PROFILES
PLATFORMS_DIR = paths.PLATFORMS
ALERTS_FILE = paths.ALERTS_FILE


@dataclass(frozen=True)
class Validation:
    inventory: Inventory | None
    sources: SourceMap
    errors: list[Problem]
    warnings: list[Problem]
    #: the inventory as loaded when its only errors are over-capacity findings
    capacity_view: Inventory | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and self.inventory is not None

    def refusals(self, *, dr_ok: bool = False) -> list[Problem]:
        """The errors a consumer stops on: the inventory's, or — for a valid DR site's inventory (site.role: dr,
        its monitored devices only) read by anything but monitoring — that it is not a production inventory."""
        if self.ok and self.inventory.site.role == "dr" and not dr_ok:
            return [dr_only_problem(self)]
        return self.errors


def validate(path: Path | str | None = None, *, profiles_dir: Path | None = None,
             platforms_dir: Path | None = None, alerts_file: Path | None = None) -> Validation:
    """Every problem in the inventory in one pass: schema, references, addressing, capacity, and the
    contracts between the data files the consumers read (alert rules ↔ SNMP profiles). Folders not given
    are the environment's (dcops.paths), read at call time."""
    profiles_dir = profiles_dir or paths.profiles()
    platforms_dir = platforms_dir or paths.platforms()
    loaded = load_raw(Path(path) if path else paths.inventory())
    problems = loaded.problems + checks.run(loaded, Path(profiles_dir), Path(platforms_dir))
    if loaded.inventory is not None:
        devices = {d.name for d in (*loaded.inventory.facility, *loaded.inventory.network_devices)}
        if loaded.inventory.site.role == "dr":  # the shared rules name the production site's devices, which
            devices = set()                     # the production inventory's validation checks
        # the rules that go with these profiles: monitors/alerts.yaml beside monitors/profiles/
        rules = Path(alerts_file) if alerts_file else Path(profiles_dir).parent / ALERTS_FILE.name
        used = {d.name: d.snmp.profile for d in (*loaded.inventory.facility, *loaded.inventory.network_devices)
                if getattr(d, "snmp", None) is not None and d.snmp.profile}
        problems += contracts.check_alert_rules(rules, Path(profiles_dir), devices, device_profiles=used,
                                                shared=loaded.inventory.site.role == "dr")
    problems += contracts.check_platform_ansible(Path(platforms_dir))
    problems = sorted(problems)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    inventory = None if errors else Inventory.model_validate(dict(loaded.inventory))
    # The capacity report is still worth printing when capacity is the only problem.
    partial = loaded.inventory if errors and all(e.kind == "capacity" for e in errors) else inventory
    return Validation(inventory, loaded.sources, errors, warnings, partial)


def load_inventory(path: Path | str | None = None, *, dr_ok: bool = False, **dirs) -> Inventory:
    """The validated inventory, or InventoryInvalid listing every error as file:line: message.

    A DR site's inventory (site.role: dr: its monitored devices only) is refused unless the caller monitors
    (`dr_ok`): a consumer that plans, sizes or deploys needs the production inventory it stands in for."""
    result = validate(path, **dirs)
    if refused := result.refusals(dr_ok=dr_ok):
        raise InventoryInvalid(refused)
    return result.inventory


def dr_only_problem(result: Validation) -> Problem:
    site = result.inventory.site
    return Problem(result.sources.section_loc.get("site", Loc("inventory", 0)),
                   f"site {site.code} is a DR site's inventory (role: dr, its monitored devices only): only "
                   f"monitoring reads it; give the production inventory of {site.primary} here")


__all__ = ["Inventory", "InventoryInvalid", "Loc", "Problem", "Validation", "load_inventory", "validate"]
