"""Lint: the outcome rules of stackcheck/verdicts.py hold by construction in every probe, check and fixer.

- A command's output is taken only with its exit code judged: `result.output("what")` (CannotCheck when the
  command failed), or `.stdout` on a line that says how the exit code was judged (`# rc judged: ...`). Taking
  `.stdout` and ignoring the exit code is how a missing file or a permission denied becomes "nothing wrong".
- A check never skips by itself: a fact observed on the target or declared in the inventory is
  `NotApplicable(fact)`, a missing expectation is `need(lab, key)`, anything it could not read is CannotCheck.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CODE = sorted(
    p for d in ("stackcheck", "fixes", "tests_host", "tests_openstack", "tests_db", "tests_storage")
    for p in (REPO / d).rglob("*.py")
    # the transport and the testinfra backend are where exit codes are produced, not judged
    if p.relative_to(REPO).as_posix() not in ("stackcheck/transport.py", "stackcheck/backend.py")
)
CHECKS = [p for p in CODE if p.relative_to(REPO).parts[0].startswith("tests_")]
STDOUT = re.compile(r"\.stdout\b")
JUDGED = "# rc judged"
SKIP = re.compile(r"\bpytest\.skip\(")


def _ids(paths):
    return [p.relative_to(REPO).as_posix() for p in paths]


@pytest.mark.parametrize("path", CODE, ids=_ids(CODE))
def test_output_only_with_exit_code_judged(path):
    bad = [f"{path.relative_to(REPO)}:{n}: {line.strip()}" for n, line in enumerate(path.read_text().splitlines(), 1)
           if STDOUT.search(line) and JUDGED not in line]
    assert not bad, ("a command's .stdout taken without judging its exit code (use result.output('what'), or say "
                     f"`{JUDGED}: how` on the line):\n" + "\n".join(bad))


@pytest.mark.parametrize("path", CHECKS, ids=_ids(CHECKS))
def test_checks_do_not_skip_by_themselves(path):
    bad = [f"{path.relative_to(REPO)}:{n}: {line.strip()}" for n, line in enumerate(path.read_text().splitlines(), 1)
           if SKIP.search(line)]
    assert not bad, ("a check skipped by itself (raise NotApplicable(fact) for an observed or declared fact, "
                     "need(lab, key) for a missing expectation, CannotCheck for what could not be read):\n"
                     + "\n".join(bad))


def test_lint_sees_the_code():
    assert len(CODE) > 50 and len(CHECKS) > 15
