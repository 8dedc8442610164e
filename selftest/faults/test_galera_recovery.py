"""The Galera faults that lose data, on the lab in a box, each ending with proof that no write was lost: a row
written before the fault is readable on every node and the data of every node is the same (DBK-9).

- a node bootstrapped a second time (safe_to_bootstrap forced, galera_new_cluster) while the others run, with a
  write on each side: two Primary components with one state UUID. DBK-3 says "split brain", LB-2 and LB-6 see
  the VIP spread over both, plain --fix refuses every DB fix, --fix-rejoin sets the odd node's datadir aside and
  rejoins it by SST, and lists the row only the set-aside copy holds;
- the same node then restarted normally instead: it rejoins by IST with its own row (every status looks healthy):
  DBK-9 finds the divergence, --fix-rejoin repairs it the same way;
- two nodes killed: the survivor is non-Primary; --fix-recover refuses while a killed node cannot be reached over
  SSH (not reachable is not stopped), then bootstraps the survivor (pc.bootstrap=YES) and starts the others;
- the three nodes stopped one after another (a cold start from grastate.dat): --fix-recover bootstraps the last
  one to leave (the highest seqno) and starts the others.
"""
from __future__ import annotations

import secrets

import pytest

from selftest.faultlib import lab_exec, run_checks
from selftest.faults.test_db import NODES, assert_outcomes, assert_says, healthy_db, sql, wait_for  # noqa: F401

T = "tests_db"
TABLE = "my_test_db.stackcheck_fault_rows"
DATADIR = "/var/lib/mysql/mysql_data"
SPLIT = f"{T}/test_cluster.py::test_one_primary_component_of_every_node"
SAME_DATA = f"{T}/test_consistency.py::test_same_data_on_every_node"
LB2, LB6 = f"{T}/test_vip.py::test_vip_rotates_over_every_node", f"{T}/test_vip.py::test_haproxy_health_check_judges_galera_state"
STATE, SERVICE = f"{T}/test_cluster.py::test_node_primary_ready_connected_synced", \
    f"{T}/test_cluster.py::test_normal_service_running_not_bootstrap"


def _name(selector: str, node: str | None = None) -> str:
    name = selector.split("::")[1]
    return f"{name}[{node}]" if node else name


@pytest.fixture
def before_row(healthy_db):  # noqa: F811
    """A row written before the fault (and the table the test writes into), removed at the end."""
    token = secrets.token_hex(6)
    sql("dbnode2", f"CREATE TABLE IF NOT EXISTS {TABLE} (id INT PRIMARY KEY, side VARCHAR(20)) ENGINE=InnoDB; "
                   f"INSERT INTO {TABLE} VALUES (100, 'before-{token}')")
    yield f"before-{token}"
    for node in NODES:
        lab_exec(node, f"rm -rf {DATADIR}.stackcheck-aside-*", check=False)
    sql("dbnode2", f"DROP TABLE IF EXISTS {TABLE}", check=False)


def assert_nothing_lost(before: str) -> None:
    """The row written before the fault is on every node, and every node holds the same data."""
    for node in NODES:
        got = sql(node, f"SET SESSION wsrep_sync_wait = 1; SELECT side FROM {TABLE} WHERE id = 100").stdout.strip()
        assert got == before, f"{node}: the row written before the fault reads {got!r}, expected {before!r}"
    run = run_checks(SAME_DATA, SPLIT)
    assert_outcomes(run, {_name(SAME_DATA): "passed", _name(SPLIT): "passed"})


def bootstrap_again(node: str) -> None:
    """What an operator does on a bad night: force safe_to_bootstrap and bootstrap a node that left the cluster."""
    lab_exec(node, f"systemctl stop mariadb && sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' "
                   f"{DATADIR}/grastate.dat && galera_new_cluster", timeout=180)


