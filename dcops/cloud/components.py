"""One ComponentResource per concept: catalog, storage tiers, host aggregates, zone network,
public edge, tenant, server (a VM with its volumes) and public service (load balancer).

Components only read `.id` (and the LB's VIP port) from the resources they create, so
the same program runs unchanged under `pulumi up` and under the offline mocks.
"""
from __future__ import annotations

import warnings

import pulumi
from pulumi import ComponentResource, Output, ResourceOptions

with warnings.catch_warnings():  # the provider SDK warns about its own deprecated modules on import
    warnings.simplefilter("ignore", DeprecationWarning)
    import pulumi_openstack as ops

from ..model.schema import Inventory, Zone
from .desired import (AggregateSpec, LoadBalancerSpec, SecurityGroupSpec, ServerGroupSpec, TenantSpec,
                      VmSpec, VolumeTypeSpec)

PKG = "dcops:cloud"


def _child(parent: pulumi.Resource, provider: pulumi.ProviderResource | None = None, **kw) -> ResourceOptions:
    return ResourceOptions(parent=parent, provider=provider, **kw)


def _unique(parent: pulumi.Resource, provider: pulumi.ProviderResource | None = None, **kw) -> ResourceOptions:
    """For a resource that holds something unique (an address, a VLAN, an ID, a name OpenStack keeps
    unique): its replacement must delete the old one first (replacement.DELETE_FIRST says why, per type;
    checks.check_replacement_safety holds the plan to it)."""
    return ResourceOptions(parent=parent, provider=provider, delete_before_replace=True, **kw)


def tags(**kv: str) -> list[str]:
    """Neutron/Keystone tags are flat strings: key=value, sorted."""
    return sorted(f"{k}={v}" for k, v in kv.items() if v is not None)


class Catalog(ComponentResource):
    """Flavors, images (looked up by name unless pinned by ID in config) and the ops key pair."""

    def __init__(self, name: str, *, flavors, images: tuple[str, ...], image_ids: dict[str, str],
                 keypair_name: str, public_key: Output[str], provider, opts=None):
        super().__init__(f"{PKG}:Catalog", name, {"flavors": len(flavors), "images": list(images)}, opts)
        self.flavors = {}
        for fname, vcpus, ram_mb, disk, extra in flavors:
            self.flavors[fname] = ops.compute.Flavor(
                f"flavor-{fname}", name=fname, flavor_id=fname, vcpus=vcpus, ram=ram_mb, disk=disk,
                is_public=True, extra_specs=extra or None, opts=_unique(self, provider))
        self.image_ids: dict[str, Output[str]] = {}
        for img in images:
            if img in image_ids:
                self.image_ids[img] = Output.from_input(image_ids[img])
            else:
                found = ops.images.get_image_output(name=img, most_recent=True, visibility="public",
                                                    opts=pulumi.InvokeOutputOptions(parent=self, provider=provider))
                self.image_ids[img] = found.id
        self.keypair = ops.compute.Keypair(f"keypair-{keypair_name}", name=keypair_name, public_key=public_key,
                                           opts=_unique(self, provider))
        self.register_outputs({})


class StorageTiers(ComponentResource):
    """The SAN pools as Cinder volume types with per-volume QoS."""

    def __init__(self, name: str, *, tiers: tuple[VolumeTypeSpec, ...], consumer: str, provider, opts=None):
        super().__init__(f"{PKG}:StorageTiers", name, {"tiers": [t.name for t in tiers]}, opts)
        for t in tiers:
            vt = ops.blockstorage.VolumeTypeV3(
                f"voltype-{t.name}", name=t.name, is_public=True,
                description=f"SAN pool {t.name} ({t.tier}), {t.capacity_gb // 1000} TB",
                extra_specs={"volume_backend_name": t.backend, "dcops:tier": t.tier},
                opts=_unique(self, provider))
            qos = ops.blockstorage.QosV3(
                f"qos-{t.name}", name=f"qos-{t.name}", consumer=consumer,
                specs={"read_iops_sec": str(t.read_iops), "write_iops_sec": str(t.write_iops)},
                opts=_unique(self, provider))
            ops.blockstorage.QosAssociationV3(f"qos-{t.name}-assoc", qos_id=qos.id, volume_type_id=vt.id,
                                              opts=_unique(self, provider))
        self.register_outputs({})


