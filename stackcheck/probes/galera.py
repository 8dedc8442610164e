"""Galera: a node's wsrep state over SQL, its service unit and bootstrap mode over the shell, and the pure
parsers behind them (gcomm:// addresses, `systemctl show` blocks, a process command line).

Names differ by release and fork, and the checks accept each one:
- the DB service: `mariadb` (MariaDB 10.4+), `mysql` (Percona XtraDB Cluster 5.x, MariaDB <= 10.3), `mysqld`;
- bootstrap mode: the `mysql@bootstrap` / `mariadb@bootstrap` unit (PXC, RHEL), or the normal unit started with
  `--wsrep-new-cluster` (Debian/MariaDB `galera_new_cluster`, which passes it through an environment file);
- applier threads: `wsrep_slave_threads` (<= 10.11 / PXC 5.x) or `wsrep_applier_threads` (MariaDB 11+).
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from stackcheck.probes import batch, sections
from stackcheck.verdicts import CannotCheck

WSREP_STATUS = ("wsrep_cluster_size", "wsrep_cluster_status", "wsrep_ready", "wsrep_connected",
                "wsrep_local_state", "wsrep_local_state_comment", "wsrep_cluster_state_uuid")
WSREP_VARIABLES = ("wsrep_on", "wsrep_provider", "wsrep_cluster_name", "wsrep_cluster_address", "wsrep_node_name",
                   "wsrep_node_address", "wsrep_sst_method", "wsrep_slave_threads", "wsrep_applier_threads",
                   "binlog_format", "default_storage_engine", "innodb_autoinc_lock_mode", "innodb_file_per_table",
                   "datadir", "version", "version_comment")
SERVICE_UNITS = ("mariadb", "mysql", "mysqld")
BOOTSTRAP_UNITS = ("mysql@bootstrap", "mariadb@bootstrap", "mysqld@bootstrap")
NEW_CLUSTER = re.compile(r"--wsrep[-_]new[-_]cluster\b")
# the tool each SST method needs on the node
SST_TOOLS = {"rsync": ("rsync",), "rsync_wan": ("rsync",), "mariabackup": ("mariabackup", "mariadb-backup"),
             "xtrabackup": ("innobackupex", "xtrabackup"), "xtrabackup-v2": ("xtrabackup",),
             "mysqldump": ("mysqldump", "mariadb-dump"), "clone": ()}


def read_state(db) -> tuple[dict[str, str], dict[str, str]]:
    """(status, variables) of one node, lower-case names, in two round trips."""
    status = {k.lower(): v for k, v in db.query(
        "SHOW GLOBAL STATUS WHERE Variable_name IN (%s)" % ",".join(["%s"] * len(WSREP_STATUS)), WSREP_STATUS)}
    variables = {k.lower(): v for k, v in db.query(
        "SHOW GLOBAL VARIABLES WHERE Variable_name IN (%s)" % ",".join(["%s"] * len(WSREP_VARIABLES)), WSREP_VARIABLES)}
    return status, variables


def applier_threads(variables: dict[str, str]) -> tuple[str, int | None]:
    """(the variable's name on this server, its value): wsrep_applier_threads (new) or wsrep_slave_threads."""
    for name in ("wsrep_applier_threads", "wsrep_slave_threads"):
        if variables.get(name) not in (None, ""):
            return name, int(variables[name])
    return "wsrep_slave_threads", None


# --- gcomm:// ---------------------------------------------------------------------------------------------------
def parse_gcomm(address: str | None) -> list[str] | None:
    """The hosts of a wsrep_cluster_address (ports and options dropped), in order; [] for a bare `gcomm://`
    (which bootstraps a new cluster: a latent split brain outside bootstrap); None when not a gcomm:// URL."""
    if address is None:
        return None
    address = address.strip().strip('"').strip("'")
    if not address.lower().startswith("gcomm://"):
        return None
    rest = address[len("gcomm://"):].split("?", 1)[0]
    hosts = []
    for part in rest.split(","):
        part = part.strip()
        if not part:
            continue
        if part.startswith("["):  # [IPv6]:port
            hosts.append(part[1:part.index("]")])
        elif part.count(":") == 1:
            hosts.append(part.split(":")[0])
        else:
            hosts.append(part)
    return hosts


def strip_port(address: str | None) -> str | None:
    """wsrep_node_address may carry a port (198.18.0.15:4567)."""
    if address is None:
        return None
    address = address.strip()
    if address.startswith("["):
        return address[1:address.index("]")]
    return address.split(":")[0] if address.count(":") == 1 else address


# --- the service and bootstrap mode ----------------------------------------------------------------------------
@dataclass
class Unit:
    name: str
    load_state: str = ""
    active_state: str = ""
    unit_file_state: str = ""
    main_pid: int = 0

    @property
    def exists(self) -> bool:
        return self.load_state not in ("", "not-found")

    @property
    def active(self) -> bool:
        return self.active_state in ("active", "activating", "reloading")

    @property
    def enabled(self) -> bool:
        return self.unit_file_state in ("enabled", "enabled-runtime", "static", "alias", "indirect", "generated")


@dataclass
class ServiceState:
    units: dict[str, Unit] = field(default_factory=dict)
    cmdline: str = ""  # the running server's command line (the main PID of the active service unit)

    @property
    def service(self) -> Unit | None:
        """The normal DB service unit: the first of mariadb/mysql/mysqld that exists (an alias counts once)."""
        for name in SERVICE_UNITS:
            unit = self.units.get(name)
            if unit is not None and unit.exists:
                return unit
        return None

    @property
    def bootstrap_units_active(self) -> list[str]:
        return [n for n in BOOTSTRAP_UNITS if n in self.units and self.units[n].active]

    @property
    def new_cluster_flag(self) -> bool:
        return bool(NEW_CLUSTER.search(self.cmdline))

    @property
    def in_bootstrap_mode(self) -> bool:
        return bool(self.bootstrap_units_active) or self.new_cluster_flag


def units_command(units) -> str:
    """A batch (stackcheck/probes/batch.py): per unit, `systemctl show` of its state, and the command line of its
    main process, each a part with its own exit code (the command line fails when /proc hides it: hidepid, another
    user's process; it prints nothing when the unit has no main process)."""
    lines = []
    for u in units:
        q = shlex.quote(f"{u}.service")
        lines.append(batch.part(f"unit {u}", f"systemctl show -p LoadState,ActiveState,UnitFileState,MainPID {q}"))
        lines.append(batch.part(f"cmdline {u}", f"out=$(systemctl show -p MainPID {q}) || exit; p=${{out#MainPID=}}; "
                                "[ -z \"$p\" ] || [ \"$p\" = 0 ] || { c=$(tr '\\0' ' ' < /proc/$p/cmdline) && "
                                "printf '%s\\n' \"$c\"; }"))
    return batch.script(*lines)


def service_command() -> str:
    """The DB service candidates and the bootstrap units, with the server's command line."""
    return units_command(SERVICE_UNITS + BOOTSTRAP_UNITS)


def parse_units(found: batch.Batch) -> tuple[dict[str, Unit], dict[str, batch.Part]]:
    """({unit: Unit}, {unit: the part reading its main process's command line}) from units_command's batch;
    CannotCheck when systemctl failed for a unit or the batch printed no unit."""
    units: dict[str, Unit] = {}
    cmdlines: dict[str, batch.Part] = {}
    for part_name in found.names("unit "):
        name = part_name[len("unit "):]
        part = found[part_name]
        if not part.ok:
            raise CannotCheck(f"could not read the state of {name}.service: systemctl show {part.reason()}")
        f = sections.fields(part.text, "=")
        units[name] = Unit(name, load_state=f.get("LoadState", ""), active_state=f.get("ActiveState", ""),
                           unit_file_state=f.get("UnitFileState", ""), main_pid=int(f.get("MainPID") or 0))
        cmdlines[name] = found.part(f"cmdline {name}", f"the command line of {name}.service's process")
    if not units:
        raise CannotCheck("could not read the service units: the probe printed nothing"
                          + (f" ({found.trouble})" if found.trouble else ""))
    return units, cmdlines


def read_unit(transport, name: str) -> Unit:
    """One systemd unit's state (CannotCheck when systemctl cannot tell)."""
    units, _ = parse_units(batch.run(transport, units_command([name])))
    return units[name]


def service_state(found: batch.Batch) -> ServiceState:
    """The units and the main command line; CannotCheck when systemctl failed for a unit, or when the command
    line of a running unit could not be read (bootstrap mode could then not be told)."""
    units, cmdlines = parse_units(found)
    state = ServiceState(units)
    seen: list[str] = []
    for name, part in cmdlines.items():
        if not part.ok:
            raise CannotCheck(f"could not read the command line of {name}.service's process "
                              f"(/proc/{units[name].main_pid}/cmdline: {part.reason()}): bootstrap mode cannot be "
                              "told; run as root or mount /proc without hidepid")
        cmdline = part.text.rstrip("\n")
        if cmdline and cmdline not in seen:  # mysql/mysqld are often aliases of mariadb
            seen.append(cmdline)
    state.cmdline = " ".join(seen)
    return state


def parse_service(text: str) -> ServiceState:
    """service_state of service_command's output."""
    return service_state(batch.parse(text))


def read_service(transport) -> ServiceState:
    return service_state(batch.run(transport, service_command()))


def start_position_args(cmdline: str) -> list[str]:
    """The --wsrep-new-cluster style flags on a command line (for messages)."""
    return [a for a in shlex.split(cmdline) if NEW_CLUSTER.search(a)] if cmdline else []


# --- the options the notes' my.cnf sets, and how to judge them (shared by DBC-* checks and their fixers) ----------
BOOL_ON = {"on", "1", "true", "yes"}
DYNAMIC = {"binlog_format", "default_storage_engine", "innodb_file_per_table", "wsrep_node_name",
           "wsrep_slave_threads", "wsrep_applier_threads", "wsrep_sst_method"}  # SET GLOBAL applies them at once
GROUPS = {  # requirement -> the options it covers
    "DBC-1": ("binlog_format", "innodb_autoinc_lock_mode", "default_storage_engine", "innodb_file_per_table"),
    "DBC-2": ("wsrep_cluster_name", "wsrep_node_name", "wsrep_node_address"),
    "DBC-3": ("wsrep_cluster_address",),
    "DBC-4": ("wsrep_sst_method", "wsrep_slave_threads"),
}


def node_addresses(lab) -> list[str]:
    """The Galera addresses of the DB nodes: host var wsrep_node_address, else the inventory address."""
    return [str(n.vars.get("wsrep_node_address") or n.address) for n in lab.hosts("dbnode")]


def expected_options(lab, node) -> dict[str, str]:
    """The value each option must have on `node` (the value a fixer writes)."""
    out = {"binlog_format": "ROW", "innodb_autoinc_lock_mode": "2", "default_storage_engine": "InnoDB",
           "innodb_file_per_table": "1", "wsrep_cluster_name": lab.get("db.cluster_name"),
           "wsrep_node_address": str(node.vars.get("wsrep_node_address") or node.address),
           "wsrep_cluster_address": "gcomm://" + ",".join(node_addresses(lab)),
           "wsrep_slave_threads": "2"}
    if node.vars.get("wsrep_node_name"):
        out["wsrep_node_name"] = str(node.vars["wsrep_node_name"])
    if lab.get("db.sst_method"):
        out["wsrep_sst_method"] = lab.get("db.sst_method")
    return out


def option_ok(key: str, actual: str | None, expected: str, lab=None) -> bool:
    if actual is None:
        return False
    actual = actual.strip().strip('"').strip("'")
    if key == "innodb_file_per_table":
        return (actual.lower() in BOOL_ON) == (expected.lower() in BOOL_ON)
    if key in ("wsrep_slave_threads", "wsrep_applier_threads"):
        return actual.isdigit() and int(actual) >= int(expected)
    if key == "wsrep_cluster_address":
        hosts, wanted = parse_gcomm(actual), parse_gcomm(expected)
        return hosts is not None and sorted(hosts) == sorted(wanted or [])
    if key == "wsrep_node_address":
        return strip_port(actual) == strip_port(expected)
    if key in ("binlog_format", "default_storage_engine", "wsrep_sst_method"):
        return actual.lower() == expected.lower()
    return actual == expected


def describe(key: str, actual: str | None) -> str:
    if key == "wsrep_cluster_address" and actual is not None and parse_gcomm(actual) == []:
        return f"{key}={actual} (a bare gcomm:// bootstraps a new cluster at every start: a latent split brain)"
    return f"{key}={actual if actual is not None else '(unset)'}"


def option_problems(keys, expected: dict[str, str], variables: dict[str, str], config) -> list[str]:
    """What is wrong now (SHOW VARIABLES) and what the option files would bring back at the next restart."""
    problems = []
    for key in keys:
        if key not in expected:
            continue
        want = expected[key]
        runtime_key = key
        if key == "wsrep_slave_threads":
            runtime_key, _ = applier_threads(variables)
        running = variables.get(runtime_key)
        if not option_ok(key, running, want):
            problems.append(f"running: {describe(runtime_key, running)}, expected {want}")
        on_restart = config.after_restart(key)
        if key == "wsrep_slave_threads" and config.after_restart("wsrep_applier_threads") is not None \
                and config.value("wsrep_slave_threads") is None:
            on_restart = config.after_restart("wsrep_applier_threads")
        if not option_ok(key, on_restart, want):
            s = config.where(key)
            source = f"{s.where}" if s else ("compiled-in default" if config.value(key) is None else "option files")
            problems.append(f"after a restart ({source}): {describe(key, on_restart)}, expected {want}")
    return problems


# --- files the server needs (the provider library) ----------------------------------------------------------------
def files_present_command(paths) -> str:
    """`present PATH`, `missing PATH` or `unknown PATH` (a directory this user may not search) per path."""
    return "; ".join(
        f"if [ -e {shlex.quote(p)} ]; then echo present {shlex.quote(p)}; "
        f"elif stat -- {shlex.quote(p)} 2>&1 | grep -qi 'permission denied'; then echo unknown {shlex.quote(p)}; "
        f"else echo missing {shlex.quote(p)}; fi" for p in paths)


def parse_files_present(text: str, paths, what: str) -> dict[str, bool]:
    """{path: exists}; CannotCheck when one could not be told (permission) or the answer lacks it."""
    seen = {}
    for line in text.splitlines():
        state, _, path = line.partition(" ")
        if state in ("present", "missing", "unknown"):
            seen[path] = state
    unknown = [p for p in paths if seen.get(p) not in ("present", "missing")]
    if unknown:
        raise CannotCheck(f"could not tell whether {what} exists: {', '.join(unknown)} (a directory on its path "
                          "is not searchable by this user: run as root or with become)")
    return {p: seen[p] == "present" for p in paths}


def files_present(transport, paths, what: str) -> dict[str, bool]:
    return parse_files_present(transport.run(files_present_command(paths)).output(f"whether {what} exists"),
                               paths, what)
