"""The plan checks as CrossGuard validations, so `pulumi preview --policy-pack infra/policy` enforces
them on operator machines against the real engine's view of each resource.

`infra/policy/__main__.py` wraps `validate()` in a pulumi_policy ResourceValidationPolicy; this module
has no pulumi_policy import so the validations are unit-tested without it (tests/cloud/test_crossguard.py).
Only the checks that read one resource as the engine sends it are here: the IDs a real preview holds
are UUIDs or unknown, so checks that follow references between resources stay in `dcops plan`.
"""
from __future__ import annotations

from functools import lru_cache

from . import checks


@lru_cache(maxsize=1)
def _site():
    """The inventory and cloud policy the security-group checks measure rules against (the repository's)."""
    from ..model import load_inventory
    from .policy import DEFAULT_POLICY, load_policy

    inv = load_inventory()
    return inv, load_policy(inv, DEFAULT_POLICY)


def _urn_parts(urn: str | None) -> tuple[str, str] | None:
    """'urn:pulumi:prod::dcops-cloud::dcops:cloud:Server::web-01' -> ('dcops:cloud:Server', 'web-01')."""
    if not urn:
        return None
    head, name = urn.rsplit("::", 1)
    return head.rsplit("::", 1)[-1].rsplit("$", 1)[-1], name


def as_plan_resource(args) -> dict:
    """A pulumi_policy ResourceValidationArgs (or PolicyResource) as a plan resource."""
    opts = args.opts
    parent = _urn_parts(getattr(opts, "parent", None))
    options = {}
    if getattr(opts, "delete_before_replace", None):
        options["deleteBeforeReplace"] = True
    if getattr(opts, "ignore_changes", None):
        options["ignoreChanges"] = sorted(opts.ignore_changes)
    if getattr(opts, "aliases", None):
        options["aliases"] = sorted(opts.aliases)
    provider = getattr(args, "provider", None)
    return {"type": args.resource_type, "name": args.name, "kind": args.resource_type,
            "parent": f"{parent[0]}::{parent[1]}" if parent else None,
            "provider": provider.name if provider is not None else None,
            "protect": bool(getattr(opts, "protect", False)), "options": options,
            "inputs": dict(args.props or {})}


#: policy name -> (description, check over a one-resource plan)
POLICIES = {
    "fixed-ip-ports-by-admin": (
        "VM ports pin their address with the admin provider, in the VM's project (Neutron create_port:"
        "fixed_ips:ip_address; Nova PortNotUsable)",
        lambda plan: checks.check_port_ownership(plan)),
    "replacement-safety": (
        "delete_before_replace on resources holding unique things; boot volumes ignore image changes; "
        "data volumes resize online",
        lambda plan: checks.check_replacement_safety(plan, retain_visible=False)),
    "no-internet-admin-or-db": (
        "no ingress rule opens SSH, RDP, WinRM, SNMP, Telnet or a database port to non-private space "
        "(infra/cloud_policy.yaml forbidden_from_internet)",
        lambda plan: checks.check_internet_exposure(plan, _site()[1])),
    "management-only-from-mgmt": (
        "management ports are reachable only from the management zone",
        lambda plan: checks.check_management_sources(plan, *_site())),
    "floating-ips-published-directly": (
        "a floating IP (on a VM's port or a load balancer's VIP) only for a public system declared "
        "`publish: direct` with a reason: any other is a path around the WAF",
        lambda plan: checks.check_floating_ip_publication(plan, _site()[0])),
    "vm-ports-have-security-groups": (
        "every VM port has a security group and port security",
        lambda plan: checks.check_ports_have_security_groups(plan)),
}


def validate(policy: str, args) -> list[str]:
    """Violation messages of one policy for one resource."""
    _, check = POLICIES[policy]
    return [f"{f.subject}: {f.message}" for f in check({"resources": [as_plan_resource(args)]})]
