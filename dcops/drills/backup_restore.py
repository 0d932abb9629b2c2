"""Drill a: back up a system's data set to tape, destroy it on the host, restore, verify checksums.

RPO = what a loss at that moment would have lost: loss − the newest backup set in the media
server's catalogue that existed *before the drill started* (the production schedule's last run),
never the set the drill itself has just written (its age is reported separately as
`drill_backup_age`). RTO = loss → restored and every file verified. Both are compared with the
VM's backup policy only when measured in production; a lab run states its scale instead.
"""
from __future__ import annotations

import os

from dcops.model import Inventory

import datetime as dt

from .core import DrillContext, DrillRefused
from .record import Measurement, parse_time

SET_FORMAT = "%Y%m%dT%H%M%S%fZ"  # backup set ids are their UTC time (backup_job role)


def set_time(set_id: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(set_id, SET_FORMAT).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def restore_point(sets: list[str], before: dt.datetime, exclude: str | None) -> tuple[str, dt.datetime] | None:
    """The newest backup set that existed before `before` (the drill's start), not `exclude`."""
    found = [(t, s) for s in sets if s != exclude and (t := set_time(s)) is not None and t < before]
    if not found:
        return None
    t, s = max(found)
    return s, t


def production_bytes(inv: Inventory, name: str) -> float:
    """What the VM's data volumes hold in production (size × the site's fill ratio)."""
    vm = inv.vm(name)
    return sum(v.size_gb for v in vm.volumes) * 1e9 * inv.site.capacity.data_fill_ratio

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
    """One namespace host per target, each seeded with a data set, and the backup system: Bacula's director,
    storage daemon (virtual tape library) and file daemon (engine=bacula, the default where Bacula is
    installed), or a media-server host taking tar archives over SSH (engine=media-server)."""
    from . import bacula_restore
    eng = bacula_restore.engine(options, building=True)
    if eng == "media-server":
        dl.target(media_server(inv, options), "bak")
    size = int(float(options.get("lab_data_mb", 4)) * 1024 * 1024)
    for i, n in enumerate(names):
        dl.target(n, f"t{i}")
        seed_data(dl.host_dir(n) / "data", size)
    if eng == "bacula":
        bacula_restore.build(dl, inv, names, {n: dl.host_dir(n) / "data" for n in names})


def seed_data(folder, size: int, files: int = 16) -> None:
    """A data set like a small database export: a few files, one with a Vietnamese name."""
    (folder / "export").mkdir(parents=True, exist_ok=True)
    chunk = max(1, size // files)
    for i in range(files):
        (folder / "export" / f"part-{i:03d}.dmp").write_bytes(os.urandom(chunk))
    (folder / "Hồ sơ lưu trữ.txt").write_text("Dữ liệu kiểm thử khôi phục — Kiên Giang\n", encoding="utf-8")


def run(ctx: DrillContext) -> None:
    from . import bacula_restore
    inv, r = ctx.inv, ctx.record
    names = [t["name"] for t in r.targets]
    if bacula_restore.engine(ctx.options, ctx.lab) == "bacula":
        return bacula_restore.run(ctx, names)
    r.details["engine"] = "media-server"
    media = media_server(inv, ctx.options)
    r.details["media_server"] = media
    pb = ctx.playbook(PLAYBOOK, {
        "drill_targets": ",".join(names), "drill_media_server": media,
        "drill_take_backup": not ctx.options.get("use_existing_backup", False),
    })
    marks = pb.custom.get("drill_marks", {})
    restores = pb.custom.get("drill_restores", {})
    backups = pb.custom.get("drill_backups", {})
    started = parse_time(r.started_at)
    for name in names:
        vm = inv.vm(name)
        policy = inv.backup_policy(vm.backup_policy)
        system = inv.system(vm.system)
        b = backups.get(name)
        if b:
            r.event("backup set written by the drill", host=name, at=b["taken_at"],
                    detail=f"{b['set']} ({b['bytes']} bytes) on {media}")
        restore = restores.get(name) or {}
        cat = restore.get("catalog")
        m = marks.get(name, {})
        if cat:
            r.event("backup set chosen for restore", host=name, detail=f"{cat['set']} taken {cat['taken_at']}")
        if "lost" in m:
            r.event("data set destroyed (moved to quarantine)", host=name, at=m["lost"])
        verified = bool(ctx.execute and cat and "lost" in m and "verified" in m)
        prod_b = production_bytes(inv, name)
        scale = ""
        if cat and not ctx.production:
            ratio = prod_b / max(int(cat["bytes"]), 1)
            scale = (f"{int(cat['bytes']) / 1e6:.1f} MB restored; the production data set is about "
                     f"{prod_b / 1e9:,.0f} GB (1:{ratio:,.0f})")
            r.environment["scale"] = scale
        if verified:
            r.event("restore verified (all checksums match)", host=name, at=m["verified"])
            lost, done = parse_time(m["lost"]), parse_time(m["verified"])
            rto = (done - lost).total_seconds()
            own = (b or {}).get("set")
            point = restore_point(restore.get("sets") or [], started, own)
            if point:
                rpo = (lost - point[1]).total_seconds()
                r.measurements.append(Measurement(
                    "rpo", round(rpo, 3), "s", name, policy.rpo_hours * 3600, rpo <= policy.rpo_hours * 3600,
                    f"loss − newest backup set before the drill ({point[0]}, schedule of {policy.name})",
                    scale=scale))
            else:
                r.measurements.append(Measurement(
                    "rpo", None, "s", name, policy.rpo_hours * 3600, False if ctx.production else None,
                    f"no backup set of {name} existed on {media} before the drill: a loss would have lost "
                    "everything", scale=scale))
                r.finding("error" if ctx.production else "warning",
                          f"{name}: no scheduled backup before the drill; RPO not met")
            if own:
                t_own = set_time(own)
                if t_own:
                    r.measurements.append(Measurement(
                        "drill_backup_age", round((lost - t_own).total_seconds(), 3), "s", name,
                        detail="age of the set the drill wrote itself; not the RPO", scale=scale))
            r.measurements += [
                Measurement("rto", round(rto, 3), "s", name, policy.rto_hours * 3600, rto <= policy.rto_hours * 3600,
                            "loss → restored and every file verified", scale=scale),
                Measurement("restored_bytes", int(cat["bytes"]), "B", name, scale=scale),
                Measurement("restore_throughput", round(int(cat["bytes"]) / rto / 1e6, 3) if rto > 0 else None,
                            "MB/s", name, detail="bytes restored / RTO", scale=scale),
            ]
        _end_state(ctx, name, m, restore, verified)
        r.systems.append({"system": vm.system, "security_level": system.security_level, "target": name,
                          "vm": name, "evidence": "backup-restore" if ctx.execute else "backup-restore (check mode)",
                          "verified": verified, "backup_set": (cat or {}).get("set"),
                          "restored_bytes": int(cat["bytes"]) if cat else None,
                          "production_bytes": round(prod_b), "policy": policy.name, "at": m.get("verified")})
    if not pb.ok and not pb.failed_steps:
        r.finding("error", f"playbook {PLAYBOOK} ended {pb.status} (rc={pb.rc})")


def _end_state(ctx: DrillContext, name: str, m: dict, restore: dict, verified: bool) -> None:
    """Where the host's data set is after the drill, whatever happened."""
    r = ctx.record
    data_dir = restore.get("data_dir", "/var/lib/dcops/data")
    quarantine = restore.get("quarantine", f"/var/lib/dcops/drill-quarantine/{ctx.run_id}")
    if not ctx.execute:
        r.state("data set", f"untouched at {data_dir} (check mode)", host=name)
    elif verified:
        r.state("data set", f"restored from backup at {data_dir}, every file verified", host=name)
    elif "lost" not in m:
        r.state("data set", f"untouched at {data_dir} (the drill stopped before destroying it)", host=name)
    elif "put_back" in m:
        r.state("data set", f"the original, put back at {data_dir} after the failed restore", host=name,
                detail=f"put back at {m['put_back']}")
    else:
        r.state("data set", f"IN QUARANTINE at {quarantine} on {name}; {data_dir} may be missing or partial",
                host=name, ok=False, detail="move it back by hand after checking: "
                f"mv {quarantine} {data_dir}")
