"""Galera probe parsers on real output captured from the lab in a box (MariaDB 10.11 / Galera 4 on Debian 12)
and on the PXC-on-CentOS forms of the notes."""
from pathlib import Path

import pytest

from stackcheck.probes import batch, galera, mycnf
from stackcheck.verdicts import CannotCheck

DATA = Path(__file__).parent / "data" / "db"
# galera.service_command() as root on the lab's dbnode1 (`python -m selftest.capture raw dbnode1 root ...`)
NORMAL = (DATA / "dbnode1-service-normal.txt").read_text()


def units_batch(units: dict) -> str:
    """service_command's batch output for the forms the notes show (unit -> (rc, `systemctl show` stdout or
    stderr, command line))."""
    out = []
    for unit, (rc, shown, cmdline) in units.items():
        text, err = (shown, "") if rc == 0 else ("", shown)
        out.append(f"### unit {unit}\n{text}\n@@sc-rc@@ {rc} unit {unit}\n"
                   + "".join(f"@@sc-err@@ {line}\n" for line in err.splitlines()))
        out.append(f"### cmdline {unit}\n{cmdline}\n@@sc-rc@@ {rc} cmdline {unit}\n")
    return "".join(out)


@pytest.mark.parametrize("address, hosts", [
    ("gcomm://198.18.0.15,198.18.0.16,198.18.0.17", ["198.18.0.15", "198.18.0.16", "198.18.0.17"]),
    ("gcomm://10.0.0.1:4567,10.0.0.2:4567?pc.wait_prim=no", ["10.0.0.1", "10.0.0.2"]),
    ("gcomm://[fd00::1]:4567,[fd00::2]", ["fd00::1", "fd00::2"]),
    ("gcomm://", []),
    ('"gcomm://a,b"', ["a", "b"]),
    ("", None),
    ("198.18.0.15", None),
])
def test_parse_gcomm(address, hosts):
    assert galera.parse_gcomm(address) == hosts


def test_strip_port():
    assert galera.strip_port("198.18.0.15:4567") == "198.18.0.15"
    assert galera.strip_port("198.18.0.15") == "198.18.0.15"
    assert galera.strip_port("[fd00::1]:4567") == "fd00::1"


def test_service_normal_debian():
    state = galera.parse_service(NORMAL)
    assert state.service.name == "mariadb" and state.service.active and state.service.enabled
    assert not state.in_bootstrap_mode and state.bootstrap_units_active == []
    assert state.cmdline.startswith("/usr/sbin/mariadbd --wsrep_start_position=")


def test_service_bootstrap_debian_galera_new_cluster():
    # Debian's unit: ExecStart=... exec /usr/sbin/mariadbd $MYSQLD_OPTS $_WSREP_NEW_CLUSTER $VAR; galera_new_cluster
    # sets _WSREP_NEW_CLUSTER=--wsrep-new-cluster: the captured command line with that flag
    text = NORMAL.replace("/usr/sbin/mariadbd --wsrep_start_position=", "/usr/sbin/mariadbd --wsrep-new-cluster --wsrep_start_position=")
    state = galera.parse_service(text)
    assert state.in_bootstrap_mode and state.new_cluster_flag
    assert galera.start_position_args(state.cmdline) == ["--wsrep-new-cluster"]


def test_service_bootstrap_unit_pxc():
    text = units_batch({
        "mariadb": (0, "LoadState=not-found\nActiveState=inactive\nUnitFileState=\nMainPID=0\n", ""),
        "mysql": (0, "LoadState=loaded\nActiveState=inactive\nUnitFileState=disabled\nMainPID=0\n", ""),
        "mysql@bootstrap": (0, "LoadState=loaded\nActiveState=active\nUnitFileState=static\nMainPID=812\n",
                            "/usr/sbin/mysqld --basedir=/usr --wsrep-new-cluster \n")})
    state = galera.parse_service(text)
    assert state.service.name == "mysql" and not state.service.active and not state.service.enabled
    assert state.bootstrap_units_active == ["mysql@bootstrap"] and state.in_bootstrap_mode


def test_service_command_line_hidden_is_an_error_not_a_normal_start():
    # /proc mounted with hidepid=2 (or the server run by another user): the main PID's cmdline cannot be read,
    # and bootstrap mode (--wsrep-new-cluster on it) cannot be told; the old probe skipped it and passed
    found = batch.parse(NORMAL)
    found["cmdline mariadb"] = batch.Part("cmdline mariadb", "", 2, ["sh: 1: cannot open /proc/4276/cmdline: No such file"])
    with pytest.raises(CannotCheck, match="bootstrap mode cannot be told"):
        galera.service_state(found)


