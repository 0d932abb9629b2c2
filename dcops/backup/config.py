"""Bacula's configuration from the inventory: one autochanger for the tape library, pools, schedules and job
defaults per backup policy, a client, file set and job per VM on a tape policy."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..model.bacula import (DR_COPY_AT, DR_SCHEDULE, Client, Fragment, PolicyNotExpressible, Site, clients_of,  # noqa: F401
                            copy_jobs, dr_storage, fragments, schedule_runs, text, tls_directives)

TEMPLATES = Path(__file__).resolve().parent / "templates"
CHANGER_SCRIPT = "/etc/bacula/scripts/disk-changer"  # Debian's bacula-sd ships it
FILES = ("bacula-dir.conf", "bacula-sd.conf", "bacula-fd.conf", "bconsole.conf")
PASSWORDS = ("director", "console", "sd", "fd")
#: the backup server's disk for the catalogue's own backup (conf.d mode)
CATALOG_MEDIA = "File-catalog"


DR_BARCODE_PREFIX = "DR"


@dataclass(frozen=True)
class DrLibrary:
    """Where policies with `replicate_to_dr` get a copy: pools `<policy>-dr` on this storage."""
    name: str
    media_type: str  # its own media type: the director never mounts a DR cartridge in the main library
    slots: int
    dir: Path


def dr_library(tape, d: "Deployment") -> DrLibrary:
    name, media = dr_storage(tape)
    return DrLibrary(name, media, tape.slots, Path(d.dr_dir or Path(d.workdir) / "dr-tape"))


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
    #: the director's conf.d: its resources are fragments there (written by the Pulumi provider,
    #: dcops.cloud.bacula_provider) and bacula-dir.conf holds only the director's core
    conf_d: Path | None = None
    #: TLS between the daemons (TLS Enable/Require, peers verified against the site CA); None = plain
    tls: TlsFiles | None = None


def site_of(inv, d: Deployment) -> Site:
    """What the director's resources need to know of this deployment."""
    return Site(workdir=str(d.workdir), sd_address=d.sd_address, sd_port=d.sd_port, fd_password=d.passwords["fd"],
                sd_password=d.passwords["sd"], volume_bytes=int(inv.storage.tape.cartridge_tb * 1e12 * d.scale),
                director=d.director, tls=_tls(d))


def _tls(d: Deployment) -> dict[str, str] | None:
    return tls_directives(d.tls.ca, d.tls.cert, d.tls.key) if d.tls else None


def core_fragments(d: Deployment) -> list[Fragment]:
    """The director's own resources, in bacula-dir.conf itself: Bacula starts (and `reload`s) only with one
    complete job, so the director keeps one of its own — the catalogue's backup to the backup server's disk,
    the standard Debian layout — and an empty conf.d is still a director that runs. Its client and file set
    are also the ones copy and restore jobs name (Bacula wants one there and uses the job's own)."""
    n = d.director
    return [
        Fragment("Storage", f"{n}-catalog", {
            "Address": d.sd_address, "SDPort": d.sd_port, "Password": d.passwords["sd"],
            "Device": f"{n}-catalog-disk", "Media Type": CATALOG_MEDIA, **(_tls(d) or {})}),
        Fragment("Pool", f"{n}-catalog", {
            "Pool Type": "Backup", "Storage": f"{n}-catalog", "Label Format": f"{n}-catalog-", "Recycle": "yes",
            "AutoPrune": "yes", "Volume Retention": "14 days", "Maximum Volume Jobs": 1}),
        Fragment("Client", f"{n}-fd", {
            "Address": d.address, "FDPort": d.fd_port, "Catalog": "MyCatalog", "Password": d.passwords["fd"],
            "File Retention": "14 days", "Job Retention": "14 days", "AutoPrune": "yes", **(_tls(d) or {})}),
        Fragment("FileSet", f"{n}-catalog", {
            "Include": {"Options": {"signature": "SHA1"}, "File": [f"{d.workdir}/dir/bacula.db"]}}),
        Fragment("Schedule", f"{n}-catalog", {"Run": ["Level=Full daily at 06:10"]}),
        Fragment("Job", "BackupCatalog", {
            "Type": "Backup", "Level": "Full", "Client": f"{n}-fd", "FileSet": f"{n}-catalog",
            "Schedule": f"{n}-catalog", "Storage": f"{n}-catalog", "Pool": f"{n}-catalog", "Messages": "Standard",
            "Priority": 30, "Write Bootstrap": f"{d.workdir}/dir/%n.bsr"}),
    ]


def include_line(conf_d: Path) -> str:
    """Bacula's documented way to include every file of a folder (a pipe whose output is @-includes); an
    empty folder includes nothing."""
    return f"@|\"sh -c 'for f in {conf_d}/*.conf ; do [ -e $f ] && echo @$f ; done ; true'\""


def render(inv, d: Deployment, clients: list[Client]) -> dict[str, str]:
    """File name -> text; PolicyNotExpressible names the policy. With `d.conf_d` the director's
    configuration is its core and an include of conf.d, whose fragments the Pulumi provider writes."""
    tape = inv.storage.tape
    frags = fragments(inv, clients, site_of(inv, d))  # validates the policies in both modes
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=False)
    dr = dr_library(tape, d) if any(f.name == DR_SCHEDULE for f in frags) else None
    body = core_fragments(d) + ([] if d.conf_d else frags)
    ctx = dict(site=inv.site.code, d=d, tape=tape, dr=dr, fragments=[text(f) for f in body],
               include=include_line(d.conf_d) if d.conf_d else None, catalog_media=CATALOG_MEDIA,
               changer_script=CHANGER_SCRIPT, fd_name=f"{d.director}-fd",
               scale_note=(f"1 TB of cartridge = {d.scale * 1e12:,.0f} bytes (lab)" if d.scale != 1 else "real size"))
    return {f: env.get_template(f + ".j2").render(**ctx) for f in FILES}
