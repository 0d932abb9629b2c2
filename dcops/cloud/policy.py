"""The cloud policy data the inventory model does not carry (infra/cloud_policy.yaml).

Validated against the inventory on load, so a typo in a zone or aggregate name is an
error with its meaning, not a silently missing security group.
"""
from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML

from .. import paths
from ..model.schema import Inventory

DEFAULT_POLICY = paths.CLOUD_POLICY
INTERNET = "internet"


class PolicyInvalid(ValueError):
    """The cloud policy file is unreadable or does not fit the inventory."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_ports(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    lo, _, hi = str(text).partition("-")
    a, b = int(lo), int(hi or lo)
    if not (1 <= a <= b <= 65535):
        raise ValueError(f"bad port range {text!r}")
    return a, b


class Rule(_Strict):
    protocol: Literal["tcp", "udp", "icmp"] = "tcp"
    ports: str | None = None
    service: str
    sources: tuple[str, ...] = Field(default=(), alias="from")

    @field_validator("ports", mode="before")
    @classmethod
    def _ports(cls, v):
        if v is not None:
            parse_ports(v)
            return str(v)
        return v

    @property
    def port_range(self) -> tuple[int, int] | None:
        return parse_ports(self.ports)


class SystemRule(Rule):
    zone: str


class Forbidden(_Strict):
    ports: str
    service: str
    protocol: Literal["tcp", "udp"] = "tcp"

    @property
    def port_range(self) -> tuple[int, int]:
        return parse_ports(self.ports)


class Management(_Strict):
    sources: tuple[str, ...] = Field(alias="from")
    rules: tuple[Rule, ...]


class RouterInterface(_Strict):
    zone: str
    ip: ipaddress.IPv4Address


class Router(_Strict):
    name: str
    interfaces: tuple[RouterInterface, ...]


class External(_Strict):
    zone: str
    physical_network: str
    #: next hop for the router's external side when the inventory's zone has no gateway
    gateway: ipaddress.IPv4Address | None = None


class Networks(_Strict):
    physical_network: str
    mtu: Annotated[int, Field(ge=576, le=9216)] = 1500
    external: External
    router: Router


class Placement(_Strict):
    default_aggregate: str
    zones: dict[str, str] = {}
    flavors: dict[str, str] = {}
    implicit_group_min_level: Annotated[int, Field(ge=1, le=6)] = 3


class StoragePolicy(_Strict):
    backend_name: str = "{san}-{pool}"
    qos_consumer: Literal["front-end", "back-end", "both"] = "front-end"


class Listener(_Strict):
    protocol: Literal["TCP", "HTTP", "HTTPS", "UDP"]
    port: Annotated[int, Field(ge=1, le=65535)]


class Health(_Strict):
    type: Literal["TCP", "HTTP", "HTTPS", "PING"] = "TCP"
    delay: Annotated[int, Field(ge=1)] = 5
    timeout: Annotated[int, Field(ge=1)] = 3
    max_retries: Annotated[int, Field(ge=1, le=10)] = 3


class LoadBalancer(_Strict):
    name: str
    ha_group: str
    vip: ipaddress.IPv4Address
    listeners: tuple[Listener, ...] = Field(min_length=1)
    health: Health = Health()


class CloudPolicy(_Strict):
    forbidden_from_internet: tuple[Forbidden, ...]
    management: Management
    zones: dict[str, tuple[Rule, ...]]
    systems: dict[str, tuple[SystemRule, ...]] = {}
    networks: Networks
    placement: Placement
    storage: StoragePolicy = StoragePolicy()
    load_balancers: tuple[LoadBalancer, ...] = ()

    def source_prefix(self, inv: Inventory, source: str) -> str:
        """The CIDR a rule source stands for."""
        if source == INTERNET:
            return "0.0.0.0/0"
        return str(inv.zone(source).subnet)


def load_policy(inv: Inventory, path: Path | str | None = None) -> CloudPolicy:
    path = Path(path) if path else DEFAULT_POLICY
    try:
        raw = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        policy = CloudPolicy.model_validate(raw)
    except (OSError, ValidationError, ValueError) as e:
        raise PolicyInvalid(f"{path}: {e}") from e
    problems = cross_check(inv, policy)
    if problems:
        raise PolicyInvalid(f"{path}: " + "; ".join(problems))
    return policy


def cross_check(inv: Inventory, policy: CloudPolicy) -> list[str]:
    """Every name the policy uses must exist in the inventory."""
    zones = {z.name: z for z in inv.zones}
    aggregates = {a.name for a in inv.aggregates}
    groups = {g.name for g in inv.ha_groups}
    systems = {s.name for s in inv.systems}
    problems: list[str] = []

    def source_ok(where: str, src: str) -> None:
        if src != INTERNET and src not in zones:
            problems.append(f"{where}: unknown source zone {src!r}")

    for src in policy.management.sources:
        source_ok("management", src)
    for zone, rules in policy.zones.items():
        if zone not in zones or zones[zone].external:
            problems.append(f"zones.{zone}: not a cloud zone of the inventory")
        for r in rules:
            for s in r.sources:
                source_ok(f"zones.{zone}.{r.service}", s)
            if not r.sources:
                problems.append(f"zones.{zone}.{r.service}: rule without sources")
    for system, rules in policy.systems.items():
        if system not in systems:
            problems.append(f"systems.{system}: unknown information system")
        for r in rules:
            if r.zone not in zones:
                problems.append(f"systems.{system}.{r.service}: unknown zone {r.zone!r}")
            for s in r.sources:
                source_ok(f"systems.{system}.{r.service}", s)
    ext = policy.networks.external.zone
    if ext not in zones or not zones[ext].external:
        problems.append(f"networks.external.zone: {ext!r} is not an external zone of the inventory")
    elif policy.networks.external.gateway and policy.networks.external.gateway not in zones[ext].subnet:
        problems.append(f"networks.external.gateway: {policy.networks.external.gateway} is outside {ext}")
    for itf in policy.networks.router.interfaces:
        z = zones.get(itf.zone)
        if z is None or z.external:
            problems.append(f"networks.router: {itf.zone!r} is not a cloud zone")
        elif itf.ip not in z.subnet:
            problems.append(f"networks.router: {itf.ip} is outside {z.name} {z.subnet}")
    pl = policy.placement
    for agg in (pl.default_aggregate, *pl.zones.values(), *pl.flavors.values()):
        if agg not in aggregates:
            problems.append(f"placement: unknown aggregate {agg!r}")
    for z in pl.zones:
        if z not in zones:
            problems.append(f"placement.zones: unknown zone {z!r}")
    vm_ips = {vm.ip for vm in inv.vms}
    for lb in policy.load_balancers:
        if lb.ha_group not in groups:
            problems.append(f"load_balancers.{lb.name}: unknown HA group {lb.ha_group!r}")
            continue
        members = [vm for vm in inv.vms if vm.ha_group == lb.ha_group]
        if members:
            zone = zones[members[0].zone]
            if lb.vip not in zone.subnet:
                problems.append(f"load_balancers.{lb.name}: VIP {lb.vip} outside {zone.name} {zone.subnet}")
        if lb.vip in vm_ips:
            problems.append(f"load_balancers.{lb.name}: VIP {lb.vip} is a VM's address")
    return problems
