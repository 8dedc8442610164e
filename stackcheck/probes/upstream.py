"""NET-6 on the network node: br-ex carries no address (the public address is recovered for the VMs) and the static
routes to the upstream gateway exist, as the inventory states them.

What the inventory can state: the gateway (`neutron.upstream_gateway`) and the networks reached through it
(`neutron.upstream_networks`, e.g. [198.18.9.0/24]). A route is judged by what it does: one to the same
destination with a better metric elsewhere shadows it (it carries nothing). When the inventory does not state the
networks, the check can judge only the next hop, and a fixer cannot know which route was lost: it declines rather
than invent one (a `default` route via br-ex is not what the notes' route was).
"""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field

from stackcheck.probes import batch

NETWORKS_KEY = "neutron.upstream_networks"


def read_command(bridge: str) -> str:
    return batch.script(batch.part("addr", f"ip -j addr show dev {bridge}"),
                        batch.part("route", "ip -j -4 route show table main"))


@dataclass
class BridgeRoutes:
    exists: bool
    addresses: list[str] = field(default_factory=list)  # global addresses on the bridge ("198.18.8.5/24")
    routes: list[dict] = field(default_factory=list)  # the main table (ip -j)


def facts_from(parts: batch.Batch, bridge: str) -> BridgeRoutes:
    routes = json.loads(parts.output("route", "the routing table (`ip -j route show`)") or "[]")
    addr = parts.part("addr", f"the addresses of {bridge}")
    if addr.rc == 1 and "does not exist" in addr.result().reason():
        return BridgeRoutes(False, routes=routes)  # observed: there is no such interface
    links = json.loads(addr.output(f"the addresses of {bridge} (`ip -j addr show dev {bridge}`)") or "[]")
    found = [f"{a['local']}/{a['prefixlen']}" for link in links for a in link.get("addr_info", [])
             if a.get("scope") in ("global", "site")]
    return BridgeRoutes(True, found, routes)


def read(transport, bridge: str) -> BridgeRoutes:
    return facts_from(batch.run(transport, read_command(bridge)), bridge)


def stated_networks(lab) -> list[str]:
    """The networks the inventory says are reached through the upstream gateway ([] when it does not say)."""
    return [str(ipaddress.ip_network(v, strict=False)) for v in (lab.get(NETWORKS_KEY) or [])]


def destination(route: dict) -> str:
    d = route.get("dst", "")
    return "0.0.0.0/0" if d == "default" else str(ipaddress.ip_network(d if "/" in d else f"{d}/32", strict=False))


def describe(route: dict) -> str:
    flags = " onlink" if "onlink" in route.get("flags", []) else ""
    metric = f" metric {route['metric']}" if route.get("metric") else ""
    via = f" via {route['gateway']}" if route.get("gateway") else ""
    return f"{route.get('dst')}{via} dev {route.get('dev')}{flags}{metric}"


def shadowing(route: dict, routes: list[dict]) -> dict | None:
    """The route to the same destination with a better (lower) metric that takes its traffic, if any."""
    metric = int(route.get("metric", 0))
    rivals = [r for r in routes if r is not route and r.get("type", "unicast") == "unicast"
              and destination(r) == destination(route) and int(r.get("metric", 0)) < metric]
    return min(rivals, key=lambda r: int(r.get("metric", 0)), default=None)


def via_gateway(routes: list[dict], gateway: str, bridge: str) -> list[dict]:
    return [r for r in routes if r.get("dev") == bridge and r.get("gateway") == gateway]


@dataclass
class Judgement:
    """NET-6 on one node. `addresses` and `missing` (stated networks without their route) are what a fixer
    repairs; `shadowed`, `invented` (a default route via the gateway the inventory does not state) and `no_route`
    (none at all, the networks unknown) it cannot repair without taking or inventing a route."""

    bridge: str
    gateway: str
    exists: bool = True
    addresses: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    shadowed: list[tuple[dict, dict]] = field(default_factory=list)  # (route, the route that takes its traffic)
    invented: list[dict] = field(default_factory=list)
    no_route: bool = False
    networks: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        if not self.exists:
            return [f"there is no interface {self.bridge}"]
        found = []
        if self.addresses:
            found.append(f"{self.bridge} carries {', '.join(self.addresses)} (expected no address: the public "
                         f"address is recovered)")
        found += [f"the route {describe(r)} is shadowed by {describe(rival)}: it carries nothing"
                  for r, rival in self.shadowed]
        found += [f"no route to {n} via {self.gateway} on {self.bridge} (stated by {NETWORKS_KEY})"
                  for n in self.missing]
        found += [f"the default route {describe(r)} is not a route the inventory states ({NETWORKS_KEY}: "
                  f"{', '.join(self.networks)})" for r in self.invented]
        if self.no_route:
            found.append(f"no static route via {self.gateway} on {self.bridge}")
        return found

    def remedy(self) -> str | None:
        """What to do by hand about the problems a fixer must not repair (None when a fixer can repair them all)."""
        steps = []
        if self.no_route:
            steps.append(f"restore the static route by hand (`ip route replace NETWORK via {self.gateway} dev "
                         f"{self.bridge} onlink`) and persist it; set {NETWORKS_KEY} so that the check and its fixer "
                         f"know which network it reaches")
        for r in self.invented:
            steps.append(f"remove the default route by hand if nothing needs it (`ip route del {describe(r)}`)")
        for r, rival in self.shadowed:
            steps.append(f"the route {describe(r)} loses to {describe(rival)}: correct the metrics or remove the "
                         f"other route by hand")
        return "; ".join(steps) + ", then run the fix again" if steps else None

    def beyond_a_fix(self) -> list[str]:
        """The problems a fixer must not repair: it would take a route from something else or invent one."""
        return [p for p in Judgement(self.bridge, self.gateway, shadowed=self.shadowed, invented=self.invented,
                                     no_route=self.no_route, networks=self.networks).problems()]


def judge(facts: BridgeRoutes, bridge: str, gateway: str, networks: list[str]) -> Judgement:
    j = Judgement(bridge, gateway, facts.exists, list(facts.addresses), networks=networks)
    if not facts.exists:
        return j
    mine = via_gateway(facts.routes, gateway, bridge)
    j.shadowed = [(r, rival) for r in mine if (rival := shadowing(r, facts.routes)) is not None]
    if networks:
        j.missing = [n for n in networks if not any(destination(r) == n for r in mine)]
        j.invented = [r for r in mine if destination(r) == "0.0.0.0/0" and "0.0.0.0/0" not in networks]
    else:  # the networks are unknown: only the next hop can be judged (a route via it that carries traffic)
        j.no_route = not [r for r in mine if shadowing(r, facts.routes) is None] and not j.shadowed
    return j
