"""inventories/labbox.yaml and the clouds.yaml that go with the running lab: what `pytest --host=labbox` reads.

Credentials are files under STATE/secrets (0600) that the inventory references, never values in it.
Requirements the lab cannot host (labbox/hosting.py) are waived with their reason, so a healthy lab reports
them as waived, never as passed."""
from __future__ import annotations

import datetime
import os

import yaml

from labbox.hosting import NOT_HOSTED, split_key
from labbox.provision import KEY, KNOWN_HOSTS, SECRETS, secret
from labbox.topology import BY_NAME, HOSTS, REPO, STATE, VIP

INVENTORY = REPO / "inventories" / "labbox.yaml"
CLOUDS_YAML = STATE / "clouds.yaml"
DB_CA = STATE / "tls" / "ca.pem"  # made by roles/dbnode/outside.sh
CLOUD = "labbox"
# Expectations that differ from the notes' defaults because of the lab's own addresses and names.
EXPECT = {
    "lb": {"vip": VIP},
    # compute role: the public block routed to its virbr2; this machine is itself a KVM guest, so the lab's
    # "physical host" runs KVM nested by construction (VIRT-4 reports it, the lab declares it)
    "host": {"public_block": "198.19.0.0/28", "floating_range": "198.19.0.2-198.19.0.14", "bare_metal_compute": False},
    # openstack family: the controller carries the notes' Kilo metering settings (Debian 12's Ceilometer has no
    # TTL options), and br-ex's static route goes to the lab's upstream gateway (roles/network/setup.d)
    "ceilometer": {"release": "kilo", "mongo_python": "/usr/local/bin/python3-pymongo4"},
    # the cloud's external networks as setup-lib/cloud_seed.py makes them through Neutron's API (NET-5),
    # on the network host's bridges and NICs (roles/network/setup.d)
    "neutron": {"upstream_gateway": "198.18.8.1", "upstream_networks": ["198.18.9.0/24"],  # UPSTREAM_NET there
                "external_networks": [
                    {"name": "public", "physnet": "physnet1", "bridge": "br-ex", "nic": "eth2",
                     "cidr": "198.19.0.0/28", "gateway": "198.19.0.1", "pool": "198.19.0.2-198.19.0.14"},
                    {"name": "public2", "physnet": "physnet2", "bridge": "br-ex2", "nic": "eth3",
                     "cidr": "198.19.1.0/28", "gateway": "198.19.1.1", "pool": "198.19.1.2-198.19.1.14"}]},
}


def _nova_virt_type() -> str:
    """What compute's provisioning found nova can run (roles/compute/setup.d/40-nova-compute.sh: KVM only when a
    KVM guest really boots on this machine, else QEMU/TCG): the lab declares it, VIRT-4 checks nova against it."""
    found = BY_NAME["compute"].root / "var/lib/labbox/virt_type"
    return found.read_text().strip() if found.exists() else "kvm"


def _ref(name: str) -> dict | None:
    return {"file": str(SECRETS / name)} if (SECRETS / name).exists() else None


def clouds_yaml() -> dict:
    return {"clouds": {CLOUD: {
        "auth": {"auth_url": f"http://{BY_NAME['controller'].ip}:5000/v3", "username": "admin",
                 "password": secret("KEYSTONE_ADMIN_PASSWORD"), "project_name": "admin",
                 "user_domain_name": "Default", "project_domain_name": "Default"},
        "region_name": "RegionOne", "identity_api_version": 3, "interface": "public",
    }}}


def inventory() -> dict:
    children: dict[str, dict] = {}
    for h in HOSTS:
        hv: dict = {"ansible_host": h.ip}
        if h.role == "dbnode":
            hv["wsrep_node_name"] = f"DBNode{h.name[-1]}"
        if h.role == "compute":
            hv["stackcheck_public_nic"] = "eth0"
        children.setdefault(h.role, {"hosts": {}})["hosts"][h.name] = hv
    children["dashboard"] = {"hosts": {"controller": {}}}
    stackcheck = {k: dict(v) for k, v in EXPECT.items()}
    stackcheck["host"]["nova_virt_type"] = _nova_virt_type()
    # the checks read as the least-privileged `stackcheck` account, over TLS only (its CA verifies every node and
    # the VIP); fixers write as root (roles/dbnode/setup.d/40-accounts.sh)
    stackcheck["db"] = {"user": "stackcheck", "password": _ref("DB_STACKCHECK_PASSWORD"),
                        "tls": {"ca": str(DB_CA)}, "fix_user": "root", "fix_password": _ref("DB_ROOT_PASSWORD")}
    stackcheck["cloud"] = {"name": CLOUD, "clouds_yaml": str(CLOUDS_YAML),
                           # booted by roles/compute/setup.d/60-instances.sh (setup-lib/cloud_seed.py INSTANCES)
                           "long_lived_instances": ["long-term-1", "long-term-2"]}
    for key, name in (("ec2_access", "ec2_access"), ("ec2_secret", "ec2_secret")):
        if _ref(name):
            stackcheck["cloud"][key] = _ref(name)
    # a waiver is looked at again within the year: the lab's are renewed by every `labbox up`
    expires = (datetime.date.today() + datetime.timedelta(days=180)).isoformat()
    stackcheck["waivers"] = []
    for key, why in sorted(NOT_HOSTED.items()):
        rid, check = split_key(key)
        waiver = {"id": rid, "reason": f"not hosted by labbox: {why}", "expires": expires}
        stackcheck["waivers"].append({**waiver, "check": check} if check else waiver)
    return {"all": {"vars": {"ansible_user": "root", "ansible_ssh_private_key_file": str(KEY),
                             "stackcheck_known_hosts": str(KNOWN_HOSTS)},
                    "children": children},
            "stackcheck": stackcheck}


def write() -> None:
    fd = os.open(CLOUDS_YAML, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(clouds_yaml(), f, sort_keys=False)
    INVENTORY.parent.mkdir(exist_ok=True)
    INVENTORY.write_text("# Written by `labbox up` for the running lab in a box; `labbox down` removes it.\n"
                         + yaml.safe_dump(inventory(), sort_keys=False))


def remove() -> None:
    INVENTORY.unlink(missing_ok=True)
    CLOUDS_YAML.unlink(missing_ok=True)
