"""inventories/*.yaml -> a Lab model: hosts, roles, addresses, SSH settings and the expectations.

The format is an Ansible-style YAML inventory (groups are roles) plus a `stackcheck:` block; it is documented
key by key in inventories/lab.example.yaml. Loading validates everything a check would trip over later, and a
bad inventory raises InventoryError with one line naming the file and the key.
"""
from __future__ import annotations

import copy
import datetime
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from stackcheck import hostkeys
from stackcheck.transport import Become
from stackcheck.requirements import catalog

ROLES = ("controller", "network", "storage", "compute", "dbnode", "lb", "dashboard")
REPO = Path(__file__).resolve().parents[1]

# The expectations and their defaults (the values of the operations notes). Kept in one place: the example
# inventory documents the same keys, and a selftest checks that the two agree.
DEFAULTS: dict[str, Any] = {
    "connect_timeout": 10,
    "probe_timeout": 30,
    "deadline": 1800,
    "db": {
        "user": "root",
        "password": None,
        "port": 3306,
        "cluster_name": "SilverSkySoftDBClusterA",
        "sst_method": "rsync",
        "datadir": "/var/lib/mysql/mysql_data",
        "mount": "/var/lib/mysql",
        "swapfile": "/swapfile",
        "app_query": "SELECT test_name FROM my_test_db.my_test_table",
        "tls": None,  # {ca, cert, key, verify}: TLS for every SQL connection (stackcheck/sqlreach.py)
        "via": "direct",  # or ssh: SQL through the host's SSH connection (and the bastion)
        "fix_user": None,  # the account fixers write with (None: db.user)
        "fix_password": None,
    },
    "lb": {"kind": "haproxy", "vip": None, "port": 3306, "config": "/etc/haproxy/haproxy.cfg", "name": None},
    "cloud": {
        "name": None,
        "clouds_yaml": None,
        "cacert": None,  # the CA bundle for the cloud's HTTPS endpoints (None: clouds.yaml's cacert, else the system's)
        "projects": ["production", "development", "test"],
        "long_lived_instances": [],
        "ec2_access": None,
        "ec2_secret": None,
    },
    "swift": {
        "port": 8080,
        "container": "test_container",
        "object": "test_obj",
        "proxy_conf": "/etc/swift/proxy-server.conf",
        "proxy_service": "swift-proxy",
        "cache_dir": "/var/cache/swift",
    },
    "s3": {"region": "RegionOne"},
    "ceilometer": {
        "conf": "/etc/ceilometer/ceilometer.conf",
        "aodh_conf": "/etc/aodh/aodh.conf",
        "ttl_max_days": 30,
        "data_dir": "/var/lib/mongodb",
        "release": "auto",
        "mongo_uri": "mongodb://127.0.0.1:27017/ceilometer",
        "mongo_python": "python3",
    },
    "disk": {"max_used_percent": 80},
    "spice": {"proxy_port": 6082, "keymap": "en-us", "nova_conf": "/etc/nova/nova.conf", "proxy_service": None,
              "persisted_rules": None},
    "horizon": {"login_url": None, "mpm": "event"},
    "neutron": {
        "external_networks": [
            {"name": "public_net", "physnet": "physnet1", "bridge": "br-ex", "nic": "eth2"},
            {"name": "public_intranet", "physnet": "physnet2", "bridge": "br-ex2", "nic": "eth3"},
        ],
        "upstream_gateway": None,
        "upstream_networks": None,
        "l3_agent_ini": "/etc/neutron/l3_agent.ini",
        "ovs_agent_ini": None,
        "ml2_conf": None,
    },
    "host": {
        "public_block": None,
        "floating_range": None,
        "arp_method": "proxy_arp",
        "data_bridge": "eth1",
        "external_bridge": "virbr2",
        "control_plane_vms": ["controller", "network", "storage", "auth"],
        "public_ips": None,
        "bare_metal_compute": True,
        # nova's [libvirt] virt_type on the compute host: kvm (the notes); a site whose KVM cannot run guests
        # declares qemu here (VIRT-4 then still wants /dev/kvm and libvirt's kvm domains, and nova on qemu)
        "nova_virt_type": "kvm",
    },
    "waivers": [],
    # true: every run writes nothing anywhere, as with --read-only (no probe schema, no EC2 credential, no fix)
    "read_only": False,
    # the requirement ids (or whole families: "DBK", "LB") this inventory answers for; ~ = all of the catalog
    "scope": None,
}
# Keys whose value is a credential reference ({env: NAME} or {file: PATH}), never a literal.
CREDENTIAL_KEYS = {("db", "password"), ("db", "fix_password"), ("cloud", "ec2_access"), ("cloud", "ec2_secret")}
CHOICES = {("lb", "kind"): ("haproxy", "octavia", "lbaas-v1"), ("db", "via"): ("direct", "ssh"), ("host", "arp_method"): ("proxy_arp", "routed")}


