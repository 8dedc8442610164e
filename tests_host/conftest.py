"""Fixtures of the host family: a libvirt connection to the physical host (one per host and run, over the
run's SSH connection) and helpers for the `host:` inventory section.

Checks read the host's state in their body, never in a fixture: a --fix re-check re-runs the body with the
same fixture values, and must see the state after the fix."""
from __future__ import annotations

import pytest

from stackcheck import verdicts
from stackcheck.probes.libvirt import Libvirt

_LIBVIRT: dict[str, Libvirt] = {}


@pytest.fixture
def libvirt(connections, target, transport):
    """libvirt-python, read-only, on the target's system daemon (kept open for the run; reopened when the
    daemon went away, e.g. after a fix restarted libvirtd)."""
    cached = _LIBVIRT.get(target.name)
    if cached is not None and not cached.alive():
        cached.close()
        del _LIBVIRT[target.name]
    if target.name not in _LIBVIRT:
        _LIBVIRT[target.name] = Libvirt(transport)
    return _LIBVIRT[target.name]


def pytest_sessionfinish(session):
    for lv in _LIBVIRT.values():
        lv.close()
    _LIBVIRT.clear()


def public_nic(target, facts) -> str:
    """The one physical NIC: the inventory's `stackcheck_public_nic`, else the interface of the host's address."""
    return target.vars.get("stackcheck_public_nic") or facts.iface_of(target.address) or "eth0"


need = verdicts.need  # an unset expectation is an error naming the key, never "not applicable"