@pytest.mark.covers("DBK-3", "LB-2")
def test_second_bootstrap_split_brain_refused_then_rejoined_by_sst(before_row):
    bootstrap_again("dbnode1")
    sql("dbnode1", f"INSERT INTO {TABLE} VALUES (1, 'only-on-dbnode1')")
    sql("dbnode2", f"INSERT INTO {TABLE} VALUES (2, 'on-the-majority')")
    run = run_checks(SPLIT, LB2, f"{LB6}[lb]")
    assert_outcomes(run, {_name(SPLIT): "failed", _name(LB2): "failed", _name(LB6, "lb"): "failed"})
    assert_says(run, _name(SPLIT), "split brain: two Primary components: {dbnode1} and {dbnode2, dbnode3}")
    assert_says(run, _name(LB2), "the VIP routes to 2 Galera components (split brain)")
    assert_says(run, _name(LB6, "lb"), "split brain: two Primary components")
    # plain --fix must not "fix" dbnode1's bootstrap mode: restarting it would rejoin it by IST, diverged
    fixed = run_checks(f"{SERVICE}[dbnode1]", SPLIT, fix=True)
    assert fixed.outcome(_name(SERVICE, "dbnode1")) != "fixed", fixed.case(_name(SERVICE, "dbnode1"))
    assert "split brain" in fixed.case(_name(SERVICE, "dbnode1"))["fix_log"]
    assert "--fix-rejoin" in fixed.case(_name(SPLIT))["fix_log"]
    assert sql("dbnode1", f"SELECT side FROM {TABLE} WHERE id = 1").stdout.strip() == "only-on-dbnode1"
    # --fix-rejoin: dbnode1's datadir set aside, a full state transfer, its own row listed from the copy
    rejoined = run_checks(SPLIT, fix=True, extra=("--fix-rejoin",))
    assert_outcomes(rejoined, {_name(SPLIT): "fixed"})
    log = rejoined.case(_name(SPLIT))["fix_log"]
    assert f"{TABLE}: 1 row(s) only in the set-aside copy (primary key: 1)" in log, log
    assert lab_exec("dbnode1", f"ls -d {DATADIR}.stackcheck-aside-*").stdout.strip(), "the set-aside copy is kept"
    assert sql("dbnode1", f"SELECT COUNT(*) FROM {TABLE} WHERE id = 1").stdout.strip() == "0"
    # it acted under dbnode1's fix lock (unit: test_fix_engine.py) and left its entry in dbnode1's own log
    run_id = rejoined.run["run_id"]
    audit = [line for line in lab_exec("dbnode1", "journalctl -t stackcheck -o cat --no-pager").stdout.splitlines()
             if f"run_id={run_id}" in line]
    assert len(audit) == 1 and "requirements=DBK-3" in audit[0] and "rejoin_minority_component" in audit[0], audit
    assert_outcomes(run_checks(f"{SERVICE}[dbnode1]"), {_name(SERVICE, "dbnode1"): "passed"})
    assert_nothing_lost(before_row)


@pytest.mark.covers("DBK-9")
def test_split_node_rejoined_by_ist_diverges_found_and_rejoined_by_sst(before_row):
    bootstrap_again("dbnode1")
    sql("dbnode1", f"INSERT INTO {TABLE} VALUES (1, 'only-on-dbnode1')")
    sql("dbnode2", f"INSERT INTO {TABLE} VALUES (2, 'on-the-majority')")
    # the "fix" of old: restart it without bootstrap; it rejoins by IST (same UUID and seqno) with its own row
    lab_exec("dbnode1", "systemctl stop mariadb; systemctl unset-environment _WSREP_NEW_CLUSTER; "
                        "rm -f /run/mariadb-wsrep-new-cluster; systemctl start mariadb", timeout=180)
    wait_for("dbnode1", "[ \"$(mariadb -N -B -e \"SHOW STATUS LIKE 'wsrep_local_state_comment'\" | cut -f2)\" = Synced ]",
             60, "Synced")
    run = run_checks(SAME_DATA, SPLIT)
    assert_outcomes(run, {_name(SAME_DATA): "failed", _name(SPLIT): "passed"})
    assert_says(run, _name(SAME_DATA), f"{TABLE}: dbnode1 differs (compared with dbnode2, dbnode3)")
    rejoined = run_checks(SAME_DATA, fix=True, extra=("--fix-rejoin",))
    assert_outcomes(rejoined, {_name(SAME_DATA): "fixed"})
    assert "1 row(s) only in the set-aside copy (primary key: 1)" in rejoined.case(_name(SAME_DATA))["fix_log"]
    assert_nothing_lost(before_row)


def _kill(node: str) -> None:
    """SIGKILL the server and keep systemd from restarting it (grastate.dat is left at seqno -1)."""
    lab_exec(node, "systemctl kill -s KILL mariadb; systemctl stop mariadb; systemctl reset-failed mariadb; true")


