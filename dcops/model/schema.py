"""Typed, immutable schema of the data-centre inventory.

Every consumer (cloud, network, monitoring, drills, compliance) reads these
classes and nothing else. Field names are the YAML keys; unknown keys are
rejected so a typo never silently drops a setting.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import re
from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Name = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
DisplayName = Annotated[str, Field(min_length=1, max_length=200)]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Ratio = Annotated[float, Field(gt=0, le=100)]
VlanId = Annotated[int, Field(ge=1, le=4094)]
SecurityLevel = Annotated[int, Field(ge=1, le=5)]

# A secret is always a reference, never a value: env:VAR, vault:path#key or pulumi:key.
SECRET_REF = re.compile(r"^(env:[A-Z_][A-Z0-9_]*|vault:[A-Za-z0-9_./-]+#[A-Za-z0-9_.-]+|pulumi:[A-Za-z0-9_.:-]+)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _secret_ref(v: str | None) -> str | None:
    if v is not None and not SECRET_REF.match(v):
        raise ValueError(
            "must be a secret reference (env:VAR, vault:path#key or pulumi:key), never the secret itself"
        )
    return v


# ---------------------------------------------------------------- site

EMAIL = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+$")


class SiteNotify(Strict):
    """Who this site's alerts go to on the scale-out stack's Alertmanager, when not monitors/alerts.yaml's
    `notify:` recipients. A field given replaces that channel's recipients for this site (and turns the channel on
    here; `[]` turns it off here); a field left out keeps alerts.yaml's. The transport — SMTP relay, sender, the
    bot token's reference, the Telegram API base — stays alerts.yaml's: nothing secret is written here."""
    email_to: tuple[str, ...] | None = None
    telegram_chat_ids: tuple[str, ...] | None = None
    webhook_url: str | None = None

    @field_validator("email_to")
    @classmethod
    def _emails(cls, v):
        bad = [a for a in v or () if not EMAIL.match(a)]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(bad)}")
        return v

    @field_validator("telegram_chat_ids", mode="before")
    @classmethod
    def _chats(cls, v):
        # Telegram chat ids are integers (groups negative); Alertmanager 0.25 takes them as integers
        bad = [str(c) for c in v or () if not re.fullmatch(r"-?[0-9]{1,20}", str(c))]
        if bad:
            raise ValueError(f"a Telegram chat id is an integer (a group's is negative): {', '.join(bad)}")
        return tuple(str(c) for c in v) if v is not None else v

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, v):
        if v is None:
            return v
        from urllib.parse import urlsplit
        u = urlsplit(v)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("must be an http:// or https:// URL")
        if u.username is not None or u.password is not None:
            raise ValueError("must not carry credentials (user:password@): a secret is never written "
                             "in the inventory")
        return v


class Overcommit(Strict):
    cpu: Ratio = 4.0
    ram: Ratio = 1.0


class Capacity(Strict):
    overcommit: Overcommit = Overcommit()
    reserved_host_ram_gb: Annotated[int, Field(ge=0)] = 16
    reserved_host_cores: Annotated[int, Field(ge=0)] = 2
    #: SAN thin provisioning: allocated may exceed usable by this factor.
    san_thin_provisioning_ratio: Annotated[float, Field(ge=1, le=10)] = 1.0
    #: Share of an allocated volume that holds data (sizes backup sets).
    data_fill_ratio: Annotated[float, Field(gt=0, le=1)] = 0.6


class Site(Strict):
    code: Name
    name: DisplayName
    province: DisplayName
    address: DisplayName | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    ntp_servers: tuple[str, ...] = ()
    syslog_servers: tuple[str, ...] = ()
    dns_servers: tuple[str, ...] = ()
    capacity: Capacity = Capacity()
    #: "dr": the DR site's inventory (its own folder, e.g. inventory-dr/): the monitored rooms' devices only —
    #: its cloud is the DR stack of the production inventory (Pulumi.dr.yaml), so no hosts, VMs or storage here.
    role: Literal["production", "dr"] = "production"
    #: the production site a DR site stands in for (its site.code); required with role "dr"
    primary: Name | None = None
    #: this site's alert recipients on the scale-out Alertmanager (default: monitors/alerts.yaml `notify:`)
    notify: SiteNotify | None = None


# ---------------------------------------------------------------- compute

class HostRole(str, Enum):
    compute = "compute"
    control = "control"
    storage = "storage"
    backup = "backup"


class Nic(Strict):
    name: Name
    speed_gbps: PositiveInt
    network: Name  # zone name or "san"/"bmc" fabric


class Aggregate(Strict):
    name: Name
    availability_zone: Name
    description: DisplayName | None = None


class Host(Strict):
    name: Name
    role: HostRole
    model: DisplayName
    cpu_cores: PositiveInt
    ram_gb: PositiveInt
    local_disk_gb: Annotated[int, Field(ge=0)] = 0
    nics: tuple[Nic, ...] = Field(min_length=1)
    rack: Name
    u: Annotated[int, Field(ge=1, le=48)]
    mgmt_ip: ipaddress.IPv4Address
    bmc_ip: ipaddress.IPv4Address
    aggregate: Name | None = None
    drill_enabled: bool = False

    @model_validator(mode="after")
    def _compute_has_aggregate(self) -> "Host":
        if self.role is HostRole.compute and self.aggregate is None:
            raise ValueError("compute hosts must name their aggregate")
        return self


class Flavor(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")]
    vcpus: PositiveInt
    ram_gb: PositiveInt
    disk_gb: PositiveInt


class Image(Strict):
    name: Name
    os: DisplayName
    min_disk_gb: PositiveInt


# ---------------------------------------------------------------- organisation

class Tenant(Strict):
    name: Name
    display_name: DisplayName
    kind: Literal["department", "shared", "district"] = "department"
    contact_email: str | None = None


class Protection(Strict):
    """The four protection layers of Decree 85/2016 / Directive 14."""

    owner_self_protection: bool = False
    soc_monitoring: bool = False
    last_independent_assessment: dt.date | None = None
    national_monitoring_connected: bool = False
    last_incident_response_drill: dt.date | None = None


class InformationSystem(Strict):
    name: Name
    display_name: DisplayName
    owner: Name  # tenant
    security_level: SecurityLevel
    description: DisplayName | None = None
    public: bool = False
    #: how a public system reaches the internet: "waf" (the default: the WAF pair publishes its DMZ VMs,
    #: which then have no floating IP of their own) or "direct" (deliberately not behind the WAF, e.g. a
    #: non-HTTP service: its DMZ VMs may have floating IPs) — "direct" needs a publish_reason
    publish: Literal["waf", "direct"] = "waf"
    publish_reason: DisplayName | None = None
    dr_required: bool = False
    facts: dict[str, int | str] = {}
    protection: Protection = Protection()


class HaGroup(Strict):
    name: Name
    system: Name
    policy: Literal["anti-affinity", "soft-anti-affinity", "affinity"] = "anti-affinity"


# ---------------------------------------------------------------- storage

class SanPool(Strict):
    name: Name
    tier: Literal["ssd", "sas", "nl-sas"]
    capacity_tb: PositiveFloat
    read_iops: PositiveInt
    write_iops: PositiveInt


class San(Strict):
    name: Name
    model: DisplayName
    usable_tb: PositiveFloat
    pools: tuple[SanPool, ...] = Field(min_length=1)


class Tape(Strict):
    name: Name
    model: DisplayName
    capacity_tb: PositiveFloat
    compression_ratio: Annotated[float, Field(ge=1, le=5)] = 1.0
    #: the library as the backup software sees it (Bacula autochanger: drives, slots, media type, barcodes)
    drives: PositiveInt = 1
    slots: PositiveInt = 10
    #: the slots come in this many removable magazines of equal size (magazine 1 = the first slots)
    magazines: PositiveInt = 1
    media_type: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")] = "LTO-8"
    cartridge_tb: PositiveFloat = 12.0  # native capacity of one cartridge (LTO-8: 12 TB)
    barcode_prefix: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,4}$")] = "KG"


class BackupPolicy(Strict):
    name: Name
    target: Literal["tape", "san-snapshot"]
    full_every_days: PositiveInt
    incremental_daily: bool = True
    change_rate: Annotated[float, Field(ge=0, le=1)] = 0.05
    retention_days: PositiveInt
    rpo_hours: PositiveFloat
    rto_hours: PositiveFloat
    replicate_to_dr: bool = False


class Storage(Strict):
    san: San
    tape: Tape
    backup_policies: tuple[BackupPolicy, ...] = Field(min_length=1)


# ---------------------------------------------------------------- network

class ZoneKind(str, Enum):
    internet = "internet"
    edge = "edge"
    dmz = "dmz"
    app = "app"
    db = "db"
    mgmt = "mgmt"
    storage = "storage"
    wan = "wan"  # specialised data network of departments and districts


class Zone(Strict):
    name: Name
    display_name: DisplayName
    kind: ZoneKind
    vlan: VlanId | None = None
    subnet: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address | None = None
    external: bool = False  # not hosted in the cloud (WAN, internet)

    @model_validator(mode="after")
    def _gateway_in_subnet(self) -> "Zone":
        if self.gateway is not None and self.gateway not in self.subnet:
            raise ValueError(f"gateway {self.gateway} is outside subnet {self.subnet}")
        return self


class LeasedLine(Strict):
    name: Name
    provider: DisplayName
    bandwidth_mbps: PositiveInt
    device: Name  # the link balancer
    interface: Name
    address: ipaddress.IPv4Interface
    peer: ipaddress.IPv4Address
    public_prefix: ipaddress.IPv4Network


class ContactRole(Strict):
    """What an input of an environment monitor is wired to (docs/monitoring.md, facility alarms)."""

    #: the input's name on the appliance (memInputsStatusInputName, dryContactSensorLabel, ...)
    input: Annotated[str, Field(min_length=1, max_length=127)]
    role: Literal["fire_discharged", "fire_fault", "spd_failed", "door_open", "door_forced", "water_leak"]
    system: Name | None = None  # the facility system it reports for (e.g. kg-fire-01)
    #: states of the input's reading that mean "alarm" (closed / open for a raw contact, e.g. an SPD's
    #: normally-closed status contact opens when it fails)
    alarm_states: Annotated[list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]], Field(min_length=1)]


class SnmpSettings(Strict):
    profile: Name
    version: Literal["3", "2c"] = "3"
    port: Annotated[int, Field(ge=1, le=65535)] = 161
    user: str | None = "dcops-noc"
    auth_protocol: Literal["SHA", "SHA224", "SHA256", "SHA384", "SHA512", "MD5"] = "SHA256"
    # AES192/AES256: Blumenthal key extension (net-snmp); AES192C/AES256C: Reeder (Cisco). docs/monitoring.md
    priv_protocol: Literal["AES", "AES192", "AES256", "AES192C", "AES256C", "DES"] = "AES"
    auth_key_ref: str | None = "env:DCOPS_SNMP_AUTH_KEY"
    priv_key_ref: str | None = "env:DCOPS_SNMP_PRIV_KEY"
    community_ref: str | None = None
    context: str | None = None
    #: metric -> multiplier for an agent reporting in another unit (decivolts: 0.1); `dcops snmp probe` hints it
    scale: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")], Annotated[float, Field(gt=0)]] = {}
    #: inputs of an environment monitor wired to facility systems (fire panel, SPD, door, leak rope)
    contacts: list[ContactRole] = []

    @field_validator("contacts")
    @classmethod
    def _unique_inputs(cls, v: list[ContactRole]) -> list[ContactRole]:
        seen = [c.input for c in v]
        dup = sorted({x for x in seen if seen.count(x) > 1})
        if dup:
            raise ValueError(f"input {dup[0]!r} mapped twice")
        return v

    _check_refs = field_validator("auth_key_ref", "priv_key_ref", "community_ref")(
        classmethod(lambda cls, v: _secret_ref(v))
    )

    @model_validator(mode="after")
    def _version_credentials(self) -> "SnmpSettings":
        if self.version == "2c" and not self.community_ref:
            raise ValueError("SNMP v2c needs community_ref")
        if self.version == "3" and not (self.user and self.auth_key_ref and self.priv_key_ref):
            raise ValueError("SNMPv3 needs user, auth_key_ref and priv_key_ref (authPriv)")
        return self


class Interface(Strict):
    name: Annotated[str, Field(min_length=1, max_length=63)]
    zone: Name
    address: ipaddress.IPv4Interface
    vlan: VlanId | None = None


class DeviceKind(str, Enum):
    firewall = "firewall"
    waf = "waf"
    ddos = "ddos"
    antispam = "antispam"
    link_balancer = "link_balancer"
    core_switch = "core_switch"
    router = "router"


class NetworkDevice(Strict):
    name: Name
    kind: DeviceKind
    vendor: DisplayName
    model: DisplayName
    #: a folder under network_configs/platforms/; None = inventoried and monitored, not configured by dcops
    platform: Name | None = None
    mgmt_ip: ipaddress.IPv4Address
    rack: Name | None = None
    ha_group: Name | None = None
    ha_priority: Annotated[int, Field(ge=0, le=255)] = 100
    interfaces: tuple[Interface, ...] = ()
    snmp: SnmpSettings | None = None
    admin_user: str = "dcops"
    admin_key_ref: str = "env:DCOPS_NET_SSH_KEY"
    drill_enabled: bool = False
    #: the information system the device is dedicated to; None = shared by every system of the site
    system: Name | None = None

    _check_ref = field_validator("admin_key_ref")(classmethod(lambda cls, v: _secret_ref(v)))


class FacilityKind(str, Enum):
    ups = "ups"
    cooling = "cooling"
    sensor = "sensor"
    fire_suppression = "fire_suppression"
    lightning_protection = "lightning_protection"
    camera = "camera"
    access_control = "access_control"
    pdu = "pdu"


class FacilityDevice(Strict):
    name: Name
    display_name: DisplayName
    kind: FacilityKind
    vendor: DisplayName
    model: DisplayName
    location: DisplayName
    mgmt_ip: ipaddress.IPv4Address | None = None
    snmp: SnmpSettings | None = None
    capacity_kva: PositiveFloat | None = None
    battery_runtime_min: PositiveFloat | None = None
    cooling_kw: PositiveFloat | None = None
    last_inspection: dt.date | None = None
    #: the information system the device is dedicated to; None = shared by every system of the site
    system: Name | None = None

    @model_validator(mode="after")
    def _snmp_needs_address(self) -> "FacilityDevice":
        if self.snmp is not None and self.mgmt_ip is None:
            raise ValueError("a device polled over SNMP needs mgmt_ip")
        return self


# ---------------------------------------------------------------- workloads

class Volume(Strict):
    name: Name
    size_gb: PositiveInt
    pool: Name  # SAN pool


class Vm(Strict):
    name: Name
    tenant: Name
    system: Name
    zone: Name
    flavor: str
    image: Name
    ip: ipaddress.IPv4Address
    boot_volume_gb: PositiveInt | None = None  # defaults to the flavor's disk
    boot_pool: Name = "silver"
    volumes: tuple[Volume, ...] = ()
    backup_policy: Name | None = None
    ha_group: Name | None = None
    public: bool = False  # gets a floating IP (DMZ only; only for systems with publish: direct)
    drill_enabled: bool = False
    #: names this VM had before (oldest first): the cloud program aliases them, so a rename keeps the
    #: VM's port, volumes and server instead of deleting them and creating empty ones
    previous_names: tuple[Name, ...] = ()


# ---------------------------------------------------------------- budget

class BudgetLine(Strict):
    item: DisplayName
    amount_million_vnd: PositiveFloat
    security: bool = False


class Budget(Strict):
    year: Annotated[int, Field(ge=2000, le=2100)]
    #: the document the lines reproduce (number, date, issuer, appendix), cited in the compliance report
    source: DisplayName | None = None
    lines: tuple[BudgetLine, ...] = Field(min_length=1)


class ProjectExemption(Strict):
    """Directive 14/CT-TTg's exception to the per-project 10 %: the owner already has a technical system, or
    rents a dedicated security service, that meets the level-based security rules. Named by its document."""
    basis: Literal["own_security_system", "security_service"]
    evidence: DisplayName  # e.g. "Hợp đồng 12/2021/HĐ-STTTT ngày 02/3/2021 thuê dịch vụ SOC"


class ItProject(Strict):
    """An IT project (dự án CNTT) checked against Directive 14's ≥ 10 % security share of its total cost."""
    name: DisplayName
    owner: DisplayName  # chủ đầu tư
    year: Annotated[int, Field(ge=2000, le=2100)]
    decision: DisplayName | None = None  # approval decision (số, ngày)
    total_million_vnd: PositiveFloat
    security_million_vnd: Annotated[float, Field(ge=0)] = 0.0
    exemption: ProjectExemption | None = None

    @model_validator(mode="after")
    def _security_within_total(self) -> "ItProject":
        if self.security_million_vnd > self.total_million_vnd:
            raise ValueError(f"security_million_vnd {self.security_million_vnd:g} is more than the project's total "
                             f"{self.total_million_vnd:g}")
        return self


