#!/usr/bin/python3
"""The lab's cloud as the notes leave it, through the real APIs (openstacksdk 0.101, Debian's /usr/bin/python3).

    seed.py keystone   the services' users (project service, role admin) and their catalog entries
    seed.py cloud      external networks public (physnet1) and public2 (physnet2): flat, router:external, subnets
                       with DHCP off and an allocation pool; projects production, development, test each with a
                       private network, subnet and router whose gateway is on public
Idempotent (a second run only converges; also the restore step of the fault tests). Reads lab.env + secrets.env.
The values below are the lab inventory's expectations too (labbox/inventory.py EXPECT): keep them in step."""
import os
import sys
import time

import openstack

ENV = os.environ
IP = ENV["LAB_IP_CONTROLLER"]
KEYSTONE = f"http://{IP}:5000"
REGION = "RegionOne"
SERVICE_USERS = ("placement", "glance", "nova", "neutron", "cinder")
# (name, type) -> url of its public, internal and admin endpoints
CATALOG = {
    ("placement", "placement"): f"http://{IP}:8778",
    ("glance", "image"): f"http://{IP}:9292",
    ("nova", "compute"): f"http://{IP}:8774/v2.1",
    ("neutron", "network"): f"http://{IP}:9696",
    # Cinder's v3 API under both types clients look for (openstacksdk: block-storage; cinderclient: volumev3)
    ("cinderv3", "block-storage"): f"http://{IP}:8776/v3/%(project_id)s",
    ("cinderv3", "volumev3"): f"http://{IP}:8776/v3/%(project_id)s",
}
# the external networks (NET-5): public's pool is the inventory's floating range (host.floating_range)
EXTERNAL = [
    {"name": "public", "physnet": "physnet1", "cidr": "198.19.0.0/28", "gateway": "198.19.0.1",
     "pool": ("198.19.0.2", "198.19.0.14")},
    {"name": "public2", "physnet": "physnet2", "cidr": "198.19.1.0/28", "gateway": "198.19.1.1",
     "pool": ("198.19.1.2", "198.19.1.14")},
]
# each project's private network (OS-2): name prefix -> its subnet
PROJECTS = {"production": "10.10.1.0/24", "development": "10.10.2.0/24", "test": "10.10.3.0/24"}


def connect(project="admin"):
    return openstack.connect(
        auth_url=KEYSTONE + "/v3", username="admin", password=ENV["KEYSTONE_ADMIN_PASSWORD"], project_name=project,
        user_domain_name="Default", project_domain_name="Default", region_name=REGION, identity_api_version="3",
        api_timeout=60)


def keystone(conn):
    idn = conn.identity
    dom = idn.find_domain("default")
    service = idn.find_project("service", domain_id=dom.id)
    admin_role = idn.find_role("admin")
    for name in SERVICE_USERS:
        user = idn.find_user(name, domain_id=dom.id)
        if user is None:
            user = idn.create_user(name=name, password=ENV["CLOUD_SERVICE_PASSWORD"], domain_id=dom.id,
                                   default_project_id=service.id)
        else:  # a service password that drifted is what the fault tests restore
            idn.update_user(user, password=ENV["CLOUD_SERVICE_PASSWORD"])
        idn.assign_project_role_to_user(service, user, admin_role)
    services = list(idn.services())
    for (name, stype), url in CATALOG.items():
        svc = next((s for s in services if s.type == stype), None)
        if svc is None:
            svc = idn.create_service(name=name, type=stype, description=f"labbox {stype}", is_enabled=True)
        elif not svc.is_enabled:
            idn.update_service(svc, is_enabled=True)
        have = {}
        for ep in idn.endpoints(service_id=svc.id):
            if ep.interface in have:
                idn.delete_endpoint(ep)  # one endpoint per interface
            else:
                have[ep.interface] = ep
        for iface in ("public", "internal", "admin"):
            ep = have.get(iface)
            if ep is None:
                idn.create_endpoint(service_id=svc.id, interface=iface, url=url, region_id=REGION, is_enabled=True)
            elif ep.url != url or not ep.is_enabled or ep.region_id != REGION:
                idn.update_endpoint(ep, url=url, is_enabled=True, region_id=REGION)


