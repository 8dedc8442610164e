"""HOST-4 and HOST-5: the physical host's iptables, judged by what happens to a packet (running rules and the
rules a restart of the iptables service / a reboot would load)."""
from __future__ import annotations

import pytest

from stackcheck.probes import hostnet
from stackcheck.probes import iptables as ipt
from tests_host.conftest import need, public_nic

pytestmark = [pytest.mark.role("compute")]


def persisted_sets(facts):
    """(path, tables) of every persisted ruleset the host would load."""
    return [(path, ipt.parse_save(text)) for path, text in facts.persisted_iptables.items()]


@pytest.mark.requirement("HOST-4")
@pytest.mark.severity("high")
def test_public_nic_drops_what_is_not_for_the_floating_or_own_range(transport, target, lab, evidence):
    netfacts = hostnet.read(transport)  # read in the body: a --fix re-check must see the new state
    floating = need(lab, "host.floating_range")
    block = lab.get("host.public_block")
    nic = public_nic(target, netfacts)
    evidence["nic"] = f"{nic} {' '.join(str(i) for i in netfacts.addrs.get(nic, []))}"
    seen: list[str] = []
    wrong = hostnet.host4_wrong(netfacts.iptables, netfacts, nic, floating, block, seen)
    evidence["verdicts"] = ", ".join(seen)
    assert not wrong, f"packets arriving on {nic} (running rules): " + "; ".join(wrong[:3]) + \
        (f" (+{len(wrong) - 3} more)" if len(wrong) > 3 else "")
    saved = persisted_sets(netfacts)
    evidence["persisted"] = ", ".join(p for p, _ in saved) or "none"
    assert saved, "the rules are not persisted (no /etc/sysconfig/iptables or /etc/iptables/rules.v4)"
    for path, tables in saved:
        wrong = hostnet.host4_wrong(tables, netfacts, nic, floating, block)
        assert not wrong, f"packets arriving on {nic} (rules persisted in {path}): " + "; ".join(wrong[:3])


@pytest.mark.requirement("HOST-5")
@pytest.mark.severity("high")
def test_instances_cannot_reach_the_hop0_gateway(transport, lab, evidence):
    netfacts = hostnet.read(transport)  # read in the body: a --fix re-check must see the new state
    floating = need(lab, "host.floating_range")
    bridge = need(lab, "host.external_bridge")
    gw = netfacts.addrs.get(bridge)
    assert gw, f"the external bridge {bridge} has no address (is the external network up?)"
    evidence["gateway"] = " ".join(str(i.ip) for i in gw)
    seen: list[str] = []
    wrong = hostnet.host5_wrong(netfacts.iptables, netfacts, bridge, floating, seen)
    evidence["verdicts"] = "; ".join(seen)
    assert not wrong, "INPUT from instances (running rules): " + "; ".join(wrong[:3])
    saved = persisted_sets(netfacts)
    assert saved, "the rules are not persisted (no /etc/sysconfig/iptables or /etc/iptables/rules.v4)"
    for path, tables in saved:
        wrong = hostnet.host5_wrong(tables, netfacts, bridge, floating)
        assert not wrong, f"INPUT from instances (rules persisted in {path}): " + "; ".join(wrong[:3])
