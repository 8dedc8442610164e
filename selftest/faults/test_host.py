"""Fault matrix of the host family on the lab in a box's compute host (the physical host of the notes).

Each fault is a mistake an operator really makes on such a host; independent faults are injected together so
a group costs three check runs (see the faults, run with --fix, run again):
- group "host": proxy_arp turned off by a hardening sysctl.d file (a glob); the ARP filter chain flushed while
  debugging; the public NIC's drop rule unhooked, and that state saved as the persisted rules (ARP and
  iptables); the host opened to the instances with an ACCEPT; the Debian installer's `127.0.1.1 compute` line
  back in /etc/hosts; a control-plane VM's autostart off; nova-compute stopped; the iptables service disabled
  and firewalld turned back on (which also flushes the iptables rules);
- group "libvirt": the external network destroyed (its bridge, address and route go with it) and the data
  network's autostart turned off;
- libvirt networks redefined (the data bridge back to virbr1, the external network nat): found, no fixer;
- a stale static route for half the public block: found, --dry-run changes nothing, --fix removes it;
- ARP filters moved to a native nft table: judged by meaning in that backend too;
- a fix that must refuse: an ARP filter list without the host's own address would cut the SSH session.
"""
from __future__ import annotations

import pytest
import yaml

from selftest.faultlib import fault, lab_exec, run_checks
from stackcheck.inventory import REPO

HOST = "compute"
T = "tests_host"

HOST_FAULTS = {
    # check name -> (requirement, inject, restore if the fix did not)
    "test_proxy_arp_on_public_nic[compute]": (
        # a hardening role lands a sysctl.d file that turns proxy ARP off everywhere, and applies it
        "HOST-2", "printf '# hardening\\nnet.ipv4.conf.*.proxy_arp = 0\\n' > /etc/sysctl.d/99-hardening.conf && "
                  "sysctl -q -w net.ipv4.conf.eth0.proxy_arp=0",
        "rm -f /etc/sysctl.d/99-hardening.conf; sysctl -q -w net.ipv4.conf.eth0.proxy_arp=1"),
    "test_arp_filters_keep_to_the_public_list[compute]": (
        "HOST-3", "arptables -F public-arp-in", "arptables-restore < /etc/iptables/arptables.rules"),
    "test_public_nic_drops_what_is_not_for_the_floating_or_own_range[compute]": (
        # unhooked while debugging, then `netfilter-persistent save`: the broken state is now also what a reboot
        # loads (and the ARP chain flushed just before is saved too)
        "HOST-4", "iptables -t raw -D PREROUTING -i eth0 -j public-nic-in && netfilter-persistent save >/dev/null 2>&1",
        "iptables -t raw -C PREROUTING -i eth0 -j public-nic-in || iptables -t raw -I PREROUTING 1 -i eth0 -j public-nic-in"),
    "test_instances_cannot_reach_the_hop0_gateway[compute]": (
        "HOST-5", "iptables -I INPUT 1 -i virbr2 -j ACCEPT", "iptables -D INPUT -i virbr2 -j ACCEPT"),
    "test_hostname_resolves_to_the_node_address[compute]": (
        "HOST-7", "sed -i '1a 127.0.1.1\\tcompute' /etc/hosts", "sed -i '/^127.0.1.1/d' /etc/hosts"),
    "test_control_plane_vms_defined_with_autostart[compute]": (
        "VIRT-3", "virsh -q autostart --disable network", "virsh -q autostart network"),
    "test_physical_host_is_the_kvm_compute_node[compute]": (
        "VIRT-4", "systemctl stop nova-compute", "systemctl start nova-compute"),
    "test_network_and_firewall_services_as_prepared_for_packstack[compute]": (
        "HOST-6", "systemctl disable --now netfilter-persistent && systemctl enable --now firewalld",
        "systemctl disable --now firewalld; systemctl enable --now netfilter-persistent"),
}
# what each failure message must say (found and expected)
HOST_MESSAGES = {
    "test_proxy_arp_on_public_nic[compute]": ["proxy_arp=0", "not persisted", "99-hardening.conf", "expected 1"],
    "test_arp_filters_keep_to_the_public_list[compute]": ["incoming ARP request", "expected dropped"],
    "test_public_nic_drops_what_is_not_for_the_floating_or_own_range[compute]": ["arriving on eth0", "expected dropped"],
    # (firewalld, turned on in the same round, flushes the iptables rules too: the message names whichever
    # rule or policy let the packet in)
    "test_instances_cannot_reach_the_hop0_gateway[compute]": ["198.19.0.2 -> 198.19.0.1 tcp/22", "ACCEPT",
                                                              "expected rejected"],
    "test_hostname_resolves_to_the_node_address[compute]": ["127.0.1.1", "expected 198.18.0.14"],
    "test_control_plane_vms_defined_with_autostart[compute]": ["autostart off: network"],
    "test_physical_host_is_the_kvm_compute_node[compute]": ["nova-compute is inactive"],
    "test_network_and_firewall_services_as_prepared_for_packstack[compute]": [
        "firewalld is active and enabled (expected stopped and disabled)", "netfilter-persistent: inactive"],
}
SELECT = ["-k", "compute"]


