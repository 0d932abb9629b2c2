"""The table of plan figures docs/cloud.md quotes, computed from the plans (`dcops plan --json` or the
in-process plan: same shape). It is the `plan.cloud.table` block of `dcops docs refresh|check`, so the
cloud figures drift-check the same way as every other figure in the docs."""
from __future__ import annotations

from collections import Counter

def _n(plan: dict, kind: str) -> int:
    return sum(1 for r in plan["resources"] if r["kind"] == kind)


def table(prod: dict, dr: dict) -> str:
    def row(label, f):
        return f"| {label} | {f(prod):,} | {f(dr):,} |"

    vms = lambda p: _n(p, "compute.Instance")  # noqa: E731
    rows = [
        "| figure | prod | dr |", "|---|--:|--:|",
        row("resources (custom)", lambda p: p["summary"]["resources"]),
        row("components", lambda p: p["summary"]["components"]),
        row("information systems", lambda p: len(p["systems"])),
        row("VMs (instances)", vms),
        row("VM ports (fixed IP, created by the admin provider)",
            lambda p: sum(1 for r in p["resources"] if r["kind"] == "networking.Port"
                          and (r["parent"] or "").startswith("dcops:cloud:Server::"))),
        row("volumes (boot + data, protected)", lambda p: _n(p, "blockstorage.Volume")),
        row("data volume attachments", lambda p: _n(p, "compute.VolumeAttach")),
        row("security group rules", lambda p: _n(p, "networking.SecGroupRule")),
        row("floating IPs", lambda p: _n(p, "networking.FloatingIp")),
        row("load balancers", lambda p: _n(p, "loadbalancer.LoadBalancer")),
        row("tenants (projects)", lambda p: _n(p, "identity.Project")),
        row("Bacula director resources (dynamic provider)",
            lambda p: sum(1 for r in p["resources"] if r["kind"].startswith("bacula."))),
        row("resources replaced delete-first",
            lambda p: sum(1 for r in p["resources"] if (r.get("options") or {}).get("deleteBeforeReplace"))),
    ]
    systems = ", ".join(dr["systems"])
    by_sys = Counter(r["inputs"]["metadata"]["system"] for r in dr["resources"] if r["kind"] == "compute.Instance")
    return "\n".join(["", *rows, "",
                      f"DR systems — {systems}: {len(dr['systems'])} in all, VMs: {sum(by_sys.values())}.", "", ""])


if __name__ == "__main__":
    from .runner import make_plan

    print(table(make_plan("prod").plan, make_plan("dr").plan))
