"""Neutron's external networks (the notes' "External Network Setup" and "Adding another External network"): OVS
bridges with their NICs, the agents' configuration for several flat external networks, br-ex without a public
address, and the networks as the Neutron API sees them."""
import pytest

from stackcheck.probes import cloudapi, hostconf, ini, neutron, ovs
from stackcheck.probes import upstream  # NET-6
from stackcheck.verdicts import CannotCheck, Finding, need


def external_networks(lab):
    return lab.get("neutron.external_networks") or []


def wanted_networks(lab):
    """The external networks the inventory declares; none declared is an error naming the key (a check with
    nothing to look for would pass by having looked at nothing)."""
    return need(lab, "neutron.external_networks", "the external networks (name, physnet, bridge, nic) to check")


@pytest.mark.requirement("NET-1")
@pytest.mark.role("network")
@pytest.mark.severity("critical")
def test_external_bridges_with_their_nics(target, transport, lab, evidence):
    bridges = ovs.read(transport)
    evidence["bridges"] = " ".join(f"{b.name}({b.datapath_type or 'system'}{'' if b.in_datapath else ',no datapath'}:"
                                   f"{','.join(b.ports)})" for b in bridges.values()) or "none"
    assert bridges, f"no OVS bridge on {target} (ovs-vsctl list-br lists none)"
    problems = [p for net in wanted_networks(lab) for p in ovs.external_bridge_problems(bridges, net["bridge"],
                                                                                            net["nic"])]
    if problems:
        raise Finding(f"{target}: " + "; ".join(problems), remediation=ovs.bridge_remediation(problems))


@pytest.mark.requirement("NET-2")
@pytest.mark.role("network")
@pytest.mark.severity("high")
def test_l3_agent_external_options_empty(target, transport, lab, evidence):
    path = lab.get("neutron.l3_agent_ini")
    bundle = hostconf.read(transport, [path], ["neutron"], {"known": neutron.KNOWN_L3_OPTIONS})
    if bundle.files[path] is None:
        raise CannotCheck(f"cannot check: {path} does not exist on {target}: set stackcheck.neutron.l3_agent_ini "
                          f"to the file the L3 agent reads")
    conf = ini.parse(bundle.files[path])
    known = neutron.known_options(bundle.output("known", "which l3-agent options the installed neutron defines"))
    evidence["neutron"] = bundle.version_text("neutron")
    evidence["options the installed neutron defines"] = (",".join(sorted(known)) or "neither") if known is not None else "unknown"
    for key in neutron.L3_EMPTY:
        evidence[key] = repr(conf.get("DEFAULT", key)) if conf.has("DEFAULT", key) else "not set"
    problems = neutron.l3_problems(conf, known)
    assert not problems, f"{path} on {target}: " + "; ".join(problems)


@pytest.mark.requirement("NET-3")
@pytest.mark.role("network")
@pytest.mark.severity("high")
def test_bridge_mappings_cover_every_physnet(target, transport, lab, evidence):
    candidates = [lab.get("neutron.ovs_agent_ini")] if lab.get("neutron.ovs_agent_ini") \
        else list(neutron.OVS_AGENT_CANDIDATES)
    path, text = hostconf.read(transport, candidates).first(candidates)
    if path is None:
        raise CannotCheck(f"cannot check: no OVS agent config on {target} ({' or '.join(candidates)}): set "
                          f"stackcheck.neutron.ovs_agent_ini to the file the OVS agent reads")
    wanted = {n["physnet"]: n["bridge"] for n in wanted_networks(lab)}
    have, problems = neutron.mapping_problems(ini.parse(text), wanted)
    evidence["bridge_mappings"] = f"{path}: {ovs.format_mappings(have) or 'not set'}"
    assert not problems, f"[ovs] bridge_mappings in {path} on {target}: " + "; ".join(problems)


@pytest.mark.requirement("NET-4")
@pytest.mark.role("controller")
@pytest.mark.severity("high")
def test_ml2_flat_external_networks(target, transport, lab, evidence):
    candidates = [lab.get("neutron.ml2_conf")] if lab.get("neutron.ml2_conf") else list(neutron.ML2_CANDIDATES)
    path, text = hostconf.read(transport, candidates).first(candidates)
    if path is None:
        raise CannotCheck(f"cannot check: no ML2 config on {target} ({' or '.join(candidates)}): set "
                          f"stackcheck.neutron.ml2_conf to the file neutron-server reads")
    conf = ini.parse(text)
    evidence["ml2"] = (f"{path}: type_drivers={conf.get('ml2', 'type_drivers')} "
                       f"flat_networks={conf.get('ml2_type_flat', 'flat_networks')} "
                       f"network_vlan_ranges={conf.get('ml2_type_vlan', 'network_vlan_ranges')}")
    problems = neutron.ml2_problems(conf, [n["physnet"] for n in wanted_networks(lab)])
    assert not problems, f"{path} on {target}: " + "; ".join(problems)


@pytest.mark.requirement("NET-6")
@pytest.mark.role("network")
@pytest.mark.severity("medium")
def test_br_ex_without_address_with_static_route(target, transport, lab, evidence):
    bridge = external_networks(lab)[0]["bridge"] if external_networks(lab) else "br-ex"
    gateway = need(lab, "neutron.upstream_gateway", "NET-6's static route goes to it")
    networks = upstream.stated_networks(lab)  # [] when the inventory does not say: only the next hop is judged
    facts = upstream.read(transport, bridge)  # every read judged: no `ip`, or a failure, is an error
    evidence[f"{bridge} addresses"] = ",".join(facts.addresses) or ("none" if facts.exists else "no such interface")
    evidence["routes"] = "; ".join(upstream.describe(r) for r in
                                   upstream.via_gateway(facts.routes, gateway, bridge)) or "none"
    evidence["stated networks"] = (", ".join(networks)
                                   or f"not stated ({upstream.NETWORKS_KEY} unset): any route via {gateway} counts")
    judged = upstream.judge(facts, bridge, gateway, networks)
    problems = judged.problems()
    if not facts.exists:
        raise Finding(f"{target}: " + "; ".join(problems),
                      remediation=f"create {bridge} with its NIC first (NET-1's fixer), then run the fix again")
    if judged.remedy():  # what its fixer must not repair (it would invent or take a route): said here
        raise Finding(f"{target}: " + "; ".join(problems), remediation=judged.remedy())
    assert not problems, f"{target}: " + "; ".join(problems)


@pytest.mark.requirement("NET-5")
@pytest.mark.role("controller")
@pytest.mark.severity("high")
def test_external_networks_in_neutron(cloud, lab, evidence):
    cloudapi.require_service(cloud, "network", "the external networks are Neutron's")
    nets = [n.to_dict() for n in cloud.network.networks()]
    subnets = [s.to_dict() for s in cloud.network.subnets()]
    routers = [r.to_dict() for r in cloud.network.routers()]
    problems = cloudapi.external_network_problems(nets, subnets, routers, wanted_networks(lab))
    evidence["external networks"] = ",".join(n["name"] for n in nets if n.get("is_router_external")) or "none"
    assert not problems, "; ".join(problems)
