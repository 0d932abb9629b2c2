"""The backup system declared as code: the Bacula director's resources the inventory implies (its backup
policies and the VMs on a tape policy, dcops.model.bacula), one Pulumi resource each, written into the
director's conf.d by the Bacula provider. Declared only when the stack names a director (`dcops:bacula`)."""
from __future__ import annotations

import pulumi
from pulumi import ComponentResource, ResourceOptions

from ..model.bacula import Site, clients_of, fragments
from .bacula_provider import TYPES, DirectorAccess
from .settings import NAMESPACE, BaculaSettings

PKG = "dcops:cloud"


def passwords() -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """(file daemon, storage daemon) passwords: stack secrets, never values in git."""
    cfg = pulumi.Config(NAMESPACE)
    return cfg.require_secret("baculaFdPassword"), cfg.require_secret("baculaSdPassword")


def declared_fragments(inv, settings: BaculaSettings, fd_password, sd_password) -> list:
    """The director's resources the stack declares, in declaration order: what BackupDirector registers and what
    `dcops cloud bacula-files` writes for adopting a running director (the same Site, the same clients)."""
    site = Site(workdir=settings.workdir, sd_address=settings.sd_address, sd_port=settings.sd_port,
                fd_password=fd_password, sd_password=sd_password,
                volume_bytes=int(inv.storage.tape.cartridge_tb * 1e12), director=settings.director)
    return fragments(inv, clients_of(inv, fd_port=settings.fd_port), site)


class BackupDirector(ComponentResource):
    """A director's storages, pools, schedules, job defaults, clients, file sets and jobs; each waits for
    the resources it names (Bacula's configuration test refuses a name that does not exist yet), and a
    deletion removes the job before the client it names."""

    def __init__(self, name: str, *, inv, settings: BaculaSettings, opts=None):
        super().__init__(f"{PKG}:BackupDirector", name, {"confDir": settings.conf_d}, opts)
        fd_pw, sd_pw = passwords()
        access = DirectorAccess(settings.conf_d, settings.director_conf, settings.bconsole_conf)
        self.resources: dict[tuple[str, str], pulumi.Resource] = {}
        for f in declared_fragments(inv, settings, fd_pw, sd_pw):
            after = [self.resources[r] for r in f.refs if r in self.resources]
            self.resources[(f.kind, f.name)] = TYPES[f.kind](
                f.name, access=access, directives=f.directives, comment=f.comment,
                opts=ResourceOptions(parent=self, depends_on=after))
        self.register_outputs({})
