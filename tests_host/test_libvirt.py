"""VIRT: several OpenStack nodes as VMs on one physical host (libvirt, read with libvirt-python)."""
from __future__ import annotations

import pytest

from stackcheck.probes import compute

pytestmark = [pytest.mark.role("compute")]


def _nets(libvirt):
    return libvirt.networks()


def _describe(nets) -> str:
    return ", ".join(f"{n.name} (bridge {n.bridge}, {n.forward_mode or 'isolated'}, "
                     f"{'active' if n.active else 'inactive'}, autostart {'on' if n.autostart else 'off'})"
                     for n in nets.values()) or "no networks"


@pytest.mark.requirement("VIRT-1")
@pytest.mark.severity("high")
def test_data_network_bridge_is_eth1_active_and_autostarted(libvirt, lab, evidence):
    bridge = lab.get("host.data_bridge")
    nets = _nets(libvirt)
    evidence["networks"] = _describe(nets)
    data = [n for n in nets.values() if n.bridge == bridge]
    assert data, (f"no libvirt network has its bridge named {bridge} (the notes' virbr1 renamed for packstack); "
                  f"found {evidence['networks']}")
    net = data[0]
    evidence["data_network"] = net.name
    problems = []
    if not net.active:
        problems.append("inactive")
    if not net.autostart:
        problems.append("not autostarted")
    if not net.persistent:
        problems.append("transient (not defined)")
    assert not problems, f"libvirt network {net.name} (bridge {bridge}) is {', '.join(problems)}; expected active and autostarted"


@pytest.mark.requirement("VIRT-2")
@pytest.mark.severity("high")
def test_external_network_is_routed_on_its_own_bridge(libvirt, lab, evidence):
    bridge = lab.get("host.external_bridge")
    block = lab.get("host.public_block")
    nets = _nets(libvirt)
    evidence["networks"] = _describe(nets)
    ext = [n for n in nets.values() if n.bridge == bridge]
    assert ext, f"no libvirt network on bridge {bridge} (the external network); found {evidence['networks']}"
    net = ext[0]
    problems = []
    if net.forward_mode != "route":
        problems.append(f"forward mode is {net.forward_mode or 'none (isolated)'}, expected route")
    shared = [n.name for n in nets.values() if n.bridge == bridge and n.name != net.name]
    if shared:
        problems.append(f"its bridge is shared with {', '.join(shared)}")
    if block:
        import ipaddress
        blk = ipaddress.ip_network(block, strict=False)
        if not any(ipaddress.ip_interface(a).network.overlaps(blk) for a in net.addresses):
            problems.append(f"its addresses {net.addresses or 'none'} are not in the public block {block}")
    if not net.active:
        problems.append("inactive")
    if not net.autostart:
        problems.append("not autostarted")
    evidence["external_network"] = f"{net.name} {net.forward_mode} {net.addresses}"
    assert not problems, f"libvirt network {net.name} on {bridge}: " + "; ".join(problems)


@pytest.mark.requirement("VIRT-3")
@pytest.mark.severity("high")
def test_control_plane_vms_defined_with_autostart(libvirt, lab, evidence):
    wanted = lab.get("host.control_plane_vms")
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
    assert not problems, (f"control-plane VMs on the physical host: {'; '.join(problems)} "
                          f"(expected {', '.join(wanted)} defined with autostart; found {evidence['domains']})")


@pytest.mark.requirement("VIRT-4")
@pytest.mark.severity("high")
def test_physical_host_is_the_kvm_compute_node(libvirt, transport, lab, evidence):
    """nova-compute runs on the physical host, with KVM (not emulation), and, unless the inventory says the
    compute host may itself be a VM (host.bare_metal_compute: false), that host is not a VM: nested KVM is what
    the notes ruled out."""
    facts = compute.read(transport)
    types = libvirt.domain_types()
    nova = facts.nova
    evidence.update({"nova_compute": nova.describe() if nova else "not installed", "dev_kvm": facts.dev_kvm,
                     "hypervisor_domain_types": " ".join(sorted(types)), "virt_type": facts.virt_type,
                     "host_is_vm": facts.vm, "bare_metal_expected": lab.get("host.bare_metal_compute")})
    problems = []
    if nova is None:
        problems.append(f"no nova-compute service ({' / '.join(compute.NOVA_UNITS)})")
    elif not nova.running:
        problems.append(f"{nova.name} is {nova.active}")
    if not facts.has_kvm_device:
        problems.append(f"/dev/kvm is missing ({facts.dev_kvm or 'no answer'})")
    if "kvm" not in types:
        problems.append(f"libvirt offers no kvm domains (only {', '.join(sorted(types)) or 'none'})")
    if lab.get("host.bare_metal_compute") and facts.vm != "none":
        problems.append(f"the compute host is itself a VM ({facts.vm}): instances would run nested")
    if facts.virt_type != "kvm":
        problems.append(f"nova [libvirt] virt_type = {facts.virt_type} (instances would be emulated, not KVM)")
    assert not problems, "compute node: " + "; ".join(problems) + "; expected nova-compute running with KVM"
