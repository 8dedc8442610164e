"""Least privilege on the lab in a box: the whole suite run as the plain user `ops` (the lab key, no root login)
against the healthy lab, without and with become (sudo), compared testcase by testcase with the run as root.

- With `ansible_become: true`, every testcase gets root's verdict.
- Without become, a read that needs privilege is an error that says root or become is needed: no testcase
  fails (a finding made on data that could not be read is wrong), and every testcase that passes passed as root
  too, on the same evidence (a pass on unread data would show other evidence, or pass where root's does not).

The lab's hosts have `ops` with a NOPASSWD sudo rule (labbox/image.py); the password path of sudo is proven on
one host with a user the test makes and removes."""
from __future__ import annotations

import re

import pytest
import yaml

from selftest.faultlib import REPO, fault, lab_exec, run_checks

SUITE = ("tests_host", "tests_db", "tests_storage", "tests_openstack")


def inventory_as(tmp_path, name: str, host: str | None = None, **host_vars) -> str:
    """A copy of the lab's inventory with `host_vars` for every host (or only for `host`)."""
    inv = yaml.safe_load((REPO / "inventories" / "labbox.yaml").read_text())
    if host is None:
        inv["all"]["vars"].update(host_vars)
    else:
        next(g["hosts"][host] for g in inv["all"]["children"].values() if host in (g.get("hosts") or {})) \
            .update(host_vars)
    path = tmp_path / f"labbox-{name}.yaml"
    path.write_text(yaml.safe_dump(inv, sort_keys=False))
    return str(path)


