"""What to poll: devices from the inventory (or a simulator targets file), with resolved credentials."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from .snmp.errors import Credentials


class SecretError(ValueError):
    pass


@dataclass(frozen=True)
class Target:
    name: str
    host: str
    port: int
    profile: str
    creds: Credentials
    display_name: str = ""
    kind: str = ""
    #: interface name -> contracted bandwidth (leased lines), for utilisation.
    bandwidth_mbps: dict[str, int] = field(default_factory=dict)
    #: interface name -> leased-line name
    lines: dict[str, str] = field(default_factory=dict)
    #: metric name -> multiplier, for agents that report in another unit (inventory `snmp.scale`)
    scale: dict[str, float] = field(default_factory=dict)
    #: input name -> (role, system, alarm states): facility alarms wired to this monitor's inputs
    contacts: dict[str, tuple[str, str, tuple[str, ...]]] = field(default_factory=dict)


def resolve_secret(ref: str | None) -> str | None:
    if ref is None:
        return None
    if ref.startswith("env:"):
        var = ref[4:]
        val = os.environ.get(var)
        if val is None:
            raise SecretError(f"secret {ref} is not set (export {var})")
        return val
    raise SecretError(f"secret {ref} cannot be resolved by the monitor (only env: references are)")


def credentials_of(t) -> Credentials:
    """Credentials of a simulator target (SimTarget)."""
    return Credentials(version=t.version, community=t.community, user=t.user, auth_key=t.auth_key,
                       priv_key=t.priv_key, auth_protocol=t.auth_protocol, priv_protocol=t.priv_protocol,
                       context=t.context)


def targets_from_inventory(inventory, resolve: bool = True) -> list[Target]:
    lines_by_dev: dict[str, dict[str, tuple[str, int]]] = {}
    for ll in inventory.leased_lines:
        lines_by_dev.setdefault(ll.device, {})[ll.interface] = (ll.name, ll.bandwidth_mbps)
    out = []
    for dev in (*inventory.facility, *inventory.network_devices):
        s = dev.snmp
        if s is None:
            continue
        creds = Credentials(
            version=s.version,
            community=resolve_secret(s.community_ref) if resolve and s.version == "2c" else None,
            user=s.user,
            auth_key=resolve_secret(s.auth_key_ref) if resolve and s.version == "3" else None,
            priv_key=resolve_secret(s.priv_key_ref) if resolve and s.version == "3" else None,
            auth_protocol=s.auth_protocol, priv_protocol=s.priv_protocol, context=s.context)
        ll = lines_by_dev.get(dev.name, {})
        out.append(Target(
            name=dev.name, host=str(dev.mgmt_ip), port=s.port, profile=s.profile, creds=creds,
            display_name=getattr(dev, "display_name", None) or dev.name,
            kind=getattr(dev.kind, "value", str(dev.kind)),
            bandwidth_mbps={i: bw for i, (_n, bw) in ll.items()},
            lines={i: n for i, (n, _bw) in ll.items()}, scale=dict(s.scale),
            contacts={c.input: (c.role, c.system or "", tuple(c.alarm_states)) for c in s.contacts}))
    return out


def apply_sim(targets: list[Target], sim_targets) -> list[Target]:
    """Point every device at its simulated agent; a device without one is dropped (never contacted)."""
    from .targets import credentials_of as _c
    by_name = {t.device: t for t in sim_targets}
    out = []
    for t in targets:
        s = by_name.get(t.name)
        if s is None:
            continue
        out.append(replace(t, host=s.host, port=s.port, creds=_c(s)))
    known = {t.name for t in targets}
    for s in sim_targets:  # simulator-only devices (no inventory): poll them as they are
        if s.device not in known:
            out.append(Target(s.device, s.host, s.port, s.profile, _c(s), s.device, ""))
    return out
