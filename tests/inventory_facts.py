"""Totals of the shipped inventory, counted straight from its YAML files (not through the model under test),
so an honest inventory change never has to edit a test."""
from functools import lru_cache
from pathlib import Path

import yaml

INVENTORY = Path(__file__).resolve().parent.parent / "inventory"


@lru_cache(maxsize=None)
def items(section: str) -> tuple[dict, ...]:
    """Every item of a list section (hosts, vms, tenants …) across the inventory's files, as written."""
    out: list[dict] = []
    for f in sorted(INVENTORY.rglob("*.yaml")):
        doc = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        out += doc.get(section) or []
    return tuple(out)


def count(section: str, **where) -> int:
    """How many items of `section` there are; with `where`, only those whose fields have these values
    (count("hosts", role="compute"))."""
    return sum(1 for it in items(section) if all(it.get(k) == v for k, v in where.items()))


def volumes() -> int:
    """Data volumes of all VMs (boot volumes not counted)."""
    return sum(len(vm.get("volumes") or []) for vm in items("vms"))