# Evidence that differs between two runs for reasons other than who read it, masked before evidence is compared:
# the cluster's last committed seqno (DBK-5 writes in every run), times, and where the VIP's round robin starts
# (the answers of LB-2/LB-6 are compared as a multiset, and which node answered LB-1's one connection is masked).
VOLATILE = [
    (re.compile(r"\bseqno -?\d+"), "seqno <n>"),
    (re.compile(r"\b\d+(\.\d+)?\s*(ms|s)\b"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*"), "<timestamp>"),
    (re.compile(r"answers=([^;]*)"), lambda m: "answers=" + " ".join(sorted(m.group(1).split()))),
    (re.compile(r"answered_by=[^;\s]+"), "answered_by=<node>"),
]


def comparable(evidence: str) -> str:
    for pattern, mask in VOLATILE:
        evidence = pattern.sub(mask, evidence)
    return evidence


@pytest.fixture(scope="module")
def runs(lab_up, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("become")
    as_root = run_checks(*SUITE, extra=("-n", "2"))
    as_ops = run_checks(*SUITE, inventory=inventory_as(tmp, "ops", ansible_user="ops"), extra=("-n", "2"))
    with_become = run_checks(*SUITE, inventory=inventory_as(tmp, "become", ansible_user="ops", ansible_become=True),
                             extra=("-n", "2"))
    return as_root, as_ops, with_become


def test_with_become_every_testcase_has_roots_verdict(runs):
    as_root, _, with_become = runs
    assert as_root.cases, as_root.output[-3000:]
    assert set(with_become.cases) == set(as_root.cases)
    differ = {name: (as_root.outcome(name), with_become.outcome(name), with_become.message(name)[:200])
              for name in as_root.cases if with_become.outcome(name) != as_root.outcome(name)}
    assert not differ, differ
    assert with_become.returncode == as_root.returncode


def test_without_become_nothing_fails_and_every_pass_is_roots(runs):
    as_root, as_ops, _ = runs
    assert set(as_ops.cases) == set(as_root.cases)
    failed = {name: as_ops.message(name)[:300] for name in as_ops.cases if as_ops.outcome(name) == "failed"}
    assert not failed, failed
    not_roots = {}
    for name, case in as_ops.cases.items():
        if as_ops.outcome(name) != "passed":
            continue
        if as_root.outcome(name) != "passed":
            not_roots[name] = f"passed as ops, {as_root.outcome(name)} as root"
        elif comparable(case.get("evidence", "")) != comparable(as_root.cases[name].get("evidence", "")):
            not_roots[name] = f"ops saw {case.get('evidence', '')[:200]!r}, root {as_root.cases[name].get('evidence', '')[:200]!r}"
    assert not not_roots, not_roots


def test_without_become_a_privileged_read_says_root_or_become_is_needed(runs):
    as_root, as_ops, _ = runs
    errors = {name: as_ops.message(name) for name in as_ops.cases
              if as_ops.outcome(name) == "error" and as_root.outcome(name) == "passed"}
    assert errors, "as ops, every check root passes passed too: nothing on the lab needs privilege?"
    unexplained = {name: msg[:300] for name, msg in errors.items() if "root or" not in msg and "become" not in msg}
    assert not unexplained, unexplained


MPM = "test_apache_runs_event_mpm_only[controller]"
EVENT = "a2dismod -q mpm_prefork mpm_worker; a2enmod -q mpm_event; systemctl restart apache2"
PREFORK = "a2dismod -q mpm_event && a2enmod -q mpm_prefork && systemctl restart apache2"


def test_a_fix_runs_through_sudo_and_without_it_nothing_is_touched(lab_up, tmp_path):
    check = f"tests_openstack/test_horizon.py::{MPM}"
    with fault("controller", inject=PREFORK, restore=EVENT):
        # as ops, the enabled MPM is readable (a finding), but the fix cannot even take its lock: refused, named
        unprivileged = run_checks(check, fix=True, inventory=inventory_as(tmp_path, "ops", ansible_user="ops"))
        log = unprivileged.case(MPM)["fix_log"]
        assert unprivileged.outcome(MPM) == "fix-failed", unprivileged.output[-3000:]
        assert "refused: could not take the fix lock" in log and "run as root or with become" in log, log
        assert "mpm_prefork" in lab_exec("controller", "apache2ctl -M 2>/dev/null").stdout
        become = run_checks(check, fix=True, inventory=inventory_as(tmp_path, "become", ansible_user="ops",
                                                                    ansible_become=True))
        assert become.outcome(MPM) == "fixed", become.output[-3000:]
        assert "mpm_event" in lab_exec("controller", "apache2ctl -M 2>/dev/null").stdout


LB6 = "test_haproxy_health_check_judges_galera_state[lb]"
PASSWORD = "sudo-pw-Qx81-not-a-real-one"
# -f: a session of the user still closing (its sshd child) must not keep the user, and so the next run, failing
NO_USERS = "rm -f /etc/sudoers.d/pwsudo; for u in pwsudo nosudo; do pkill -u $u; userdel -f -r $u 2>/dev/null; done; true"
USERS = f"""
{NO_USERS}
set -e
for u in pwsudo nosudo; do useradd --create-home --shell /bin/bash $u; install -d -o $u -g $u -m 700 /home/$u/.ssh
  install -o $u -g $u -m 600 /root/.ssh/authorized_keys /home/$u/.ssh/; done
printf 'pwsudo:{PASSWORD}\\nnosudo:{PASSWORD}\\n' | chpasswd
echo 'pwsudo ALL=(ALL:ALL) ALL' > /etc/sudoers.d/pwsudo; chmod 440 /etc/sudoers.d/pwsudo
"""


def test_sudo_that_asks_for_a_password_gets_it_only_by_reference_and_refusals_are_errors(lab_up, tmp_path):
    """On lb, with users the test makes: `pwsudo` whose sudo asks for a password, `nosudo` with no sudo rule."""
    check = f"tests_db/test_vip.py::{LB6}"
    secret = tmp_path / "sudo_password"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    wrong = tmp_path / "wrong_password"
    wrong.write_text("not-it\n")
    wrong.chmod(0o600)
    # nosudo has the same password: sudo takes it, and then says the user may not use it
    as_lb = lambda name, **v: inventory_as(tmp_path, name, host="lb", ansible_become=True, **v)  # noqa: E731
    with fault("lb", inject=USERS, restore=NO_USERS):
        good = run_checks(check, inventory=as_lb("pw", ansible_user="pwsudo", ansible_become_password={"file": str(secret)}))
        assert good.outcome(LB6) == "passed", good.output[-3000:]
        asks = run_checks(check, inventory=as_lb("nopw", ansible_user="pwsudo"))
        assert asks.outcome(LB6) == "error" and "sudo asks pwsudo for a password" in asks.message(LB6), asks.message(LB6)
        bad = run_checks(check, inventory=as_lb("badpw", ansible_user="pwsudo", ansible_become_password={"file": str(wrong)}))
        assert bad.outcome(LB6) == "error" and "did not accept ansible_become_password" in bad.message(LB6), bad.message(LB6)
        refused = run_checks(check, inventory=as_lb("nosudo", ansible_user="nosudo",
                                                    ansible_become_password={"file": str(secret)}))
        assert refused.outcome(LB6) == "error" and "sudo refused nosudo as root" in refused.message(LB6), \
            refused.message(LB6)
    for run in (good, asks, bad, refused):
        assert PASSWORD not in run.output and "not-it" not in run.output