class HostAggregates(ComponentResource):
    """Host aggregates and availability zones naming the inventory's hypervisors."""

    def __init__(self, name: str, *, aggregates: tuple[AggregateSpec, ...], provider, opts=None):
        super().__init__(f"{PKG}:HostAggregates", name, {"aggregates": [a.name for a in aggregates]}, opts)
        for a in aggregates:
            ops.compute.AggregateV2(a.name, name=a.name, zone=a.availability_zone, hosts=list(a.hosts),
                                    metadata=a.metadata, opts=_unique(self, provider))
        self.register_outputs({})


class ZoneNetwork(ComponentResource):
    """A zone's provider VLAN network and subnet, its security groups, shared with the tenants that use them."""

    def __init__(self, name: str, *, zone: Zone, physical_network: str, mtu: int, dns: list[str],
                 security_groups: tuple[SecurityGroupSpec, ...], sg_tenants: dict[str, tuple[str, ...]],
                 net_tenants: tuple[str, ...], projects: dict[str, Output[str]], provider, opts=None):
        super().__init__(f"{PKG}:ZoneNetwork", name, {"zone": zone.name, "vlan": zone.vlan,
                                                     "subnet": str(zone.subnet)}, opts)
        o = _child(self, provider)
        u = _unique(self, provider)
        seg = ops.networking.NetworkSegmentArgs(network_type="vlan", physical_network=physical_network,
                                                segmentation_id=zone.vlan) if zone.vlan else \
            ops.networking.NetworkSegmentArgs(network_type="flat", physical_network=physical_network)
        self.network = ops.networking.Network(
            f"net-{zone.name}", name=f"net-{zone.name}", description=zone.display_name, mtu=mtu,
            segments=[seg], shared=False, port_security_enabled=True,
            tags=tags(zone=zone.name, kind=zone.kind.value, managed_by="dcops"), opts=u)
        self.subnet = ops.networking.Subnet(
            f"subnet-{zone.name}", name=f"subnet-{zone.name}", network_id=self.network.id, cidr=str(zone.subnet),
            ip_version=4, gateway_ip=str(zone.gateway) if zone.gateway else None,
            no_gateway=zone.gateway is None or None,
            # Addresses are fixed by the inventory and injected by config drive; no Neutron DHCP on VLANs
            # that also carry physical devices.
            enable_dhcp=False, dns_nameservers=dns or None,
            tags=tags(zone=zone.name, managed_by="dcops"), opts=u)
        #: per tenant, the RBAC grants its ports must wait for (a port on a network or with a group
        #: the project cannot see yet fails)
        self.shared_with: dict[str, list[pulumi.Resource]] = {t: [] for t in net_tenants}
        for t in net_tenants:
            self.shared_with[t].append(ops.networking.RbacPolicyV2(
                f"rbac-net-{zone.name}-{t}", action="access_as_shared", object_type="network",
                object_id=self.network.id, target_tenant=projects[t], opts=u))
        self.security_groups: dict[str, Output[str]] = {}
        for sg in security_groups:
            group = ops.networking.SecGroup(sg.name, name=sg.name, description=sg.description,
                                            tags=tags(zone=sg.zone, system=sg.system, managed_by="dcops"), opts=o)
            self.security_groups[sg.name] = group.id
            for r in sg.rules:
                ports = "any" if r.port_min is None else (
                    str(r.port_min) if r.port_min == r.port_max else f"{r.port_min}-{r.port_max}")
                ops.networking.SecGroupRule(
                    f"{sg.name}-{r.service}-{r.protocol}-{ports}-from-{r.remote.replace('/', '_')}",
                    security_group_id=group.id, direction="ingress", ethertype="IPv4", protocol=r.protocol,
                    port_range_min=r.port_min, port_range_max=r.port_max, remote_ip_prefix=r.remote,
                    description=r.service, opts=_unique(group, provider))
            for t in sg_tenants.get(sg.name, ()):
                self.shared_with.setdefault(t, []).append(ops.networking.RbacPolicyV2(
                    f"rbac-{sg.name}-{t}", action="access_as_shared", object_type="security_group",
                    object_id=group.id, target_tenant=projects[t], opts=u))
        self.register_outputs({})


