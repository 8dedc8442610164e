"""The plugin end to end in a throwaway project: parametrisation by role, not-applicable, unreachable hosts as
errors, exit code 4 for a bad inventory, --fix with diff/backup/rollback, JUnit properties (also under -n 2),
and secrets kept out of every output. Hosts are this machine (`ansible_connection: local`) and an address of the
lab range that nothing answers (a guard route makes it unreachable at once)."""
import datetime
import subprocess
import xml.etree.ElementTree as ET

import pytest

SECRET = "Sup3r-S3cret-Passw0rd"

INVENTORY = """
all:
  children:
    compute:
      hosts:
        here: {{ansible_connection: local}}
    dbnode:
      hosts:
        dbhere: {{ansible_connection: local}}
        nowhere: {{ansible_host: 198.18.255.254}}
stackcheck:
  connect_timeout: 3
  db: {{password: {{file: {pw}}}}}
"""

CHECKS = '''
import pytest
from pathlib import Path
from stackcheck.fixing import fixer

WORK = Path(r"{work}")

@pytest.mark.requirement("HOST-7")
@pytest.mark.role("compute", "dbnode")
def test_hosts_file_readable(host, evidence):
    evidence["exists"] = host.file("/etc/hosts").exists
    assert host.file("/etc/hosts").exists

@pytest.mark.requirement("CEIL-3")
@pytest.mark.role("compute")
def test_consequence_of_the_ttl(host):
    """Fails until test_ttl_is_finite's fixer ran: a consequence, with no fixer of its own."""
    assert "604800" in host.file(str(WORK / "ceilometer.conf")).content_string, "the TTL is not finite yet"

@pytest.mark.requirement("LB-1")
@pytest.mark.role("lb")
def test_vip(host):
    assert False

@pytest.mark.requirement("CEIL-1")
@pytest.mark.role("compute")
def test_ttl_is_finite(host):
    text = host.file(str(WORK / "ceilometer.conf")).content_string
    assert "time_to_live = 604800" in text, f"found {{text.strip()!r}}, expected time_to_live = 604800 (password {secret})"

@pytest.mark.requirement("CEIL-2")
@pytest.mark.role("compute")
def test_history_off(host):
    assert "record_history = False" in host.file(str(WORK / "history.conf")).content_string

@pytest.mark.requirement("DBC-1")
@pytest.mark.role("dbnode")
def test_db_conf(host):
    assert "binlog_format=ROW" in host.file(str(WORK / "my.cnf")).content_string

@fixer("DBC-1", risk="restart", checks=["test_db_conf"])
def fix_db_conf(ctx):
    """Set binlog_format=ROW."""
    path = str(WORK / "my.cnf")
    ctx.edit(path, "[mysqld]\\nbinlog_format=ROW\\n")

@fixer("CEIL-1", risk="config", checks=["test_ttl_is_finite", "test_ttl_by_pytest_fail"])
def set_ttl(ctx):
    """Set a finite time to live."""
    path = str(WORK / "ceilometer.conf")
    ctx.edit(path, ctx.read(path).replace("time_to_live = -1", "time_to_live = 604800"))

@pytest.mark.requirement("CEIL-1")
@pytest.mark.role("compute")
def test_ttl_by_pytest_fail(host):
    """A finding said with pytest.fail is a finding like an assert: failed, and its fixer runs."""
    if "time_to_live = 604800" not in host.file(str(WORK / "ceilometer.conf")).content_string:
        pytest.fail("time_to_live is not 604800")

@fixer("CEIL-2", risk="config", checks=["test_history_off"])
def wrong_fix(ctx):
    """A fixer whose change does not satisfy its check: the engine must roll back."""
    path = str(WORK / "history.conf")
    ctx.edit(path, ctx.read(path) + "# touched\\n")
'''

