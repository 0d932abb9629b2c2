"""Bacula's configuration from the inventory: one autochanger for the tape library, pools, schedules and job
defaults per backup policy, a client, file set and job per VM on a tape policy."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parent / "templates"
CHANGER_SCRIPT = "/etc/bacula/scripts/disk-changer"  # Debian's bacula-sd ships it
FILES = ("bacula-dir.conf", "bacula-sd.conf", "bacula-fd.conf", "bconsole.conf")
PASSWORDS = ("director", "console", "sd", "fd")


DR_BARCODE_PREFIX = "DR"
DR_COPY_AT = "05:05"  # after the night's backups (23:05), before office hours


@dataclass(frozen=True)
class DrLibrary:
    """Where policies with `replicate_to_dr` get a copy: pools `<policy>-dr` on this storage."""
    name: str
    media_type: str  # its own media type: the director never mounts a DR cartridge in the main library
    slots: int
    dir: Path


def dr_library(tape, d: "Deployment") -> DrLibrary:
    return DrLibrary(f"{tape.name}-dr", f"{tape.media_type}-DR", tape.slots,
                     Path(d.dr_dir or Path(d.workdir) / "dr-tape"))


def copy_jobs(policies) -> list[str]:
    """Names of the DR copy jobs for these policies (one per source pool of a replicated tape policy)."""
    out = []
    for p in policies:
        if p.target == "tape" and p.replicate_to_dr:
            out.append(f"{p.name}-full-copy-dr")
            if p.incremental_daily:
                out.append(f"{p.name}-inc-copy-dr")
    return out


class PolicyNotExpressible(ValueError):
    """A backup policy Bacula's scheduler cannot run as declared."""


def schedule_runs(full_every_days: int, incremental_daily: bool, at: str = "23:05") -> list[str]:
    """Bacula `Run =` lines for a full every N days (+ daily incrementals).

    Bacula schedules by calendar, not by interval: 1 day = daily, 7 = weekly, 14 = the even ISO weeks
    (Bacula 9.6 has no "every other week": w00,w02,…,w52, so the year turn gives one 7- or 21-day cycle),
    28–31 = monthly. Any other interval would silently drift, so it is refused."""
    even = ",".join(f"w{n:02d}" for n in range(0, 54, 2))
    odd = ",".join(f"w{n:02d}" for n in range(1, 54, 2))
    if full_every_days == 1:
        return [f"Level=Full daily at {at}"]
    if full_every_days == 7:
        full, inc_days = f"Level=Full sun at {at}", "mon-sat"
    elif full_every_days == 14:
        full, inc_days = f"Level=Full {even} sun at {at}", None
    elif 28 <= full_every_days <= 31:
        full, inc_days = f"Level=Full 1st sun at {at}", None
    else:
        raise PolicyNotExpressible(f"a full every {full_every_days} days has no Bacula schedule "
                                   "(use 1, 7, 14 or a month: 28–31)")
    runs = [full]
    if incremental_daily:
        if inc_days:
            runs.append(f"Level=Incremental {inc_days} at {at}")
        elif full_every_days == 14:
            runs += [f"Level=Incremental {odd} sun at {at}", f"Level=Incremental mon-sat at {at}"]
        else:
            runs += [f"Level=Incremental 2nd-5th sun at {at}", f"Level=Incremental mon-sat at {at}"]
    return runs


@dataclass
class Client:
    name: str
    address: str
    port: int
    policy: object  # the inventory's BackupPolicy
    paths: list[str]


@dataclass(frozen=True)
class TlsFiles:
    """A daemon's TLS files: the site CA that signed every daemon's certificate, and its own pair."""
    ca: Path
    cert: Path
    key: Path


@dataclass
class Deployment:
    """Where the daemons run. The lab puts all three on 127.0.0.1 with a temp work dir; a production render
    names the backup server and takes passwords from the environment."""
    workdir: Path
    address: str = "127.0.0.1"
    sd_address: str = "127.0.0.1"
    fd_address: str = "127.0.0.1"
    dir_port: int = 9101
    fd_port: int = 9102
    sd_port: int = 9103
    director: str = "kg-bak-dir"
    passwords: dict = field(default_factory=lambda: {k: secrets.token_urlsafe(24) for k in PASSWORDS})
    #: bytes a volume of the lab holds per TB of a real cartridge (1.0 = real size)
    scale: float = 1.0
    #: the DR site's library as the storage daemon reaches it (Bacula 9.6 copies within one storage daemon,
    #: so the DR library is a second autochanger of the main site's SD, over the DR link)
    dr_dir: Path | None = None
    #: how long the director retries a file daemon that does not answer (Bacula's default: 3 minutes)
    fd_connect_timeout: str = "3 minutes"
    #: TLS between the daemons (TLS Enable/Require, peers verified against the site CA); None = plain
    tls: TlsFiles | None = None


def clients_of(inv, *, lab_paths: dict[str, list[str]] | None = None, fd_port: int = 9102) -> list[Client]:
    """A client per VM whose policy goes to tape; in the lab (lab_paths: VM -> folders) only those VMs, all
    served by the one local file daemon."""
    out = []
    for vm in inv.vms:
        if not vm.backup_policy:
            continue
        policy = inv.backup_policy(vm.backup_policy)
        if policy.target != "tape":
            continue
        if lab_paths is not None:
            if vm.name not in lab_paths:
                continue
            out.append(Client(vm.name, "127.0.0.1", fd_port, policy, lab_paths[vm.name]))
        else:
            out.append(Client(vm.name, str(vm.ip), fd_port, policy, [f"/srv/{v.name}" for v in vm.volumes] or ["/srv"]))
    return out


def render(inv, d: Deployment, clients: list[Client]) -> dict[str, str]:
    """File name -> text; PolicyNotExpressible names the policy."""
    if not clients:
        raise ValueError("no VM uses a tape backup policy: nothing for Bacula to back up")
    tape = inv.storage.tape
    used = {c.policy.name for c in clients}
    policies = [p for p in inv.storage.backup_policies if p.target == "tape" and p.name in used]
    schedules = {}
    for p in policies:
        try:
            schedules[p.name] = schedule_runs(p.full_every_days, p.incremental_daily)
        except PolicyNotExpressible as e:
            raise PolicyNotExpressible(f"backup policy {p.name}: {e}") from None
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=False)
    volume_bytes = int(tape.cartridge_tb * 1e12 * d.scale)
    dr = dr_library(tape, d) if any(p.replicate_to_dr for p in policies) else None
    ctx = dict(site=inv.site.code, d=d, tape=tape, policies=policies, schedules=schedules, clients=clients, dr=dr,
               volume_bytes=volume_bytes, changer_script=CHANGER_SCRIPT, dr_copy_at=DR_COPY_AT, fd_name=f"{d.director}-fd",
               scale_note=(f"1 TB of cartridge = {d.scale * 1e12:,.0f} bytes (lab)" if d.scale != 1 else "real size"))
    return {f: env.get_template(f + ".j2").render(**ctx) for f in FILES}
