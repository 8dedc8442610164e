"""Fix runs that end badly, on the lab in a box: killed (SIGKILL, as a CI timeout or the OOM killer would) at each
step of a fix, interrupted by Ctrl-C or SIGTERM, and a DB node's restart-class fix killed after its restart.
Each ends with the next `--fix` run green and nothing done by hand: the stale lock cleared, the dead run's
journal rolled back (file by file, by checksum), the fix done again from the start; and no file that differs from
both its pre-fix and its fixed content.

The engine is stopped at a named step through its test hook (STACKCHECK_TEST_STOP_AT, see stackcheck/fixing.py)."""
from __future__ import annotations

import subprocess

import pytest

from selftest.faultlib import fault, lab_exec, run_checks
from selftest.faults.test_db import CNF, assert_outcomes, wait_for, wait_lab_healthy, wait_size
from stackcheck.fixing import LOCK_PATH, TEST_EXEC_ENV, TEST_STOP_ENV
from stackcheck.journal import JOURNAL

HORIZON = "tests_openstack/test_horizon.py"
MPM = "test_apache_runs_event_mpm_only[controller]"
PREFORK = "a2dismod -q mpm_event && a2enmod -q mpm_prefork && systemctl restart apache2"
EVENT = "a2dismod -q mpm_prefork mpm_worker; a2enmod -q mpm_event; systemctl restart apache2"
STEPS = ("after-backup", "after-write", "after-first-action", "during-recheck")


@pytest.fixture(scope="module", autouse=True)
def apache_restarts_not_rate_limited(lab_up):
    """These tests restart Apache several times within seconds (fault, fix, rollback, fix again, restore), more
    than systemd's default start limit (5 in 10 s) allows: then a restart fails with "start of the service was
    attempted too often", which no operator's fix run would meet. Lift the limit on the controller for this
    module only."""
    dropin = "/etc/systemd/system/apache2.service.d/zz-selftest-no-start-limit.conf"
    lab_exec("controller", f"mkdir -p {dropin.rsplit('/', 1)[0]} && printf '[Unit]\\nStartLimitIntervalSec=0\\n' > "
                           f"{dropin} && systemctl daemon-reload && systemctl reset-failed apache2")
    yield
    lab_exec("controller", f"rm -f {dropin} && systemctl daemon-reload && systemctl reset-failed apache2", check=False)


def leftovers(host: str) -> str:
    """The lock or an open journal left on the host ('' when neither)."""
    return lab_exec(host, f"ls -d {LOCK_PATH} {JOURNAL} 2>/dev/null; true").stdout.strip()


def enabled_mpms() -> list[str]:
    out = lab_exec("controller", "ls /etc/apache2/mods-enabled/ | sed -n 's/^mpm_\\(.*\\)\\.load$/\\1/p'").stdout
    return sorted(out.split())


@pytest.mark.parametrize("step", STEPS)
def test_mpm_fix_killed_at_each_step_then_next_fix_run_is_green(lab_up, step):
    with fault("controller", inject=PREFORK, restore=EVENT + f"; rm -rf {LOCK_PATH} {JOURNAL}"):
        assert_outcomes(run_checks(f"{HORIZON}::{MPM}"), {MPM: "failed"})
        killed = run_checks(f"{HORIZON}::{MPM}", fix=True, env={TEST_STOP_ENV: step})
        assert killed.returncode == -9, f"the hook did not kill the run at {step}: {killed.output[-1500:]}"
        assert LOCK_PATH in leftovers("controller"), "a killed run leaves its lock (and journal) behind"
        assert enabled_mpms() in (["prefork"], ["event"]), enabled_mpms()  # one MPM at every moment
        again = run_checks(f"{HORIZON}::{MPM}", fix=True)
        assert again.returncode == 0, again.output[-3000:]
        assert "cleared the stale fix lock" in again.output and "rolled back the interrupted fix" in again.output, \
            again.output[-3000:]
        assert again.outcome(MPM) == "fixed", again.case(MPM)
        assert leftovers("controller") == ""
        assert enabled_mpms() == ["event"]
        assert_outcomes(run_checks(f"{HORIZON}::{MPM}"), {MPM: "passed"})