class PublicEdge(ComponentResource):
    """The external network (floating-IP pool) and the router that NATs public DMZ services."""

    def __init__(self, name: str, *, zone: Zone, physical_network: str, router_name: str,
                 interfaces: list[tuple[str, Output[str], Output[str], str]], provider, gateway: str | None = None,
                 opts=None):
        super().__init__(f"{PKG}:PublicEdge", name, {"external": zone.name, "router": router_name}, opts)
        o = _child(self, provider)
        u = _unique(self, provider)
        self.network = ops.networking.Network(
            f"net-{zone.name}", name=zone.name, description=zone.display_name, external=True,
            segments=[ops.networking.NetworkSegmentArgs(network_type="flat", physical_network=physical_network)],
            tags=tags(zone=zone.name, kind=zone.kind.value, managed_by="dcops"), opts=u)
        self.subnet = ops.networking.Subnet(
            f"subnet-{zone.name}", name=f"subnet-{zone.name}", network_id=self.network.id, cidr=str(zone.subnet),
            ip_version=4, enable_dhcp=False, no_gateway=gateway is None or None, gateway_ip=gateway, opts=u)
        router = ops.networking.Router(router_name, name=router_name, external_network_id=self.network.id,
                                       description="floating-IP NAT for public DMZ services",
                                       tags=tags(managed_by="dcops"), opts=_child(self, provider, depends_on=[self.subnet]))
        for zname, net_id, subnet_id, ip in interfaces:
            port = ops.networking.Port(f"{router_name}-{zname}", name=f"{router_name}-{zname}", network_id=net_id,
                                       fixed_ips=[ops.networking.PortFixedIpArgs(subnet_id=subnet_id, ip_address=ip)],
                                       opts=u)
            ops.networking.RouterInterface(f"{router_name}-{zname}-itf", router_id=router.id, port_id=port.id, opts=u)
        self.register_outputs({})


class Tenant(ComponentResource):
    """An identity project with the deployer's role, a provider scoped to it, quotas and server groups."""

    def __init__(self, name: str, *, spec: TenantSpec, domain_id: str, user_id: Output[str], role_id: Output[str],
                 provider_args: dict, server_groups: tuple[ServerGroupSpec, ...], provider, opts=None):
        super().__init__(f"{PKG}:Tenant", name, {"tenant": spec.name, "systems": list(spec.systems)}, opts)
        o = _child(self, provider)
        # Data-bearing resources are protected: removing them from the inventory makes `pulumi up`
        # stop until an operator runs `pulumi state unprotect` - deletion is a decision, not a side effect.
        self.project = ops.identity.Project(
            f"project-{spec.name}", name=spec.name, description=spec.display_name, domain_id=domain_id,
            tags=["managed_by=dcops", f"kind={spec.kind}", *(f"system={s}" for s in spec.systems)],
            opts=_child(self, provider, protect=True))
        grant = ops.identity.RoleAssignment(f"role-{spec.name}", user_id=user_id, role_id=role_id,
                                            project_id=self.project.id, opts=o)
        # Nova and Cinder create servers and volumes in the token's project: one provider per tenant,
        # scoped by project name (static, so previews work before the project exists; a clouds.yaml
        # project_name is overridden, where a project ID would conflict with it).
        self.provider = ops.Provider(f"tenant-{spec.name}", tenant_name=spec.name, **provider_args,
                                     opts=ResourceOptions(parent=self, depends_on=[self.project, grant]))
        q = spec.compute_quota
        #: quotas above the defaults must exist before the tenant's first create
        self.compute_quota = ops.compute.QuotaSetV2(f"quota-compute-{spec.name}", project_id=self.project.id, instances=q["instances"],
                               cores=q["cores"], ram=q["ram"], server_groups=q["server_groups"],
                               server_group_members=q["server_group_members"], opts=o)
        v = spec.volume_quota
        self.volume_quota = ops.blockstorage.QuoteSetV3(f"quota-volume-{spec.name}", project_id=self.project.id,
                                    gigabytes=v["gigabytes"], volumes=v["volumes"], snapshots=v["snapshots"],
                                    volume_type_quota={k: str(x) for k, x in spec.volume_type_quota.items()},
                                    opts=o)
        n = spec.network_quota
        self.network_quota = ops.networking.QuotaV2(f"quota-network-{spec.name}", project_id=self.project.id,
                                                    port=n["port"], floatingip=n["floatingip"], opts=o)
        self.server_groups: dict[str, Output[str]] = {}
        for g in server_groups:
            sg = ops.compute.ServerGroup(f"sg-{g.name}", name=g.name, policies=g.policy,
                                         opts=_child(self, self.provider))
            self.server_groups[g.name] = sg.id
        self.register_outputs({})


