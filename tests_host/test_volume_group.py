"""HOST-8: the storage node has the `cinder-volumes` LVM volume group (packstack needs it before installing)."""
from __future__ import annotations

import pytest

from stackcheck.probes import lvm

VG = "cinder-volumes"


@pytest.mark.requirement("HOST-8")
@pytest.mark.role("storage")
@pytest.mark.severity("medium")
def test_cinder_volumes_volume_group_exists(transport, evidence):
    vgs = lvm.read(transport)  # vgs missing, or failing (not root), is an error: never "no volume group"
    evidence["volume_groups"] = ", ".join(f"{v.name} ({v.pvs} PV, {v.size // 2**20} MiB, {v.free // 2**20} MiB free)"
                                          for v in vgs.values()) or "none"
    assert VG in vgs, f"no volume group {VG}; found {evidence['volume_groups']}"
    assert vgs[VG].pvs >= 1, f"{VG} has no physical volume"
