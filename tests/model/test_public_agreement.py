""""Public" is stated on the system and on its VMs: validate fails where they disagree, and where a VM the
WAF publishes also has its own floating IP (a path around the WAF) unless its system says `publish: direct`."""
from __future__ import annotations

from .conftest import Workspace

REL = "vms/so-du-lich.yaml"
SYSTEM = "    security_level: 1\n    public: true\n"  # du-lich in organisation.yaml (first level-1 public system)


def _public_vms(ws: Workspace) -> list[int]:
    """Both du-lich web VMs (DMZ) get `public: true`; returns its lines."""
    text = ws.file(REL).read_text(encoding="utf-8")
    ws.file(REL).write_text(text.replace("    backup_policy: snap-daily-7d\n",
                                         "    backup_policy: snap-daily-7d\n    public: true\n"), encoding="utf-8")
    return [i + 1 for i, ln in enumerate(ws.file(REL).read_text(encoding="utf-8").splitlines())
            if ln.strip() == "public: true"]


def test_a_public_vm_of_a_non_public_system_is_an_error(ws: Workspace) -> None:
    ws.edit("organisation.yaml", SYSTEM, "    security_level: 1\n    public: false\n")
    lines = _public_vms(ws)
    result = ws.validate()
    assert [(e.loc.file, e.loc.line, e.message) for e in result.errors] == [
        (str(ws.file(REL)), lines[n], f"VM du-lich-web-0{n + 1} is public (its own floating IP) but its system "
                                      "'du-lich' is not public: set public on the system or drop it here")
        for n in range(2)]


def test_a_floating_ip_on_a_waf_published_vm_is_an_error(ws: Workspace) -> None:
    lines = _public_vms(ws)
    result = ws.validate()
    assert [(e.loc.file, e.loc.line, e.message) for e in result.errors] == [
        (str(ws.file(REL)), lines[n], f"VM du-lich-web-0{n + 1} is published through WAF pool pool-du-lich and also "
                                      "has a floating IP: the floating IP bypasses the WAF; remove it, or declare "
                                      "`publish: direct` with a reason on the system")
        for n in range(2)]


def test_publish_direct_with_a_reason_allows_the_floating_ip(ws: Workspace) -> None:
    _public_vms(ws)
    ws.edit("organisation.yaml", SYSTEM, SYSTEM + "    publish: direct\n"
                                          "    publish_reason: non-HTTP service the WAF cannot proxy\n")
    assert ws.validate().errors == []


def test_publish_direct_needs_a_reason_and_a_public_system(ws: Workspace) -> None:
    line = ws.edit("organisation.yaml", SYSTEM, "    security_level: 1\n    public: false\n    publish: direct\n")
    result = ws.validate()
    assert [(e.loc.file, e.loc.line, e.message) for e in result.errors] == [
        (str(ws.file("organisation.yaml")), line + 2, "system 'du-lich' is published directly (not through the "
                                                      "WAF): say why in publish_reason"),
        (str(ws.file("organisation.yaml")), line + 2, "system 'du-lich' says publish: direct but is not public")]


def test_a_reason_without_publish_direct_is_an_error(ws: Workspace) -> None:
    line = ws.edit("organisation.yaml", SYSTEM, SYSTEM + "    publish_reason: forgot the switch\n")
    result = ws.validate()
    assert [(e.loc.file, e.loc.line, e.message) for e in result.errors] == [
        (str(ws.file("organisation.yaml")), line + 2, "system 'du-lich' has a publish_reason but is published "
                                                      "through the WAF (publish_reason belongs to publish: direct)")]


def test_the_shipped_inventory_agrees(ws: Workspace) -> None:
    assert ws.validate().errors == []
