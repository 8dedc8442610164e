"""Hosts that hang instead of going away (issue 19), on the lab in a box: a stalled hypervisor, a kernel stuck in D
state, a firewall that starts dropping packets. From the runner they all look the same: TCP is accepted (or
nothing answers at all) and then nothing is said.

- dbnode2 frozen before the run (every process of it: its cgroup's cgroup.freeze), and frozen in the middle of
  it (after its SSH and SQL connections are open);
- an sshd that accepts TCP and never sends its banner (socat on another port of dbnode2, the inventory pointed
  at it);
- a SQL port that accepts and never answers (dbnode2's mariadbd stopped with SIGSTOP: the kernel still accepts);
- the run's deadline reached while dbnode2 is frozen.

Each: every other host's verdict is what the healthy lab gives (or, for the cluster-wide checks, what a node
that lost a peer really sees), the hung service's checks are *error*, the terminal and the JUnit report give the
same word for every check, and at most one check per hung service waited for a timeout (the rest of them ended
at once: one timeout per service and run, not one per check). Timeouts are shortened (FAST) to keep the lab lock
short; the figures with the defaults are in bench/bench_hung_hosts.py.
"""
from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from selftest.faultlib import REPO, Run, lab_exec, parse_junit, run_checks
from selftest.faults.test_db import wait_lab_healthy, wait_size

T = "tests_db"
NODE = "dbnode2"
CONNECT, PROBE = 3, 6
FAST = (f"--connect-timeout={CONNECT}", f"--probe-timeout={PROBE}", "-vv")  # -vv with run_checks' -q: one line per check
# checks of other hosts that a DB node lost from the cluster changes, by design: the cluster as the others see it
CLUSTER_WIDE = {
    "test_cluster_size_matches_inventory[dbnode1]", "test_cluster_size_matches_inventory[dbnode3]",
    "test_write_on_node_is_read_on_every_other[dbnode1]", "test_write_on_node_is_read_on_every_other[dbnode3]",
    "test_galera_ports_reachable_from_other_nodes[dbnode1]", "test_galera_ports_reachable_from_other_nodes[dbnode3]",
    "test_one_primary_component_of_every_node", "test_same_data_on_every_node", "test_same_users_on_every_node",
    "test_vip_rotates_over_every_node",
}
TERMINAL_WORD = {"passed": "PASSED", "failed": "FAILED", "error": "ERROR", "not-applicable": "NOT APPLICABLE",
                 "waived": "WAIVED", "fixed": "FIXED", "fix-failed": "FIX-FAILED"}


def freeze_file(host: str) -> Path:
    """The cgroup.freeze of a lab host (systemd-nspawn machine sc-HOST), wherever this machine's cgroups put it."""
    candidates = [Path(f"/sys/fs/cgroup/unified/sc-{host}/cgroup.freeze"),
                  Path(f"/sys/fs/cgroup/machine.slice/machine-sc\\x2d{host}.scope/cgroup.freeze"),
                  Path(f"/sys/fs/cgroup/sc-{host}/cgroup.freeze")]
    found = next((p for p in candidates if p.exists()), None)
    assert found, f"no cgroup.freeze for {host} among {[str(p) for p in candidates]}"
    return found


@contextlib.contextmanager
def thawed_at_the_end(host: str):
    """Whatever happens inside, `host` is thawed on leaving, and the cluster is healthy again before the next test."""
    try:
        yield freeze_file(host)
    finally:
        freeze_file(host).write_text("0")
    wait_lab_healthy(180)


def terminal_words(output: str) -> dict[str, str]:
    """Each check's word as the terminal printed it (verbose lines `path::name WORD`); the first line of each."""
    words: dict[str, str] = {}
    pattern = re.compile(r"^\S+::(\S+) (PASSED|FAILED|ERROR|NOT APPLICABLE|WAIVED|FIXED|FIX-FAILED)\b")
    for line in output.splitlines():
        m = pattern.match(line)
        if m:
            words.setdefault(m.group(1), m.group(2))
    return words


def junit_durations(run: Run) -> dict[str, float]:
    return {name: float(case.get("time", 0)) for name, case in run.cases.items()}