def _restore(faults):
    for _req, _inject, restore in faults.values():
        lab_exec(HOST, restore, check=False)


def _assert_healthy(names):
    run = run_checks(T, extra=SELECT)
    bad = {n: (run.outcome(n), run.message(n)[:200]) for n in names if run.outcome(n) != "passed"}
    assert not bad, f"after the fix the lab is not healthy: {bad}"
    return run


@pytest.mark.covers("HOST-2", "HOST-3", "HOST-4", "HOST-5", "HOST-6", "HOST-7", "VIRT-3", "VIRT-4")
def test_host_faults_are_found_and_fixed(lab_up):
    healthy = run_checks(T, extra=SELECT)
    not_passing = {n: healthy.outcome(n) for n in HOST_FAULTS if healthy.outcome(n) != "passed"}
    assert not not_passing, f"the lab must be healthy before the faults: {not_passing}"
    try:
        lab_exec(HOST, " && ".join(inject for _r, inject, _u in HOST_FAULTS.values()))
        seen = run_checks(T, extra=SELECT)
        for name, needles in HOST_MESSAGES.items():
            assert seen.outcome(name) == "failed", f"{name}: {seen.outcome(name)} under its fault, expected failed"
            msg = seen.message(name)
            missing = [n for n in needles if n not in msg]
            assert not missing, f"{name}: the message lacks {missing}: {msg[:400]}"
        fixed = run_checks(T, extra=SELECT, fix=True)
        not_fixed = {n: (fixed.outcome(n), fixed.case(n).get("fix_log", "")[-300:]) for n in HOST_FAULTS
                     if fixed.outcome(n) != "fixed"}
        assert not not_fixed, f"not fixed: {not_fixed}"
    finally:
        _restore(HOST_FAULTS)
    _assert_healthy(HOST_FAULTS)
    # idempotent: a second --fix has nothing to do
    again = run_checks(T, extra=SELECT, fix=True)
    assert all(again.outcome(n) == "passed" for n in HOST_FAULTS), again.outcomes()


LIBVIRT_CHECKS = ["test_external_network_is_routed_on_its_own_bridge[compute]",
                  "test_public_block_routes_to_external_bridge[compute]",
                  "test_data_network_bridge_is_eth1_active_and_autostarted[compute]"]


