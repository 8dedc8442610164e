"""VIRT: several OpenStack nodes as VMs on one physical host (libvirt, read with libvirt-python)."""
from __future__ import annotations

import pytest

from stackcheck.probes import compute
from stackcheck.probes.libvirt import describe, judge_data_network, judge_external_network
from stackcheck.verdicts import CannotCheck, Finding
from tests_host.conftest import need

pytestmark = [pytest.mark.role("compute")]


def _assert_network(judgement, label: str) -> None:
    """A finding naming what is wrong; when only a change of the network's definition repairs it (which the
    fixer does not do), the finding carries what to do by hand."""
    if not judgement.problems:
        return
    net = judgement.network
    where = f"libvirt network {net.name} ({label})" if net else label
    raise Finding(f"{where}: " + "; ".join(judgement.problems), remediation=judgement.remedy or None)


@pytest.mark.requirement("VIRT-1")
@pytest.mark.severity("high")
def test_data_network_bridge_is_eth1_active_and_autostarted(libvirt, lab, evidence):
    bridge = need(lab, "host.data_bridge")
    nets = libvirt.networks()
    evidence["networks"] = describe(nets)
    j = judge_data_network(nets, bridge)
    if j.network:
        evidence["data_network"] = j.network.name
    _assert_network(j, f"the data network, bridge {bridge}; expected active and autostarted")


@pytest.mark.requirement("VIRT-2")
@pytest.mark.severity("high")
def test_external_network_is_routed_on_its_own_bridge(libvirt, lab, evidence):
    bridge = need(lab, "host.external_bridge")
    block = need(lab, "host.public_block", "the external network must carry the public block")
    nets = libvirt.networks()
    evidence["networks"] = describe(nets)
    j = judge_external_network(nets, bridge, block)
    if j.network:
        evidence["external_network"] = f"{j.network.name} {j.network.forward_mode} {j.network.addresses}"
    _assert_network(j, f"the external network on {bridge}")


@pytest.mark.requirement("VIRT-3")
@pytest.mark.severity("high")
def test_control_plane_vms_defined_with_autostart(libvirt, lab, evidence):
    wanted = need(lab, "host.control_plane_vms")
    doms = libvirt.domains()
    evidence["domains"] = ", ".join(f"{d.name} ({d.type}, autostart {'on' if d.autostart else 'off'}, "
                                    f"{'running' if d.active else 'shut off'})" for d in doms.values()) or "none"
    missing = [v for v in wanted if v not in doms or not doms[v].persistent]
    no_autostart = [v for v in wanted if v in doms and not doms[v].autostart]
    problems = []
    if missing:
        problems.append(f"not defined: {', '.join(missing)}")
    if no_autostart:
        problems.append(f"autostart off: {', '.join(no_autostart)}")
    message = (f"control-plane VMs on the physical host: {'; '.join(problems)} "
               f"(expected {', '.join(wanted)} defined with autostart; found {evidence['domains']})")
    if missing:  # the fixer only sets autostart: a VM that is not defined is the operator's to define
        raise Finding(message, remediation=f"define {', '.join(missing)} from their XML (disks, MACs) with "
                                           f"`virsh define`, then `virsh autostart NAME`")
    assert not problems, message


@pytest.mark.requirement("VIRT-4")
@pytest.mark.severity("high")
def test_physical_host_is_the_kvm_compute_node(libvirt, transport, lab, evidence):
    """nova-compute runs on the physical host, with KVM (not emulation), and, unless the inventory says the
    compute host may itself be a VM (host.bare_metal_compute: false), that host is not a VM: nested KVM is what
    the notes ruled out."""
    facts = compute.read(transport)
    types = libvirt.domain_types()
    nova = facts.nova
    bare_metal = lab.get("host.bare_metal_compute")
    evidence.update({"nova_compute": nova.describe() if nova else "not installed", "dev_kvm": facts.dev_kvm,
                     "hypervisor_domain_types": " ".join(sorted(types)), "virt_type": facts.virt_type,
                     "host_is_vm": facts.vm or facts.vm_unknown, "bare_metal_expected": bare_metal})
    problems, by_hand = [], []  # by_hand: what starting nova-compute (the fixer) does not repair
    if nova is None:
        problems.append(f"no nova-compute service ({' / '.join(compute.NOVA_UNITS)})")
        by_hand.append("install nova-compute (Debian/Ubuntu) or openstack-nova-compute (RDO)")
    elif not nova.running:
        problems.append(f"{nova.name} is {nova.active}")
    if not facts.has_kvm_device or "kvm" not in types:
        if not facts.has_kvm_device:
            problems.append(f"/dev/kvm is missing ({facts.dev_kvm})")
        if "kvm" not in types:
            problems.append(f"libvirt offers no kvm domains (only {', '.join(sorted(types)) or 'none'})")
        by_hand.append("enable VT-x/AMD-V in the firmware and load kvm_intel/kvm_amd")
    if bare_metal:
        if facts.vm is None:
            raise CannotCheck(facts.vm_unknown + " (host.bare_metal_compute is true: the compute host must not be a VM)")
        if facts.vm != "none":
            problems.append(f"the compute host is itself a VM ({facts.vm}): instances would run nested")
            by_hand.append("run nova-compute on the physical host, not in a VM")
    wanted = lab.get("host.nova_virt_type")
    evidence["virt_type_expected"] = wanted
    if facts.virt_type != wanted:
        emulated = " (instances would be emulated, not KVM)" if wanted == "kvm" else ""
        problems.append(f"nova [libvirt] virt_type = {facts.virt_type}{emulated}, expected {wanted} "
                        "(stackcheck.host.nova_virt_type)")
        by_hand.append(f"set [libvirt] virt_type = {wanted} in nova.conf and restart nova-compute")
    message = "compute node: " + "; ".join(problems) + "; expected nova-compute running with KVM"
    if by_hand:
        start = ["start nova-compute (pytest --fix)"] if nova is not None and not nova.running else []
        raise Finding(message, remediation="; ".join(start + by_hand))
    assert not problems, message
