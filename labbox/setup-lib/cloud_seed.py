#!/usr/bin/python3
"""The lab's cloud as the notes leave it, through the real APIs (openstacksdk 0.101, Debian's /usr/bin/python3).

    cloud_seed.py keystone   the services' users (project service, role admin) and their catalog entries
    cloud_seed.py cloud      external networks public (physnet1) and public2 (physnet2): flat, router:external,
                             subnets with DHCP off and an allocation pool; projects production, development, test
                             each with a private network, subnet and router whose gateway is on public
    cloud_seed.py instances  (on the compute host, once its nova-compute serves) the guest image in Glance, the
                             flavor, and the long-lived instances ACTIVE on this host, each on its project's network
Idempotent (a second run only converges; also the restore step of the fault tests). Reads lab.env + secrets.env.
The values below are the lab inventory's expectations too (labbox/inventory.py EXPECT): keep them in step."""
import hashlib
import os
import socket
import subprocess
import sys
import time

import openstack

sys.path.insert(0, "/opt/labbox/lib")  # installed as /usr/local/sbin/labbox-cloud-seed: the lab's shared helpers
from converge import converge  # noqa: E402

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


# the long-lived instances (OS-5): name -> project; booted from the guest image labbox/roles/compute/guest/build.sh
# makes from Debian's cloud kernel and busybox-static (a kernel, a ramdisk and a machine image that names both)
INSTANCES = {"long-term-1": "production", "long-term-2": "development"}
GUEST_DIR = "/var/lib/labbox/guest"
GUEST_IMAGE = "labbox-guest"
FLAVOR = {"name": "labbox.tiny", "ram": 96, "vcpus": 1, "disk": 1}  # 96 MiB: the guest boots in 64 MiB no more


class SeedFailed(Exception):
    """What trying again will not change (an instance that failed to build): no retry."""


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


def _md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()  # noqa: S324 (Glance's own checksum, not a security measure)


def _image(conn, name, path, disk_format, container_format=None, **properties):
    """The Glance image `name` with the content of `path` and these properties: kept when it has them, else made
    again."""
    found = list(conn.image.images(name=name))
    if len(found) == 1 and found[0].status == "active" and found[0].checksum == _md5(path) \
            and found[0].disk_format == disk_format \
            and all(str(found[0].properties.get(k)) == v for k, v in properties.items()):
        return found[0]
    for old in found:
        conn.image.delete_image(old)
    return conn.image.create_image(name=name, filename=path, disk_format=disk_format,
                                   container_format=container_format or disk_format, visibility="public",
                                   wait=True, timeout=300, **properties)


def guest_image(conn):
    kernel = _image(conn, f"{GUEST_IMAGE}-kernel", f"{GUEST_DIR}/vmlinuz", "aki")
    ramdisk = _image(conn, f"{GUEST_IMAGE}-ramdisk", f"{GUEST_DIR}/initrd.gz", "ari")
    # raw, not ami: Nova 26's image inspection compares an ami's declared format with qemu-img's "raw" and refuses
    # it; Nova boots the kernel and ramdisk the image names whatever its format. os_shutdown_timeout: busybox's init
    # ignores ACPI power-off, and Nova would wait its default 60 s before destroying the guest
    return _image(conn, GUEST_IMAGE, f"{GUEST_DIR}/disk.raw", "raw", "bare", kernel_id=kernel.id,
                  ramdisk_id=ramdisk.id, os_command_line="console=ttyS0 quiet", os_shutdown_timeout="5")


def flavor(conn):
    found = conn.compute.find_flavor(FLAVOR["name"])
    if found is not None:
        return found
    return conn.compute.create_flavor(name=FLAVOR["name"], ram=FLAVOR["ram"], vcpus=FLAVOR["vcpus"],
                                      disk=FLAVOR["disk"], is_public=True)


def wait_hypervisor(conn, host, timeout=180):
    """Until Nova lists this host's hypervisor (the scheduler maps new compute hosts every 30 s) and its
    nova-compute service is up."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        services = [s for s in conn.compute.services(binary="nova-compute", host=host)]
        hypervisors = [h for h in conn.compute.hypervisors() if h.name.split(".")[0] == host]
        if hypervisors and services and services[0].state == "up":
            return
        time.sleep(3)
    raise SeedFailed(f"nova-compute on {host} did not register within {timeout} s")


def project_id(conn, name):
    return conn.identity.find_project(name, domain_id=conn.identity.find_domain("default").id).id


def _domain(name):
    """libvirt's state of an instance's domain on this host: 'running', 'shut off', ... or '' (no such domain)."""
    out = subprocess.run(["virsh", "-c", "qemu:///system", "domstate", name], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ""


def instances(conn):
    host = socket.gethostname()
    wait_hypervisor(conn, host)
    image, size = guest_image(conn), flavor(conn)
    for name, project in INSTANCES.items():
        api = connect(project).compute
        kept = None
        for server in api.servers(name=f"^{name}$"):
            state = _domain(server.instance_name) if server.compute_host == host else ""
            if kept is None and server.status == "ACTIVE" and state == "running":
                kept = server
            elif kept is None and server.status == "SHUTOFF" and state == "shut off":
                api.start_server(server)  # stopped (a fault test, an operator): started as the fixer would
                kept = api.wait_for_server(server, status="ACTIVE", wait=300)
            else:  # its domain is gone (this host was made again), it is in ERROR, or it is a second one
                api.delete_server(server)
                api.wait_for_delete(server, wait=300)
        if kept is None:
            net = conn.network.find_network(f"{project}-net", project_id=project_id(conn, project))
            server = api.create_server(name=name, image_id=image.id, flavor_id=size.id,
                                       networks=[{"uuid": net.id}])
            try:
                api.wait_for_server(server, status="ACTIVE", wait=300)
            except openstack.exceptions.ResourceFailure:
                body = api.get(f"/servers/{server.id}").json()["server"]  # the SDK's Server has no `fault`
                fault = (body.get("fault") or {}).get("message", "none recorded")
                raise SeedFailed(f"instance {name} went to ERROR: {fault}") from None


def main():
    step = {"keystone": keystone, "cloud": cloud, "instances": instances}[sys.argv[1]]
    converge(f"cloud seed {sys.argv[1]}", lambda: step(connect()), attempts=10, pause=3, final=(SeedFailed,))


if __name__ == "__main__":
    main()
