"""The compute node's side of VIRT-4, in one round trip: nova-compute's unit, /dev/kvm, whether the host is
itself a VM, and nova's libvirt virt_type (nova.conf, then the Debian unit's nova-compute.conf)."""
from __future__ import annotations

from dataclasses import dataclass

from stackcheck.probes import ini, services

NOVA_UNITS = ("nova-compute", "openstack-nova-compute")  # Debian/Ubuntu, RHEL/RDO
NOVA_CONFS = ("/etc/nova/nova.conf", "/etc/nova/nova-compute.conf")  # read in this order; the last one wins

READ_COMMAND = ("echo '### kvm'; ls -l /dev/kvm 2>&1; echo '### vm'; systemd-detect-virt --vm 2>/dev/null || true; "
                + "; ".join(f"[ -r {c} ] && {{ echo '### {c}'; cat {c}; }}" for c in NOVA_CONFS) + "; "
                + services.read_command(NOVA_UNITS).replace('echo "### $u"', 'echo "### unit $u"')
                + "; true")


@dataclass
class ComputeFacts:
    nova: services.Unit | None
    dev_kvm: str  # the `ls -l` line, or its error
    vm: str  # systemd-detect-virt --vm: none, kvm, vmware ...
    virt_type: str

    @property
    def has_kvm_device(self) -> bool:
        return self.dev_kvm.startswith("c")


def parse(text: str) -> ComputeFacts:
    sections: dict[str, str] = {}
    units_text = ""
    name = None
    for line in text.splitlines(keepends=True):
        if line.startswith("### unit "):
            name = None
            units_text += "### " + line[len("### unit "):]
        elif line.startswith("### "):
            name = line[4:].strip()
            sections[name] = ""
        elif name is not None:
            sections[name] += line
        else:
            units_text += line
    virt_type = "kvm"  # nova's default
    for c in NOVA_CONFS:
        if c in sections:
            virt_type = ini.parse(sections[c]).get("libvirt", "virt_type", virt_type)
    units = services.parse(units_text)
    nova = next((u for u in units.values() if u.exists), None)
    return ComputeFacts(nova, sections.get("kvm", "").strip(), sections.get("vm", "").strip() or "?", virt_type)


def read(transport) -> ComputeFacts:
    return parse(transport.run(READ_COMMAND).stdout)