class InventoryError(Exception):
    """A problem with the inventory; str() is the one line shown to the user."""


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    roles: tuple[str, ...]
    vars: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def user(self) -> str:
        return str(self.vars.get("ansible_user", "root"))

    @property
    def port(self) -> int:
        return int(self.vars.get("ansible_port", 22))

    @property
    def key_file(self) -> str | None:
        key = self.vars.get("ansible_ssh_private_key_file")
        return os.path.expanduser(str(key)) if key else None

    @property
    def known_hosts(self) -> str:
        """The known hosts file its key is verified against: stackcheck_known_hosts, else ~/.ssh/known_hosts."""
        return os.path.expanduser(str(self.vars.get("stackcheck_known_hosts") or hostkeys.DEFAULT_KNOWN_HOSTS))

    @property
    def host_key_checking(self) -> str:
        """strict (default), accept-new or off (stackcheck/hostkeys.py); validated when the inventory loads."""
        return hostkeys.mode_of(self.vars.get("stackcheck_host_key_checking"))

    @property
    def become(self) -> Become | None:
        """`ansible_become: true`: every command through sudo as ansible_become_user (default root), with
        ansible_become_password (a credential reference) only when sudo asks for one; validated at load."""
        if not _flag(self.vars.get("ansible_become")):
            return None
        password = resolve_credential(self.vars.get("ansible_become_password"), Path("inventory"),
                                      f"host {self.name}: ansible_become_password")
        return Become(str(self.vars.get("ansible_become_user") or "root"), password)

    @property
    def jump_host(self) -> str | None:
        return self.vars.get("stackcheck_jump_host")

    @property
    def local(self) -> bool:
        """`ansible_connection: local`: the checks run on this machine, without SSH."""
        return self.vars.get("ansible_connection") == "local"

    def __str__(self) -> str:
        return self.name


WAIVER_MAX_DAYS = 366  # a waiver is a decision to look at again: at most a year ahead


@dataclass(frozen=True)
class Waiver:
    id: str
    reason: str
    expires: datetime.date
    hosts: tuple[str, ...] = ()
    check: str | None = None  # one check function of the requirement (e.g. test_swap_active); None = all of them

    def active(self, today: datetime.date | None = None) -> bool:
        return (today or datetime.date.today()) <= self.expires

    def applies(self, requirement_ids, host: str | None, check: str | None = None) -> bool:
        return (self.id in requirement_ids and (not self.hosts or host in self.hosts)
                and (self.check is None or self.check == (check or "").split("[")[0]))

    def describe(self) -> str:
        what = f"{self.id}" + (f" ({self.check})" if self.check else "")
        return f"{what}: {self.reason} (until {self.expires})"