class Server(ComponentResource):
    """A VM: its port in the zone, boot volume from the image, data volumes and their attachments."""

    def __init__(self, name: str, *, spec: VmSpec, inv: Inventory, network_id, subnet_id, security_group_ids,
                 image_id, keypair_name: str, server_group_id, floating_pool: str | None, tenant_provider,
                 admin_provider, project_id, port_after=(), volumes_after=(), instance_after=(), opts=None):
        vm = spec.vm
        # A renamed VM (inventory previous_names) keeps every resource: each is aliased to its old name.
        olds = vm.previous_names
        aka = lambda suffix="": [pulumi.Alias(name=f"{o}{suffix}") for o in olds] or None  # noqa: E731
        opts = ResourceOptions.merge(opts, ResourceOptions(aliases=aka()))
        super().__init__(f"{PKG}:Server", name, {"tenant": vm.tenant, "system": vm.system, "zone": vm.zone}, opts)
        # *_after: ordering the engine cannot infer from inputs (RBAC grants and quotas before the
        # port, volume quota before volumes, flavor/key pair by name and compute quota before the
        # instance); children do not inherit a component's depends_on, so the child that needs it gets it.
        meta = spec.metadata
        # The port pins the inventory's address on an admin-owned network: Neutron's default policy
        # (create_port:fixed_ips:ip_address = admin, service or the network owner's member) refuses
        # the tenant, so the admin creates it *in the tenant's project* (tenant_id), which is what
        # Nova requires of a port a server boots on (port project == server project).
        port = ops.networking.Port(
            f"{vm.name}-port", name=f"{vm.name}-port", network_id=network_id, tenant_id=project_id,
            fixed_ips=[ops.networking.PortFixedIpArgs(subnet_id=subnet_id, ip_address=str(vm.ip))],
            security_group_ids=security_group_ids, admin_state_up=True,
            tags=tags(system=vm.system, zone=vm.zone, managed_by="dcops"),
            opts=_unique(self, admin_provider, depends_on=list(port_after), aliases=aka("-port")))
        vol_meta = {k: meta[k] for k in ("managed_by", "system", "owner", "security_level", "backup_policy")}
        # DR: which production volume (through which backup policy's replica) restores into this one
        restore = lambda role: ({"restore_from": f"prod:{spec.restore_from[role]}",  # noqa: E731
                                 "restore_via": meta["backup_policy"]} if role in spec.restore_from else {})
        # imageId is what the volume was *made from*: a newer image under the same name (or a bumped
        # dcops:imageIds pin) is for new VMs, never a reason to replace a running VM's disk.
        boot = ops.blockstorage.Volume(
            f"{vm.name}-boot", name=f"{vm.name}-boot", size=spec.boot_gb, volume_type=vm.boot_pool,
            image_id=image_id, metadata={**vol_meta, "vm": vm.name, "role": "boot", **restore("boot")},
            opts=_child(self, tenant_provider, depends_on=list(volumes_after), protect=True,
                        ignore_changes=["imageId"], aliases=aka("-boot")))
        self.instance = ops.compute.Instance(
            vm.name, name=vm.name, flavor_name=vm.flavor, availability_zone=spec.availability_zone,
            key_pair=keypair_name, config_drive=True, power_state=spec.power_state,
            block_devices=[ops.compute.InstanceBlockDeviceArgs(
                uuid=boot.id, source_type="volume", destination_type="volume", boot_index=0,
                delete_on_termination=False)],
            networks=[ops.compute.InstanceNetworkArgs(port=port.id)],
            scheduler_hints=[ops.compute.InstanceSchedulerHintArgs(group=server_group_id)] if server_group_id else None,
            metadata=meta, tags=tags(system=vm.system, level=meta["security_level"], backup=meta["backup_policy"]),
            opts=_unique(self, tenant_provider, depends_on=list(instance_after), aliases=aka()))
        for vol in vm.volumes:
            # enable_online_resize: the volumes are attached, and Cinder extends an in-use volume only
            # when asked to (the provider refuses otherwise). retain_on_delete: data outlives the program.
            data = ops.blockstorage.Volume(
                f"{vm.name}-{vol.name}", name=f"{vm.name}-{vol.name}", size=vol.size_gb, volume_type=vol.pool,
                metadata={**vol_meta, "vm": vm.name, "role": vol.name, **restore(vol.name)},
                enable_online_resize=True,
                opts=_child(self, tenant_provider, depends_on=list(volumes_after), protect=True,
                            retain_on_delete=True, aliases=aka(f"-{vol.name}")))
            ops.compute.VolumeAttach(f"{vm.name}-{vol.name}-attach", instance_id=self.instance.id,
                                     volume_id=data.id,
                                     opts=_unique(self, tenant_provider, aliases=aka(f"-{vol.name}-attach")))
        if spec.floating_ip and floating_pool:
            ops.networking.FloatingIp(f"{vm.name}-fip", pool=floating_pool, port_id=port.id,
                                      description=f"{vm.name} ({meta['system_name']})",
                                      tags=tags(system=vm.system, managed_by="dcops"),
                                      opts=_child(self, tenant_provider, depends_on=[self.instance],
                                                  aliases=aka("-fip")))
        self.register_outputs({})