@pytest.mark.parametrize("signal", ["INT", "TERM"])
def test_mpm_fix_interrupted_is_rolled_back_and_reported(lab_up, signal):
    """Ctrl-C, or the SIGTERM of a CI timeout, during the fix: rolled back before the run stops, and the report
    (written) says so: an error with fix_status interrupted, never fixed."""
    with fault("controller", inject=PREFORK, restore=EVENT + f"; rm -rf {LOCK_PATH} {JOURNAL}"):
        stopped = run_checks(f"{HORIZON}::{MPM}", fix=True, env={TEST_STOP_ENV: f"after-first-action:{signal}"})
        assert stopped.returncode == 2, stopped.output[-3000:]  # interrupted
        case = stopped.case(MPM)
        assert case["outcome"] == "error" and case["fix_status"] == "interrupted", case
        assert "rolling back before the run stops" in case["fix_log"] and "undone: switch MPM" in case["fix_log"]
        assert enabled_mpms() == ["prefork"] and leftovers("controller") == ""  # as it was before the fix
        fixed = run_checks(f"{HORIZON}::{MPM}", fix=True)
        assert fixed.outcome(MPM) == "fixed" and enabled_mpms() == ["event"]


@pytest.mark.covers("DBC-3")
def test_db_restart_fix_killed_after_the_restart(lab_up):
    """A DB node's restart-class fix (a node running without one peer in wsrep_cluster_address), killed right
    after it restarted the node with the new file: the next run restores the file by checksum, restarts the node
    again under the quorum guard, then fixes it from the start. The cluster ends Synced with 3 nodes."""
    wait_lab_healthy()
    node, check = "dbnode3", "test_cluster_address_lists_every_node[dbnode3]"
    full = "gcomm://198.18.0.15,198.18.0.16,198.18.0.17"
    lab_exec(node, f"cp {CNF} /root/60-galera.cnf.orig && sed -i 's#^wsrep_cluster_address .*#wsrep_cluster_address"
                   f"          = gcomm://198.18.0.16,198.18.0.17#' {CNF} && systemctl restart mariadb")
    try:
        wait_size(node, 3)
        assert_outcomes(run_checks(f"tests_db/test_mycnf.py::{check}"), {check: "failed"})
        killed = run_checks(f"tests_db/test_mycnf.py::{check}", fix=True, env={TEST_STOP_ENV: "after-first-action"})
        assert killed.returncode == -9, killed.output[-1500:]
        assert full in lab_exec(node, f"grep ^wsrep_cluster_address {CNF}").stdout  # the dead run had written it
        wait_size(node, 3)
        again = run_checks(f"tests_db/test_mycnf.py::{check}", fix=True)
        assert "rolled back the interrupted fix" in again.output and "restored from" in again.output, \
            again.output[-3000:]
        assert again.outcome(check) == "fixed", again.case(check)
        assert full in lab_exec(node, f"grep ^wsrep_cluster_address {CNF}").stdout
        assert leftovers(node) == ""
        wait_for(node, "set -a; . /etc/labbox/lab.env; set +a; bash /opt/labbox/ready.d/galera.sh", 120,
                 "Synced in a cluster of 3")
    finally:
        lab_exec(node, f"rm -rf {LOCK_PATH} {JOURNAL}; grep -q '{full}' {CNF} || {{ cp /root/60-galera.cnf.orig {CNF};"
                       f" systemctl restart mariadb; }}; rm -f /root/60-galera.cnf.orig", check=False)
        wait_lab_healthy(180)


def test_connection_lost_mid_fix_is_interrupted_then_rolled_back_by_the_next_run(lab_up):
    """The controller drops off the network right after the MPM switch (a blackhole route on this machine cuts
    the run's SSH connection): the run reports the fix as interrupted, an error, never fixed; the journal stays
    on the host; once the network is back the next --fix run rolls it back and fixes it from the start."""
    cut, heal = "ip route replace blackhole 198.18.0.11/32", "ip route del blackhole 198.18.0.11/32"
    with fault("controller", inject=PREFORK, restore=EVENT + f"; rm -rf {LOCK_PATH} {JOURNAL}"):
        try:
            lost = run_checks(f"{HORIZON}::{MPM}", fix=True, extra=("--connect-timeout", "3"),
                              env={TEST_STOP_ENV: "after-first-action:EXEC", TEST_EXEC_ENV: cut})
        finally:
            subprocess.run(heal, shell=True, check=False)
        case = lost.case(MPM)
        assert case["outcome"] == "error" and case["fix_status"] == "interrupted", case
        assert "stopped answering during the fix" in case["fix_log"], case["fix_log"]
        assert lost.returncode == 1, lost.output[-2000:]
        assert JOURNAL in leftovers("controller"), "the journal stays for the next run"
        again = run_checks(f"{HORIZON}::{MPM}", fix=True)
        assert "rolled back the interrupted fix" in again.output, again.output[-3000:]
        assert again.outcome(MPM) == "fixed" and enabled_mpms() == ["event"] and leftovers("controller") == ""