@pytest.mark.covers("VIRT-1", "VIRT-2", "HOST-1")
def test_libvirt_network_faults_are_found_and_fixed(lab_up):
    inject = "virsh -q net-destroy external && virsh -q net-autostart --disable openstack-data"
    # (a stale static route for part of the block is the other way to lose it: see the next test)
    restore = ("virsh -q net-info external | grep -q 'Active: *yes' || virsh -q net-start external; "
               "virsh -q net-autostart openstack-data")
    with fault(HOST, inject=inject, restore=restore):
        seen = run_checks(T, extra=SELECT)
        assert seen.outcome(LIBVIRT_CHECKS[0]) == "failed" and "inactive" in seen.message(LIBVIRT_CHECKS[0])
        assert seen.outcome(LIBVIRT_CHECKS[1]) == "failed"
        assert "198.19.0.2 goes to eth0" in seen.message(LIBVIRT_CHECKS[1]) or \
            "198.19.0.2 goes to no route" in seen.message(LIBVIRT_CHECKS[1]), seen.message(LIBVIRT_CHECKS[1])
        assert seen.outcome(LIBVIRT_CHECKS[2]) == "failed" and "not autostarted" in seen.message(LIBVIRT_CHECKS[2])
        fixed = run_checks(T, extra=SELECT, fix=True)
        # each network has its fixer: VIRT-1's autostarts the data network, VIRT-2's starts the external one (and
        # HOST-1's route comes back with it: HOST-1 passes or is fixed by the same start)
        outcomes = {n: fixed.outcome(n) for n in LIBVIRT_CHECKS}
        assert outcomes[LIBVIRT_CHECKS[2]] == "fixed" and outcomes[LIBVIRT_CHECKS[0]] == "fixed", outcomes
        assert set(outcomes.values()) <= {"fixed", "passed"}, outcomes
        log = fixed.case(LIBVIRT_CHECKS[2]).get("fix_log", "")
        assert "net-autostart openstack-data" in log and "external" not in log, log
        log = fixed.case(LIBVIRT_CHECKS[0]).get("fix_log", "")
        assert "net-start external" in log, log
    _assert_healthy(LIBVIRT_CHECKS + list(HOST_FAULTS))


@pytest.mark.covers("HOST-3")
def test_arp_fix_refuses_to_cut_its_own_ssh_session(lab_up, tmp_path):
    """An inventory whose public list leaves out the host's own address: the check fails (requests from that
    address pass), and the fixer refuses, because the filter it would install drops the ARP that SSH needs."""
    inv = yaml.safe_load((REPO / "inventories" / "labbox.yaml").read_text())
    inv["stackcheck"].setdefault("host", {})["public_ips"] = ["198.19.0.0/28"]
    path = tmp_path / "labbox-narrow.yaml"
    path.write_text(yaml.safe_dump(inv))
    name = "test_arp_filters_keep_to_the_public_list[compute]"
    run = run_checks(f"{T}/test_public_network.py", inventory=str(path), fix=True, extra=SELECT)
    assert run.outcome(name) == "fix-failed" or run.case(name).get("fix_status") == "declined", run.case(name)
    assert "would drop" in run.case(name).get("fix_log", "") and "SSH session" in run.case(name).get("fix_log", "")
    # nothing changed: the lab still passes with its own inventory
    assert run_checks(f"{T}/test_public_network.py", extra=SELECT).outcome(name) == "passed"


def _redefine(net: str, sed: str) -> str:
    """Shell: change a libvirt network's definition and restart it (what `virsh net-edit` + restart does)."""
    return (f"virsh -q net-dumpxml {net} | sed \"{sed}\" > /tmp/{net}.xml && virsh -q net-destroy {net} && "
            f"virsh -q net-define /tmp/{net}.xml && virsh -q net-start {net}; rm -f /tmp/{net}.xml")


@pytest.mark.covers("VIRT-1", "VIRT-2")
def test_redefined_libvirt_networks_are_found(lab_up):
    """Two redefinitions an operator makes: the notes' own suggestion after packstack (rename the `eth1` network's
    bridge back to virbr1; packstack's next run needs eth1), and the external network recreated from libvirt's
    default template (forward mode nat instead of route: the public block is masqueraded, not routed). No fixer:
    redefining a network restarts it under the VMs: each fixer declines with its reason, and each failure's
    remediation says what to do by hand (not "Start the data and external libvirt networks")."""
    inject = (_redefine("openstack-data", "s/bridge name='eth1'/bridge name='virbr1'/") + " && "
              + _redefine("external", "s/forward mode='route'/forward mode='nat'/"))
    # back to the role's own definitions (a nat network's XML carries a <nat> element a sed cannot undo)
    restore = ("for n in openstack-data external; do virsh -q net-destroy $n; virsh -q net-undefine $n; done; "
               "set -a; . /etc/labbox/lab.env; set +a; bash -e /opt/labbox/setup.d/20-libvirt.sh")
    data = "test_data_network_bridge_is_eth1_active_and_autostarted[compute]"
    ext = "test_external_network_is_routed_on_its_own_bridge[compute]"
    with fault(HOST, inject=inject, restore=restore):
        run = run_checks(f"{T}/test_libvirt.py", extra=SELECT, fix=True)
        assert run.outcome(data) == "failed", run.case(data)
        assert "no libvirt network has its bridge named eth1" in run.message(data)
        assert "openstack-data (bridge virbr1" in run.message(data), run.message(data)
        assert run.outcome(ext) == "failed" and "forward mode is nat, expected route" in run.message(ext), run.case(ext)
        for name, words in ((data, "rename the data network's bridge to eth1"),
                            (ext, "change the definition of external by hand")):
            case = run.case(name)
            assert case.get("fix_status") == "declined" and words in case.get("fix_log", ""), case
            assert words in case.get("remediation", "") and "Start the" not in case["remediation"], case
    after = run_checks(T, extra=SELECT)
    assert all(after.outcome(n) == "passed" for n in (data, ext)), after.outcomes()
    assert after.outcome("test_instances_cannot_reach_the_hop0_gateway[compute]") == "passed"


