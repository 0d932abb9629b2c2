"""The Pulumi program: inventory + cloud policy + stack config -> OpenStack resources.

`infra/__main__.py` calls `main()` under `pulumi up`/`pulumi preview`; `dcops plan` calls it
under the mock runtime. Nothing here knows which of the two is running.
"""
from __future__ import annotations

import os

import pulumi
from pulumi import Output

from ..model import load_inventory
from ..model.schema import Inventory
from .backup import BackupDirector
from .components import ops  # noqa: F401  (pulumi_openstack, imported quietly there)
from .components import Catalog, HostAggregates, PublicEdge, PublicService, Server, StorageTiers, Tenant, ZoneNetwork
from .desired import Desired, desired
from .policy import CloudPolicy, load_policy
from .settings import ADMIN_PROVIDER, NAMESPACE, StackSettings

#: `openstack:*` stack config passed to the explicit providers (env OS_* fill in what is unset).
PROVIDER_KEYS = {
    "cloud": "cloud", "authUrl": "auth_url", "region": "region", "userName": "user_name",
    "userDomainName": "user_domain_name", "projectDomainName": "project_domain_name",
    "domainName": "domain_name", "insecure": "insecure", "cacertFile": "cacert_file",
    "endpointType": "endpoint_type", "tenantName": "tenant_name",
}
SECRET_PROVIDER_KEYS = {"password": "password"}
#: the admin scope; tenant providers replace it with the tenant's project
ADMIN_SCOPE = {"tenant_name"}
PUBLIC_KEY_ENV = "DCOPS_OPS_SSH_PUBLIC_KEY"


class ProgramError(RuntimeError):
    pass


def provider_args() -> dict:
    cfg = pulumi.Config("openstack")
    args = {}
    for key, arg in PROVIDER_KEYS.items():
        value = cfg.get(key)
        if value is not None:
            args[arg] = value.lower() == "true" if arg == "insecure" else value
    for key, arg in SECRET_PROVIDER_KEYS.items():
        value = cfg.get_secret(key)
        if value is not None:
            args[arg] = value
    return args


def ops_public_key() -> Output[str]:
    """The ops key pair's public key: a stack secret, or the environment; never a file in git."""
    key = pulumi.Config(NAMESPACE).get_secret("opsPublicKey")
    if key is not None:
        return key
    env = os.environ.get(PUBLIC_KEY_ENV)
    if env:
        return Output.secret(env)
    raise ProgramError(f"no ops public key: run `pulumi config set --secret {NAMESPACE}:opsPublicKey "
                       f"\"$(cat ops.pub)\"` or export {PUBLIC_KEY_ENV}")


def build(inv: Inventory, policy: CloudPolicy, st: StackSettings) -> Desired:
    d = desired(inv, policy, st)
    pargs = provider_args()
    admin = ops.Provider(ADMIN_PROVIDER, **pargs)
    tenant_pargs = {k: v for k, v in pargs.items() if k not in ADMIN_SCOPE}
    invoke = pulumi.InvokeOutputOptions(provider=admin)
    user_id = ops.identity.get_user_output(name=st.deployer_user, opts=invoke).id
    role_id = ops.identity.get_role_output(name=st.deployer_role, opts=invoke).id

    catalog = Catalog("catalog", flavors=d.flavors, images=d.images, image_ids=st.image_ids,
                      keypair_name=st.keypair_name, public_key=ops_public_key(), provider=admin)
    StorageTiers("storage", tiers=d.volume_types, consumer=policy.storage.qos_consumer, provider=admin)
    if d.aggregates:
        HostAggregates("placement", aggregates=d.aggregates, provider=admin)

    groups_by_tenant = {t.name: tuple(g for g in d.server_groups if g.tenant == t.name) for t in d.tenants}
    tenants = {t.name: Tenant(t.name, spec=t, domain_id=st.domain_id, user_id=user_id, role_id=role_id,
                              provider_args=tenant_pargs, server_groups=groups_by_tenant[t.name], provider=admin)
               for t in d.tenants}
    projects = {name: t.project.id for name, t in tenants.items()}  # RBAC targets need IDs

    zones = {}
    for z in d.zones:
        sgs = tuple(sg for sg in d.security_groups if sg.zone == z)
        zones[z] = ZoneNetwork(
            z, zone=inv.zone(z), physical_network=policy.networks.physical_network, mtu=policy.networks.mtu,
            dns=[str(a) for a in inv.site.dns_servers], security_groups=sgs,
            sg_tenants={sg.name: tuple(t.name for t in d.tenants if sg.name in t.security_groups) for sg in sgs},
            net_tenants=tuple(t.name for t in d.tenants if z in t.zones), projects=projects, provider=admin)

    pool = None
    if d.router:
        ext = inv.zone(policy.networks.external.zone)
        if st.scope == "dr" and st.dr_public:  # the DR site's own public segment
            ext = ext.model_copy(update={"subnet": st.dr_public["cidr"], "gateway": st.dr_public.get("gateway")})
        itfs = [(i.zone, zones[i.zone].network.id, zones[i.zone].subnet.id, str(i.ip))
                for i in policy.networks.router.interfaces if i.zone in zones]
        gw = (st.dr_public.get("gateway") if st.scope == "dr" and st.dr_public else None) \
            or policy.networks.external.gateway or ext.gateway
        PublicEdge("edge", zone=ext, physical_network=policy.networks.external.physical_network,
                   router_name=policy.networks.router.name, interfaces=itfs, provider=admin,
                   gateway=str(gw) if gw else None)
        pool = ext.name

    for spec in d.vms:
        vm = spec.vm
        zone, tenant = zones[vm.zone], tenants[vm.tenant]
        Server(vm.name, spec=spec, inv=inv, network_id=zone.network.id, subnet_id=zone.subnet.id,
               security_group_ids=[zone.security_groups[n] for n in spec.security_groups],
               image_id=catalog.image_ids[vm.image], keypair_name=st.keypair_name,
               server_group_id=tenant.server_groups.get(spec.server_group) if spec.server_group else None,
               floating_pool=pool, tenant_provider=tenant.provider, admin_provider=admin,
               project_id=tenant.project.id,
               port_after=[tenant.network_quota, *zone.shared_with.get(vm.tenant, ())],
               volumes_after=[tenant.volume_quota],
               instance_after=[catalog.flavors[vm.flavor], catalog.keypair, tenant.compute_quota])
    for lb in d.load_balancers:
        PublicService(lb.name, spec=lb, subnet_id=zones[lb.zone].subnet.id, floating_pool=pool,
                      tenant_provider=tenants[lb.tenant].provider,
                      after=[tenants[lb.tenant].network_quota, *zones[lb.zone].shared_with.get(lb.tenant, ())])

    if st.bacula is not None:  # the backup system: the director's resources from the inventory's policies
        BackupDirector("backup", inv=inv, settings=st.bacula)

    pulumi.export("scope", d.scope)
    pulumi.export("systems", list(d.systems))
    pulumi.export("instances", len(d.vms))
    return d


def main() -> Desired:
    st = StackSettings.from_config(pulumi.Config(NAMESPACE))
    inv = load_inventory(st.inventory)
    return build(inv, load_policy(inv, st.policy), st)
