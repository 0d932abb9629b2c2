"""Incident-response drill: an intrusion on a VM is detected, the VM is isolated, evidence collected, its data
restored from the last good backup through Bacula, and the isolation lifted — each step verified with real
connections and the catalogue, each time measured.

In the lab: the VM is a namespace host with SSH and its service port; the intrusion is real (a planted file
and a changed file in its data set); detection compares the data set with the SHA-1 digests the Bacula
catalogue holds for the last good backup; isolation is an nftables table on the VM (host firewall: everything
dropped except the forensic SSH from the control node; the central firewall's push pipeline is not used here);
evidence is collected over that SSH channel and kept with the record (hashed); the restore is the
backup-restore drill's verified Bacula restore, the compromised data set kept in quarantine as evidence. A
restore that fails leaves the VM isolated: a compromised host is never put back on the network.
"""
from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path

from dcops.backup import catalogue
from dcops.backup.restore import RestoreResult, catalogue_digest, expected_files, restore_verified, verify
from dcops.model import Inventory

from . import bacula_restore
from .backup_restore import seed_data
from .backup_restore import targets as backup_targets
from .core import DrillContext, DrillRefused
from .lab import PRIVATE_DIR
from .record import Measurement, iso, utcnow

PLAYBOOK = ""  # no playbook: the drill drives the lab directly
SERVICE_PORT = 5432  # the VM's service as users reach it
TABLE = "dcops_isolation"
PLANTED = ".cache/.sess-7f3a.php"  # what the simulated intruder leaves


def targets(inv: Inventory, options: dict) -> list[str]:
    """One VM with a tape backup policy (the restore comes from Bacula): the backup-restore drill's choice."""
    if len(options.get("targets") or []) > 1:
        raise DrillRefused("incident-response drills one VM at a time")
    return backup_targets(inv, options)


def build_lab(dl, inv: Inventory, names: list[str], options: dict) -> None:
    """The VM (SSH + its service port) seeded with a data set, Bacula backing it up, and the last good backup
    before the incident (a real full backup job in the catalogue)."""
    (name,) = names
    dl.target(name, "vm", services=(SERVICE_PORT,))
    data = dl.host_dir(name) / "data"
    seed_data(data, int(float(options.get("lab_data_mb", 2)) * 1024 * 1024))
    bl = bacula_restore.build(dl, inv, names, {name: data})
    bacula_restore.backup(bl, name)


def isolation_ruleset(forensics_ip: str) -> str:
    """Drop everything in and out of the VM but SSH from the forensic workstation (the control node)."""
    return f"""table inet {TABLE} {{
  chain input {{ type filter hook input priority -10; policy drop;
    iif "lo" accept
    ip saddr {forensics_ip} tcp dport 22 accept
  }}
  chain output {{ type filter hook output priority -10; policy drop;
    oif "lo" accept
    ip daddr {forensics_ip} tcp sport 22 accept
  }}
}}
"""


def _ssh(dl, name: str, command: str) -> subprocess.CompletedProcess:
    t = dl.targets[name]
    return dl.lab.exec("ctl", ["ssh", "-i", str(dl.key.private), "-o", f"UserKnownHostsFile={dl.known_hosts()}",
                               "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
                               f"root@{t.mgmt_ip}", command], check=False, timeout=60)


def _reachable(dl, name: str) -> bool:
    return dl.lab.connect("ctl", dl.targets[name].mgmt_ip, SERVICE_PORT, timeout=1.0) is not None