@dataclass
class Lab:
    path: Path
    hosts_by_name: dict[str, Host]
    expect: dict[str, Any]

    def hosts(self, *roles: str) -> list[Host]:
        """The hosts having any of `roles` (all hosts when none given), in inventory order."""
        return [h for h in self.hosts_by_name.values() if not roles or set(roles) & set(h.roles)]

    def host(self, name: str) -> Host:
        return self.hosts_by_name[name]

    def get(self, dotted: str) -> Any:
        """An expectation by dotted key, e.g. lab.get("db.cluster_name")."""
        value: Any = self.expect
        for part in dotted.split("."):
            value = value[part]
        return value

    def secret(self, dotted: str) -> str | None:
        """Resolve a credential reference ({env: X} or {file: P}); None when the inventory has none."""
        return resolve_credential(self.get(dotted), self.path, dotted)

    def secrets(self) -> list[str]:
        """Every secret value this inventory can reach: what reports must never contain."""
        found = []
        for section, key in CREDENTIAL_KEYS:
            try:
                value = self.secret(f"{section}.{key}")
            except InventoryError:
                value = None
            if value:
                found.append(value)
        found.extend(_clouds_yaml_secrets(self.get("cloud.clouds_yaml")))
        for host in self.hosts():
            password = resolve_credential(host.vars.get("ansible_become_password"), self.path, "ansible_become_password")
            if password:
                found.append(password)
        return found

    def unverified_hosts(self) -> list[str]:
        """The hosts whose SSH host key is not verified (stackcheck_host_key_checking: off): every run says so."""
        return [h.name for h in self.hosts() if not h.local and h.host_key_checking == "off"]

    @property
    def waivers(self) -> list[Waiver]:
        return self.expect["waivers"]

    def in_scope(self, requirement_id: str) -> bool:
        scope = self.expect["scope"]
        return scope is None or requirement_id in scope or requirement_id.split("-")[0] in scope


def resolve_credential(ref: Any, path: Path, key: str) -> str | None:
    if ref is None:
        return None
    if "env" in ref:
        value = os.environ.get(ref["env"])
        if value is None:
            raise InventoryError(f"{path}: stackcheck.{key}: environment variable {ref['env']} is not set")
        return value
    return Path(ref["file"]).read_text().splitlines()[0].strip() if Path(ref["file"]).stat().st_size else ""


def _clouds_yaml_secrets(clouds_yaml: str | None) -> list[str]:
    if not clouds_yaml or not Path(clouds_yaml).is_file():
        return []
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(v, str) and k in ("password", "application_credential_secret", "token", "secret"):
                    found.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(yaml.safe_load(Path(clouds_yaml).read_text()) or {})
    return found


def resolve_path(name_or_path: str) -> Path:
    """`--host=lab` means inventories/lab.yaml; anything with a slash or a .yaml/.yml suffix is a path."""
    if "/" in name_or_path or name_or_path.endswith((".yaml", ".yml")):
        return Path(name_or_path).expanduser()
    return REPO / "inventories" / f"{name_or_path}.yaml"