# ---------------------------------------------------------------- the whole site

class Inventory(Strict):
    """The data centre: what every consumer reads."""

    site: Site
    aggregates: tuple[Aggregate, ...]
    hosts: tuple[Host, ...]
    flavors: tuple[Flavor, ...]
    images: tuple[Image, ...]
    tenants: tuple[Tenant, ...]
    systems: tuple[InformationSystem, ...]
    ha_groups: tuple[HaGroup, ...] = ()
    #: None only for a DR site's inventory (site.role "dr"), which describes its monitored devices only
    storage: Storage | None
    zones: tuple[Zone, ...]
    leased_lines: tuple[LeasedLine, ...] = ()
    network_devices: tuple[NetworkDevice, ...] = ()
    facility: tuple[FacilityDevice, ...] = ()
    vms: tuple[Vm, ...] = ()
    budgets: tuple[Budget, ...] = ()
    it_projects: tuple[ItProject, ...] = ()

    # -- lookups every consumer needs; cheap enough to recompute.
    def vm(self, name: str) -> Vm:
        return _by_name(self.vms, name, "VM")

    def system(self, name: str) -> InformationSystem:
        return _by_name(self.systems, name, "information system")

    def tenant(self, name: str) -> Tenant:
        return _by_name(self.tenants, name, "tenant")

    def zone(self, name: str) -> Zone:
        return _by_name(self.zones, name, "zone")

    def flavor(self, name: str) -> Flavor:
        return _by_name(self.flavors, name, "flavor")

    def image(self, name: str) -> Image:
        return _by_name(self.images, name, "image")

    def backup_policy(self, name: str) -> BackupPolicy:
        return _by_name(self.storage.backup_policies, name, "backup policy")

    def ha_group(self, name: str) -> HaGroup:
        return _by_name(self.ha_groups, name, "HA group")

    def device(self, name: str) -> NetworkDevice:
        return _by_name(self.network_devices, name, "network device")

    def facility_device(self, name: str) -> FacilityDevice:
        return _by_name(self.facility, name, "facility device")

    def vms_of_system(self, system: str) -> tuple[Vm, ...]:
        return tuple(v for v in self.vms if v.system == system)

    def vm_security_level(self, vm: Vm) -> int:
        return self.system(vm.system).security_level

    def boot_gb(self, vm: Vm) -> int:
        return vm.boot_volume_gb or self.flavor(vm.flavor).disk_gb


def _by_name(items, name: str, what: str):
    for item in items:
        if item.name == name:
            return item
    raise KeyError(f"unknown {what} {name!r}")
