"""Drift and `--gate new` through the plugin, end to end in the throwaway project of test_plugin.py (its hosts are
this machine): a second run with the same failures is "still failing" and passes `--gate new`, a requirement the
baseline did not judge closes it, a repaired one is said, and a baseline that cannot be read stops the run."""
import json

import pytest

from selftest.unit.test_plugin import project, run  # noqa: F401 - the throwaway project and its runner
from stackcheck.inventory import REPO

SELECT = ("-k", "ttl or history")


@pytest.fixture(autouse=True)
def this_tree(monkeypatch):
    """The runs import the plugin of this tree (the venv's editable install may point at another worktree)."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))


def test_second_run_says_still_failing_and_gate_new_passes_on_known_failures(project, tmp_path):  # noqa: F811
    pytester, inv, work = project
    reports = tmp_path / "reports"
    first = run(pytester, inv, reports, *SELECT)
    assert first.ret == 1
    assert "no previous run of this inventory" in first.stdout.str()
    strict = run(pytester, inv, reports, *SELECT)
    assert strict.ret == 1, "the default gate stays strict on known failures"
    known = run(pytester, inv, reports, "--gate", "new", *SELECT)
    out = known.stdout.str()
    assert known.ret == 0, out[-3000:]
    assert "3 still failing" in out and "STILL FAILING       CEIL-1 (first seen " in out
    doc = json.loads((reports / "latest.json").read_text())
    first_seen = {r["id"]: r["drift"]["since"] for r in doc["requirements"]}
    assert doc["run"]["gate"] == "pass" and doc["run"]["gate_strict"] == "fail" and doc["run"]["exit_code"] == 0
    # the first run that saw CEIL-1 fail is carried through the second: its time, not the baseline's
    first_doc = json.loads(sorted(reports.glob("stackcheck-*.json"))[0].read_text())
    assert first_seen["CEIL-1"] == first_doc["run"]["iso_time"]

    (work / "ceilometer.conf").write_text("[database]\ntime_to_live = 604800\n")
    wider = run(pytester, inv, reports, "--gate", "new", "-k", "ttl or history or db_conf")
    out = wider.stdout.str()
    assert "REPAIRED            CEIL-1" in out and "NOT IN THE BASELINE DBC-1" in out, out[-3000:]
    assert wider.ret == 1, "a failing requirement the baseline never judged is not a known failure"


def test_an_unreadable_baseline_stops_the_run(project, tmp_path):  # noqa: F811
    pytester, inv, _ = project
    bad = tmp_path / "not-a-report.json"
    bad.write_text('{"hello": 1}')
    result = run(pytester, inv, tmp_path / "reports", "--baseline", str(bad), *SELECT)
    assert result.ret == 4 and "not a stackcheck JSON report" in result.stderr.str()
