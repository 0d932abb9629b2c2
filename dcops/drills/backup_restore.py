"""Drill a: back up a system's data set to tape, destroy it on the host, restore, verify checksums.

RPO = age of the restored data at the moment of the loss (loss − backup taken_at);
RTO = loss → restored and every file verified. Both against the VM's backup policy.
"""
from __future__ import annotations

import os

from dcops.model import Inventory

from .core import DrillContext, DrillRefused
from .record import Measurement, parse_time

PLAYBOOK = "drills/backup-restore.yml"


def targets(inv: Inventory, options: dict) -> list[str]:
    names = list(options.get("targets") or [])
    if not names:
        names = [vm.name for vm in inv.vms if vm.drill_enabled and vm.backup_policy
                 and inv.backup_policy(vm.backup_policy).target == "tape"][:1]
    for n in names:
        vm = next((v for v in inv.vms if v.name == n), None)
        if vm is None:
            raise DrillRefused(f"{n} is not a VM in the inventory")
        if not vm.backup_policy or inv.backup_policy(vm.backup_policy).target != "tape":
            raise DrillRefused(f"{n} has no tape backup policy")
    return names


def media_server(inv: Inventory, options: dict) -> str:
    name = options.get("media_server")
    backups = [h.name for h in inv.hosts if h.role.value == "backup"]
    if name and name not in backups:
        raise DrillRefused(f"{name} is not a backup host in the inventory")
    if not backups:
        raise DrillRefused("the inventory has no backup host")
    return name or backups[0]


def build_lab(dl, inv: Inventory, names: list[str], options: dict) -> None:
    """Media server + one namespace host per target, each seeded with a data set."""
    dl.target(media_server(inv, options), "bak")
    size = int(float(options.get("lab_data_mb", 4)) * 1024 * 1024)
    for i, n in enumerate(names):
        dl.target(n, f"t{i}")
        seed_data(dl.host_dir(n) / "data", size)


def seed_data(folder, size: int, files: int = 16) -> None:
    """A data set like a small database export: a few files, one with a Vietnamese name."""
    (folder / "export").mkdir(parents=True, exist_ok=True)
    chunk = max(1, size // files)
    for i in range(files):
        (folder / "export" / f"part-{i:03d}.dmp").write_bytes(os.urandom(chunk))
    (folder / "Hồ sơ lưu trữ.txt").write_text("Dữ liệu kiểm thử khôi phục — Kiên Giang\n", encoding="utf-8")


def run(ctx: DrillContext) -> None:
    inv, r = ctx.inv, ctx.record
    names = [t["name"] for t in r.targets]
    media = media_server(inv, ctx.options)
    r.details["media_server"] = media
    pb = ctx.playbook(PLAYBOOK, {
        "drill_targets": ",".join(names), "drill_media_server": media,
        "drill_take_backup": not ctx.options.get("use_existing_backup", False),
    })
    marks = pb.custom.get("drill_marks", {})
    restores = pb.custom.get("drill_restores", {})
    backups = pb.custom.get("drill_backups", {})
    for name in names:
        vm = inv.vm(name)
        policy = inv.backup_policy(vm.backup_policy)
        system = inv.system(vm.system)
        b = backups.get(name)
        if b:
            r.event("backup set written", host=name, at=b["taken_at"], detail=f"{b['set']} ({b['bytes']} bytes) on {media}")
        cat = (restores.get(name) or {}).get("catalog")
        m = marks.get(name, {})
        if cat:
            r.event("backup set chosen for restore", host=name, detail=f"{cat['set']} taken {cat['taken_at']}")
        if "lost" in m:
            r.event("data set destroyed (moved to quarantine)", host=name, at=m["lost"])
        verified = bool(ctx.execute and cat and "lost" in m and "verified" in m)
        if verified:
            r.event("restore verified (all checksums match)", host=name, at=m["verified"])
            lost, done = parse_time(m["lost"]), parse_time(m["verified"])
            rpo = (lost - parse_time(cat["taken_at"])).total_seconds()
            rto = (done - lost).total_seconds()
            r.measurements += [
                Measurement("rpo", round(rpo, 3), "s", name, policy.rpo_hours * 3600, rpo <= policy.rpo_hours * 3600,
                            f"age of backup set {cat['set']} when the data set was lost"),
                Measurement("rto", round(rto, 3), "s", name, policy.rto_hours * 3600, rto <= policy.rto_hours * 3600,
                            "loss → restored and every file verified"),
                Measurement("restored_bytes", int(cat["bytes"]), "B", name),
                Measurement("restore_throughput", round(int(cat["bytes"]) / rto / 1e6, 3) if rto > 0 else None,
                            "MB/s", name, detail="bytes restored / RTO (drill scale)"),
            ]
        r.systems.append({"system": vm.system, "security_level": system.security_level, "target": name,
                          "evidence": "backup-restore" if ctx.execute else "backup-restore (check mode)",
                          "verified": verified, "backup_set": (cat or {}).get("set"),
                          "policy": policy.name, "at": m.get("verified")})
    if not pb.ok and not pb.failed_steps:
        r.finding("error", f"playbook {PLAYBOOK} ended {pb.status} (rc={pb.rc})")
