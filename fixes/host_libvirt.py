"""Fixers of the VIRT checks (and HOST-1, whose route comes from the external network): start and autostart the
libvirt networks of the notes, autostart the control-plane VMs, start nova-compute. All through `virsh` /
`systemctl` on the host, each step with its undo. What cannot be repaired safely (a domain that is not defined
at all, a bridge renamed back to virbr1 while VMs use it) is only described."""
from __future__ import annotations

import re
import shlex

from stackcheck.fixing import fixer
from stackcheck.probes import sections, services

VIRSH = "virsh -q -c qemu:///system"


def _net_states(ctx) -> dict[str, dict[str, str]]:
    """name -> {Active, Persistent, Autostart, Bridge} from `virsh net-info` (one round trip)."""
    r = ctx.run(f"for n in $({VIRSH} net-list --all --name); do echo \"### $n\"; {VIRSH} net-info \"$n\"; done")
    return {name: sections.fields(body, ":") for name, body in sections.split(r.stdout).items()}


@fixer("VIRT-1", "VIRT-2", "HOST-1", risk="config", roles=["compute"],
       checks=["test_data_network_bridge_is_eth1_active_and_autostarted",
               "test_external_network_is_routed_on_its_own_bridge", "test_public_block_routes_to_external_bridge"])
def start_and_autostart_libvirt_networks(ctx):
    """Start the data and external libvirt networks and set them to autostart."""
    bridges = {ctx.lab.get("host.data_bridge"), ctx.lab.get("host.external_bridge")}
    nets = _net_states(ctx)
    found = {n: s for n, s in nets.items() if s.get("Bridge") in bridges}
    for name, state in sorted(found.items()):
        q = shlex.quote(name)
        if state.get("Persistent") == "yes" and state.get("Autostart") != "yes":
            ctx.command(f"{VIRSH} net-autostart {q}", undo=f"{VIRSH} net-autostart --disable {q}")
        if state.get("Active") != "yes":
            # libvirt creates the bridge, its address, the route and its firewall rules when the network starts
            ctx.command(f"{VIRSH} net-start {q}", undo=f"{VIRSH} net-destroy {q}")
    missing = bridges - {s.get("Bridge") for s in found.values()}
    if missing:
        ctx.note(f"no libvirt network uses bridge {', '.join(sorted(missing))}: defining or renaming a network "
                 f"(a bridge renamed back to virbr1 after packstack) restarts VM networking; left to the operator")


@fixer("VIRT-3", risk="config", roles=["compute"], checks=["test_control_plane_vms_defined_with_autostart"])
def autostart_control_plane_vms(ctx):
    """Set the control-plane VMs to autostart with the physical host."""
    r = ctx.run(f"{VIRSH} list --all --name; echo '### autostart'; {VIRSH} list --all --autostart --name")
    defined, _, auto = r.stdout.partition("### autostart")
    defined_set = {x.strip() for x in defined.splitlines() if x.strip()}
    auto_set = {x.strip() for x in auto.splitlines() if x.strip()}
    for vm in ctx.lab.get("host.control_plane_vms"):
        if vm in defined_set and vm not in auto_set:
            q = shlex.quote(vm)
            ctx.command(f"{VIRSH} autostart {q}", undo=f"{VIRSH} autostart --disable {q}")
        elif vm not in defined_set:
            ctx.note(f"VM {vm} is not defined on this host: its XML (disks, MACs) cannot be guessed; define it "
                     f"from your template with `virsh define`")


@fixer("VIRT-4", risk="restart", roles=["compute"], checks=["test_physical_host_is_the_kvm_compute_node"])
def start_nova_compute(ctx):
    """Enable and start nova-compute."""
    units = services.read(ctx.transport, ("nova-compute", "openstack-nova-compute"))
    unit = next((u for u in units.values() if u.exists), None)
    if unit is None:
        ctx.note("no nova-compute service is installed; install nova-compute (Debian) / openstack-nova-compute (RHEL)")
        return
    if not unit.is_enabled:
        ctx.command(f"systemctl enable {unit.name}.service", undo=f"systemctl disable {unit.name}.service")
    if not unit.running:
        ctx.command(f"systemctl restart {unit.name}.service", undo=f"systemctl stop {unit.name}.service")
    if not re.match(r"^c", ctx.run("ls -l /dev/kvm 2>&1").stdout):
        ctx.note("/dev/kvm is missing: enable VT-x/AMD-V in the firmware and load kvm_intel/kvm_amd")
