"""The compute node's side of VIRT-4, in one round trip: nova-compute's unit, /dev/kvm, whether the host is
itself a VM, and nova's libvirt virt_type (nova.conf, then the Debian unit's nova-compute.conf). Each read is a
part with its own exit code: a nova.conf that cannot be read (not root: it is 0640 root:nova) is an error, never
skipped (the virt_type would then be read from nova-compute.conf alone)."""
from __future__ import annotations

from dataclasses import dataclass

from stackcheck.probes import batch, ini, services

NOVA_UNITS = ("nova-compute", "openstack-nova-compute")  # Debian/Ubuntu, RHEL/RDO
NOVA_CONFS = ("/etc/nova/nova.conf", "/etc/nova/nova-compute.conf")  # read in this order; the last one wins

PARTS = (
    batch.part("kvm", "if [ -e /dev/kvm ]; then ls -l /dev/kvm; else echo 'no /dev/kvm'; fi"),
    batch.part("vm", "systemd-detect-virt --vm"),  # prints `none` and exits 1 on bare metal
    *(batch.file(c) for c in NOVA_CONFS),
    *services.parts(NOVA_UNITS, prefix="unit "),
)
READ_COMMAND = batch.script(*PARTS)


@dataclass
class ComputeFacts:
    nova: services.Unit | None
    dev_kvm: str  # the `ls -l` line, or `no /dev/kvm`
    vm: str | None  # systemd-detect-virt --vm: none, kvm, vmware ...; None: it could not tell (vm_unknown says why)
    virt_type: str
    vm_unknown: str = ""

    @property
    def has_kvm_device(self) -> bool:
        return self.dev_kvm.startswith("c")


def facts_from(parts: batch.Batch) -> ComputeFacts:
    virt_type = "kvm"  # nova's default
    for c in NOVA_CONFS:
        text = parts.file(c)  # CannotCheck when it exists and cannot be read
        if text is not None:
            virt_type = ini.parse(text).get("libvirt", "virt_type", virt_type)
    units = services.units_from(parts, NOVA_UNITS, prefix="unit ")
    nova = next((u for u in units.values() if u.exists), None)
    vm_part = parts.part("vm", "whether the host is a VM (`systemd-detect-virt --vm`)")
    vm, unknown = None, ""
    if vm_part.rc in (0, 1) and vm_part.text.strip():
        vm = vm_part.text.strip()
    else:
        unknown = f"could not tell whether the host is a VM (`systemd-detect-virt --vm`): {vm_part.result().reason()}"
    kvm = parts.output("kvm", "/dev/kvm (`ls -l /dev/kvm`)").strip()
    return ComputeFacts(nova, kvm, vm, virt_type, unknown)


def parse(text: str) -> ComputeFacts:
    return facts_from(batch.parse(text))


def read(transport) -> ComputeFacts:
    return facts_from(batch.run(transport, READ_COMMAND))
