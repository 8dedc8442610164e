"""Restart what runs, skip what is not installed: the openstack fixers' restart step (`systemctl try-restart` alone
fails for a unit that does not exist on this host, e.g. nova-compute on the control node)."""
from __future__ import annotations


def try_restart(*units: str) -> str:
    """A shell command: try-restart each installed unit (a failing restart still fails the command)."""
    names = " ".join(u for unit in units for u in unit.split())
    return (f"for u in {names}; do if systemctl list-unit-files --no-legend \"$u.service\" 2>/dev/null | grep -q .;"
            f" then systemctl try-restart \"$u\" || exit 1; fi; done; true")