def assert_run_honest(healthy: Run, hung: Run, hung_services: int, hung_checks: set[str], findings: dict[str, str]):
    """The hung host's checks are errors; every other check is as on the healthy lab, except the cluster-wide ones
    listed in `findings` (name -> what its message must say); the terminal says what JUnit says; at most
    `hung_services` checks waited for a timeout."""
    assert hung.cases and set(hung.cases) == set(healthy.cases), \
        f"checks missing from the report: {set(healthy.cases) ^ set(hung.cases)}\n{hung.output[-2000:]}"
    not_error = {n: (hung.outcome(n), hung.message(n)[:200]) for n in hung_checks if not could_not_check(healthy, hung, n)}
    assert not not_error, f"checks of the hung service that are not errors: {not_error}"
    for name, says in findings.items():
        assert says in hung.message(name), f"{name}: {hung.outcome(name)}: {hung.message(name)[:300]}"
    changed = {n: (healthy.outcome(n), hung.outcome(n), hung.message(n)[:160]) for n in healthy.cases
               if n not in hung_checks and n not in CLUSTER_WIDE and verdict(hung, n) != verdict(healthy, n)}
    assert not changed, f"other hosts' verdicts changed (healthy, now, message): {changed}"
    words = terminal_words(hung.output)
    disagree = {n: (TERMINAL_WORD.get(c["outcome"]), words.get(n)) for n, c in hung.cases.items()
                if TERMINAL_WORD.get(c["outcome"]) != words.get(n)}
    assert not disagree, f"terminal and JUnit disagree (JUnit, terminal): {disagree}\n{hung.output[-3000:]}"
    waited = {n: t for n, t in junit_durations(hung).items() if t >= 0.9 * CONNECT}
    assert len(waited) <= hung_services, f"more checks than hung services ({hung_services}) waited for a timeout: {waited}"
    assert "Traceback" not in hung.output and "paramiko" not in hung.output, hung.output[-3000:]


def could_not_check(healthy: Run, hung: Run, name: str) -> bool:
    """error; or waived, with error as what the check itself found; or not applicable by a declared fact (the
    inventory's, which needs no host), as on the healthy lab."""
    case = hung.case(name)
    return (case["outcome"] == "error" or (case["outcome"] == "waived" and case.get("real_outcome") == "error")
            or case["outcome"] == healthy.outcome(name) == "not-applicable")


def verdict(run: Run, name: str) -> tuple[str, str]:
    """The outcome, and for a waived check what the check itself found."""
    return run.outcome(name), run.case(name).get("real_outcome", "")


def says(run: Run, name: str, text: str) -> bool:
    """The check's message says `text` (a waived check: what it found, in its evidence)."""
    return text in run.message(name) or text in run.case(name).get("evidence", "")


def checks_of(run: Run, host: str) -> set[str]:
    return {n for n in run.cases if n.endswith(f"[{host}]")}


@pytest.fixture
def healthy(lab_up) -> Run:
    """The DB family on the healthy lab: what every check gives when nothing hangs."""
    wait_lab_healthy()
    run = run_checks(T, extra=FAST)
    assert run.cases and all(c["outcome"] in ("passed", "waived", "not-applicable") for c in run.cases.values()), \
        run.output[-3000:]
    return run


def test_host_frozen_before_the_run(healthy):
    with thawed_at_the_end(NODE) as freeze:
        freeze.write_text("1")
        wait_size("dbnode1", 2)  # the cluster has noticed: dbnode1 and dbnode3 must say so
        hung = run_checks(T, extra=FAST)
    assert hung.returncode == 1, hung.output[-2000:]
    assert_run_honest(healthy, hung, hung_services=2, hung_checks=checks_of(healthy, NODE), findings={
        "test_cluster_size_matches_inventory[dbnode1]": "wsrep_cluster_size is 2, expected 3",
        "test_cluster_size_matches_inventory[dbnode3]": "wsrep_cluster_size is 2, expected 3",
    })
    later = [n for n in checks_of(hung, NODE) if hung.message(n).startswith("unreachable since ")]
    assert later and all("not retried within this run" in hung.message(n) for n in later)
    assert f"ssh 198.18.0.16:22: unreachable: {NODE}" in hung.output  # the run's summary of what it could not reach


def run_and_freeze_when(marker: str, host: str, freeze: Path, *args: str) -> Run:
    """Run the checks as run_checks does, and freeze `host` as soon as the terminal shows `marker` (a check's line:
    every connection of the run is open by then)."""
    with tempfile.TemporaryDirectory(prefix="stackcheck-selftest-") as reports:
        out = Path(reports) / "output.txt"
        cmd = [sys.executable, "-m", "pytest", "--host=labbox", f"--reports={reports}", "-q", "-p", "no:randomly", *args]
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | {"PYTHONUNBUFFERED": "1"}
        with out.open("w") as sink:
            proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, cwd=REPO, env=environ)
            try:
                while marker not in out.read_text() and proc.poll() is None:
                    time.sleep(0.05)
                freeze.write_text("1")
                proc.wait(timeout=600)
            finally:
                if proc.poll() is None:
                    proc.kill()
        cases = parse_junit(Path(reports) / "latest.xml") if (Path(reports) / "latest.xml").exists() else {}
        return Run(proc.returncode, out.read_text(), cases)