def _non_primary(node: str) -> None:
    wait_for(node, "[ \"$(mariadb -N -B -e \"SHOW STATUS LIKE 'wsrep_cluster_status'\" | cut -f2)\" = non-Primary ]",
             60, "non-Primary")


@pytest.mark.covers("DBK-2")
def test_two_nodes_killed_recovery_refused_while_one_unreachable_then_done(before_row):
    _kill("dbnode2")
    _kill("dbnode3")
    _non_primary("dbnode1")
    state = _name(STATE, "dbnode1")
    run = run_checks(f"{STATE}[dbnode1]")
    assert_outcomes(run, {state: "failed"})
    assert "--fix-recover" in run.case(state)["remediation"], run.case(state)
    # dbnode3 cannot be reached over SSH: it might run a Primary component of its own; recovery must refuse
    lab_exec("dbnode3", "iptables -I INPUT -p tcp --dport 22 -j DROP")
    try:
        refused = run_checks(f"{STATE}[dbnode1]", fix=True, extra=("--fix-recover", "--connect-timeout", "3"))
        assert_outcomes(refused, {state: "failed"})
        assert "dbnode3: not reachable" in refused.case(state)["fix_log"], refused.case(state)
    finally:
        lab_exec("dbnode3", "iptables -D INPUT -p tcp --dport 22 -j DROP")
    recovered = run_checks(f"{STATE}[dbnode1]", fix=True, extra=("--fix-recover",))
    assert_outcomes(recovered, {state: "fixed"})
    log = recovered.case(state)["fix_log"]
    assert "pc.bootstrap=YES" in log and "dbnode1 is still running" in log, log
    assert_nothing_lost(before_row)


@pytest.mark.covers("DBK-4")
def test_cold_start_from_grastate_bootstraps_the_last_node_to_leave(before_row):
    lab_exec("dbnode3", "systemctl stop mariadb")
    sql("dbnode1", f"INSERT INTO {TABLE} VALUES (3, 'after-dbnode3-left')")
    lab_exec("dbnode2", "systemctl stop mariadb")
    sql("dbnode1", f"INSERT INTO {TABLE} VALUES (4, 'after-dbnode2-left')")
    lab_exec("dbnode1", "systemctl stop mariadb")
    service = _name(SERVICE, "dbnode2")
    refused = run_checks(f"{SERVICE}[dbnode2]", fix=True)  # the plain restart is refused: no quorum to join
    assert_outcomes(refused, {service: "fix-failed"})
    assert "--fix-recover" in refused.case(service)["fix_log"], refused.case(service)
    recovered = run_checks(f"{SERVICE}[dbnode2]", fix=True, extra=("--fix-recover",))
    assert_outcomes(recovered, {service: "fixed"})
    log = recovered.case(service)["fix_log"]
    assert "chosen: dbnode1: dbnode1 has the highest last committed seqno" in log, log
    for row in (3, 4):
        assert sql("dbnode3", f"SET SESSION wsrep_sync_wait = 1; SELECT COUNT(*) FROM {TABLE} WHERE id = {row}"
                   ).stdout.strip() == "1"
    assert_outcomes(run_checks(f"{SERVICE}[dbnode1]"), {_name(SERVICE, "dbnode1"): "passed"})
    assert_nothing_lost(before_row)


@pytest.mark.covers("DBK-4")
def test_all_three_killed_refused_on_a_tie_until_the_operator_marks_one(before_row):
    for node in NODES:
        _kill(node)
    service = _name(SERVICE, "dbnode1")
    # every node crashed at the same seqno: nothing says which copy to keep, so recovery names the missing fact
    refused = run_checks(f"{SERVICE}[dbnode1]", fix=True, extra=("--fix-recover",))
    assert_outcomes(refused, {service: "fix-failed"})
    log = refused.case(service)["fix_log"]
    assert "share the highest seqno" in log and "set safe_to_bootstrap: 1 in the grastate.dat" in log, log
    lab_exec("dbnode2", f"sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' {DATADIR}/grastate.dat")
    recovered = run_checks(f"{SERVICE}[dbnode1]", fix=True, extra=("--fix-recover",))
    assert_outcomes(recovered, {service: "fixed"})
    assert "dbnode2 is marked safe_to_bootstrap: 1" in recovered.case(service)["fix_log"]
    assert_outcomes(run_checks(f"{SERVICE}[dbnode2]"), {_name(SERVICE, "dbnode2"): "passed"})
    assert_nothing_lost(before_row)