@pytest.fixture
def project(pytester, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text(SECRET + "\n")
    pw.chmod(0o600)
    work = tmp_path / "work"
    work.mkdir()
    (work / "ceilometer.conf").write_text("[database]\ntime_to_live = -1\n")
    (work / "history.conf").write_text("[alarm]\nrecord_history = True\n")
    (work / "my.cnf").write_text("[mysqld]\nbinlog_format=STATEMENT\n")
    inv = tmp_path / "inv.yaml"
    inv.write_text(INVENTORY.format(pw=pw))
    pytester.makepyfile(test_checks=CHECKS.format(work=work, secret=SECRET))
    subprocess.run(["ip", "route", "replace", "unreachable", "198.18.0.0/15", "metric", "4000"], check=False)
    return pytester, inv, work

def junit(reports):
    cases = {}
    for case in ET.parse(reports / "latest.xml").getroot().iter("testcase"):
        cases[case.get("name")] = {p.get("name"): p.get("value") for p in case.iter("property")}
    return cases

def run(pytester, inv, reports, *args):
    return pytester.runpytest_subprocess("-p", "no:pytest11.testinfra", "-p", "stackcheck.plugin", f"--host={inv}", f"--reports={reports}", *args)

def test_outcomes_are_honest(project, tmp_path):
    pytester, inv, _ = project
    reports = tmp_path / "reports"
    result = run(pytester, inv, reports)
    cases = junit(reports)
    assert cases["test_hosts_file_readable[here]"]["outcome"] == "passed"
    assert cases["test_hosts_file_readable[here]"]["evidence"] == "exists=True"
    assert cases["test_hosts_file_readable[nowhere]"]["outcome"] == "error"
    assert "unreachable" in cases["test_hosts_file_readable[nowhere]"]["evidence"]
    # no host has role lb and the inventory does not say why (lb.kind is haproxy): an error naming what to add
    assert cases["test_vip[no-lb]"]["outcome"] == "error"
    assert "no host of the inventory has role lb" in cases["test_vip[no-lb]"]["evidence"]
    assert cases["test_ttl_is_finite[here]"]["outcome"] == "failed"
    props = cases["test_ttl_is_finite[here]"]
    assert props["requirements"] == "CEIL-1" and props["host"] == "here" and props["severity"] == "medium"
    assert "Set a finite time to live" in props["remediation"]
    text = result.stdout.str() + result.stderr.str() + "".join(p.read_text() for p in reports.iterdir())
    assert SECRET not in text and "[REDACTED]" in text
    assert result.ret == 1

def test_bad_inventory_exit_code_4(pytester, tmp_path):
    inv = tmp_path / "bad.yaml"
    inv.write_text("all:\n  children:\n    dbnodes:\n      hosts: {a: {ansible_host: 198.18.0.1}}\n")
    pytester.makepyfile("import pytest\n@pytest.mark.requirement('DBK-1')\n@pytest.mark.role('dbnode')\n"
                        "def test_x(target):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:pytest11.testinfra", "-p", "stackcheck.plugin", f"--host={inv}")
    assert result.ret == 4
    assert f"{inv}: all.children.dbnodes: unknown role" in result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()

def test_fix_repairs_backs_up_and_rolls_back(project, tmp_path):
    pytester, inv, work = project
    reports = tmp_path / "reports"
    dry = run(pytester, inv, reports, "--fix", "--dry-run", "-k", "ttl or history")
    assert junit(reports)["test_ttl_is_finite[here]"]["outcome"] == "failed"
    assert "+time_to_live = 604800" in junit(reports)["test_ttl_is_finite[here]"]["fix_diff"]
    assert "time_to_live = -1" in (work / "ceilometer.conf").read_text(), "dry run changed the file"
    assert "dry run" in dry.stdout.str()

    before = (work / "history.conf").read_text()
    result = run(pytester, inv, reports, "--fix", "-k", "ttl or history")
    cases = junit(reports)
    assert cases["test_ttl_is_finite[here]"]["outcome"] == "fixed"
    assert "-time_to_live = -1" in cases["test_ttl_is_finite[here]"]["fix_diff"]
    assert (work / "ceilometer.conf").read_text() == "[database]\ntime_to_live = 604800\n"
    backup = [line for line in cases["test_ttl_is_finite[here]"]["fix_log"].splitlines() if "backups:" in line][0]
    backup_path = backup.split("backups: ")[1].rstrip(")")
    assert open(backup_path).read() == "[database]\ntime_to_live = -1\n"
    assert cases["test_history_off[here]"]["outcome"] == "fix-failed"
    assert (work / "history.conf").read_text() == before, "a fix whose re-check failed must leave the file as it was"
    assert "rolling back" in cases["test_history_off[here]"]["fix_log"]
    assert "stackcheck fixes" in result.stdout.str()
    again = run(pytester, inv, reports, "--fix", "-k", "ttl")
    assert junit(reports)["test_ttl_is_finite[here]"]["outcome"] == "passed"  # idempotent: nothing to do
    assert again.ret == 0

def test_fix_run_ends_with_the_final_state(project, tmp_path):
    """A check that failed only as a consequence of another (fixed later in the same run) is checked again once
    the fixes are done: the run ends green, and the report keeps what it found first."""
    pytester, inv, work = project
    reports = tmp_path / "reports"
    result = run(pytester, inv, reports, "--fix", "-k", "consequence or ttl")
    cases = junit(reports)
    assert cases["test_ttl_is_finite[here]"]["outcome"] == "fixed"
    follow = cases["test_consequence_of_the_ttl[here]"]
    assert follow["outcome"] == "passed" and follow["first_outcome"] == "failed", follow
    assert "the TTL is not finite yet" in follow["first_message"]
    assert "failed before the run's fixes, passed now" in result.stdout.str()
    assert result.ret == 0, result.stdout.str()[-2000:]


def test_pytest_fail_is_a_finding_and_gets_its_fixer(project, tmp_path):
    pytester, inv, work = project
    reports = tmp_path / "reports"
    run(pytester, inv, reports, "-k", "pytest_fail")
    assert junit(reports)["test_ttl_by_pytest_fail[here]"]["outcome"] == "failed"
    run(pytester, inv, reports, "--fix", "-k", "pytest_fail")
    assert junit(reports)["test_ttl_by_pytest_fail[here]"]["outcome"] == "fixed"


def test_fix_run_of_a_single_check_rechecks_it(project, tmp_path):
    """One check, its fix rolled back: the final re-check runs it again (no KeyError from reused fixtures)."""
    pytester, inv, _ = project
    reports = tmp_path / "reports"
    result = run(pytester, inv, reports, "--fix", "-k", "history")
    case = junit(reports)["test_history_off[here]"]
    assert case["outcome"] == "fix-failed" and case["first_outcome"] == "fix-failed", case
    assert "record_history" in case["evidence"] and result.ret == 1


def test_waived_check_runs_and_keeps_its_real_outcome(project, tmp_path):
    pytester, inv, _ = project
    waived = tmp_path / "waived.yaml"
    expires = datetime.date.today() + datetime.timedelta(days=30)
    waived.write_text(inv.read_text().replace("stackcheck:\n", "stackcheck:\n  waivers: [{id: CEIL-1, reason: "
                                              f"'TTL set by the vendor', expires: {expires}}}]\n", 1))
    reports = tmp_path / "reports"
    result = run(pytester, waived, reports, "-k", "ttl_is")
    case = junit(reports)["test_ttl_is_finite[here]"]
    assert case["outcome"] == "waived" and case["real_outcome"] == "failed", case
    assert "TTL set by the vendor" in case["waiver"] and "expected time_to_live = 604800" in case["evidence"]
    assert result.ret == 0  # a waived requirement does not close the gate


def test_db_node_fix_refused_while_cluster_unhealthy(project, tmp_path):
    pytester, inv, work = project
    reports = tmp_path / "reports"
    run(pytester, inv, reports, "--fix", "-k", "db_conf")
    case = junit(reports)["test_db_conf[dbhere]"]
    assert case["outcome"] == "fix-failed" and "could cost" in case["fix_log"]
    assert "STATEMENT" in (work / "my.cnf").read_text(), "a refused fix must change nothing"

def test_properties_survive_xdist(project, tmp_path):
    pytester, inv, _ = project
    reports = tmp_path / "reports"
    run(pytester, inv, reports, "-n", "2")
    cases = junit(reports)
    assert len(cases) == 10
    for name, props in cases.items():
        assert props.get("requirements") and props.get("outcome") and "roles" in props, (name, props)
    assert cases["test_hosts_file_readable[nowhere]"]["outcome"] == "error"

def test_fix_with_xdist_is_refused(project, tmp_path):
    pytester, inv, _ = project
    result = run(pytester, inv, tmp_path / "r", "--fix", "-n", "2")
    assert result.ret == 4 and "one host at a time" in result.stderr.str()
