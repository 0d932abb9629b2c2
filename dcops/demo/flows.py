"""Real TCP connections through the lab firewall, from `flows.yaml` (or any list of the same shape)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

FLOWS_FILE = Path(__file__).parent / "flows.yaml"


@dataclass
class FlowResult:
    name: str
    expect: str
    got: str           # allow | deny | skipped
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.got == "skipped" or self.got == self.expect


def load(path: Path = FLOWS_FILE) -> list[dict]:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))["flows"]


def check(lab, inv, spec, flows: list[dict]) -> list[FlowResult]:
    vms = {v.name: v for v in inv.vms}
    in_lab = {a.split("/")[0]: z.short for z in spec.zones for a in z.addresses}
    out = []
    for f in flows:
        src, dst = f["from"], vms.get(f["to"])
        if dst is None or str(dst.ip) not in in_lab:
            out.append(FlowResult(f["name"], f["expect"], "skipped", f"{f['to']} has no address in the lab"))
            continue
        if src in vms:
            vm = vms[src]
            if str(vm.ip) not in in_lab:
                out.append(FlowResult(f["name"], f["expect"], "skipped", f"{src} has no address in the lab"))
                continue
            where, source = in_lab[str(vm.ip)], str(vm.ip)
        else:
            where, source = src, None
        reply = lab.connect(where, str(dst.ip), int(f["port"]), timeout=0.5 if f["expect"] == "deny" else 1.0,
                            source=source)
        out.append(FlowResult(f["name"], f["expect"], "allow" if reply else "deny",
                              f"{source or where} → {dst.ip}:{f['port']}"))
    return out
