"""Fault matrix of the DB family on the lab in a box: dbnode1..3 (MariaDB 10.11 + Galera 4) and lb (HAProxy VIP).

Each fault is something that really happens to a Galera cluster, injected through `labbox exec`; independent
faults share a check run. Every test leaves the cluster as it found it: Synced with 3 nodes, no node in bootstrap
mode, HAProxy seeing all three UP (asserted at the end of each test, so a broken restore is a failure here and
not a mystery in the next test).
- option drift: binlog_format=MIXED written to a node's my.cnf (wrong only after a restart) and
  wsrep_slave_threads lowered at runtime (wrong only until a restart) -> config fixer (file edit + SET GLOBAL);
- a node restarted with one address missing from wsrep_cluster_address -> restart fixer under the quorum guard
  (refused while another node is down, done once it is back);
- a node named after its host (wsrep_node_name) -> config fixer; the VIP's pool "tuned" by hand (leastconn, a
  weight, a member dropped) -> pool rewrite validated by `haproxy -c`;
- a rebuilt node started with the bootstrap template (bare gcomm://): a second cluster with its own state UUID;
  --fix must NOT restart it into the cluster (a full SST would discard what it took since);
- a node stopped for real: the VIP keeps answering and never routes to it (LB-4), rotation and cluster size
  fail, --fix starts it again;
- the whole cluster restarted through galera_new_cluster on dbnode1 and left in bootstrap mode, and the
  service disabled on dbnode2 -> restart fixer (leave bootstrap mode) and config fixer (enable);
- a node cut off from its peers (non-Primary, still answering logins) behind a login-only `mysql-check`:
  the VIP routes to it (LB-4/LB-6 fail), the LB-6 fixer puts the Galera-aware check back;
- the SST/IST ports rejected by a firewall rule -> firewall fixer (risk `access`: refused by plain --fix, done with
  --fix-access);
- host files: swap file mode 0644, the data volume's fstab line without fsck pass, an EPEL repo file;
- accounts and tables: an anonymous user, an account inserted into mysql.global_priv on one node only (not
  replicated; copying it everywhere creates access, so plain --fix refuses and --fix-access does it), a
  password changed on one node only, a MyISAM table without a primary key, a node with wsrep_on=OFF (its
  writes stay local);
- haproxy stopped: the VIP refuses connections, --fix starts it; the application's rows deleted;
- a node left desynced after a backup (wsrep_desync=ON): out of rotation, --fix resyncs it.
"""
from __future__ import annotations

import shlex
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from selftest.faultlib import lab_exec, run_checks
from stackcheck.inventory import REPO

T = "tests_db"
NODES = ("dbnode1", "dbnode2", "dbnode3")
CNF = "/etc/mysql/mariadb.conf.d/60-galera.cnf"


def sql(host: str, statement: str, check: bool = True):
    return lab_exec(host, f"mariadb -N -B -e {shlex.quote(statement)}", check=check)