class PublicService(ComponentResource):
    """An Octavia load balancer in front of an HA group's VMs, with a floating IP when public."""

    def __init__(self, name: str, *, spec: LoadBalancerSpec, subnet_id, floating_pool: str | None,
                 tenant_provider, after: list[pulumi.Resource] = (), opts=None):
        super().__init__(f"{PKG}:PublicService", name, {"tenant": spec.tenant, "system": spec.system}, opts)
        o = _child(self, tenant_provider, depends_on=list(after))
        u = _unique(self, tenant_provider, depends_on=list(after))
        lb = ops.loadbalancer.LoadBalancer(spec.name, name=spec.name, vip_subnet_id=subnet_id, vip_address=spec.vip,
                                           tags=tags(system=spec.system, managed_by="dcops"), opts=u)
        for proto, port in spec.listeners:
            ln = f"{spec.name}-{proto.lower()}-{port}"
            listener = ops.loadbalancer.Listener(ln, name=ln, loadbalancer_id=lb.id, protocol=proto,
                                                 protocol_port=port, opts=u)
            pool = ops.loadbalancer.Pool(f"{ln}-pool", name=f"{ln}-pool", listener_id=listener.id, protocol=proto,
                                         lb_method="LEAST_CONNECTIONS", opts=u)
            ops.loadbalancer.Members(f"{ln}-members", pool_id=pool.id, members=[
                ops.loadbalancer.MembersMemberArgs(name=vm, address=ip, protocol_port=port, subnet_id=subnet_id)
                for vm, ip in spec.members], opts=o)
            h = spec.health
            ops.loadbalancer.Monitor(f"{ln}-health", pool_id=pool.id, type=h["type"], delay=h["delay"],
                                     timeout=h["timeout"], max_retries=h["max_retries"], opts=u)
        if spec.floating_ip and floating_pool:
            ops.networking.FloatingIp(f"{spec.name}-fip", pool=floating_pool, port_id=lb.vip_port_id,
                                      description=f"{spec.name} VIP", tags=tags(system=spec.system, managed_by="dcops"),
                                      opts=o)
        self.register_outputs({})
