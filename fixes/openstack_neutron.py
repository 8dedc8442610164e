"""Fixers for Neutron's external networks: OVS bridges and ports (NET-1), l3_agent.ini (NET-2), bridge_mappings
(NET-3), ML2 (NET-4), br-ex's address and static route (NET-6). Config edits restart only the agent that reads
them, and only when it runs (try-restart)."""
from __future__ import annotations

import shlex

from fixes.openstack_units import try_restart
from stackcheck.fixing import FixDeclined, fixer
from stackcheck.probes import hostconf, ini, neutron, ovs
from stackcheck.probes import upstream  # NET-6
from stackcheck.verdicts import need


def _nets(ctx):
    return ctx.lab.get("neutron.external_networks") or []


@fixer("NET-1", risk="config", checks=["test_external_bridges_with_their_nics"])
def add_external_bridges(ctx):
    """Create missing external bridges (same datapath type as br-int), add their NICs and the agent's patch ports."""
    bridges = ovs.read(ctx.transport)
    dp = bridges["br-int"].datapath_type if "br-int" in bridges else ""
    if "br-int" not in bridges:
        ctx.command("ovs-vsctl --may-exist add-br br-int", undo="ovs-vsctl --if-exists del-br br-int")
    for net in _nets(ctx):
        b, nic = net["bridge"], net["nic"]
        have = bridges.get(b)
        if have is None:
            dp_set = f" -- set bridge {b} datapath_type={dp}" if dp else ""
            ctx.command(f"ovs-vsctl --may-exist add-br {b}{dp_set}", undo=f"ovs-vsctl --if-exists del-br {b}")
        elif not have.in_datapath and dp and have.datapath_type != dp:
            ctx.command(f"ovs-vsctl set bridge {b} datapath_type={dp}",
                        undo=f"ovs-vsctl set bridge {b} datapath_type={have.datapath_type or 'system'}")
        if have is None or nic not in have.ports:
            if not ctx.run(f"ip link show {shlex.quote(nic)}").ok:
                raise FixDeclined(f"{nic} does not exist on this host: add the NIC first (not done automatically)")
            ctx.command(f"ovs-vsctl --may-exist add-port {b} {nic}", undo=f"ovs-vsctl --if-exists del-port {b} {nic}")
        if "br-int" not in bridges or f"int-{b}" not in bridges["br-int"].ports:
            ctx.command(f"ovs-vsctl --may-exist add-port br-int int-{b} -- set interface int-{b} type=patch "
                        f"options:peer=phy-{b} -- --may-exist add-port {b} phy-{b} -- set interface phy-{b} "
                        f"type=patch options:peer=int-{b}",
                        undo=f"ovs-vsctl --if-exists del-port br-int int-{b} -- --if-exists del-port {b} phy-{b}",
                        description=f"patch br-int <-> {b} (int-{b}/phy-{b}), as the OVS agent does")
        ctx.command(f"for i in $(seq 1 50); do ip link show {b} >/dev/null 2>&1 && break; sleep 0.1; done; "
                    f"ip link set {b} up", description=f"bring {b} up")


@fixer("NET-2", risk="restart", checks=["test_l3_agent_external_options_empty"])
def empty_l3_external_options(ctx):
    """Set gateway_external_network_id and external_network_bridge empty in l3_agent.ini, restart the L3 agent."""
    path = ctx.lab.get("neutron.l3_agent_ini")
    text = ctx.read(path)
    if text is None:
        raise FixDeclined(f"{path} does not exist: nothing to edit (stackcheck.neutron.l3_agent_ini)")
    new = ini.set_values(text, {("DEFAULT", k): "" for k in neutron.L3_EMPTY})
    ctx.edit(path, new)
    if new != text:
        ctx.command(try_restart("neutron-l3-agent"), description="restart neutron-l3-agent (try-restart)")


@fixer("NET-3", risk="restart", checks=["test_bridge_mappings_cover_every_physnet"])
def map_physnets_to_bridges(ctx):
    """Add each external network's physnet:bridge to [ovs] bridge_mappings, restart the OVS agent."""
    candidates = [ctx.lab.get("neutron.ovs_agent_ini")] if ctx.lab.get("neutron.ovs_agent_ini") \
        else list(neutron.OVS_AGENT_CANDIDATES)
    path, text = hostconf.read(ctx.transport, candidates).first(candidates)
    if path is None:
        raise FixDeclined(f"no OVS agent config ({' or '.join(candidates)}): nothing to edit")
    have = ovs.parse_mappings(ini.parse(text).get("ovs", "bridge_mappings"))
    wanted = {n["physnet"]: n["bridge"] for n in _nets(ctx)}
    # a bridge may serve one physnet only (the agent refuses duplicate bridges): another physnet's claim on a
    # wanted bridge goes (e.g. Debian's default "external:br-ex" when physnet1 wants br-ex)
    merged = {k: v for k, v in have.items() if k in wanted or v not in wanted.values()}
    merged.update(wanted)
    new = ini.set_value(text, "ovs", "bridge_mappings", ovs.format_mappings(merged))
    ctx.edit(path, new)
    if new != text:
        ctx.command(try_restart("neutron-openvswitch-agent neutron-plugin-openvswitch-agent"),
                    description="restart the OVS agent (try-restart)")