@pytest.mark.covers("HOST-1")
def test_stale_static_route_for_the_public_block_is_found_and_removed(lab_up):
    """A static route left from before the routed network (half the block sent upstream) wins over the
    bridge's own route by being more specific."""
    name = "test_public_block_routes_to_external_bridge[compute]"
    with fault(HOST, inject="ip route add 198.19.0.0/29 via 198.18.0.1 dev eth0",
               restore="ip route del 198.19.0.0/29 via 198.18.0.1 dev eth0 2>/dev/null; true"):
        seen = run_checks(f"{T}/test_public_network.py", extra=SELECT)
        assert seen.outcome(name) == "failed" and "198.19.0.2 goes to eth0" in seen.message(name), seen.case(name)
        planned = run_checks(f"{T}/test_public_network.py", extra=SELECT, fix=True, dry_run=True)
        assert planned.case(name).get("fix_status") == "planned", planned.case(name)
        assert "ip route del 198.19.0.0/29" in planned.case(name).get("fix_log", "")
        assert "198.19.0.0/29 via 198.18.0.1" in lab_exec(HOST, "ip route show 198.19.0.0/29").stdout, \
            "--dry-run changed the host"
        fixed = run_checks(f"{T}/test_public_network.py", extra=SELECT, fix=True)
        assert fixed.outcome(name) == "fixed", fixed.case(name)
        assert "ip route del 198.19.0.0/29 via 198.18.0.1 dev eth0" in fixed.case(name).get("fix_log", "")
    assert run_checks(f"{T}/test_public_network.py", extra=SELECT).outcome(name) == "passed"


NATIVE_ARP = """table arp public_arp {
  set public_ips {
    type ipv4_addr; flags interval; elements = { 198.18.0.14, 198.19.0.0/28 }
  }
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "eth0" arp operation request arp saddr ip != @public_ips drop
  }
  chain in {
    type filter hook input priority 0; policy accept;
    iifname "eth0" arp operation request arp daddr ip != @public_ips %s
  }
}
"""


@pytest.mark.covers("HOST-3")
def test_arp_filters_are_judged_by_meaning_in_any_backend(lab_up):
    """The operator moves the ARP filters from arptables to a native nft table: the same policy passes, and the
    same table with its incoming rule left as `accept` fails, naming that rule."""
    name = "test_arp_filters_keep_to_the_public_list[compute]"
    load = "arptables -F && arptables -X && nft -f - <<'EOF'\n{}\nEOF"
    restore = "nft delete table arp public_arp 2>/dev/null; arptables-restore < /etc/iptables/arptables.rules"
    try:
        lab_exec(HOST, load.format(NATIVE_ARP % "drop"))
        run = run_checks(f"{T}/test_public_network.py", extra=SELECT)
        assert run.outcome(name) == "passed", run.case(name)
        assert "(nft)" in run.case(name)["evidence"]
        lab_exec(HOST, "nft delete table arp public_arp && nft -f - <<'EOF'\n{}\nEOF".format(NATIVE_ARP % "accept"))
        run = run_checks(f"{T}/test_public_network.py", extra=SELECT)
        assert run.outcome(name) == "failed", run.case(name)
        assert "incoming ARP request on eth0 from 198.18.0.1 for 198.18.64.1" in run.message(name), run.message(name)
        assert "expected dropped" in run.message(name)
    finally:
        lab_exec(HOST, restore, check=False)
    assert run_checks(f"{T}/test_public_network.py", extra=SELECT).outcome(name) == "passed"
