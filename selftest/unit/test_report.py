"""Redaction, the JUnit writer and the requirement listing of --collect-only (pure), and that listing on the
documented example inventory (a real pytest run; collecting contacts no host)."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

from stackcheck.inventory import REPO
import json

from stackcheck.report import (CaseResult, Redactor, gate_passes, requirement_lines, requirement_results, summary_lines,
                               write_reports)
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
    reqs = requirement_results(results, catalog(), lambda rid: rid in ("DBK-1", "LB-1"), complete=True)
    path = write_reports(results, reqs, tmp_path, Redactor(["secret-pass-1"]), "labbox", ["DBK-1", "LB-1"])
    text = path.read_text()
    assert "secret-pass-1" not in text and (tmp_path / "latest.xml").read_text() == text
    doc = json.loads((tmp_path / "latest.json").read_text())
    assert "secret-pass-1" not in json.dumps(doc)
    assert {r["id"]: r["verdict"] for r in doc["requirements"]} == {"DBK-1": "failed", "LB-1": "not-applicable"}
    assert doc["run"]["gate"] == "fail"
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


def _case(name, outcome, reqs, **props):
    return CaseResult(f"tests_x/t.py::{name}", name, "tests_x.t", outcome, message=f"{name} says {outcome}",
                      properties={"requirements": reqs, **props})


def test_requirement_verdicts_close_the_gate_on_anything_unchecked():
    in_scope = lambda rid: rid in ("DBK-1", "DBK-2", "DBK-3", "LB-1", "HOST-8", "DBH-4")  # noqa: E731
    results = [
        _case("a[db1]", "passed", "DBK-1"), _case("a[db2]", "error", "DBK-1"),  # one host unread: not passed
        _case("b[db1]", "passed", "DBK-2"), _case("b[db2]", "failed", "DBK-2"), _case("b[db3]", "error", "DBK-2"),
        _case("c[lb]", "waived", "HOST-8", real_outcome="failed"),
        _case("d[db1]", "not-applicable", "DBH-4"), _case("e[db1]", "passed", "LB-1"),
    ]
    got = {r.id: r for r in requirement_results(results, catalog(), in_scope, complete=True)}
    assert got["DBK-1"].verdict == "error" and "a[db2]" in got["DBK-1"].reason
    assert got["DBK-2"].verdict == "failed" and "b[db2]" in got["DBK-2"].reason
    assert got["DBK-3"].verdict == "error" and "no check" in got["DBK-3"].reason  # in scope, nobody answered
    assert got["HOST-8"].verdict == "waived" and got["HOST-8"].cases == ["c[lb]: waived, failed"]
    assert got["DBH-4"].verdict == "not-applicable" and got["LB-1"].verdict == "passed"
    assert not gate_passes(list(got.values()))
    assert gate_passes([got["HOST-8"], got["DBH-4"], got["LB-1"]])
    # a selection (-k, paths) answers only for what it selected
    partial = requirement_results(results, catalog(), in_scope, complete=False)
    assert "DBK-3" not in {r.id for r in partial}


def test_every_fixer_names_existing_checks_of_its_requirements():
    """Fixers pair with checks by name: a renamed check would silently lose its fixer. Every name a fixer gives
    must be a check that cites one of the fixer's requirement ids."""
    from stackcheck.coverage import _load_fixers, check_names
    from stackcheck.fixing import REGISTRY

    _load_fixers()
    assert REGISTRY
    for fx in REGISTRY:
        known = set().union(*(check_names(r) for r in fx.requirements))
        assert known, f"{fx.name}: no check cites {fx.requirements}"
        assert set(fx.checks) <= known, f"{fx.name}: {sorted(set(fx.checks) - known)} are not checks of {fx.requirements}"


def test_coverage_lookup_of_one_requirement():
    from stackcheck.coverage import describe

    text = describe("SPC-4")
    assert text.startswith("SPC-4 (SPICE, severity high): The control node's firewall accepts TCP 6082")
    assert "tests_openstack/test_spice.py:" in text and "::test_spice_port_open_in_running_firewall" in text
    assert "fixes/openstack_spice.py:" in text and "selftest/faults/test_openstack.py:" in text
