"""Fixers for the cloud as its APIs show it (openstacksdk only): an external network that lost router:external or
whose subnet got DHCP turned on (NET-5), a project router that lost its gateway (OS-2), a long-lived instance that
was stopped (OS-5). Each restores what the inventory declares (stackcheck.neutron.external_networks,
stackcheck.cloud.long_lived_instances); what would be a guess (which router should carry the public gateway, a
network or project that is missing, an instance in ERROR) stays report-only. Every step names the API call it makes,
so --dry-run shows exactly what would be sent."""
from __future__ import annotations

from stackcheck.fixing import FixDeclined, fixer


def _external(ctx) -> list[dict]:
    nets = ctx.lab.get("neutron.external_networks") or []
    if not nets:
        raise FixDeclined("stackcheck.neutron.external_networks is not set: nothing says which networks are external")
    return nets


@fixer("NET-5", risk="config", checks=["test_external_networks_in_neutron"])
def restore_external_network_flags(ctx):
    """Set router:external back on the inventory's external networks, and DHCP off on their subnets."""
    api = ctx.extra["cloud"].network
    for wanted in _external(ctx):
        found = [n for n in api.networks(name=wanted["name"])]
        if len(found) != 1:
            continue  # missing (or ambiguous): making a network is the operator's call, the check says so
        net = found[0]
        if not net.is_router_external:
            ctx.call(f"PUT /v2.0/networks/{net.id} {{router:external: true}} ({wanted['name']})",
                     lambda net=net: api.update_network(net, is_router_external=True),
                     undo=lambda net=net: api.update_network(net, is_router_external=False))
        for subnet in api.subnets(network_id=net.id):
            if subnet.is_dhcp_enabled:
                ctx.call(f"PUT /v2.0/subnets/{subnet.id} {{enable_dhcp: false}} ({subnet.name or subnet.id} of "
                         f"{wanted['name']})",
                         lambda subnet=subnet: api.update_subnet(subnet, is_dhcp_enabled=False),
                         undo=lambda subnet=subnet: api.update_subnet(subnet, is_dhcp_enabled=True))


@fixer("OS-2", risk="config", checks=["test_each_project_has_network_and_router"])
def restore_project_router_gateways(ctx):
    """Set the gateway of each project's router that has none back on the first external network of the
    inventory (the notes: every project router's gateway is on public). A project without a router or network
    is left to the operator (which subnet, which addresses: a guess)."""
    cloud = ctx.extra["cloud"]
    api = cloud.network
    public_name = _external(ctx)[0]["name"]
    public = [n for n in api.networks(name=public_name) if n.is_router_external]
    if len(public) != 1:
        raise FixDeclined(f"external network {public_name} is missing or not router:external (NET-5 first)")
    public_id = public[0].id
    wanted = set(ctx.lab.get("cloud.projects") or [])
    for project in cloud.identity.projects():
        if project.name not in wanted:
            continue
        routers = list(api.routers(project_id=project.id))
        if any((r.external_gateway_info or {}).get("network_id") for r in routers):
            continue
        if len(routers) != 1:
            continue  # none, or several without a gateway: which one is the project's way out is a guess
        router = routers[0]
        ctx.call(f"PUT /v2.0/routers/{router.id} {{external_gateway_info: {{network_id: {public_id}}}}} "
                 f"(router {router.name} of project {project.name}, gateway on {public_name})",
                 lambda router=router: api.update_router(router, external_gateway_info={"network_id": public_id}),
                 undo=lambda router=router: api.update_router(router, external_gateway_info={}))


@fixer("OS-5", risk="restart", checks=["test_long_lived_instances_active"])
def start_stopped_long_lived_instances(ctx):
    """Start the inventory's long-lived instances that are SHUTOFF (stopped by someone, or not resumed after the
    compute host rebooted), and wait until Nova reports them ACTIVE. An instance in ERROR, PAUSED, SUSPENDED or
    missing is left to the operator: what put it there is theirs to find (a rebuild or reset would be a guess)."""
    api = ctx.extra["cloud"].compute
    names = ctx.lab.get("cloud.long_lived_instances") or []
    if not names:
        raise FixDeclined("stackcheck.cloud.long_lived_instances is not set: nothing says which instances to start")
    for server in api.servers(all_projects=True):
        if server.name not in names or server.status != "SHUTOFF":
            continue

        def start(server=server):
            api.start_server(server)
            api.wait_for_server(server, status="ACTIVE", wait=180)

        ctx.call(f"POST /servers/{server.id}/action {{os-start: null}} (instance {server.name}), then wait until "
                 "it is ACTIVE", start, undo=lambda server=server: api.stop_server(server))