def integrity(data: Path, want: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(unexpected, changed, missing) files of the data set against the catalogue's digests."""
    have = {str(p): p for p in data.rglob("*") if p.is_file()}
    unexpected = sorted(set(have) - set(want))
    changed = sorted(p for p in set(have) & set(want) if catalogue_digest(have[p].read_bytes()) != want[p])
    missing = sorted(set(want) - set(have))
    return unexpected, changed, missing


def run(ctx: DrillContext) -> None:
    r = ctx.record
    (name,) = [t["name"] for t in r.targets]
    dl = ctx.lab
    bl = getattr(dl, "services", {}).get("bacula") if dl is not None else None
    if bl is None or name not in getattr(dl, "targets", {}):
        raise DrillRefused("incident-response runs in a lab (dcops drill run incident-response --lab): it plants "
                           "an intrusion and firewalls the VM; a production exercise is run by the team")
    parts = [p.strip() for p in str(ctx.options.get("participants", "")).split(",") if p.strip()]
    r.details.update(engine="bacula", participants=parts, isolation="nftables on the VM (host firewall), lab",
                     service_port=SERVICE_PORT)
    if not parts:
        r.finding("warning", "no participants named (-o participants=a,b,c): the exercise's team is not recorded")
    data = dl.host_dir(name) / "data"
    client = f"{name}-fd"
    if not ctx.execute:
        r.state("VM", f"untouched (check mode): reachable on {SERVICE_PORT}={_reachable(dl, name)}", host=name)
        return
    with bl.catalogue() as con:
        baseline = [j for j in catalogue.jobs(con, client=client) if j.good]
        want = expected_files(con, client)
    if not r.check("A good backup from before the incident is in the catalogue", bool(baseline) and bool(want),
                   f"JobId {baseline[-1].job_id}" if baseline else "none", host=name):
        r.state("VM", "untouched: nothing to restore from", host=name)
        return
    if not r.check("The VM's service is reachable before the incident", _reachable(dl, name), host=name):
        return
    # -- the incident: a planted file and a changed file, then the alert
    (data / PLANTED).parent.mkdir(parents=True, exist_ok=True)
    (data / PLANTED).write_text("<?php eval($_POST['c']); // dcops incident drill\n")
    victim = sorted(p for p in data.rglob("*.dmp"))[0]
    with victim.open("ab") as f:
        f.write(b"\x00exfil-marker")
    t0 = utcnow()
    r.event("intrusion alert (simulated): web shell planted and a database export changed", host=name, at=t0)
    unexpected, changed, missing = integrity(data, want)
    r.check("Triage: the data set differs from the last good backup's catalogue digests",
            bool(unexpected or changed or missing),
            f"unexpected: {', '.join(Path(p).name for p in unexpected) or '—'}; changed: "
            f"{', '.join(Path(p).name for p in changed) or '—'}; missing: {len(missing)}", host=name)
    r.details["integrity"] = {"unexpected": unexpected, "changed": changed, "missing": missing}
    # -- isolate
    forensics = str(ipaddress.ip_address(dl.targets[name].mgmt_ip) - 1)
    short = dl.targets[name].short
    dl.lab.nft(short, isolation_ruleset(forensics))
    blocked = not _reachable(dl, name)
    ssh_ok = _ssh(dl, name, "true").returncode == 0
    t_iso = utcnow()
    isolated = r.check("Isolate the VM (service blocked, forensic SSH still open)", blocked and ssh_ok,
                       f"service port {SERVICE_PORT} {'blocked' if blocked else 'STILL REACHABLE'}; forensic SSH "
                       f"from {forensics} {'open' if ssh_ok else 'REFUSED'}", host=name)
    r.event("VM isolated" if isolated else "isolation NOT verified", host=name, at=t_iso)
    if not isolated:
        _isolation_state(r, name, dl, short)
        return
    # -- evidence over the forensic channel, kept with the record
    ev = _ssh(dl, name, f"cd {PRIVATE_DIR}/data && find . -type f -print0 | sort -z | xargs -0 sha256sum; "
                        f"echo '--- nft'; nft list table inet {TABLE}; echo '--- sockets'; ss -tanp")
    bundle = bl.workdir / f"{ctx.run_id}-evidence.txt"
    bundle.write_text(ev.stdout + ev.stderr, encoding="utf-8")
    ok_ev = r.check("Collect evidence over the forensic channel", ev.returncode == 0 and PLANTED in ev.stdout,
                    f"{len(ev.stdout.splitlines())} lines, planted file {'recorded' if PLANTED in ev.stdout else 'MISSING'}",
                    host=name)
    ctx.artefact("evidence.txt", bundle, f"evidence from {name}: file digests, firewall, sockets")
    t_ev = utcnow()
    r.event("evidence collected", host=name, at=t_ev, detail=r.artefacts[-1]["sha256"])
    if not ok_ev:
        _isolation_state(r, name, dl, short)
        return
    # -- restore the last good backup, keep the compromised data set as evidence
    staging = bl.workdir / "restore" / ctx.run_id / name
    res = restore_verified(bl, client, staging)
    quarantine = data.parent / "incident-quarantine" / ctx.run_id
    restored = r.check(bacula_restore.STEP_RESTORE, res.ok, f"{res.reason} ({res.files_checked} file(s) checked)",
                       host=name)
    if restored:
        restored = _swap_keep(r, name, data, staging / str(data).lstrip("/"), quarantine, res)
    bacula_restore._clean(staging)
    t_rest = utcnow()
    if not restored:
        r.state("data set", f"the compromised data set, untouched at {data} (restore failed)", host=name, ok=False)
        _isolation_state(r, name, dl, short)
        _system(ctx, name, False)
        return
    r.event("data set restored from the last good backup and verified", host=name, at=t_rest)
    r.state("compromised data set", f"kept as evidence in quarantine at {quarantine}", host=name)
    # -- lift the isolation
    dl.lab.exec(short, ["nft", "delete", "table", "inet", TABLE], check=False)
    back = _reachable(dl, name)
    t_up = utcnow()
    r.check("Lift the isolation: the service is reachable again", back, host=name)
    r.event("isolation lifted" if back else "isolation lifted but the service is NOT reachable", host=name, at=t_up)
    _isolation_state(r, name, dl, short)
    sec = lambda a, b: round((b - a).total_seconds(), 3)  # noqa: E731
    r.measurements += [
        Measurement("time_to_isolate", sec(t0, t_iso), "s", name, detail="alert → isolation verified"),
        Measurement("time_to_evidence", sec(t0, t_ev), "s", name, detail="alert → evidence kept"),
        Measurement("time_to_restore", sec(t0, t_rest), "s", name,
                    detail="alert → last good backup restored and verified"),
        Measurement("time_to_recover", sec(t0, t_up), "s", name, detail="alert → service back, isolation lifted"),
        Measurement("restored_files_verified", res.files_checked, "files", name),
    ]
    _system(ctx, name, back, at=iso(t_up))


def _swap_keep(r, name: str, data: Path, staged: Path, quarantine: Path, res: RestoreResult) -> bool:
    """Compromised data set to quarantine (kept), verified copy in place and verified there."""
    quarantine.parent.mkdir(parents=True, exist_ok=True)
    data.rename(quarantine)
    try:
        staged.rename(data)
        in_place = verify(RestoreResult(False, res.job_id, Path("/"), 0.0), res.expected)
        extra = [str(p) for p in data.rglob("*") if p.is_file() and str(p) not in res.expected]
        if not in_place.ok or extra:
            raise RuntimeError(f"{in_place.reason}; files not in the backup: {len(extra)}")
    except Exception as e:  # noqa: BLE001
        if data.exists():
            shutil.rmtree(data)
        quarantine.rename(data)
        r.check(bacula_restore.STEP_SWAP, False, f"{e}; the compromised data set was put back", host=name)
        return False
    r.check(bacula_restore.STEP_SWAP, True, f"{in_place.files_checked} file(s) verified in place, no other file",
            host=name)
    return True


def _isolation_state(r, name: str, dl, short: str) -> None:
    ruleset = dl.lab.ruleset(short)
    if TABLE in ruleset:
        r.state("network isolation", f"STILL ISOLATED: table inet {TABLE} on {name}", host=name, ok=False,
                detail=f"lift it after the data set is clean: nft delete table inet {TABLE}")
    else:
        reachable = _reachable(dl, name)
        r.state("network isolation", "lifted; service reachable" if reachable else
                "lifted but the service is NOT reachable", host=name, ok=reachable)


def _system(ctx, name: str, ok: bool, at: str | None = None) -> None:
    vm = ctx.inv.vm(name)
    ctx.record.systems.append({"system": vm.system, "security_level": ctx.inv.system(vm.system).security_level,
                               "target": name, "vm": name, "evidence": "incident-response", "verified": ok,
                               "engine": "bacula", "at": at})
