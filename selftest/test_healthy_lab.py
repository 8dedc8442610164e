"""The healthy lab in a box passes every check it hosts; the rest are reported as what they are (waived: not
hosted by labbox, or not applicable), never as passed. Run the way a nightly gate would, in parallel (-n 2), which
also proves that the JUnit properties survive pytest-xdist. And no secret of the lab appears in any output."""
import pytest

from selftest.faultlib import run_checks
from stackcheck.inventory import load
from stackcheck.requirements import catalog

HONEST = {"passed", "waived", "not-applicable"}


@pytest.fixture(scope="module")
def healthy_run(lab_up):
    return run_checks(extra=("-n", "2"))


def test_every_check_passes_or_says_why_not(healthy_run):
    bad = {n: (c["outcome"], c["message"][:160]) for n, c in healthy_run.cases.items() if c["outcome"] not in HONEST}
    assert healthy_run.cases, healthy_run.output[-3000:]
    assert not bad, f"checks that do not pass on the healthy lab: {bad}"
    for name, case in healthy_run.cases.items():
        if case["outcome"] in ("waived", "not-applicable"):
            assert case["message"], f"{name} is {case['outcome']} without a reason"


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
