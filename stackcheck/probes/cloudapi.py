"""Judging what the OpenStack APIs answer (openstacksdk resources as dicts: `resource.to_dict()`), for the
project-wide requirements: external networks (NET-5), the projects' networks and routers (OS-2), long-lived
instances (OS-5). Pure functions, unit-tested on the APIs' documented responses."""
from __future__ import annotations

from stackcheck.verdicts import CannotCheck


class ServiceMissing(CannotCheck):
    """The cloud's catalog has no service a check needs to judge its requirement: an error (never "not
    applicable": a deleted endpoint is exactly how a requirement would otherwise go unchecked). Where the
    requirement itself demands the service (OS-4: block storage), its absence is a finding instead: see
    `catalog_lacks`."""


def require_service(cloud, service_type: str, what: str) -> None:
    """ServiceMissing (an error naming what to do) when the catalog has no `service_type`."""
    if not cloud.has_service(service_type):
        raise ServiceMissing(f"cannot check: the cloud's catalog has no {service_type} service ({what}): register "
                             f"its endpoint in Keystone (openstack endpoint list --service {service_type}), point "
                             f"stackcheck.cloud.name at a cloud whose catalog has it, or narrow stackcheck.scope")


def catalog_lacks(cloud, service_type: str) -> bool:
    """True when the catalog has no `service_type` (for requirements whose subject IS that service)."""
    return not cloud.has_service(service_type)


def _by_name(items, name):
    return [i for i in items if i.get("name") == name]


def external_network_problems(networks: list[dict], subnets: list[dict], routers: list[dict],
                              wanted: list[dict]) -> list[str]:
    """NET-5: each external network of the inventory exists, router:external, flat on its physnet; its subnets
    have DHCP off and an allocation pool; a router has its gateway on the first one (the public router)."""
    out = []
    for i, w in enumerate(wanted):
        found = _by_name(networks, w["name"])
        if not found:
            out.append(f"network {w['name']} does not exist")
            continue
        net = found[0]
        if not net.get("is_router_external"):
            out.append(f"{w['name']} is not router:external")
        if net.get("provider_network_type") != "flat":
            out.append(f"{w['name']} is of type {net.get('provider_network_type')} (expected flat)")
        if net.get("provider_physical_network") != w["physnet"]:
            out.append(f"{w['name']} is on physnet {net.get('provider_physical_network')} (expected {w['physnet']})")
        own = [s for s in subnets if s.get("network_id") == net["id"]]
        if not own:
            out.append(f"{w['name']} has no subnet")
        for s in own:
            if s.get("is_dhcp_enabled"):
                out.append(f"subnet {s.get('name') or s['id']} of {w['name']} has DHCP on (expected off)")
            if not s.get("allocation_pools"):
                out.append(f"subnet {s.get('name') or s['id']} of {w['name']} has no allocation pool")
        if i == 0 and not any((r.get("external_gateway_info") or {}).get("network_id") == net["id"] for r in routers):
            out.append(f"no router has its gateway set on {w['name']} (the public router)")
    return out


def project_network_problems(projects: list[dict], networks: list[dict], routers: list[dict]) -> list[str]:
    """OS-2: each project owns a private (non-external) network and a router whose gateway is on an external
    network."""
    external = {n["id"] for n in networks if n.get("is_router_external")}
    out = []
    for p in projects:
        private = [n for n in networks if n.get("project_id") == p["id"] and n["id"] not in external]
        if not private:
            out.append(f"project {p['name']} has no private network of its own")
        gw = [r for r in routers if r.get("project_id") == p["id"]
              and (r.get("external_gateway_info") or {}).get("network_id") in external]
        if not gw:
            out.append(f"project {p['name']} has no router with a gateway to a public (external) network")
    return out


def instance_problems(servers: list[dict], names: list[str]) -> list[str]:
    """OS-5: each named instance exists (once) and is ACTIVE."""
    out = []
    for name in names:
        found = _by_name(servers, name)
        if not found:
            out.append(f"instance {name} does not exist")
        for s in found:
            if s.get("status") != "ACTIVE":
                out.append(f"instance {name} ({s.get('id')}) is {s.get('status')} (expected ACTIVE)")
    return out


def missing_projects(projects: list[dict], wanted: list[str]) -> list[str]:
    have = {p.get("name") for p in projects}
    return [w for w in wanted if w not in have]
