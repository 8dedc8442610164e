"""Fixers of the VIRT checks (and HOST-1, whose route comes from the external network): start and autostart the
libvirt networks of the notes, autostart the control-plane VMs, start nova-compute. Each reads the host as its
check does (libvirt-python, probes/compute.py) and acts through `virsh` / `systemctl`, each step with its undo.

What starting and autostarting cannot repair (a data network on the wrong bridge, an external network that is
not routed, a VM that is not defined, no KVM) is declined with the reason and what to do by hand (FixDeclined):
renaming a bridge or redefining a network restarts VM networking, and a VM's XML cannot be guessed."""
from __future__ import annotations

import shlex
from contextlib import contextmanager

from stackcheck.fixing import FixDeclined, fixer
from stackcheck.probes import compute
from stackcheck.probes.libvirt import Libvirt, NetworkJudgement, judge_data_network, judge_external_network
from stackcheck.verdicts import need

VIRSH = "virsh -q -c qemu:///system"


@contextmanager
def _libvirt(ctx):
    """The check's own libvirt connection when it had one, else one of ours (closed after planning)."""
    given = ctx.extra.get("libvirt")
    if given is not None:
        yield given
        return
    lv = Libvirt(ctx.transport)
    try:
        yield lv
    finally:
        lv.close()


def _start(ctx, j: NetworkJudgement, what: str, decline: bool = True) -> None:
    """Autostart and start the judged network; what only its definition can repair is declined with the reason."""
    if j.definition:
        if decline:
            raise FixDeclined(f"{what}: {'; '.join(j.definition)}; starting it would not repair that: {j.remedy}")
        return
    q = shlex.quote(j.network.name)
    if not j.network.autostart:
        ctx.command(f"{VIRSH} net-autostart {q}", undo=f"{VIRSH} net-autostart --disable {q}")
    if not j.network.active:
        # libvirt creates the bridge, its address, the route and its firewall rules when the network starts
        ctx.command(f"{VIRSH} net-start {q}", undo=f"{VIRSH} net-destroy {q}")


@fixer("VIRT-1", risk="config", roles=["compute"], checks=["test_data_network_bridge_is_eth1_active_and_autostarted"])
def start_and_autostart_data_network(ctx):
    """Start the data libvirt network and set it to autostart."""
    bridge = need(ctx.lab, "host.data_bridge")
    with _libvirt(ctx) as lv:
        _start(ctx, judge_data_network(lv.networks(), bridge), f"the data network (bridge {bridge})")


def _external(ctx) -> tuple[NetworkJudgement, str]:
    bridge = need(ctx.lab, "host.external_bridge")
    block = need(ctx.lab, "host.public_block")
    with _libvirt(ctx) as lv:
        return judge_external_network(lv.networks(), bridge, block), f"the external network (bridge {bridge})"


@fixer("VIRT-2", risk="config", roles=["compute"], checks=["test_external_network_is_routed_on_its_own_bridge"])
def start_and_autostart_external_network(ctx):
    """Start the external (routed) libvirt network and set it to autostart."""
    _start(ctx, *_external(ctx))


@fixer("HOST-1", risk="config", roles=["compute"], checks=["test_public_block_routes_to_external_bridge"])
def start_external_network_for_its_route(ctx):
    """Start the external libvirt network, whose bridge carries the route of the public block."""
    # a definition problem of the network is VIRT-2's to report; HOST-1's other fixer removes stray routes
    _start(ctx, *_external(ctx), decline=False)


@fixer("VIRT-3", risk="config", roles=["compute"], checks=["test_control_plane_vms_defined_with_autostart"])
def autostart_control_plane_vms(ctx):
    """Set the control-plane VMs to autostart with the physical host."""
    wanted = need(ctx.lab, "host.control_plane_vms")
    with _libvirt(ctx) as lv:
        doms = lv.domains()
    undefined = [vm for vm in wanted if vm not in doms or not doms[vm].persistent]
    if undefined:
        raise FixDeclined(f"not defined on this host: {', '.join(undefined)}; a VM's XML (disks, MACs) cannot be "
                          f"guessed: define it from your template with `virsh define`, then run the fix again")
    for vm in wanted:
        if not doms[vm].autostart:
            q = shlex.quote(vm)
            ctx.command(f"{VIRSH} autostart {q}", undo=f"{VIRSH} autostart --disable {q}")


@fixer("VIRT-4", risk="restart", roles=["compute"], checks=["test_physical_host_is_the_kvm_compute_node"])
def start_nova_compute(ctx):
    """Enable and start nova-compute."""
    facts = compute.read(ctx.transport)
    unit = facts.nova
    if unit is None:
        raise FixDeclined("no nova-compute service is installed: install nova-compute (Debian) / "
                          "openstack-nova-compute (RHEL)")
    if not facts.has_kvm_device:
        raise FixDeclined(f"/dev/kvm is missing ({facts.dev_kvm}): enable VT-x/AMD-V in the firmware and load "
                          f"kvm_intel/kvm_amd; starting nova-compute would not give it KVM")
    wanted = ctx.lab.get("host.nova_virt_type")
    if facts.virt_type != wanted:
        raise FixDeclined(f"nova's [libvirt] virt_type is {facts.virt_type}, expected {wanted}: set it in nova.conf "
                          f"by hand (it decides how every instance runs)")
    if not unit.is_enabled:
        ctx.command(f"systemctl enable {unit.name}.service", undo=f"systemctl disable {unit.name}.service")
    if not unit.running:
        ctx.command(f"systemctl restart {unit.name}.service", undo=f"systemctl stop {unit.name}.service")