def load(name_or_path: str) -> Lab:
    path = resolve_path(name_or_path)
    if not path.is_file():
        hint = " (run `labbox up` to create it)" if path.name == "labbox.yaml" else ""
        raise InventoryError(f"{path}: inventory not found{hint}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise InventoryError(f"{path}:{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise InventoryError(f"{path}: expected a mapping with `all:` at the top")
    unknown_top = set(data) - {"all", "stackcheck"}
    if unknown_top:
        raise InventoryError(f"{path}: unknown top-level key {sorted(unknown_top)[0]!r} (expected all, stackcheck)")
    hosts = _load_hosts(path, data.get("all") or {})
    expect = _load_expectations(path, data.get("stackcheck") or {})
    lab = Lab(path=path, hosts_by_name=hosts, expect=expect)
    if lab.get("lb.vip") is None and lab.hosts("lb"):
        lab.expect["lb"]["vip"] = lab.hosts("lb")[0].address
    return lab


def _load_hosts(path: Path, root: dict) -> dict[str, Host]:
    if not isinstance(root, dict):
        raise InventoryError(f"{path}: all: expected a mapping")
    all_vars = dict(root.get("vars") or {})
    hostvars: dict[str, dict] = {}
    roles: dict[str, list[str]] = {}
    for name, spec in (root.get("hosts") or {}).items():  # ungrouped hosts: allowed, they have no role
        hostvars.setdefault(str(name), {}).update(spec or {})
    for group, body in (root.get("children") or {}).items():
        if group not in ROLES:
            raise InventoryError(f"{path}: all.children.{group}: unknown role (known: {', '.join(ROLES)})")
        body = body or {}
        group_vars = dict(body.get("vars") or {})
        for name, spec in (body.get("hosts") or {}).items():
            name = str(name)
            merged = hostvars.setdefault(name, {})
            for k, v in group_vars.items():
                merged.setdefault(f"__group__{k}", v)
            merged.update(spec or {})
            roles.setdefault(name, []).append(group)
    hosts = {}
    for name, raw in hostvars.items():
        hv = dict(all_vars)
        hv.update({k[len("__group__"):]: v for k, v in raw.items() if k.startswith("__group__")})
        hv.update({k: v for k, v in raw.items() if not k.startswith("__group__")})
        address = hv.get("ansible_host")
        if not address and hv.get("ansible_connection") != "local":
            raise InventoryError(f"{path}: host {name}: ansible_host (its address) is missing")
        key = hv.get("ansible_ssh_private_key_file")
        if key and not Path(os.path.expanduser(str(key))).is_file():
            raise InventoryError(f"{path}: host {name}: ansible_ssh_private_key_file {key} does not exist")
        _check_host_keys(path, name, hv)
        _check_become(path, name, hv)
        hosts[name] = Host(name=name, address=str(address or "127.0.0.1"), roles=tuple(roles.get(name, ())), vars=hv)
    return hosts


def _check_host_keys(path: Path, name: str, hv: dict) -> None:
    try:
        mode = hostkeys.mode_of(hv.get("stackcheck_host_key_checking"))
    except ValueError as exc:
        raise InventoryError(f"{path}: host {name}: stackcheck_host_key_checking: {exc}") from None
    given = hv.get("stackcheck_known_hosts")
    # a file named on purpose that is not there is a typo; accept-new creates it, the default may be absent
    if given and mode == "strict" and not Path(os.path.expanduser(str(given))).is_file():
        raise InventoryError(f"{path}: host {name}: stackcheck_known_hosts {given} does not exist (create it with "
                             f"the hosts' keys, or set stackcheck_host_key_checking: accept-new)")


_FLAGS = {True: True, False: False, "true": True, "yes": True, "false": False, "no": False}


def _flag(value: Any) -> bool:
    """An Ansible boolean (true/false, yes/no; anything else is refused at load by _check_become)."""
    return _FLAGS[value.lower()] if isinstance(value, str) else bool(value)


def _check_become(path: Path, name: str, hv: dict) -> None:
    where = f"{path}: host {name}"
    value = hv.get("ansible_become", False)
    if (value.lower() if isinstance(value, str) else value) not in _FLAGS:
        raise InventoryError(f"{where}: ansible_become: expected true or false, got {value!r}")
    method = hv.get("ansible_become_method", "sudo")
    if method != "sudo":
        raise InventoryError(f"{where}: ansible_become_method: only sudo is supported, got {method!r}")
    ref = hv.get("ansible_become_password")
    _check_credential(path, "ansible_become_password", ref, where=f"{where}: ansible_become_password")
    if ref is not None and "env" in ref and ref["env"] not in os.environ:
        raise InventoryError(f"{where}: ansible_become_password: environment variable {ref['env']} is not set")


def _merge(defaults: dict, given: dict, path: Path, prefix: str) -> dict:
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        dotted = f"{prefix}{key}"
        if key not in defaults:
            raise InventoryError(f"{path}: stackcheck.{dotted}: unknown key")
        if isinstance(defaults[key], dict):
            if not isinstance(value, dict):
                raise InventoryError(f"{path}: stackcheck.{dotted}: expected a mapping")
            merged[key] = _merge(defaults[key], value, path, f"{dotted}.")
        else:
            merged[key] = value
    return merged


def _load_expectations(path: Path, given: dict) -> dict:
    if not isinstance(given, dict):
        raise InventoryError(f"{path}: stackcheck: expected a mapping")
    expect = _merge(DEFAULTS, given, path, "")
    for section, key in CREDENTIAL_KEYS:
        _check_credential(path, f"{section}.{key}", expect[section][key])
    for (section, key), allowed in CHOICES.items():
        if expect[section][key] not in allowed:
            raise InventoryError(
                f"{path}: stackcheck.{section}.{key}: {expect[section][key]!r} is not one of {', '.join(allowed)}"
            )
    for key in ("connect_timeout", "probe_timeout", "deadline"):
        if not isinstance(expect[key], (int, float)) or expect[key] <= 0:
            raise InventoryError(f"{path}: stackcheck.{key}: expected a positive number of seconds")
    expect["waivers"] = [_waiver(path, i, w) for i, w in enumerate(expect["waivers"] or [])]
    expect["scope"] = _scope(path, expect["scope"])
    if not isinstance(expect["read_only"], bool):
        raise InventoryError(f"{path}: stackcheck.read_only: expected true or false")
    return expect


def _scope(path: Path, raw: Any) -> list[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        raise InventoryError(f"{path}: stackcheck.scope: expected a list of requirement ids or families (e.g. [DBK, LB-1])")
    families = {r.family for r in catalog().values()}
    for entry in raw:
        if str(entry) not in catalog() and str(entry) not in families:
            raise InventoryError(f"{path}: stackcheck.scope: {entry!r} is neither a requirement id nor a family of "
                                 f"REQUIREMENTS.md (families: {', '.join(sorted(families))})")
    return [str(e) for e in raw]


def _check_credential(path: Path, dotted: str, ref: Any, where: str | None = None) -> None:
    if ref is None:
        return
    where = where or f"{path}: stackcheck.{dotted}"
    if not isinstance(ref, dict) or len(ref) != 1 or not ({"env", "file"} & set(ref)):
        raise InventoryError(f"{where}: a credential must be a reference {{env: NAME}} or {{file: PATH}}, never inline")
    if "file" in ref:
        cred = Path(os.path.expanduser(str(ref["file"])))
        if not cred.is_file():
            raise InventoryError(f"{where}: credential file {cred} does not exist")
        mode = stat.S_IMODE(cred.stat().st_mode)
        if mode & 0o077:
            raise InventoryError(f"{where}: credential file {cred} is readable by others (mode {mode:04o}; chmod 600 it)")
        ref["file"] = str(cred)


def _waiver(path: Path, index: int, raw: Any, today: datetime.date | None = None) -> Waiver:
    where = f"{path}: stackcheck.waivers[{index}]"
    if not isinstance(raw, dict) or not raw.get("id") or not raw.get("reason"):
        raise InventoryError(f"{where}: a waiver needs an id, a reason and an expiry date")
    unknown = set(raw) - {"id", "reason", "expires", "hosts", "check"}
    if unknown:
        raise InventoryError(f"{where}.{sorted(unknown)[0]}: unknown key (known: id, reason, expires, hosts, check)")
    if str(raw["id"]) not in catalog():
        raise InventoryError(f"{where}.id: {raw['id']!r} is not a requirement id of REQUIREMENTS.md")
    expires = raw.get("expires")
    if expires is None:
        raise InventoryError(f"{where}.expires: a waiver needs an expiry date (YYYY-MM-DD, at most a year ahead)")
    if isinstance(expires, str):
        try:
            expires = datetime.date.fromisoformat(expires)
        except ValueError:
            raise InventoryError(f"{where}.expires: {expires!r} is not a date (YYYY-MM-DD)") from None
    if not isinstance(expires, datetime.date):
        raise InventoryError(f"{where}.expires: {expires!r} is not a date (YYYY-MM-DD)")
    latest = (today or datetime.date.today()) + datetime.timedelta(days=WAIVER_MAX_DAYS)
    if expires > latest:
        raise InventoryError(f"{where}.expires: {expires} is more than a year ahead (at most {latest})")
    check = raw.get("check")
    if check is not None and not str(check).startswith("test_"):
        raise InventoryError(f"{where}.check: {check!r} is not a check function name (test_...)")
    return Waiver(id=str(raw["id"]), reason=str(raw["reason"]), expires=expires, hosts=tuple(raw.get("hosts") or ()),
                  check=str(check) if check else None)
