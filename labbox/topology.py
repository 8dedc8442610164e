"""The lab's fixed shape: hosts, addresses, roles, the order they are provisioned in, and the names labbox
gives to what it creates on this machine (all prefixed `sc-`, so they are easy to find and remove)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

STATE = Path(os.environ.get("LABBOX_STATE", "/var/lib/stackcheck-labbox"))
# what `labbox down` keeps in STATE (`--purge` removes it too): the image cache, the download cache that role
# outside.sh hooks fill (e.g. STATE/cache/nx-27017), and the lock file of up/down/restart
KEPT_BY_DOWN = ("images", "cache", ".lock")
PACKAGE = Path(__file__).resolve().parent
ROLES_DIR = PACKAGE / "roles"
REPO = PACKAGE.parent

NET = "198.18.0.0/24"
GUARD = "198.18.0.0/15"  # unreachable route on this machine: lab traffic never follows the default route
GUARD_METRIC = 4000
GW = "198.18.0.1"
BRIDGE = "sc-br0"
PREFIX = "sc-"


@dataclass(frozen=True)
class LabHost:
    name: str
    ip: str
    role: str

    @property
    def netns(self) -> str:
        return f"{PREFIX}{self.name}"

    @property
    def veth(self) -> str:
        return f"{PREFIX}v-{self.name}"  # at most 15 characters: sc-v-controller

    @property
    def machine(self) -> str:
        return f"{PREFIX}{self.name}"

    @property
    def dir(self) -> Path:
        return STATE / "hosts" / self.name

    @property
    def root(self) -> Path:
        return self.dir / "root"


HOSTS = [
    LabHost("controller", "198.18.0.11", "controller"),
    LabHost("network", "198.18.0.12", "network"),
    LabHost("storage", "198.18.0.13", "storage"),
    LabHost("compute", "198.18.0.14", "compute"),
    LabHost("dbnode1", "198.18.0.15", "dbnode"),
    LabHost("dbnode2", "198.18.0.16", "dbnode"),
    LabHost("dbnode3", "198.18.0.17", "dbnode"),
    LabHost("lb", "198.18.0.18", "lb"),
]
BY_NAME = {h.name: h for h in HOSTS}
ROLES = sorted({h.role for h in HOSTS})
VIP = BY_NAME["lb"].ip

# Provisioning phases: hosts of one phase are set up in parallel; a phase starts when the previous is done.
PHASES = [["dbnode1", "controller"], ["dbnode2", "dbnode3", "storage", "network", "compute"], ["lb"]]
# A host provisioned against another's state must be provisioned again when that one is: storage's S3 fixture
# lives in an account of the controller's Keystone, and its s3token caches a token of it; compute's nova-compute
# and network's agents register in the controller's cloud (its database), and compute boots the instances there.
DEPENDENTS = {"controller": ["storage", "network", "compute"]}


def host(name: str) -> LabHost:
    if name not in BY_NAME:
        raise SystemExit(f"labbox: no host {name!r} (hosts: {', '.join(BY_NAME)})")
    return BY_NAME[name]