@fixer("NET-4", risk="restart", checks=["test_ml2_flat_external_networks"])
def ml2_flat_external_networks(ctx):
    """Add vxlan/flat to type_drivers and every physnet to flat_networks and network_vlan_ranges, restart neutron-server."""
    candidates = [ctx.lab.get("neutron.ml2_conf")] if ctx.lab.get("neutron.ml2_conf") else list(neutron.ML2_CANDIDATES)
    path, text = hostconf.read(ctx.transport, candidates).first(candidates)
    if path is None:
        raise FixDeclined(f"no ML2 config ({' or '.join(candidates)}): nothing to edit")
    # edit the file, keep the symlink (/etc/neutron/plugin.ini -> plugins/ml2/ml2_conf.ini)
    path = ctx.run(f"readlink -f {shlex.quote(path)}").output(f"where {path} points").strip() or path
    conf = ini.parse(text)
    physnets = [n["physnet"] for n in _nets(ctx)]
    types = conf.get_list("ml2", "type_drivers")
    types += [t for t in ("vxlan", "flat") if t not in types]
    flat = conf.get_list("ml2_type_flat", "flat_networks")
    if "*" not in flat:
        flat += [p for p in physnets if p not in flat]
    ranges = conf.get_list("ml2_type_vlan", "network_vlan_ranges")
    ranges += [p for p in physnets if p not in {r.split(":")[0] for r in ranges}]
    new = ini.set_values(text, {("ml2", "type_drivers"): ",".join(types),
                                ("ml2_type_flat", "flat_networks"): ",".join(flat),
                                ("ml2_type_vlan", "network_vlan_ranges"): ",".join(ranges)})
    ctx.edit(path, new)
    if new != text:
        ctx.command(try_restart("neutron-server"), description="restart neutron-server (try-restart)")


@fixer("NET-6", risk="config", checks=["test_br_ex_without_address_with_static_route"])
def recover_br_ex_address(ctx):
    """Remove the addresses from br-ex (recovered for the VMs) and restore the static routes the inventory states."""
    nets = _nets(ctx)
    bridge = nets[0]["bridge"] if nets else "br-ex"
    gateway = need(ctx.lab, "neutron.upstream_gateway", "NET-6's static route goes to it")
    networks = upstream.stated_networks(ctx.lab)
    facts = upstream.read(ctx.transport, bridge)
    if not facts.exists:
        raise FixDeclined(f"there is no interface {bridge}: create it with its NIC first (NET-1's fixer)")
    judged = upstream.judge(facts, bridge, gateway, networks)
    missing = judged.missing
    left = judged.beyond_a_fix()
    if left:  # a route it would have to invent, or one it would have to take from something else
        hint = "" if networks else (f" (the inventory does not say which networks are reached through {gateway}: "
                                    f"set {upstream.NETWORKS_KEY}, e.g. [198.18.9.0/24])")
        raise FixDeclined("; ".join(left) + hint + "; a fixer restores what the inventory states and invents no route")
    for net in missing:
        elsewhere = [r for r in facts.routes if upstream.destination(r) == net]
        if elsewhere:
            raise FixDeclined(f"{net} is routed by {upstream.describe(elsewhere[0])}: replacing that route with the "
                              f"one via {gateway} on {bridge} is left to the operator")
    for a in facts.addresses:
        ctx.command(f"ip addr del {a} dev {bridge}", undo=f"ip addr add {a} dev {bridge}")
    if facts.addresses:
        # deleting the address deletes the routes whose gateway was in its network, onlink ones too (seen on the
        # lab): put them back onlink. No undo: a rollback re-adds the address and these routes simply stay.
        for r in upstream.via_gateway(facts.routes, gateway, bridge):
            spec = f"{r['dst']} via {gateway} dev {bridge} onlink" + (f" metric {r['metric']}" if r.get("metric") else "")
            ctx.command(f"ip route replace {spec}", description=f"keep the route {spec} (it goes with the address)")
    for net in missing:
        spec = f"{net} via {gateway} dev {bridge}"
        ctx.command(f"ip route replace {spec} onlink", undo=f"ip route del {spec}",
                    description=f"restore the static route {spec} onlink ({upstream.NETWORKS_KEY})")
    if missing:
        ctx.note("the static routes are restored at runtime; persist them the distribution's way (route-br-ex, "
                 "/etc/network/interfaces) by hand")
