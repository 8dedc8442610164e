"""The healthy lab in a box passes every check it hosts; the rest are reported as what they are (waived: not
hosted by labbox, or not applicable by a listed fact), never as passed, and exactly those: a regression that
turns a hosted check into "not applicable" fails here. Run the way a nightly gate would, in parallel (-n 2),
which also proves that the JUnit properties survive pytest-xdist. And no secret of the lab appears in any output.

The newcomer's path of the README (the example inventory, pointed at the lab, no cloud name) must not be green:
it exits non-zero with errors that say what to set."""
import json
import os
import subprocess
import sys

import pytest
import yaml

from labbox.hosting import NOT_APPLICABLE_ON_LAB, NOT_HOSTED, split_key
from labbox.inventory import DB_CA
from labbox.provision import KEY, KNOWN_HOSTS, SECRETS
from selftest.faultlib import REPO, run_checks
from stackcheck.inventory import load
from stackcheck.requirements import catalog


@pytest.fixture(scope="module")
def healthy_run(lab_up):
    return run_checks(extra=("-n", "2"))


def _expected(table: dict[str, str], cases: dict) -> set[str]:
    """The testcases (check[host]) that a NOT_HOSTED / NOT_APPLICABLE_ON_LAB table names."""
    names = set()
    for key in table:
        rid, check = split_key(key)
        names |= {n for n, c in cases.items() if rid in c["requirements"].split()
                  and (check is None or n.split("[")[0] == check)}
    return names


def test_every_check_passes_or_is_exactly_what_the_lab_cannot_host(healthy_run):
    cases = healthy_run.cases
    assert cases, healthy_run.output[-3000:]
    by_outcome = {}
    for name, case in cases.items():
        by_outcome.setdefault(case["outcome"], set()).add(name)
        if case["outcome"] in ("waived", "not-applicable"):
            assert case["message"], f"{name} is {case['outcome']} without a reason"
    bad = {n: (c["outcome"], c["message"][:160]) for n, c in cases.items()
           if c["outcome"] not in ("passed", "waived", "not-applicable")}
    assert not bad, f"checks that do not pass on the healthy lab: {bad}"
    assert by_outcome.get("waived", set()) == _expected(NOT_HOSTED, cases), "waived on the lab: only NOT_HOSTED"
    assert by_outcome.get("not-applicable", set()) == _expected(NOT_APPLICABLE_ON_LAB, cases), \
        "not applicable on the lab: only the facts listed in labbox/hosting.py"
    assert healthy_run.returncode == 0, healthy_run.output[-2000:]
    assert "gate: PASS: 69 requirements in scope" in healthy_run.output


def test_waived_checks_still_run_and_say_what_they_found(healthy_run):
    for name, case in healthy_run.cases.items():
        if case["outcome"] == "waived":
            assert case.get("real_outcome") in ("passed", "failed", "error", "not-applicable"), (name, case)
            assert case.get("waiver", "").startswith(case["requirements"].split()[0]), (name, case)


def test_report_properties_complete_under_xdist(healthy_run):
    for name, case in healthy_run.cases.items():
        assert case.get("requirements"), f"{name}: no requirement ids"
        assert all(r in catalog() for r in case["requirements"].split()), name
        assert case.get("severity") and case.get("outcome") and "evidence" in case and "remediation" in case, name
        if "[" in name and not name.endswith("[no-lb]"):
            assert case.get("host"), f"{name}: no host property"


def test_no_secret_in_any_output(healthy_run):
    secrets = load("labbox").secrets()
    assert secrets, "the labbox inventory should reference secrets (DB password, EC2 keys, clouds.yaml)"
    text = healthy_run.output + repr(healthy_run.cases)
    leaked = [s[:2] + "..." for s in secrets if s in text]
    assert not leaked, f"secrets found in the output or report: {leaked}"


def test_newcomer_path_is_not_green_and_names_what_to_set(lab_up, tmp_path):
    """README: `cp inventories/lab.example.yaml inventories/lab.yaml`, the DB password in the environment, run.
    The example's addresses are the lab's; only the SSH key and known hosts are the lab's own."""
    inv = yaml.safe_load((REPO / "inventories" / "lab.example.yaml").read_text())
    inv["all"]["vars"].update(ansible_ssh_private_key_file=str(KEY), stackcheck_known_hosts=str(KNOWN_HOSTS))
    inv["stackcheck"]["db"]["tls"] = {"ca": str(DB_CA)}  # the lab's DB CA: the example's account requires TLS
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(inv))
    env = {k: val for k, val in os.environ.items() if not k.startswith("PYTEST_")}
    env["STACKCHECK_DB_PASSWORD"] = (SECRETS / "DB_STACKCHECK_PASSWORD").read_text().strip()
    reports = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "pytest", f"--host={path}", f"--reports={reports}", "-q", "-n", "2"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    doc = json.loads((reports / "latest.json").read_text())
    verdicts = {r["id"]: r for r in doc["requirements"]}
    assert doc["run"]["gate"] == "fail"
    for rid in ("SWF-1", "SWF-2", "SWF-4", "OS-1", "OS-3", "S3-2", "S3-3"):
        assert verdicts[rid]["verdict"] == "error", (rid, verdicts[rid])
        assert "stackcheck.cloud.name" in verdicts[rid]["reason"], (rid, verdicts[rid])
    assert "stackcheck.cloud.name" in out and "gate: FAIL" in out
    assert not [r for r in doc["requirements"] if r["verdict"] == "not-applicable"
                and "SELinux" not in r["reason"] and "lb.kind" not in r["reason"]], "N/A only by a stated fact"
