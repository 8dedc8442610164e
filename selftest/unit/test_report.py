"""Redaction, the JUnit writer and the requirement listing of --collect-only (pure), and that listing on the
documented example inventory (a real pytest run; collecting contacts no host)."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

from stackcheck.inventory import REPO
from stackcheck.report import CaseResult, Redactor, requirement_lines, summary_lines, write_junit
from stackcheck.requirements import catalog, parse


def test_redactor_replaces_every_occurrence_longest_first():
    r = Redactor(["abcd1234", "abcd1234-long", "xy"])  # too short to redact safely: "xy"
    assert r("pw=abcd1234-long and abcd1234; xy") == "pw=[REDACTED] and [REDACTED]; xy"


def test_junit_has_outcome_properties_and_no_secret(tmp_path):
    results = [
        CaseResult("tests_db/test_a.py::test_x[db1]", "test_x[db1]", "tests_db.test_a", "failed", 0.1,
                   "found secret-pass-1", "details secret-pass-1", {"requirements": "DBK-1", "host": "db1"}),
        CaseResult("tests_db/test_a.py::test_y[no-lb]", "test_y[no-lb]", "tests_db.test_a", "not-applicable",
                   message="not applicable: no host has role lb", properties={"requirements": "LB-1"}),
    ]
    path = write_junit(results, tmp_path, Redactor(["secret-pass-1"]), "labbox")
    text = path.read_text()
    assert "secret-pass-1" not in text and (tmp_path / "latest.xml").read_text() == text
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite.get("failures") == "1" and suite.get("skipped") == "1"
    na = [c for c in suite.iter("testcase") if c.get("name") == "test_y[no-lb]"][0]
    assert na.find("skipped").get("type") == "not-applicable"
    assert any("tests_db: 1 failed, 1 not-applicable" in line for line in summary_lines(results, Redactor()))


def test_catalog_parses_every_family_and_fix_text():
    c = catalog()
    assert len(c) >= 68 and c["DBK-1"].family == "DBK"
    assert c["HZN-1"].remediation.startswith("switch the MPM")
    assert "SignatureDoesNotMatch" in c["S3-1"].text  # continuation lines are joined
    assert parse("## X: y\n- X-1 one\n  two\n") ["X-1"].text == "one two"


def test_requirement_lines_fold_hosts_and_follow_the_catalog():
    checks = [("tests_db/t.py::test_size[db1]", ("DBK-1",)), ("tests_db/t.py::test_size[db2]", ("DBK-1",)),
              ("tests_db/v.py::test_vip", ("LB-1", "LB-5")), ("tests_openstack/c.py::test_ttl[ctl]", ("CEIL-1",))]
    assert requirement_lines(checks, list(catalog())) == [
        "requirements of the 4 collected checks (4 ids):",
        "  CEIL-1  test_ttl[ctl]",
        "  DBK-1   test_size[db1,db2]",
        "  LB-1    test_vip",
        "  LB-5    test_vip",
    ]
    assert requirement_lines([], list(catalog())) == []


def test_collect_only_lists_every_requirement_of_the_example_inventory():
    env = {**os.environ, "STACKCHECK_DB_PASSWORD": "collect-only"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "--host=inventories/lab.example.yaml", "--collect-only", "-q"],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    listed = [line.split()[0] for line in proc.stdout.splitlines() if line.startswith("  ")]
    assert listed == list(catalog()), f"ids listed by --collect-only: {listed}"
