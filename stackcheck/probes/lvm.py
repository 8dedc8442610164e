"""LVM volume groups from `vgs` (machine-readable columns, sizes in bytes)."""
from __future__ import annotations

from dataclasses import dataclass

READ_COMMAND = ("vgs --noheadings --units b --nosuffix --separator '|' "
                "-o vg_name,pv_count,lv_count,vg_size,vg_free")


@dataclass
class VolumeGroup:
    name: str
    pvs: int
    lvs: int
    size: int
    free: int


def parse_vgs(text: str) -> dict[str, VolumeGroup]:
    out = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.strip().split("|")]
        if len(parts) == 5 and parts[0]:
            out[parts[0]] = VolumeGroup(parts[0], int(parts[1]), int(parts[2]), int(float(parts[3])),
                                        int(float(parts[4])))
    return out


def read(transport) -> dict[str, VolumeGroup]:
    """The volume groups; CannotCheck when vgs is missing or fails (not root: it cannot take LVM's lock)."""
    r = transport.run(f'PATH="$PATH:/usr/sbin:/sbin"; {READ_COMMAND}')
    return parse_vgs(r.output("the LVM volume groups (`vgs`, from the lvm2 package)"))
