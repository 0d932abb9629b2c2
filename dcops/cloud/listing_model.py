"""What adoption produces (shared by adopt.py and adopt_children.py): matches, and the small helpers both use."""
from __future__ import annotations

from dataclasses import dataclass, field


def _normalise(row: dict) -> dict:
    """The Octavia client prints lower-case keys (id, name); the others ID, Name."""
    if "ID" in row or "id" not in row:
        return row
    return {**row, "ID": row["id"], "Name": row.get("Name", row.get("name"))}


def _truthy(v) -> bool:
    return v is True or str(v).lower() in ("true", "yes", "1")


@dataclass
class Match:
    type: str
    name: str
    id: str
    how: str  # name | address | attachment
    cloud_name: str | None = None


@dataclass
class Adoption:
    matched: list[Match] = field(default_factory=list)
    #: plan resources of adoptable types that the cloud does not have (the first `pulumi up` creates them)
    inventory_only: list[tuple[str, str]] = field(default_factory=list)
    #: cloud objects nothing in the plan claims (listing, name, id)
    cloud_only: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def by_key(self) -> dict[tuple[str, str], Match]:
        return {(m.type, m.name): m for m in self.matched}


def _res(plan: dict, typ: str) -> list[dict]:
    return [r for r in plan["resources"] if r["type"] == typ]


def _ref_name(ref) -> str | None:
    return ref[1:-1].split(":", 1)[-1] if isinstance(ref, str) and ref.startswith("<") else None
