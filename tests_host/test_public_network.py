"""HOST-1..3: how the public block reaches the physical host (route, proxy ARP) and the ARP filters that keep
proxy ARP from answering for what the site does not own."""
from __future__ import annotations

import pytest

from stackcheck.probes import arp, hostnet, sysctl
from stackcheck.verdicts import NotApplicable
from tests_host.conftest import need, public_nic

pytestmark = [pytest.mark.role("compute")]


@pytest.mark.requirement("HOST-1")
@pytest.mark.severity("high")
def test_public_block_routes_to_external_bridge(transport, lab, evidence):
    netfacts = hostnet.read(transport)  # read in the body: a --fix re-check must see the new state
    block = need(lab, "host.public_block")
    bridge = need(lab, "host.external_bridge")
    floating = lab.get("host.floating_range") or block
    addrs = list(dict.fromkeys(arp.representative(floating) + arp.representative(block)[1:]))
    routes = {a: netfacts.route_dev(a) for a in addrs}
    evidence["routes"] = ", ".join(f"{a} -> {d or 'no route'}" for a, d in routes.items())
    wrong = {a: d for a, d in routes.items() if d != bridge}
    assert not wrong, (f"the public block {block} is not routed to {bridge}: "
                       + ", ".join(f"{a} goes to {d or 'no route'}" for a, d in wrong.items()))


def proxy_arp_state(transport, nic):
    keys = [f"net.ipv4.conf.{nic}.proxy_arp", "net.ipv4.conf.all.proxy_arp"]
    run, files = sysctl.read(transport, keys)  # one round trip; an unreadable sysctl file is an error
    kept = {k: sysctl.persisted(files, k) for k in keys}
    return keys, run, kept


@pytest.mark.requirement("HOST-2")
@pytest.mark.severity("high")
def test_proxy_arp_on_public_nic(transport, target, lab, evidence):
    if lab.get("host.arp_method") != "proxy_arp":  # a declared fact of the site: HOST-2 is about proxy ARP only
        raise NotApplicable(f"the inventory declares host.arp_method: {lab.get('host.arp_method')} "
                            f"(the upstream router routes the public block; no proxy ARP)")
    netfacts = hostnet.read(transport)  # read in the body: a --fix re-check must see the new state
    nic = public_nic(target, netfacts)
    keys, run, kept = proxy_arp_state(transport, nic)
    evidence["running"] = ", ".join(f"{k}={v}" for k, v in run.items())
    evidence["persisted"] = ", ".join(f"{k}={v[0]} ({v[1]})" for k, v in kept.items() if v[0] is not None) or "none"
    # the kernel answers by proxy when conf.all OR conf.<nic> is on
    running_on = any(v == "1" for v in run.values())
    persisted_on = any(v[0] == "1" for v in kept.values())
    problems = []
    if run[keys[0]] is None:
        problems.append(f"{nic} does not exist on this host")
    elif not running_on:
        problems.append(f"running: {evidence['running']}")
    if not persisted_on:
        problems.append(f"not persisted in sysctl.d (a reboot turns it off): {evidence['persisted']}")
    assert not problems, f"proxy_arp on the public NIC {nic}: " + "; ".join(problems) + "; expected 1"


def public_list_of(lab, facts, nic) -> list[str]:
    """The inventory's host.public_ips, else the public block (which must then be set) and the NIC's addresses."""
    given = lab.get("host.public_ips")
    block = None if given else need(lab, "host.public_block", "HOST-3's public list (or set host.public_ips)")
    return hostnet.public_list(given, block, facts, nic)


def arp_findings(facts, lab, nic, ruleset=None) -> tuple[list[str], list[str]]:
    allowed = public_list_of(lab, facts, nic)
    return hostnet.arp_wrong(facts, ruleset or facts.arp, nic, allowed), allowed


@pytest.mark.requirement("HOST-3")
@pytest.mark.severity("high")
def test_arp_filters_keep_to_the_public_list(transport, target, lab, evidence):
    netfacts = hostnet.read(transport)  # read in the body: a --fix re-check must see the new state
    nic = public_nic(target, netfacts)
    assert nic in netfacts.addrs, f"the public NIC {nic} has no IPv4 address on {target.name}"
    wrong, allowed = arp_findings(netfacts, lab, nic)
    evidence["public_list"] = " ".join(allowed)
    evidence["rules"] = f"{netfacts.arp.rule_count} ARP filter rules ({', '.join(sorted({t.backend for t in netfacts.arp.tables + netfacts.arp.bridge_tables})) or 'no backend'})"
    assert not wrong, f"ARP filters on {nic} (running): " + "; ".join(wrong[:4]) + (f" (+{len(wrong) - 4} more)" if len(wrong) > 4 else "")
    # what a reboot would load: the persisted ARP rules
    persisted = netfacts.persisted_arp
    assert persisted, (f"the ARP filters on {nic} are not persisted (no /etc/sysconfig/arptables or "
                       f"/etc/iptables/arptables.rules): a reboot drops them")
    wrong_saved, _ = arp_findings(netfacts, lab, nic, hostnet.persisted_arp_ruleset(netfacts))
    evidence["persisted"] = ", ".join(persisted)
    assert not wrong_saved, f"ARP filters persisted in {', '.join(persisted)}: " + "; ".join(wrong_saved[:3])