def test_service_without_systemd_is_an_error_not_a_missing_unit():
    # a host whose PID 1 is not systemd: what `systemctl show` prints there (exit 1) is not "no unit exists"
    text = units_batch({u: (1, "System has not been booted with systemd as init system (PID 1). Can't operate.\n"
                               "Failed to connect to bus: Host is down\n", "")
                        for u in galera.SERVICE_UNITS + galera.BOOTSTRAP_UNITS})
    with pytest.raises(CannotCheck, match="could not read the state of mariadb.service: systemctl show exit code 1"):
        galera.parse_service(text)
    with pytest.raises(CannotCheck, match="printed nothing"):
        galera.parse_service("")


def test_provider_presence():
    out = "present /usr/lib/galera/libgalera_smm.so\nmissing /usr/lib64/galera/libgalera_smm.so\n"
    assert galera.parse_files_present(out, ["/usr/lib/galera/libgalera_smm.so", "/usr/lib64/galera/libgalera_smm.so"],
                                      "the provider") == {"/usr/lib/galera/libgalera_smm.so": True,
                                                          "/usr/lib64/galera/libgalera_smm.so": False}
    with pytest.raises(CannotCheck, match="not searchable"):
        galera.parse_files_present("unknown /opt/galera/lib.so\n", ["/opt/galera/lib.so"], "the provider")


def test_applier_threads_old_and_new_names():
    assert galera.applier_threads({"wsrep_slave_threads": "2"}) == ("wsrep_slave_threads", 2)
    assert galera.applier_threads({"wsrep_applier_threads": "4", "wsrep_slave_threads": "4"}) == ("wsrep_applier_threads", 4)


class _Node:
    name, address, vars = "dbnode1", "198.18.0.15", {"wsrep_node_name": "DBNode1"}


class _Lab:
    def get(self, key):
        return {"db.cluster_name": "SilverSkySoftDBClusterA", "db.sst_method": "rsync"}[key]

    def hosts(self, role):
        return [type("N", (), {"name": f"dbnode{i}", "address": f"198.18.0.{14 + i}", "vars": {}})() for i in (1, 2, 3)]


def test_option_problems_on_captured_config():
    config = mycnf.parse((DATA / "dbnode1-mycnf-dump.txt").read_text())
    expected = galera.expected_options(_Lab(), _Node())
    running = {"binlog_format": "ROW", "innodb_autoinc_lock_mode": "2", "default_storage_engine": "InnoDB",
               "innodb_file_per_table": "ON", "wsrep_cluster_address": "gcomm://198.18.0.15,198.18.0.16,198.18.0.17",
               "wsrep_slave_threads": "2", "wsrep_sst_method": "rsync", "wsrep_cluster_name": "SilverSkySoftDBClusterA",
               "wsrep_node_name": "DBNode1", "wsrep_node_address": "198.18.0.15"}
    for keys in galera.GROUPS.values():
        assert galera.option_problems(keys, expected, running, config) == []
    drift = dict(running, wsrep_slave_threads="1", binlog_format="MIXED")
    problems = galera.option_problems(galera.GROUPS["DBC-1"] + galera.GROUPS["DBC-4"], expected, drift, config)
    assert problems == ["running: binlog_format=MIXED, expected ROW", "running: wsrep_slave_threads=1, expected 2"]


def test_option_problems_names_the_file_and_the_bare_gcomm():
    text = (DATA / "dbnode1-mycnf-dump.txt").read_text().replace(
        "wsrep_cluster_address          = gcomm://198.18.0.15,198.18.0.16,198.18.0.17",
        "wsrep_cluster_address          = gcomm://").replace(
        "--wsrep_cluster_address=gcomm://198.18.0.15,198.18.0.16,198.18.0.17", "--wsrep_cluster_address=gcomm://")
    config = mycnf.parse(text)
    expected = galera.expected_options(_Lab(), _Node())
    running = {"wsrep_cluster_address": "gcomm://198.18.0.15,198.18.0.16,198.18.0.17"}
    [problem] = galera.option_problems(["wsrep_cluster_address"], expected, running, config)
    assert "/etc/mysql/mariadb.conf.d/60-galera.cnf:" in problem
    assert "a bare gcomm:// bootstraps a new cluster" in problem