def test_host_frozen_in_the_middle_of_the_run(healthy):
    first = f"test_normal_service_running_not_bootstrap[{NODE}]"  # SSH and SQL of dbnode2 both in use by then
    with thawed_at_the_end(NODE) as freeze:
        hung = run_and_freeze_when(f"{first} PASSED", NODE, freeze, T, *FAST)
    assert hung.outcome(first) == "passed", hung.output[-2000:]
    order = list(healthy.cases)
    after = {n for n in checks_of(healthy, NODE) if order.index(n) > order.index(first)}
    # a command in flight when it froze: one probe timeout, then sshd not opening a session: one connect timeout
    # (in the same check); its SQL connection: one probe timeout
    assert_run_honest(healthy, hung, hung_services=2, hung_checks=after, findings={})
    assert any("sshd did not open a session" in hung.message(n) for n in after), \
        {n: hung.message(n)[:200] for n in after}


def test_sshd_that_accepts_and_never_sends_a_banner(healthy, tmp_path):
    inventory = yaml.safe_load((REPO / "inventories" / "labbox.yaml").read_text())
    inventory["all"]["children"]["dbnode"]["hosts"][NODE]["ansible_port"] = 2222
    path = tmp_path / "silent-sshd.yaml"
    path.write_text(yaml.safe_dump(inventory))
    listener = lab_exec(NODE, "socat TCP-LISTEN:2222,fork,reuseaddr EXEC:'sleep 600' </dev/null >/dev/null 2>&1 & "
                              "echo $!").stdout.strip()
    try:
        hung = run_checks(T, inventory=str(path), extra=FAST)
    finally:
        lab_exec(NODE, f"kill {listener}; pkill -P {listener} || true", check=False)
    ssh_checks = {n for n in checks_of(hung, NODE) if says(hung, n, "SSH handshake timed out")}
    assert ssh_checks, {n: hung.message(n)[:200] for n in checks_of(hung, NODE)}
    # its SQL answers: the checks that only need SQL see a healthy node
    assert hung.outcome(f"test_node_primary_ready_connected_synced[{NODE}]") == "passed"
    assert_run_honest(healthy, hung, hung_services=1, hung_checks=ssh_checks, findings={})
    changed = {n for n in checks_of(hung, NODE) if verdict(hung, n) != verdict(healthy, n)}
    assert changed == ssh_checks, {n: hung.case(n) for n in changed ^ ssh_checks}


def test_sql_port_that_accepts_and_never_answers(healthy):
    try:
        lab_exec(NODE, "kill -STOP $(pidof mariadbd)")  # the kernel still accepts on 3306; nothing answers
        wait_size("dbnode1", 2)
        hung = run_checks(T, extra=FAST)
    finally:
        lab_exec(NODE, "kill -CONT $(pidof mariadbd)", check=False)
        wait_lab_healthy(180)
    sql_checks = {n for n in checks_of(hung, NODE) if says(hung, n, "198.18.0.16:3306")}
    assert sql_checks, {n: hung.message(n)[:200] for n in checks_of(hung, NODE)}
    assert_run_honest(healthy, hung, hung_services=1, hung_checks=sql_checks, findings={
        "test_cluster_size_matches_inventory[dbnode1]": "wsrep_cluster_size is 2, expected 3",
    })
    # its SSH answers: dbnode2's host checks see a healthy host
    assert hung.outcome(f"test_swapfile_prepared_and_in_fstab[{NODE}]") == "passed"


def test_deadline_reached_while_a_host_is_frozen(healthy):
    with thawed_at_the_end(NODE) as freeze:
        freeze.write_text("1")
        # the default timeouts: dbnode2's SSH alone would take 10 s; the run's deadline comes first
        hung = run_checks(T, extra=("--deadline=8", "-vv"))
    assert hung.returncode == 1, hung.output[-2000:]
    assert set(hung.cases) == set(healthy.cases), "the report must list every check, run or not"
    not_run = [n for n, c in hung.cases.items() if c["message"].startswith("not run: the run's deadline of 8 s")]
    assert not_run and all(hung.outcome(n) == "error" for n in not_run), hung.output[-3000:]
    assert "check(s) not run: the run's deadline of 8 s was reached" in hung.output
