"""Nothing left behind, on the lab in a box (issue 18 item 3, stackcheck/traces.py).

A run killed with SIGKILL (as a CI timeout kills it) right after it created its DBK-5 probe schema or its EC2
credential leaves that object behind; the next run sweeps it, and only what no live run can own: a probe schema
whose lock nobody holds, a marked object older than the lease. STACKCHECK_TEST_KILL_AT (for tests only) makes
the run kill itself at exactly that point, so the test never races the check; STACKCHECK_TEST_TRACE_LEASE (for
tests only) shortens the one-hour lease so an expired leftover need not be waited for.

A --read-only run writes nothing: no counter of a write moves on any DB node (Com_create_db, Com_drop_db,
Com_create_table, Com_insert, and wsrep_last_committed, which counts every write-set the cluster committed), no
credential appears in Keystone, and DBK-5 and the S3 checks without an inventory credential are errors that say
they were not checked, never passes."""
from __future__ import annotations

import json
import secrets
import time

import pymysql
import pytest
import yaml

from selftest.faultlib import REPO, lab_exec, run_checks
from stackcheck.traces import KILL_ENV, LEASE_ENV, NOT_CHECKED, PROBE_PREFIX

DBK5 = "tests_db/test_cluster.py::test_write_on_node_is_read_on_every_other"
DBK5_CASE = "test_write_on_node_is_read_on_every_other"
DBH3_CASE = "test_galera_ports_reachable_from_other_nodes"
S3 = "tests_storage/test_s3.py"
S3_CASES = ("test_ec2_credentials_exist_for_checking_user", "test_list_buckets_shows_container",
            "test_list_objects_and_get_object", "test_wrong_secret_is_refused")
DB_NODES = ("dbnode1", "dbnode2", "dbnode3")
WRITE_COUNTERS = ("COM_CREATE_DB", "COM_DROP_DB", "COM_CREATE_TABLE", "COM_INSERT", "WSREP_LAST_COMMITTED")
SIGKILL = -9


# --- what is on the lab ----------------------------------------------------------------------------------------
def probe_schemas() -> dict[str, set[str]]:
    """The stackcheck_probe_* schemas on each DB node."""
    out = {}
    for node in DB_NODES:
        text = lab_exec(node, "mysql -N -e \"SELECT SCHEMA_NAME FROM information_schema.SCHEMATA "
                              f"WHERE SCHEMA_NAME LIKE '{PROBE_PREFIX.replace('_', chr(92) + '_')}%'\"").stdout
        out[node] = set(text.split())
    return out


def all_probe_schemas() -> set[str]:
    return set().union(*probe_schemas().values())


def write_counters() -> dict[str, str]:
    names = ",".join(f"'{c}'" for c in WRITE_COUNTERS)
    found = {}
    for node in DB_NODES:
        text = lab_exec(node, "mysql -N -e \"SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                              f"WHERE VARIABLE_NAME IN ({names})\"").stdout
        found.update({f"{node} {line.split()[0]}": line.split()[1] for line in text.splitlines() if line.strip()})
    assert len(found) == len(DB_NODES) * len(WRITE_COUNTERS), f"not every counter was read: {found}"
    return found


def cloud():
    import openstack.config
    import openstack.connection

    from labbox.inventory import CLOUD, CLOUDS_YAML

    region = openstack.config.OpenStackConfig(config_files=[str(CLOUDS_YAML)]).get_one(cloud=CLOUD, api_timeout=30)
    return openstack.connection.Connection(config=region)


def ec2_credentials(conn) -> dict[str, bool]:
    """The checking user's EC2 credentials: id -> carries stackcheck's marker."""
    return {c.id: "stackcheck" in json.loads(c.blob or "{}")
            for c in conn.identity.credentials(user_id=conn.current_user_id) if c.type == "ec2"}


@pytest.fixture
def no_ec2_inventory(tmp_path):
    """The lab's inventory without EC2 credentials: the S3 checks then create one for the run."""
    inv = yaml.safe_load((REPO / "inventories" / "labbox.yaml").read_text())
    for key in ("ec2_access", "ec2_secret"):
        inv["stackcheck"]["cloud"].pop(key, None)
    path = tmp_path / "no-ec2.yaml"
    path.write_text(yaml.safe_dump(inv))
    return str(path)


def traces_said(run) -> str:
    return " ".join(case.get("traces", "") for case in run.cases.values())


def assert_passed(run, *names):
    for name in names:
        assert run.outcome(name) == "passed", f"{name}: {run.outcome(name)} {run.message(name)}\n{run.output[-2000:]}"


# --- killed runs -----------------------------------------------------------------------------------------------
def test_a_probe_schema_left_by_a_killed_run_is_swept_by_the_next(lab_up):
    before = all_probe_schemas()
    killed = run_checks(f"{DBK5}[dbnode2]", env={KILL_ENV: "probe-schema"})
    assert killed.returncode == SIGKILL, f"the run was not killed: {killed.returncode}\n{killed.output[-2000:]}"
    left = all_probe_schemas() - before
    assert len(left) == 1, f"the killed run should have left its probe schema: {probe_schemas()}"
    schema = left.pop()

    run = run_checks(DBK5)  # the default lease: the lock tells that the schema's run is gone
    assert_passed(run, *(f"{DBK5_CASE}[{n}]" for n in DB_NODES))
    assert f"dropped the probe schema {schema}" in traces_said(run), run.output[-2000:]
    assert "stackcheck traces" in run.output and schema in run.output
    assert all_probe_schemas() == before - {schema}, f"left after the next run: {probe_schemas()}"


