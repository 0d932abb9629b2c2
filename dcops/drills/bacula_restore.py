"""The backup-restore drill through Bacula: the lab's director, storage daemon (virtual autochanger) and file
daemon back up the target's data set, restore the newest backup into a staging folder and verify every file
against the SHA-1 the catalogue recorded at backup time. Only a verified copy replaces the data set (the
original goes to quarantine until the copy verifies in place), so a bad volume fails the drill with the
storage daemon's own words and nothing on the target changes.

RPO comes from the catalogue: the newest good backup job of the client that had ended before the drill
started (the schedule's run); the job the drill takes itself is reported apart (`drill_backup_age`). RTO is
the time from the declared loss (the restore's start) to the verified copy in place.
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from dcops.backup import catalogue
from dcops.backup.lab import BaculaError, BaculaLab, available
from dcops.backup.restore import RestoreResult, restore_verified, verify

from .core import DrillContext, DrillRefused
from .record import Measurement, iso, parse_time, utcnow

ENGINES = ("bacula", "media-server")
STEP_RESTORE = "Restore through Bacula and verify every file against the catalogue"
STEP_SWAP = "Put the verified copy in place and verify it there"


def engine(options: dict, lab: object | None = None, *, building: bool = False) -> str:
    """Bacula in a lab that runs it (a lab is built with it when the machine has Bacula); the
    tar-to-media-server playbook when asked, in production, or without Bacula."""
    if building:
        default = "bacula" if available() else "media-server"
    else:
        default = "bacula" if lab is not None and "bacula" in getattr(lab, "services", {}) else "media-server"
    name = options.get("engine") or default
    if name not in ENGINES:
        raise DrillRefused(f"engine {name!r}: one of {', '.join(ENGINES)}")
    return name


def build(dl, inv, names: list[str], data_dirs: dict[str, Path]) -> BaculaLab:
    """A BaculaLab backing up each target's data folder (the lab hosts' folders are on this machine)."""
    # inside the lab's own folder: its daemons' command lines name the lab, and its teardown removes the folder
    bl = BaculaLab(inv, {n: [str(p)] for n, p in data_dirs.items()}, workdir=dl.lab.workdir / "bacula")
    dl.services["bacula"] = bl  # the DrillLab stops it on teardown
    bl.start()
    bl.label_library()
    return bl


def backup(bl: BaculaLab, name: str, level: str = "Full") -> catalogue.Job:
    """Run the client's job and wait; the catalogue's record of it (raises when it did not end well)."""
    with bl.catalogue() as con:
        last = max((j.job_id for j in catalogue.jobs(con, types=("B", "R", "C", "c"))), default=0)
    out = bl.bconsole(f"run job={name} level={level} yes\nwait\nmessages")
    with bl.catalogue() as con:
        mine = [j for j in catalogue.jobs(con, client=f"{name}-fd", since_id=last)]
    if not mine or not mine[-1].good:
        tail = [ln.strip() for ln in out.splitlines() if "Error" in ln or "Termination" in ln][-3:]
        raise BaculaError(f"backup job {name} did not end well: {'; '.join(tail) or 'no job in the catalogue'}")
    return mine[-1]


def _bacula(ctx: DrillContext) -> BaculaLab:
    bl = getattr(ctx.lab, "services", {}).get("bacula") if ctx.lab is not None else None
    if bl is None:
        raise DrillRefused("engine=bacula restores through the lab's Bacula (dcops drill run --lab); against "
                           "production use engine=media-server (restoring on a VM's own file daemon and "
                           "verifying there is not built yet)")
    return bl


def run(ctx: DrillContext, names: list[str]) -> None:
    inv, r = ctx.inv, ctx.record
    bl = _bacula(ctx)
    started = parse_time(r.started_at)
    r.details["engine"] = "bacula"
    r.details["director"] = {"name": bl.d.director, "version": bl.bconsole("version").split("Version:")[-1]
                             .split("\n")[0].strip(), "library": bl.tape.name, "scale": bl.scale}
    for name in names:
        vm, client = inv.vm(name), f"{name}-fd"
        policy = inv.backup_policy(vm.backup_policy)
        data = Path(bl.lab_paths[name][0])
        own = None
        if not ctx.execute:
            r.state("data set", f"untouched at {data} (check mode)", host=name)
            continue
        if not ctx.options.get("use_existing_backup"):
            try:
                own = backup(bl, name)
            except BaculaError as e:
                r.check(f"Back up {name} through Bacula", False, str(e), host=name)
                r.state("data set", f"untouched at {data} (the drill's backup failed)", host=name)
                continue
            r.event("backup job written by the drill", host=name, at=own.ended,
                    detail=f"JobId {own.job_id}, {own.level}, {own.bytes} bytes in pool {own.pool}")
        with bl.catalogue() as con:
            point = catalogue.last_good_before(con, client, started, {own.job_id} if own else set())
            current = catalogue.jobs(con, client=client)
        chosen = [j for j in current if j.good][-1:] or [None]
        if chosen[0]:
            r.event("backup job chosen for restore", host=name,
                    detail=f"JobId {chosen[0].job_id} ({chosen[0].level}) ended {iso(chosen[0].ended)}")
        staging = bl.workdir / "restore" / ctx.run_id / name
        quarantine = data.parent / "drill-quarantine" / ctx.run_id
        lost = utcnow()
        r.event("data set declared lost; restoring into staging (the original stays until the copy verifies)",
                host=name, at=lost)
        res = restore_verified(bl, client, staging)
        if not r.check(STEP_RESTORE, res.ok, f"{res.reason} ({res.files_checked} file(s) checked)", host=name):
            _clean(staging)
            r.state("data set", f"untouched at {data} (the restore failed verification before anything on the "
                    "host changed)", host=name)
            _system(ctx, name, False, chosen[0], policy)
            continue
        ok = _swap_in(r, name, data, staging / str(data).lstrip("/"), quarantine, res)
        done = utcnow()
        _clean(staging)
        if ok:
            r.event("restore verified in place (all catalogue checksums match)", host=name, at=done)
            _measure(ctx, name, policy, lost, done, point, own, res)
        _system(ctx, name, ok, chosen[0], policy, at=iso(done) if ok else None)


def _clean(staging: Path) -> None:
    """Remove a target's staging folder, and the run's folder once no target uses it."""
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.parent.rmdir()
    except OSError:
        pass


def _swap_in(r, name: str, data: Path, staged: Path, quarantine: Path, res: RestoreResult) -> bool:
    """Original to quarantine, verified copy in place, verify again in place; on any failure the original
    goes back. Renames within one filesystem: the data set is never half there."""
    quarantine.parent.mkdir(parents=True, exist_ok=True)
    data.rename(quarantine)
    r.event("data set moved to quarantine", host=name, detail=str(quarantine))
    try:
        staged.rename(data)
        # the catalogue's paths are the data set's own absolute paths: check them where they now are
        in_place = verify(RestoreResult(False, res.job_id, Path("/"), 0.0), res.expected)
        if not in_place.ok:
            raise RuntimeError(in_place.reason)
    except Exception as e:  # noqa: BLE001 — whatever went wrong, the original goes back
        if data.exists():
            shutil.rmtree(data)
        quarantine.rename(data)
        r.check(STEP_SWAP, False, f"{e}; the original data set was put back", host=name)
        r.state("data set", f"the original, put back at {data} after the failed swap", host=name)
        return False
    shutil.rmtree(quarantine)
    r.check(STEP_SWAP, True, f"{in_place.files_checked} file(s) verified in place", host=name)
    r.state("data set", f"restored through Bacula at {data}, every file verified against the catalogue",
            host=name)
    return True


def _measure(ctx, name, policy, lost: dt.datetime, done: dt.datetime, point, own, res: RestoreResult) -> None:
    r = ctx.record
    rto = (done - lost).total_seconds()
    restored = res.bytes
    prod = sum(v.size_gb for v in ctx.inv.vm(name).volumes) * 1e9 * ctx.inv.site.capacity.data_fill_ratio
    scale = (f"{restored / 1e6:.1f} MB restored; the production data set is about {prod / 1e9:,.0f} GB "
             f"(1:{prod / max(restored, 1):,.0f})")
    r.environment["scale"] = scale
    limit_rpo = policy.rpo_hours * 3600
    if point:
        rpo = (lost - point.ended).total_seconds()
        r.measurements.append(Measurement(
            "rpo", round(rpo, 3), "s", name, limit_rpo, rpo <= limit_rpo,
            f"loss − newest good backup job in the catalogue before the drill (JobId {point.job_id}, "
            f"{point.level}, schedule of {policy.name})", scale=scale))
    else:
        r.measurements.append(Measurement(
            "rpo", None, "s", name, limit_rpo, False if ctx.production else None,
            f"the catalogue holds no good backup of {name} from before the drill: a loss would have lost "
            "everything", scale=scale))
        r.finding("error" if ctx.production else "warning", f"{name}: no scheduled backup before the drill; "
                  "RPO not met")
    if own:
        r.measurements.append(Measurement(
            "drill_backup_age", round((lost - own.ended).total_seconds(), 3), "s", name,
            detail=f"age of the job the drill took itself (JobId {own.job_id}); not the RPO", scale=scale))
    r.measurements += [
        Measurement("rto", round(rto, 3), "s", name, policy.rto_hours * 3600, rto <= policy.rto_hours * 3600,
                    "loss → Bacula restore, every file verified against the catalogue, in place", scale=scale),
        Measurement("restored_bytes", restored, "B", name, scale=scale),
        Measurement("restored_files_verified", res.files_checked, "files", name, scale=scale),
        Measurement("restore_throughput", round(restored / rto / 1e6, 3) if rto > 0 else None, "MB/s", name,
                    detail="bytes restored / RTO", scale=scale),
    ]


def _system(ctx, name, verified: bool, job, policy, at: str | None = None) -> None:
    vm = ctx.inv.vm(name)
    ctx.record.systems.append({
        "system": vm.system, "security_level": ctx.inv.system(vm.system).security_level, "target": name,
        "vm": name, "evidence": "backup-restore", "verified": verified, "engine": "bacula",
        "backup_set": f"JobId {job.job_id}" if job else None, "restored_bytes": job.bytes if job else None,
        "production_bytes": round(sum(v.size_gb for v in vm.volumes) * 1e9 * ctx.inv.site.capacity.data_fill_ratio),
        "policy": policy.name, "at": at})
