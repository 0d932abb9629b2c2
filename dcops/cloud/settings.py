"""Stack settings: everything that differs between the prod and DR stacks, read from Pulumi config.

The program has one code path; `Pulumi.prod.yaml` and `Pulumi.dr.yaml` choose the scope
(whole site or the DR selection), placement mapping and public access.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .. import PROJECT_ROOT, paths

NAMESPACE = "dcops"
#: the logical name of the cloud-admin provider (the others are tenant-<name>, scoped to a project)
ADMIN_PROVIDER = "admin"


class SettingsInvalid(ValueError):
    pass


@dataclass(frozen=True)
class DrSelection:
    """Which systems the DR stack declares.

    A system is declared when its security level is at least `min_security_level` and
    `match` holds over its two DR signals: the owner's `dr_required` flag and at least
    one of its VMs on a backup policy with `replicate_to_dr` (data that exists at DR).
    `both` (the default) needs the two, `either` one of them. `include`/`exclude` name
    systems explicitly (drills, temporary waivers) and win over the rule.
    """

    min_security_level: int = 3
    match: Literal["both", "either"] = "both"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def from_obj(cls, obj: dict | None) -> "DrSelection":
        obj = dict(obj or {})
        unknown = set(obj) - {"min_security_level", "match", "include", "exclude"}
        if unknown:
            raise SettingsInvalid(f"dcops:dr: unknown keys {sorted(unknown)}")
        match = obj.get("match", "both")
        if match not in ("both", "either"):
            raise SettingsInvalid(f"dcops:dr.match must be 'both' or 'either', not {match!r}")
        level = int(obj.get("min_security_level", 3))
        if not 1 <= level <= 5:
            raise SettingsInvalid("dcops:dr.min_security_level must be 1..5")
        return cls(level, match, tuple(obj.get("include", ())), tuple(obj.get("exclude", ())))


@dataclass(frozen=True)
class BaculaSettings:
    """`dcops:bacula`: the director the stack declares its backup resources to. Absent = no backup
    resources (a stack without a director, e.g. DR, whose library the main site's storage daemon serves).
    Passwords are stack secrets dcops:baculaFdPassword and dcops:baculaSdPassword, never here."""

    sd_address: str
    #: the director's name (its core configuration declares its own client and catalogue file set)
    director: str = "kg-bak-dir"
    conf_d: str = "/etc/bacula/conf.d"
    director_conf: str = "/etc/bacula/bacula-dir.conf"
    bconsole_conf: str = "/etc/bacula/bconsole.conf"
    workdir: str = "/var/lib/bacula"
    sd_port: int = 9103
    fd_port: int = 9102

    KEYS = {"sdAddress": "sd_address", "director": "director", "confDir": "conf_d", "directorConf": "director_conf",
            "bconsoleConf": "bconsole_conf", "workdir": "workdir", "sdPort": "sd_port", "fdPort": "fd_port"}
    SECRETS = ("baculaFdPassword", "baculaSdPassword")

    @classmethod
    def from_obj(cls, obj: dict | None) -> "BaculaSettings | None":
        if not obj:
            return None
        unknown = set(obj) - set(cls.KEYS)
        if unknown:
            raise SettingsInvalid(f"dcops:bacula: unknown keys {sorted(unknown)} (known: {sorted(cls.KEYS)})")
        if not obj.get("sdAddress"):
            raise SettingsInvalid("dcops:bacula.sdAddress is required: the storage daemon's address as the "
                                  "director reaches it")
        args = {cls.KEYS[k]: v for k, v in obj.items()}
        for k in ("conf_d", "director_conf", "bconsole_conf", "workdir"):
            if k in args and not str(args[k]).startswith("/"):
                raise SettingsInvalid(f"dcops:bacula: {k} must be an absolute path on the director's host, "
                                      f"not {args[k]!r}")
        for k in ("sd_port", "fd_port"):
            if k in args and not (isinstance(args[k], int) and 0 < args[k] < 65536):
                raise SettingsInvalid(f"dcops:bacula: {k} must be a port number, not {args[k]!r}")
        return cls(**args)


@dataclass(frozen=True)
class StackSettings:
    scope: Literal["site", "dr"] = "site"
    inventory: Path = paths.INVENTORY
    policy: Path = paths.CLOUD_POLICY
    #: quotas = demand x headroom (SAN quotas capped so their sum stays within the pools)
    quota_headroom: float = 1.25
    #: declare host aggregates from the inventory's hypervisors (prod); the DR site's hosts are not inventoried
    manage_aggregates: bool = True
    #: floating IPs, the public router and load-balancer floating IPs
    public_access: bool = True
    #: availability-zone renaming (e.g. prod AZ -> DR AZ)
    az_map: dict[str, str] = field(default_factory=dict)
    deployer_user: str = "dcops-deployer"
    deployer_role: str = "member"
    keypair_name: str = "dcops-ops"
    domain_id: str = "default"
    #: image name -> Glance ID; images not listed are looked up by name
    image_ids: dict[str, str] = field(default_factory=dict)
    dr: DrSelection = DrSelection()
    #: DR stack only: standby (instances shut off, no public exposure: restore targets, capacity held) or
    #: active (instances running, public DMZ services and LB VIPs get floating IPs from drPublic)
    dr_mode: Literal["standby", "active"] = "standby"
    #: DR stack only: the DR site's public segment {cidr, gateway} (the inventory's public zone is prod's)
    dr_public: dict = field(default_factory=dict)
    #: the Bacula director whose resources this stack declares (None: none)
    bacula: BaculaSettings | None = None

    @property
    def publishes(self) -> bool:
        """Floating IPs for public DMZ services: prod by publicAccess, DR only when switched to active."""
        return self.public_access or (self.scope == "dr" and self.dr_mode == "active")

    @classmethod
    def from_config(cls, cfg) -> "StackSettings":
        """From a `pulumi.Config("dcops")` (or anything with get/get_bool/get_float/get_object)."""
        scope = cfg.get("scope") or "site"
        if scope not in ("site", "dr"):
            raise SettingsInvalid(f"dcops:scope must be 'site' or 'dr', not {scope!r}")
        headroom = cfg.get_float("quotaHeadroom")
        headroom = 1.25 if headroom is None else headroom
        if not 1.0 <= headroom <= 5.0:
            raise SettingsInvalid("dcops:quotaHeadroom must be between 1.0 and 5.0")
        bool_or = lambda key, default: default if cfg.get_bool(key) is None else cfg.get_bool(key)  # noqa: E731
        return cls(
            scope=scope,
            inventory=_path(cfg.get("inventory"), paths.INVENTORY),
            policy=_path(cfg.get("policy"), paths.CLOUD_POLICY),
            quota_headroom=headroom,
            manage_aggregates=bool_or("manageAggregates", scope == "site"),
            public_access=bool_or("publicAccess", True),
            az_map=dict(cfg.get_object("azMap") or {}),
            deployer_user=cfg.get("deployerUser") or "dcops-deployer",
            deployer_role=cfg.get("deployerRole") or "member",
            keypair_name=cfg.get("keypairName") or "dcops-ops",
            domain_id=cfg.get("domainId") or "default",
            image_ids=dict(cfg.get_object("imageIds") or {}),
            dr=DrSelection.from_obj(cfg.get_object("dr")),
            dr_mode=_dr_mode(scope, cfg.get("drMode")),
            dr_public=_dr_public(scope, cfg.get("drMode"), cfg.get_object("drPublic")),
            bacula=BaculaSettings.from_obj(cfg.get_object("bacula")),
        )


def _dr_mode(scope: str, mode: str | None) -> str:
    mode = mode or "standby"
    if mode not in ("standby", "active"):
        raise SettingsInvalid(f"dcops:drMode must be 'standby' or 'active', not {mode!r}")
    if scope != "dr" and mode != "standby":
        raise SettingsInvalid("dcops:drMode is for the DR stack (scope dr)")
    return mode


def _dr_public(scope: str, mode: str | None, obj: dict | None) -> dict:
    obj = dict(obj or {})
    if set(obj) - {"cidr", "gateway"}:
        raise SettingsInvalid(f"dcops:drPublic: unknown keys {sorted(set(obj) - {'cidr', 'gateway'})}")
    if scope == "dr" and mode == "active" and not obj.get("cidr"):
        raise SettingsInvalid("dcops:drMode active needs dcops:drPublic {cidr, gateway}: the DR site's public "
                              "segment (the inventory's public zone is the production site's)")
    return obj


def _path(value: str | None, default: Path) -> Path:
    if not value:
        return default
    p = Path(value)
    if p.is_absolute():
        return p
    if p.parts[0] in paths.ENV:  # `inventory/…` is the data folder, wherever $DCOPS_INVENTORY moved it
        return paths.folder(p.parts[0]).joinpath(*p.parts[1:])
    return PROJECT_ROOT / p