def wait_for(host: str, command: str, timeout: float = 90, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab_exec(host, command, check=False).returncode == 0:
            return
        time.sleep(1)
    raise AssertionError(f"{host}: {what or command} not reached after {timeout:.0f} s")


def node_ready(host: str) -> str:
    return "set -a; . /etc/labbox/lab.env; set +a; bash /opt/labbox/ready.d/galera.sh"


def wait_lab_healthy(timeout: float = 120) -> None:
    """Every node Synced in a cluster of 3, not in bootstrap mode; HAProxy sees all three UP."""
    for node in NODES:
        wait_for(node, node_ready(node), timeout, "Synced in a cluster of 3, not in bootstrap mode")
    wait_for("lb", "set -a; . /etc/labbox/lab.env; set +a; bash /opt/labbox/ready.d/haproxy.sh", timeout,
             "HAProxy sees every DB node UP")


def wait_size(host: str, size: int, timeout: float = 60) -> None:
    wait_for(host, f"[ \"$(mariadb -N -B -e \"SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                   f"WHERE VARIABLE_NAME='wsrep_cluster_size'\")\" = {size} ]", timeout, f"wsrep_cluster_size={size}")


def haproxy_state(server: str, state: str, timeout: float = 30) -> None:
    wait_for("lb", f"echo 'show stat' | socat -t 2 stdio /run/haproxy/admin.sock | "
                   f"awk -F, '$1==\"galera_vip\" && $2==\"{server}\" {{print $18}}' | grep -q '^{state}'",
             timeout, f"HAProxy shows {server} {state}")


@pytest.fixture
def healthy_db(lab_up):
    wait_lab_healthy()
    yield
    wait_lab_healthy(180)


def assert_outcomes(run, expected: dict[str, str]) -> None:
    got = {name: run.outcome(name) for name in expected}
    assert got == expected, f"outcomes {got}, expected {expected}\n" + "\n".join(
        f"{n}: {run.message(n)[:300]} | evidence: {run.case(n).get('evidence', '')[:300]}" for n in expected) + "\n" + run.output[-2500:]


def assert_says(run, name: str, *parts: str) -> None:
    message = run.message(name)
    missing = [p for p in parts if p not in message]
    assert not missing, f"{name}: message lacks {missing}: {message}"


# --- DBC: option drift (config fixer) --------------------------------------------------------------------------
@pytest.mark.covers("DBC-1", "DBC-4")
def test_option_drift_fixed_live(healthy_db):
    node = "dbnode3"
    c1, c4 = f"test_innodb_row_binlog_settings[{node}]", f"test_sst_method_tool_and_applier_threads[{node}]"
    select = [f"{T}/test_mycnf.py::{c1}", f"{T}/test_mycnf.py::{c4}"]
    lab_exec(node, f"cp {CNF} /root/60-galera.cnf.orig && "
                   f"sed -i 's/^binlog_format .*/binlog_format = MIXED/' {CNF}")
    sql(node, "SET GLOBAL wsrep_slave_threads = 1")
    try:
        run = run_checks(*select)
        assert_outcomes(run, {c1: "failed", c4: "failed"})
        assert_says(run, c1, "after a restart", CNF, "binlog_format=MIXED", "expected ROW")
        assert_says(run, c4, "running: wsrep_slave_threads=1", "expected 2")
        planned = run_checks(*select, fix=True, dry_run=True)  # the plan and its diff, nothing changed
        assert planned.case(c1).get("fix_status") == "planned", planned.output[-2000:]
        assert "+binlog_format = ROW" in planned.case(c1)["fix_diff"]
        assert "binlog_format = MIXED" in lab_exec(node, f"cat {CNF}").stdout
        assert sql(node, "SELECT @@wsrep_slave_threads").stdout.strip() == "1"
        fixed = run_checks(*select, fix=True)
        assert_outcomes(fixed, {c1: "fixed", c4: "fixed"})
        again = run_checks(*select)
        assert_outcomes(again, {c1: "passed", c4: "passed"})
        # idempotent: nothing left to change
        assert "binlog_format = ROW" in lab_exec(node, f"cat {CNF}").stdout
    finally:
        lab_exec(node, f"[ -f /root/60-galera.cnf.orig ] && cp /root/60-galera.cnf.orig {CNF}; "
                       "rm -f /root/60-galera.cnf.orig", check=False)
        sql(node, "SET GLOBAL wsrep_slave_threads = 2", check=False)


# --- DBC-3: a node restarted with an incomplete cluster address (restart fixer, quorum guard) -------------------
@pytest.mark.covers("DBC-3")
def test_cluster_address_missing_a_node_fixed_by_guarded_restart(healthy_db):
    """The restart fixer runs only while every other node is Primary and Synced (refused while dbnode2 is down)."""
    node = "dbnode3"
    check = f"test_cluster_address_lists_every_node[{node}]"
    lab_exec(node, f"sed -i 's#^wsrep_cluster_address .*#wsrep_cluster_address          = "
                   f"gcomm://198.18.0.16,198.18.0.17#' {CNF} && systemctl restart mariadb")
    wait_size(node, 3)
    try:
        run = run_checks(f"{T}/test_mycnf.py::{check}")
        assert_outcomes(run, {check: "failed"})
        assert_says(run, check, "running: wsrep_cluster_address=gcomm://198.18.0.16,198.18.0.17",
                    "expected gcomm://198.18.0.15,198.18.0.16,198.18.0.17")
        # while another node is down, restarting this one could cost the cluster its quorum: refused, untouched
        lab_exec("dbnode2", "systemctl stop mariadb")
        try:
            wait_size(node, 2)
            refused = run_checks(f"{T}/test_mycnf.py::{check}", fix=True)
            assert_outcomes(refused, {check: "fix-failed"})
            assert "refused: dbnode2 is not reachable" in refused.case(check)["fix_log"]
            assert "gcomm://198.18.0.16,198.18.0.17" in lab_exec(node, f"grep ^wsrep_cluster_address {CNF}").stdout
        finally:
            lab_exec("dbnode2", "systemctl start mariadb")
        wait_size(node, 3)
        wait_for("dbnode2", node_ready("dbnode2"), 60, "dbnode2 Synced again")
        fixed = run_checks(f"{T}/test_mycnf.py::{check}", fix=True)
        assert_outcomes(fixed, {check: "fixed"})
        assert "restart mariadb" in fixed.case(check)["fix_log"]
    finally:
        lab_exec(node, f"grep -q 'gcomm://198.18.0.15,198.18.0.16,198.18.0.17' {CNF} || "
                       f"{{ sed -i 's#^wsrep_cluster_address .*#wsrep_cluster_address = "
                       f"gcomm://198.18.0.15,198.18.0.16,198.18.0.17#' {CNF}; systemctl restart mariadb; }}", check=False)


# --- LB-4 / DBK-1 / DBK-4: a node stopped for real --------------------------------------------------------------
# LB-4 passes here by design (the VIP keeps answering and skips the stopped node): it is proven failing by the
# non-Primary test below, so this test does not claim it
@pytest.mark.covers("LB-2", "DBK-1", "DBK-4")
def test_stopped_node_out_of_rotation_and_started_by_fix(healthy_db):
    node = "dbnode2"
    c_lb4 = "test_vip_answers_and_never_routes_to_unhealthy_node"
    c_lb2 = "test_vip_rotates_over_every_node"
    c_size = "test_cluster_size_matches_inventory[dbnode1]"
    c_svc = f"test_normal_service_running_not_bootstrap[{node}]"
    lab_exec(node, "systemctl stop mariadb")
    try:
        wait_size("dbnode1", 2)
        haproxy_state("DBNode2", "DOWN")
        run = run_checks(f"{T}/test_vip.py::{c_lb4}", f"{T}/test_vip.py::{c_lb2}",
                         f"{T}/test_cluster.py::{c_size}", f"{T}/test_cluster.py::{c_svc}")
        assert_outcomes(run, {c_lb4: "passed", c_lb2: "failed", c_size: "failed", c_svc: "failed"})
        assert "DBNode2" not in run.case(c_lb4)["evidence"].split("answers=")[1].split(";")[0]
        assert "dbnode2" in run.case(c_lb4)["evidence"]  # it knew the node was down
        assert_says(run, c_lb2, "DBNode2 answered 0 times")
        assert_says(run, c_size, "wsrep_cluster_size is 2, expected 3")
        assert_says(run, c_svc, "mariadb is inactive, expected active")
        fixed = run_checks(f"{T}/test_cluster.py::{c_svc}", fix=True)
        assert_outcomes(fixed, {c_svc: "fixed"})
    finally:
        lab_exec(node, "systemctl is-active -q mariadb || systemctl start mariadb", check=False)
    haproxy_state("DBNode2", "UP")
    again = run_checks(f"{T}/test_vip.py::{c_lb2}", f"{T}/test_cluster.py::{c_size}")
    assert_outcomes(again, {c_lb2: "passed", c_size: "passed"})


# --- DBK-4: left in bootstrap mode after a full restart; service disabled at boot --------------------------------
@pytest.mark.covers("DBK-4")
def test_bootstrap_mode_left_and_service_enabled_by_fix(healthy_db):
    c1 = "test_normal_service_running_not_bootstrap[dbnode1]"
    c2 = "test_normal_service_running_not_bootstrap[dbnode2]"
    select = [f"{T}/test_cluster.py::{c1}", f"{T}/test_cluster.py::{c2}"]
    # the operator's full restart: stop 3 and 2 (dbnode1 is the last to leave: safe to bootstrap), bootstrap 1,
    # start 2 and 3 ... and never restart dbnode1 normally
    lab_exec("dbnode3", "systemctl stop mariadb")
    lab_exec("dbnode2", "systemctl stop mariadb")
    lab_exec("dbnode1", "galera_new_cluster")
    lab_exec("dbnode2", "systemctl start mariadb && systemctl disable -q mariadb")
    lab_exec("dbnode3", "systemctl start mariadb")
    wait_size("dbnode1", 3)
    try:
        run = run_checks(*select)
        assert_outcomes(run, {c1: "failed", c2: "failed"})
        assert_says(run, c1, "runs in bootstrap mode", "--wsrep-new-cluster")
        assert_says(run, c2, "mariadb is disabled at boot, expected enabled")
        fixed = run_checks(*select, fix=True)
        assert_outcomes(fixed, {c1: "fixed", c2: "fixed"})
        assert "systemctl restart mariadb" in fixed.case(c1)["fix_log"]
    finally:
        lab_exec("dbnode2", "systemctl enable -q mariadb", check=False)
        lab_exec("dbnode1", "tr '\\0' ' ' < /proc/$(systemctl show -p MainPID --value mariadb)/cmdline | "
                            "grep -q -- --wsrep-new-cluster && systemctl restart mariadb; true", check=False)


# --- LB-6 / LB-4 / DBK-2: a non-Primary node behind a login-only health check ------------------------------------
@pytest.mark.covers("LB-6", "LB-4", "DBK-2")
def test_non_primary_node_kept_out_by_galera_aware_check(healthy_db):
    node = "dbnode3"
    c_lb6, c_lb4 = "test_haproxy_health_check_judges_galera_state[lb]", "test_vip_answers_and_never_routes_to_unhealthy_node"
    c_state = f"test_node_primary_ready_connected_synced[{node}]"
    select = [f"{T}/test_vip.py::{c_lb6}", f"{T}/test_vip.py::{c_lb4}", f"{T}/test_cluster.py::{c_state}"]
    cut = "iptables -I INPUT -p tcp --dport 4567 -j DROP && iptables -I INPUT -p tcp --sport 4567 -j DROP"
    lab_exec("lb", "cp /etc/haproxy/haproxy.cfg /root/haproxy.cfg.orig")
    # the account of HAProxy's login check, as sites have it since the installation (before the partition, so
    # the cut-off node has it too)
    sql("dbnode1", "CREATE USER IF NOT EXISTS 'haproxy'@'198.18.0.18'")
    wait_for(node, "mariadb -N -B -e \"SELECT COUNT(*) FROM mysql.user WHERE User='haproxy'\" | grep -q 1", 30,
             "the haproxy account replicated")
    lab_exec(node, cut)
    try:
        wait_for(node, "mariadb -N -B -e \"SHOW STATUS LIKE 'wsrep_cluster_status'\" | grep -q non-Primary", 60,
                 "non-Primary")
        haproxy_state("DBNode3", "DOWN")
        # with the Galera-aware check the VIP never routes to the cut-off node
        run = run_checks(*select)
        assert_outcomes(run, {c_lb6: "passed", c_lb4: "passed", c_state: "failed"})
        assert_says(run, c_state, "wsrep_cluster_status=non-Primary", "expected Primary")
        # an operator "simplifies" the health check to HAProxy's login check
        lab_exec("lb", "sed -i -e '/external-check/d' -e 's/^    balance roundrobin/&\\n    option mysql-check "
                       "user haproxy post-41/' /etc/haproxy/haproxy.cfg && "
                       "sed -i 's/^    insecure-fork-wanted//' /etc/haproxy/haproxy.cfg && systemctl reload haproxy")
        haproxy_state("DBNode3", "UP")
        run = run_checks(*select)
        assert_outcomes(run, {c_lb6: "failed", c_lb4: "failed", c_state: "failed"})
        assert_says(run, c_lb6, "mysql-check", "only proves a login")
        assert_says(run, c_lb4, "routed to nodes that are down or not Synced: DBNode3")
        fixed = run_checks(f"{T}/test_vip.py::{c_lb6}", fix=True)
        assert_outcomes(fixed, {c_lb6: "fixed"})
        again = run_checks(f"{T}/test_vip.py::{c_lb4}")
        assert_outcomes(again, {c_lb4: "passed"})
    finally:
        lab_exec(node, "iptables -D INPUT -p tcp --dport 4567 -j DROP; iptables -D INPUT -p tcp --sport 4567 -j DROP",
                 check=False)
        sql("dbnode1", "DROP USER IF EXISTS 'haproxy'@'198.18.0.18'", check=False)
        lab_exec("lb", "grep -q galera-check /etc/haproxy/haproxy.cfg || { cp /root/haproxy.cfg.orig "
                       "/etc/haproxy/haproxy.cfg && systemctl reload haproxy; }; rm -f /root/haproxy.cfg.orig",
                 check=False)


# --- DBH-3: the SST/IST ports rejected by a firewall rule ---------------------------------------------------------
@pytest.mark.covers("DBH-3")
def test_galera_ports_opened_by_fix(healthy_db):
    node = "dbnode3"
    check = f"test_galera_ports_reachable_from_other_nodes[{node}]"
    reject = "INPUT -p tcp -m multiport --dports 4444,4568 -j REJECT"
    lab_exec(node, f"iptables -A {reject}")
    try:
        run = run_checks(f"{T}/test_dbhost.py::{check}")
        assert_outcomes(run, {check: "failed"})
        assert_says(run, check, "dbnode1 -> 4444: refused", "dbnode2 -> 4568: refused")
        assert "3306" not in run.message(check) and "4567" not in run.message(check)
        # opening ports to sources the firewall refused is risk class `access` (issue 11): plain --fix refuses it
        before = lab_exec(node, "iptables -S").stdout
        refused = run_checks(f"{T}/test_dbhost.py::{check}", fix=True)
        assert_outcomes(refused, {check: "fix-failed"})  # how the report marks a fix it would not run
        assert refused.case(check).get("fix_status") == "refused", refused.case(check)
        assert "--fix-access" in refused.case(check)["fix_log"]
        assert lab_exec(node, "iptables -S").stdout == before  # nothing was changed
        fixed = run_checks(f"{T}/test_dbhost.py::{check}", fix=True, extra=("--fix-access",))
        assert_outcomes(fixed, {check: "fixed"})
        assert "iptables: accept TCP 873,3306,4444,4567,4568 from 198.18.0.15,198.18.0.16" in fixed.case(check)["fix_log"]
    finally:
        lab_exec(node, "iptables -F INPUT", check=False)  # the healthy lab has no INPUT rules on DB nodes


# --- DBH-1/2/5: host files ----------------------------------------------------------------------------------------
def _inventory_without_waiver(rid: str) -> str:
    """The labbox inventory with one not-hosted waiver lifted, to exercise the hosted part of that requirement."""
    data = yaml.safe_load((REPO / "inventories/labbox.yaml").read_text())
    data["stackcheck"]["waivers"] = [w for w in data["stackcheck"].get("waivers", []) if w.get("id") != rid]
    path = Path(tempfile.mkdtemp(prefix="stackcheck-db-")) / "labbox-dbh1.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.mark.covers("DBH-1", "DBH-2", "DBH-5")
def test_host_files_fixed(healthy_db):
    node = "dbnode2"
    c_swap = f"test_swapfile_prepared_and_in_fstab[{node}]"
    c_vol = f"test_datadir_on_own_ext4_volume[{node}]"
    c_pkg = f"test_socat_installed_no_epel[{node}]"
    select = [f"{T}/test_dbhost.py::{c}" for c in (c_swap, c_vol, c_pkg)]
    inventory = _inventory_without_waiver("DBH-1")
    lab_exec(node, "chmod 644 /swapfile && sed -i 's#^\\(LABEL=mysqldata /var/lib/mysql ext4 defaults\\) 0 2#\\1 0 0#' "
                   "/etc/fstab && mkdir -p /etc/yum.repos.d && printf '[epel]\\nname=Extra Packages for Enterprise "
                   "Linux 7 - $basearch\\nmetalink=https://mirrors.fedoraproject.org/metalink?repo=epel-7&arch="
                   "$basearch\\nenabled=1\\ngpgcheck=1\\n' > /etc/yum.repos.d/epel.repo")
    try:
        run = run_checks(*select, inventory=inventory)
        assert_outcomes(run, {c_swap: "failed", c_vol: "failed", c_pkg: "failed"})
        assert_says(run, c_swap, "/swapfile has mode 0644, expected 0600")
        assert_says(run, c_vol, "fsck pass 0", "expected `ext4 defaults 0 2`")
        assert_says(run, c_pkg, "EPEL is enabled", "/etc/yum.repos.d/epel.repo [epel]")
        fixed = run_checks(*select, inventory=inventory, fix=True)
        assert_outcomes(fixed, {c_swap: "fixed", c_vol: "fixed", c_pkg: "fixed"})
        assert lab_exec(node, "stat -c %a /swapfile").stdout.strip() == "600"
        # the labbox inventory itself waives DBH-1 (swap cannot be active in a container), never passes it
        waived = run_checks(f"{T}/test_dbhost.py::test_swap_active[{node}]")
        assert waived.outcome(f"test_swap_active[{node}]") == "waived"
    finally:
        lab_exec(node, "chmod 600 /swapfile; sed -i 's#^\\(LABEL=mysqldata /var/lib/mysql ext4 defaults\\) 0 0#\\1 0 2#' "
                       "/etc/fstab; rm -rf /etc/yum.repos.d", check=False)


# --- DBK-5..8: accounts, tables, a node whose writes stay local -------------------------------------------------
@pytest.mark.covers("DBK-5", "DBK-6", "DBK-7", "DBK-8")
def test_accounts_tables_and_local_writes(healthy_db):
    c5 = "test_write_on_node_is_read_on_every_other[dbnode3]"
    c6 = "test_root_has_password_and_no_anonymous_user[dbnode2]"
    c7 = "test_same_users_on_every_node"
    c8 = "test_user_tables_innodb_with_primary_key[dbnode1]"
    select = [f"{T}/test_cluster.py::{c}" for c in (c5, c6, c7, c8)]
    sql("dbnode1", "CREATE USER ''@'%'; CREATE TABLE my_test_db.audit_log (msg VARCHAR(100)) ENGINE=MyISAM")
    # the notes' warning: an account written into the mysql tables directly stays on that node
    sql("dbnode2", "INSERT INTO mysql.global_priv (Host, User, Priv) VALUES ('%', 'reporting', "
                   "'{\"access\":0,\"plugin\":\"mysql_native_password\",\"authentication_string\":\"\"}'); "
                   "FLUSH PRIVILEGES")
    sql("dbnode3", "SET GLOBAL wsrep_on = OFF")
    # and a password changed on that node only (its session does not replicate now)
    sql("dbnode3", "ALTER USER 'admin'@'%' IDENTIFIED BY 'changed-on-dbnode3-only'")
    restore_admin = ". /etc/labbox/secrets.env && mariadb -e \"SET SESSION wsrep_on = OFF; ALTER USER 'admin'@'%' " \
                    "IDENTIFIED BY '$DB_ADMIN_PASSWORD'\""
    try:
        run = run_checks(*select)
        assert_outcomes(run, {c5: "failed", c6: "failed", c7: "failed", c8: "failed"})
        assert_says(run, c5, "a row written on dbnode3 is not readable on dbnode1, dbnode2")
        assert_says(run, c6, "anonymous users: ''@'%'")
        assert_says(run, c7, "'reporting'@'%' only on dbnode2", "'admin'@'%' has another password or auth plugin on dbnode3")
        assert "changed-on" not in run.message(c7) and "*" not in run.message(c7)  # no hash, no password
        assert_says(run, c8, "my_test_db.audit_log uses MyISAM", "my_test_db.audit_log has no primary key")
        sql("dbnode3", "SET GLOBAL wsrep_on = ON")
        lab_exec("dbnode3", restore_admin)  # which password is right is an operator's call, not a fixer's
        # copying the unexplained one-node account to every node creates access: plain --fix refuses it
        refused = run_checks(f"{T}/test_cluster.py::{c7}", fix=True)
        assert_outcomes(refused, {c7: "fix-failed"})  # how the report marks a fix it would not run
        assert refused.case(c7).get("fix_status") == "refused", refused.case(c7)
        assert "--fix-access" in refused.case(c7)["fix_log"]
        assert "reporting" not in sql("dbnode1", "SELECT User FROM mysql.user").stdout  # nothing was copied
        fixed = run_checks(f"{T}/test_cluster.py::{c7}", fix=True, extra=("--fix-access",))
        assert_outcomes(fixed, {c7: "fixed"})
        assert "'reporting'@'%'" in fixed.case(c7)["fix_log"] and "PASSWORD" not in fixed.case(c7)["fix_log"]
    finally:
        sql("dbnode3", "SET GLOBAL wsrep_on = ON", check=False)
        lab_exec("dbnode3", restore_admin, check=False)
        sql("dbnode1", "DROP USER IF EXISTS ''@'%'; DROP USER IF EXISTS 'reporting'@'%'; "
                       "DROP TABLE IF EXISTS my_test_db.audit_log", check=False)
        for node in NODES:  # a local-only leftover (if the fix did not run) is dropped where it is
            sql(node, "SET SESSION wsrep_on = OFF; DROP USER IF EXISTS 'reporting'@'%'", check=False)
    again = run_checks(*select)
    assert_outcomes(again, {c5: "passed", c6: "passed", c7: "passed", c8: "passed"})


# --- LB-1 / LB-5: haproxy stopped ---------------------------------------------------------------------------------
@pytest.mark.covers("LB-1", "LB-5")
def test_haproxy_stopped_started_by_fix_and_application_rows_lost(healthy_db):
    c_vip, c_svc, c_app = ("test_vip_accepts_mysql_connections", "test_haproxy_running_and_enabled[lb]",
                           "test_application_query_through_vip_returns_rows")
    select = [f"{T}/test_vip.py::{c}" for c in (c_vip, c_svc, c_app)]
    lab_exec("lb", "systemctl stop haproxy")
    try:
        run = run_checks(*select)
        assert_outcomes(run, {c_vip: "failed", c_svc: "failed", c_app: "error"})
        assert_says(run, c_vip, "198.18.0.18:3306 does not accept MySQL connections")
        assert_says(run, c_svc, "haproxy is not running")
        fixed = run_checks(*select, fix=True)
        assert fixed.outcome(c_svc) == "fixed", fixed.output[-2000:]
    finally:
        lab_exec("lb", "systemctl is-active -q haproxy || systemctl start haproxy", check=False)
    haproxy_state("DBNode1", "UP")
    again = run_checks(*select)
    assert_outcomes(again, {c_vip: "passed", c_svc: "passed", c_app: "passed"})
    # the application's rows deleted: the VIP answers, the application query returns nothing
    sql("dbnode1", "DELETE FROM my_test_db.my_test_table")
    try:
        lost = run_checks(f"{T}/test_vip.py::{c_app}")
        assert_outcomes(lost, {c_app: "failed"})
        assert_says(lost, c_app, "SELECT test_name FROM my_test_db.my_test_table", "returned no rows")
    finally:
        sql("dbnode1", "INSERT INTO my_test_db.my_test_table (test_year, test_name) SELECT 1998, 'Hello year 1998' "
                       "FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM my_test_db.my_test_table WHERE test_year = 1998)")


# --- LB-3: the pool "tuned" by hand ------------------------------------------------------------------------------
@pytest.mark.covers("LB-3")
def test_vip_pool_settings_restored_by_fix(healthy_db):
    check = "test_haproxy_pool_tcp_roundrobin_members[lb]"
    lab_exec("lb", "cp /etc/haproxy/haproxy.cfg /root/haproxy.cfg.orig && sed -i -e 's/balance roundrobin/balance "
                   "leastconn/' -e 's/^\\(    server DBNode2 .*\\) weight 1/\\1 weight 5/' -e '/server DBNode3/d' "
                   "/etc/haproxy/haproxy.cfg && systemctl reload haproxy")
    try:
        run = run_checks(f"{T}/test_vip.py::{check}")
        assert_outcomes(run, {check: "failed"})
        assert_says(run, check, "balancing LEAST_CONNECTIONS, expected ROUND_ROBIN", "members missing: 198.18.0.17",
                    "member DBNode2 has weight 5, expected 1")
        fixed = run_checks(f"{T}/test_vip.py::{check}", fix=True)
        assert_outcomes(fixed, {check: "fixed"})
        assert "+    server DBNode3 198.18.0.17:3306 check weight 1" in fixed.case(check)["fix_diff"]
    finally:
        lab_exec("lb", "grep -q 'server DBNode3' /etc/haproxy/haproxy.cfg && grep -q 'balance roundrobin' "
                       "/etc/haproxy/haproxy.cfg || { cp /root/haproxy.cfg.orig /etc/haproxy/haproxy.cfg && "
                       "systemctl reload haproxy; }; rm -f /root/haproxy.cfg.orig", check=False)


# --- DBC-2: a node named after its host name ------------------------------------------------------------------
@pytest.mark.covers("DBC-2")
def test_node_name_restored_by_fix(healthy_db):
    node = "dbnode2"
    check = f"test_wsrep_provider_cluster_and_node_identity[{node}]"
    lab_exec(node, f"cp {CNF} /root/60-galera.cnf.orig && sed -i 's/^wsrep_node_name .*/wsrep_node_name = dbserver2/' "
                   f"{CNF}")
    sql(node, "SET GLOBAL wsrep_node_name = 'dbserver2'")
    try:
        run = run_checks(f"{T}/test_mycnf.py::{check}")
        assert_outcomes(run, {check: "failed"})
        assert_says(run, check, "running: wsrep_node_name=dbserver2, expected DBNode2",
                    f"after a restart ({CNF}:", "wsrep_node_name=dbserver2")
        fixed = run_checks(f"{T}/test_mycnf.py::{check}", fix=True)
        assert_outcomes(fixed, {check: "fixed"})
        assert "SET GLOBAL wsrep_node_name = DBNode2 (was dbserver2)" in fixed.case(check)["fix_log"]
    finally:
        lab_exec(node, f"grep -q 'wsrep_node_name = DBNode2' {CNF} || cp /root/60-galera.cnf.orig {CNF}; "
                       "rm -f /root/60-galera.cnf.orig", check=False)
        sql(node, "SET GLOBAL wsrep_node_name = 'DBNode2'", check=False)


# --- DBK-3: a rebuilt node started with the bootstrap template: a second cluster ------------------------------------
@pytest.mark.covers("DBK-3", "DBC-3")
def test_rebuilt_node_in_its_own_cluster_is_not_forced_back(healthy_db):
    node = "dbnode3"
    c_uuid, c_addr = "test_one_primary_component_of_every_node", f"test_cluster_address_lists_every_node[{node}]"
    select = [f"{T}/test_cluster.py::{c_uuid}", f"{T}/test_mycnf.py::{c_addr}"]
    # the operator reinstalls the node and starts it with the notes' first-node my.cnf (wsrep_cluster_address =
    # gcomm://): it bootstraps a cluster of its own, with a new state UUID, and takes writes on its own
    lab_exec(node, f"cp {CNF} /root/60-galera.cnf.orig && systemctl stop mariadb && "
                   "mv /var/lib/mysql/mysql_data /var/lib/mysql/mysql_data.orig && "
                   "install -d -o mysql -g mysql -m 750 /var/lib/mysql/mysql_data && "
                   "mariadb-install-db --user=mysql --datadir=/var/lib/mysql/mysql_data --skip-test-db >/dev/null && "
                   f"sed -i 's#^wsrep_cluster_address .*#wsrep_cluster_address = gcomm://#' {CNF} && "
                   "systemctl start mariadb && . /etc/labbox/secrets.env && "
                   "mariadb -e \"CREATE USER 'root'@'198.18.0.%' IDENTIFIED BY '$DB_ROOT_PASSWORD'; "
                   "GRANT ALL ON *.* TO 'root'@'198.18.0.%' WITH GRANT OPTION; "
                   "CREATE USER 'stackcheck'@'198.18.0.%' IDENTIFIED BY '$DB_STACKCHECK_PASSWORD' REQUIRE SSL; "
                   "GRANT SELECT ON *.* TO 'stackcheck'@'198.18.0.%'\"")
    try:
        run = run_checks(*select)
        assert_outcomes(run, {c_uuid: "failed", c_addr: "failed"})
        assert_says(run, c_uuid, "different cluster state UUIDs", "split brain")
        assert_says(run, c_addr, "wsrep_cluster_address=gcomm:// (a bare gcomm:// bootstraps a new cluster")
        # --fix must not restart it into the cluster: a full SST would silently discard what it took since
        fixed = run_checks(f"{T}/test_mycnf.py::{c_addr}", fix=True)
        assert_outcomes(fixed, {c_addr: "failed"})
        assert fixed.case(c_addr).get("fix_status") == "declined", fixed.case(c_addr)
        assert "separate cluster" in fixed.case(c_addr)["fix_log"]
        assert "gcomm://" in lab_exec(node, f"grep ^wsrep_cluster_address {CNF}").stdout
    finally:
        lab_exec(node, "systemctl stop mariadb; [ -d /var/lib/mysql/mysql_data.orig ] && "
                       "rm -rf /var/lib/mysql/mysql_data && mv /var/lib/mysql/mysql_data.orig /var/lib/mysql/mysql_data; "
                       f"cp /root/60-galera.cnf.orig {CNF} && rm -f /root/60-galera.cnf.orig; systemctl start mariadb",
                 check=False, timeout=300)


# --- DBK-2 / LB-6: a node left desynced after a backup -----------------------------------------------------------
@pytest.mark.covers("DBK-2")  # LB-6 passes here by design: the Galera-aware check takes the node out
def test_forgotten_desync_fixed_and_kept_out_of_rotation(healthy_db):
    node = "dbnode2"
    c_state, c_lb6 = f"test_node_primary_ready_connected_synced[{node}]", "test_haproxy_health_check_judges_galera_state[lb]"
    select = [f"{T}/test_cluster.py::{c_state}", f"{T}/test_vip.py::{c_lb6}"]
    sql(node, "SET GLOBAL wsrep_desync = ON")  # what a backup tool does, and an interrupted one leaves behind
    try:
        haproxy_state("DBNode2", "DOWN")  # the Galera-aware check takes it out (a login check would not)
        run = run_checks(*select)
        assert_outcomes(run, {c_state: "failed", c_lb6: "passed"})
        assert_says(run, c_state, "wsrep_local_state_comment=Donor/Desynced (expected Synced)")
        fixed = run_checks(*select, fix=True)
        assert_outcomes(fixed, {c_state: "fixed", c_lb6: "passed"})
    finally:
        sql(node, "SET GLOBAL wsrep_desync = OFF", check=False)
    haproxy_state("DBNode2", "UP")
