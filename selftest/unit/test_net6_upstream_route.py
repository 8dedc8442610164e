"""NET-6: the check requires the static routes the inventory states, and the fixer restores those and invents none.

The incident: after br-ex was re-created, its route to 198.18.9.0/24 via the upstream gateway was gone; the old
fixer added `default via 198.18.8.1 dev br-ex onlink metric 500`, which never existed, and the old check
accepted it (any route via the gateway on br-ex counted). The captures are the lab's network node
(labbox/roles/network/setup.d/20-network.sh: `ip route replace 198.18.9.0/24 via 198.18.8.1 dev br-ex onlink`),
read with upstream.read_command over the suite's SSH connection; the broken states are that output with the
routes `ip -j route` prints for them."""
import json
from pathlib import Path

import pytest
import yaml

from fixes.openstack_neutron import recover_br_ex_address
from stackcheck.fixing import FixContext, FixDeclined
from stackcheck.inventory import load
from stackcheck.probes import batch, upstream
from stackcheck.transport import Result, Transport

CAPTURE = (Path(__file__).parent / "data" / "openstack" / "net6-network-root.txt").read_text()
GW, LOST = "198.18.8.1", "198.18.9.0/24"
KERNEL = {"dst": "198.18.0.0/24", "dev": "eth0", "protocol": "kernel", "scope": "link", "prefsrc": "198.18.0.12",
          "flags": []}
STATIC = {"dst": LOST, "gateway": GW, "dev": "br-ex", "flags": ["onlink"]}
INVENTED = {"dst": "default", "gateway": GW, "dev": "br-ex", "metric": 500, "flags": ["onlink"]}


def with_routes(*routes) -> str:
    """The capture with the routing table replaced (the addresses part as captured)."""
    parts = batch.parse(CAPTURE)
    old = parts["route"].text
    return CAPTURE.replace(old, json.dumps(list(routes)) + "\n")


class Canned(Transport):
    name = "network"

    def __init__(self, output):
        self.output = output

    def run(self, command, stdin=None, timeout=None):
        return Result(0, self.output, "")


def lab(tmp_path, networks=None):
    inv = {"all": {"children": {"network": {"hosts": {"network": {"ansible_host": "198.18.0.12"}}}}},
           "stackcheck": {"neutron": {"upstream_gateway": GW}}}
    path = tmp_path / "inv.yaml"
    path.write_text(yaml.safe_dump(inv))
    found = load(str(path))
    if networks is not None:  # the key the lead adds to the inventory model (neutron.upstream_networks)
        found.expect["neutron"]["upstream_networks"] = networks
    return found


def judged(output, networks):
    return upstream.judge(upstream.facts_from(batch.parse(output), "br-ex"), "br-ex", GW, networks).problems()


def test_the_lab_as_built_passes_with_and_without_the_stated_network():
    assert batch.parse(CAPTURE)["route"].text == json.dumps([KERNEL, STATIC], separators=(",", ":")) + "\n"
    assert judged(CAPTURE, [LOST]) == [] and judged(CAPTURE, []) == []


def test_the_invented_default_route_is_not_the_stated_route():
    """The old check passed this state; stating the network makes it fail, naming both the lost route and the
    invented one."""
    problems = judged(with_routes(KERNEL, INVENTED), [LOST])
    assert f"no route to {LOST} via {GW} on br-ex (stated by neutron.upstream_networks)" in problems
    assert any(p.startswith("the default route default via 198.18.8.1 dev br-ex onlink metric 500 is not a route "
                            "the inventory states") for p in problems)


def test_a_shadowed_route_carries_nothing():
    better = {"dst": "default", "gateway": "198.18.0.1", "dev": "eth0", "flags": []}
    problems = judged(with_routes(KERNEL, better, INVENTED), [])
    assert problems == ["the route default via 198.18.8.1 dev br-ex onlink metric 500 is shadowed by "
                        "default via 198.18.0.1 dev eth0: it carries nothing"]


def test_no_route_at_all():
    assert judged(with_routes(KERNEL), []) == [f"no static route via {GW} on br-ex"]


def plan(tmp_path, output, networks):
    ctx = FixContext(Canned(output), None, lab(tmp_path, networks))
    recover_br_ex_address(ctx)
    return ctx


def test_fixer_restores_the_stated_route_after_br_ex_was_recreated(tmp_path):
    ctx = plan(tmp_path, with_routes(KERNEL), [LOST])
    assert [a.do for a in ctx.actions] == [f"ip route replace {LOST} via {GW} dev br-ex onlink"]
    assert ctx.actions[0].undo == f"ip route del {LOST} via {GW} dev br-ex"
    assert not any("default" in a.do for a in ctx.actions)


def test_fixer_declines_when_the_inventory_does_not_say_which_route(tmp_path):
    """The old fixer invented `default via GW dev br-ex`; now it says what it cannot know and what to set."""
    with pytest.raises(FixDeclined, match=r"no static route via 198.18.8.1 on br-ex \(the inventory does not say "
                                          r"which networks .* set neutron.upstream_networks"):
        plan(tmp_path, with_routes(KERNEL), None)


def test_fixer_declines_to_keep_or_remove_an_invented_default(tmp_path):
    with pytest.raises(FixDeclined, match="the default route .* is not a route the inventory states"):
        plan(tmp_path, with_routes(KERNEL, INVENTED), [LOST])


def test_fixer_has_nothing_to_do_on_the_lab_as_built(tmp_path):
    assert plan(tmp_path, CAPTURE, [LOST]).empty and plan(tmp_path, CAPTURE, None).empty


def test_fixer_keeps_the_route_the_address_takes_with_it(tmp_path):
    """br-ex given back its address (the fault of selftest/faults/test_openstack.py, captured on the lab). On the
    lab, `ip addr del` of that address also deleted the onlink route via 198.18.8.1: the fixer re-adds it after
    the address is gone, and a rollback (address re-added) leaves the route in place."""
    output = (Path(__file__).parent / "data" / "openstack" / "net6-network-address-fault.txt").read_text()
    assert judged(output, [LOST]) == ["br-ex carries 198.18.8.5/24 (expected no address: the public address is "
                                      "recovered)"]
    ctx = plan(tmp_path, output, [LOST])
    assert [(a.do, a.undo) for a in ctx.actions] == [
        ("ip addr del 198.18.8.5/24 dev br-ex", "ip addr add 198.18.8.5/24 dev br-ex"),
        (f"ip route replace {LOST} via {GW} dev br-ex onlink", None)]


def test_the_remedy_says_what_the_fixer_will_not_do():
    facts = upstream.facts_from(batch.parse(with_routes(KERNEL)), "br-ex")
    assert "set neutron.upstream_networks" in upstream.judge(facts, "br-ex", GW, []).remedy()
    assert upstream.judge(facts, "br-ex", GW, [LOST]).remedy() is None  # the fixer restores the stated route
    facts = upstream.facts_from(batch.parse(with_routes(KERNEL, INVENTED)), "br-ex")
    assert "ip route del default via 198.18.8.1 dev br-ex onlink metric 500" in \
        upstream.judge(facts, "br-ex", GW, [LOST]).remedy()
