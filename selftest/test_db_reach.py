"""How the suite reaches the DB cluster on the lab: over TLS as a least-privileged account that requires it, the
servers' certificates verified (a foreign CA is an error, never a pass), and through SSH (`db.via: ssh`) when the
runner's own access to port 3306 is rejected."""
from __future__ import annotations

import subprocess

import pymysql
import pytest
import yaml

from labbox.inventory import INVENTORY
from labbox.provision import SECRETS
from labbox.topology import GW
from selftest.faultlib import lab_exec, run_checks

DB_HOSTS = ("dbnode1", "dbnode2", "dbnode3", "lb")
STATE = "tests_db/test_cluster.py::test_node_primary_ready_connected_synced"


def _inventory(tmp_path, **db) -> str:
    inv = yaml.safe_load(INVENTORY.read_text())
    inv["stackcheck"]["db"].update(db)
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(inv))
    return str(path)


def test_the_lab_account_is_refused_without_tls(lab_up):
    password = (SECRETS / "DB_STACKCHECK_PASSWORD").read_text().strip()
    with pytest.raises(pymysql.err.OperationalError) as refused:
        pymysql.connect(host="198.18.0.15", user="stackcheck", password=password, ssl_disabled=True,
                        connect_timeout=5).close()
    assert refused.value.args[0] == 1045, refused.value.args


def test_a_foreign_ca_is_an_error_never_a_pass(lab_up, tmp_path):
    ca = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=not the lab's CA", "-keyout", str(tmp_path / "k"), "-out", str(ca)],
                   check=True, capture_output=True)
    run = run_checks(STATE, inventory=_inventory(tmp_path, tls={"ca": str(ca)}))
    assert run.returncode == 1 and run.cases, run.output[-2000:]
    for node in ("dbnode1", "dbnode2", "dbnode3"):
        case = run.case(f"test_node_primary_ready_connected_synced[{node}]")
        assert case["outcome"] == "error" and "CERTIFICATE_VERIFY_FAILED" in case["message"], case


@pytest.fixture
def direct_sql_rejected(lab_up):
    """The runner's own connections to 3306 rejected on every DB node and on the VIP, as behind a bastion."""
    rule = f"INPUT -s {GW} -p tcp --dport 3306 -j REJECT"
    for host in DB_HOSTS:
        lab_exec(host, f"iptables -I {rule}")
    try:
        yield
    finally:
        for host in DB_HOSTS:
            lab_exec(host, f"iptables -D {rule}", check=False)


def test_via_ssh_checks_the_cluster_when_the_runner_cannot_reach_3306(direct_sql_rejected, tmp_path):
    direct = run_checks("tests_db/test_cluster.py", "tests_db/test_consistency.py", "tests_db/test_vip.py")
    assert direct.returncode == 1
    assert direct.outcome("test_node_primary_ready_connected_synced[dbnode1]") == "error"
    tunneled = run_checks("tests_db/test_cluster.py", "tests_db/test_consistency.py", "tests_db/test_vip.py",
                          inventory=_inventory(tmp_path, via="ssh"))
    bad = {n: (c["outcome"], c["message"][:160]) for n, c in tunneled.cases.items()
           if c["outcome"] not in ("passed", "waived", "not-applicable")}
    assert tunneled.returncode == 0 and not bad, (bad, tunneled.output[-2000:])
    assert tunneled.outcome("test_vip_rotates_over_every_node") == "passed"


def test_an_account_that_cannot_see_every_table_cannot_pass_dbk9(lab_up, tmp_path, monkeypatch):
    """information_schema hides the tables an account has no grant on: DBK-9 on what it sees would compare a part
    of the data as the whole. Such an account gets an error naming the missing grant."""
    create = ("CREATE USER IF NOT EXISTS 'narrow'@'198.18.0.%' IDENTIFIED BY 'narrow-lab-only' REQUIRE SSL; "
              "GRANT SELECT ON my_test_db.* TO 'narrow'@'198.18.0.%'")
    lab_exec("dbnode1", f"mariadb -e \"{create}\"")
    try:
        monkeypatch.setenv("STACKCHECK_TEST_NARROW_PASSWORD", "narrow-lab-only")
        run = run_checks("tests_db/test_consistency.py", inventory=_inventory(
            tmp_path, user="narrow", password={"env": "STACKCHECK_TEST_NARROW_PASSWORD"}))
        case = run.case("test_same_data_on_every_node")
        assert case["outcome"] == "error" and "GRANT SELECT ON *.*" in case["message"], case
    finally:
        lab_exec("dbnode1", "mariadb -e \"DROP USER IF EXISTS 'narrow'@'198.18.0.%'\"", check=False)
