""""Public" is stated on the system and on its VMs: validate fails where they disagree."""
from __future__ import annotations

from .conftest import Workspace


def test_a_public_vm_of_a_non_public_system_is_an_error(ws: Workspace) -> None:
    ws.edit("organisation.yaml", "    security_level: 1\n    public: true\n", "    security_level: 1\n    public: false\n")
    result = ws.validate()
    rel = "vms/so-du-lich.yaml"
    lines = [i + 1 for i, ln in enumerate(ws.file(rel).read_text(encoding="utf-8").splitlines())
             if ln.strip() == "public: true"]
    assert [(e.loc.file, e.loc.line, e.message) for e in result.errors] == [
        (str(ws.file(rel)), lines[n], f"VM du-lich-web-0{n + 1} is public (its own floating IP) but its system "
                                      "'du-lich' is not public: set public on the system or drop it here")
        for n in range(2)]


def test_the_shipped_inventory_agrees(ws: Workspace) -> None:
    assert ws.validate().errors == []