def external_networks(conn):
    net_api = conn.network
    nets = {}
    for ext in EXTERNAL:
        net = net_api.find_network(ext["name"])
        if net is None:
            net = net_api.create_network(name=ext["name"], is_router_external=True, provider_network_type="flat",
                                         provider_physical_network=ext["physnet"])
        elif not net.is_router_external:
            net_api.update_network(net, is_router_external=True)
        nets[ext["name"]] = net
        subnet = net_api.find_subnet(f"{ext['name']}-subnet", network_id=net.id)
        pools = [{"start": ext["pool"][0], "end": ext["pool"][1]}]
        if subnet is None:
            net_api.create_subnet(name=f"{ext['name']}-subnet", network_id=net.id, ip_version=4, cidr=ext["cidr"],
                                  gateway_ip=ext["gateway"], is_dhcp_enabled=False, allocation_pools=pools)
        elif subnet.is_dhcp_enabled or subnet.allocation_pools != pools:
            net_api.update_subnet(subnet, is_dhcp_enabled=False, allocation_pools=pools)
    return nets


def project_networks(conn, public):
    idn, net_api = conn.identity, conn.network
    dom = idn.find_domain("default")
    for name, cidr in PROJECTS.items():
        project = idn.find_project(name, domain_id=dom.id)
        net = net_api.find_network(f"{name}-net", project_id=project.id)
        if net is None:
            net = net_api.create_network(name=f"{name}-net", project_id=project.id)
        subnet = net_api.find_subnet(f"{name}-subnet", network_id=net.id)
        if subnet is None:
            subnet = net_api.create_subnet(name=f"{name}-subnet", network_id=net.id, project_id=project.id,
                                           ip_version=4, cidr=cidr, is_dhcp_enabled=True)
        router = net_api.find_router(f"{name}-router", project_id=project.id)
        if router is None:
            router = net_api.create_router(name=f"{name}-router", project_id=project.id,
                                           external_gateway_info={"network_id": public.id})
        elif (router.external_gateway_info or {}).get("network_id") != public.id:
            net_api.update_router(router, external_gateway_info={"network_id": public.id})
        on_subnet = [p for p in net_api.ports(device_id=router.id, network_id=net.id)]
        if not on_subnet:
            net_api.add_interface_to_router(router, subnet_id=subnet.id)


def drop_orphans(conn):
    """The networks and routers of a project that was deleted (e.g. by a fault test, then made again with a new
    id): they would hold addresses of public's pool forever."""
    idn, net_api = conn.identity, conn.network
    alive = {p.id for p in idn.projects()}
    for router in net_api.routers():
        if router.name.endswith("-router") and router.project_id not in alive:
            for port in net_api.ports(device_id=router.id, device_owner="network:router_interface"):
                net_api.remove_interface_from_router(router, port_id=port.id)
            net_api.delete_router(router)
    for net in net_api.networks():
        if net.name.endswith("-net") and net.project_id not in alive:
            net_api.delete_network(net)


def cloud(conn):
    nets = external_networks(conn)
    drop_orphans(conn)
    project_networks(conn, nets["public"])


def main():
    step = {"keystone": keystone, "cloud": cloud}[sys.argv[1]]
    started = time.time()
    for attempt in range(10):  # services answer before they are fully up (authtoken, RPC): retries, bounded
        try:
            step(connect())
            break
        except Exception as exc:  # noqa: BLE001
            if attempt == 9:
                raise
            print(f"cloud seed {sys.argv[1]}: retrying after {type(exc).__name__}: {exc}", file=sys.stderr)
            time.sleep(3)
    print(f"cloud seed {sys.argv[1]}: converged in {time.time() - started:.1f} s")


if __name__ == "__main__":
    main()
