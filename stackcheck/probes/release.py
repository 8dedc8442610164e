"""Which OpenStack release a host runs, from an installed package's version, so that a check reads the options
of THAT release (option names moved between releases: Ceilometer's TTLs, Nova's VNC switch, l3_agent options).

Version schemes: 2014.2.x (Juno) and 2015.1.x (Kilo) are date based for every project; from Liberty on each
project numbers its own majors (Nova 12 = Liberty, Ceilometer 5 = Liberty, Neutron 7 = Liberty ...)."""
from __future__ import annotations

import re

SERIES = ("juno", "kilo", "liberty", "mitaka", "newton", "ocata", "pike", "queens", "rocky", "stein", "train",
          "ussuri", "victoria", "wallaby", "xena", "yoga", "zed", "2023.1", "2023.2", "2024.1", "2024.2", "2025.1",
          "2025.2")
# the project's major version number of its Liberty release
LIBERTY_MAJOR = {"nova": 12, "ceilometer": 5, "neutron": 7, "aodh": 1, "horizon": 8, "keystone": 8, "swift": None}
# the packages whose version tells a project's release: Debian/Ubuntu, then RDO
PACKAGES = {
    "nova": ("nova-common", "python3-nova", "openstack-nova-common"),
    "ceilometer": ("ceilometer-common", "python3-ceilometer", "openstack-ceilometer-common"),
    "neutron": ("neutron-common", "python3-neutron", "openstack-neutron-common", "openstack-neutron"),
    "aodh": ("aodh-common", "python3-aodh", "openstack-aodh-common"),
}


def series_index(name: str) -> int:
    return SERIES.index(name)


def release_of(project: str, version: str | None) -> str | None:
    """'2:26.2.2-1~deb12u5' (nova) -> 'zed'; '2015.1.0' -> 'kilo'; None when unknown."""
    if not version:
        return None
    version = version.split(":", 1)[-1]  # Debian epoch
    m = re.match(r"(\d+)(?:\.(\d+))?", version)
    if not m:
        return None
    major = int(m.group(1))
    if major >= 2000:  # date based: 2014.2 Juno, 2015.1 Kilo
        return {(2014, 2): "juno", (2015, 1): "kilo"}.get((major, int(m.group(2) or 0)))
    base = LIBERTY_MAJOR.get(project)
    if base is None:
        return None
    index = series_index("liberty") + major - base
    return SERIES[index] if 0 <= index < len(SERIES) else None


def at_least(release: str | None, name: str) -> bool | None:
    """None when the release is unknown (the caller must then be conservative)."""
    return None if release is None else series_index(release) >= series_index(name)


def version_command(project: str) -> str:
    """One shell command printing `package version` of the first installed package of the project."""
    pkgs = " ".join(PACKAGES[project])
    return (f"for p in {pkgs}; do v=$(dpkg-query -W -f='${{Version}}' $p 2>/dev/null"
            f" || rpm -q --qf '%{{VERSION}}' $p 2>/dev/null) && [ -n \"$v\" ] && echo \"$p $v\" && break; done; true")


def parse_version_output(text: str) -> tuple[str | None, str | None]:
    """('nova-common', '2:26.2.2-1~deb12u5') from version_command's output, (None, None) when nothing is installed."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and "not installed" not in line:
            return parts[0], parts[1]
    return None, None