def test_a_live_runs_probe_schema_is_never_swept_until_it_is_older_than_the_lease(lab_up):
    """A schema whose lock is held (a live run, here played by this test) is kept by the next run; once older than
    the lease, no run can still own it and it is swept."""
    from stackcheck.inventory import load

    lab = load("labbox")
    node = lab.host("dbnode3")
    live = pymysql.connect(host=node.address, port=lab.get("db.port"), user=lab.get("db.user"),
                           password=lab.secret("db.password"), autocommit=True, connect_timeout=10)
    try:
        with live.cursor() as cur:
            cur.execute("SELECT UNIX_TIMESTAMP()")
            schema = f"{PROBE_PREFIX}{cur.fetchone()[0]}_{secrets.token_hex(4)}"
            cur.execute("SELECT GET_LOCK(%s, 0)", (schema,))
            assert cur.fetchone()[0] == 1
            cur.execute(f"CREATE DATABASE `{schema}`")
        kept = run_checks(DBK5)
        assert_passed(kept, *(f"{DBK5_CASE}[{n}]" for n in DB_NODES))
        assert f"probe schema {schema}: kept: a live run holds its lock on dbnode3" in traces_said(kept), kept.output
        assert schema in all_probe_schemas()

        time.sleep(2.5)  # older than the test's lease of 1 s
        swept = run_checks(f"{DBK5}[dbnode1]", env={LEASE_ENV: "1"})
        assert_passed(swept, f"{DBK5_CASE}[dbnode1]")
        assert f"dropped the probe schema {schema}" in traces_said(swept), swept.output[-2000:]
        assert "longer than any run lasts" in traces_said(swept)
        assert schema not in all_probe_schemas()
    finally:
        with live.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{schema}`")
        live.close()


def test_an_ec2_credential_left_by_a_killed_run_is_swept_once_older_than_the_lease(lab_up, no_ec2_inventory):
    conn = cloud()
    before = ec2_credentials(conn)
    killed = run_checks(S3, inventory=no_ec2_inventory, env={KILL_ENV: "ec2-credential"})
    assert killed.returncode == SIGKILL, f"the run was not killed: {killed.returncode}\n{killed.output[-2000:]}"
    left = set(ec2_credentials(conn)) - set(before)
    assert len(left) == 1, "the killed run should have left its EC2 credential"
    cred = left.pop()
    try:
        assert ec2_credentials(conn)[cred], "the credential a run creates carries stackcheck's marker"

        young = run_checks(S3, inventory=no_ec2_inventory)  # the default lease: it may be a live run's
        assert_passed(young, *S3_CASES)
        assert f"EC2 credential {cred}: kept: created" in traces_said(young), young.output[-2000:]
        assert set(ec2_credentials(conn)) == set(before) | {cred}, "the run's own credential was not deleted"

        time.sleep(2.5)
        swept = run_checks(S3, inventory=no_ec2_inventory, env={LEASE_ENV: "1"})
        assert_passed(swept, *S3_CASES)
        assert f"deleted the EC2 credential {cred}" in traces_said(swept), swept.output[-2000:]
        assert ec2_credentials(conn) == before, "a credential is left in Keystone"
    finally:
        conn.identity.delete_credential(cred, ignore_missing=True)


# --- read-only -------------------------------------------------------------------------------------------------
def test_a_read_only_run_writes_nothing_and_does_not_pass_what_it_did_not_check(lab_up, no_ec2_inventory):
    conn = cloud()
    counters, credentials, schemas = write_counters(), ec2_credentials(conn), all_probe_schemas()
    run = run_checks("tests_db", S3, inventory=no_ec2_inventory, extra=("--read-only",))
    assert write_counters() == counters, "a read-only run wrote to the cluster"
    assert ec2_credentials(conn) == credentials, "a read-only run changed the checking user's EC2 credentials"
    assert all_probe_schemas() == schemas
    for name in (*(f"{DBK5_CASE}[{n}]" for n in DB_NODES), *S3_CASES):
        assert run.outcome(name) == "error", f"{name}: {run.outcome(name)} {run.message(name)}"
        assert NOT_CHECKED in run.message(name), run.message(name)
    assert "DBK-5" in run.message(f"{DBK5_CASE}[dbnode1]")
    assert NOT_CHECKED in run.message(f"{DBH3_CASE}[dbnode1]")  # it would open listening ports on the host
    assert run.returncode == 1 and "gate: FAIL" in run.output  # a requirement not checked keeps the gate closed
    assert "read-only run: nothing was written on any host" in run.output


def test_a_read_only_run_checks_s3_with_the_inventorys_credential(lab_up):
    """Where a read proves the same, a read-only run checks: the inventory's EC2 credential needs no write."""
    conn = cloud()
    credentials = ec2_credentials(conn)
    run = run_checks(S3, extra=("--read-only",))
    assert_passed(run, *S3_CASES)
    assert ec2_credentials(conn) == credentials
