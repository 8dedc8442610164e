"""The one place that decides what a check's outcome is. Every check and probe says what happened by what it
raises; nothing else is read.

    passed          the check returned: it read what it needed and found it right
    failed          Finding (or a plain `assert`, or pytest.fail): it read what it needed and found it wrong
    error           CannotCheck and its kinds (HostUnreachable, ProbeTimeout, MissingExpectation), or any other
                    exception (a probe that broke): it could not read or judge; the message says what to fix or set
    not-applicable  NotApplicable: a fact observed on the target or declared in the inventory rules the
                    requirement out there; the message states that fact
    waived          an inventory waiver (the check still runs; the report keeps its real outcome beside it)

A check never turns "could not read" into a finding, and never into a pass: a probe that cannot read what it
needs raises CannotCheck (see `Result.output` in transport.py for commands), and the inventory lacking an
expectation a requirement needs is `need(lab, key)`, a MissingExpectation.
"""
from __future__ import annotations

from typing import Any

import pytest

PASSED, FAILED, ERROR, NOT_APPLICABLE, WAIVED = "passed", "failed", "error", "not-applicable", "waived"
FIXED, FIX_FAILED, SKIPPED = "fixed", "fix-failed", "skipped"
# the prefix of a pytest skip reason that means "not applicable" (the reason states the observed fact)
NA_PREFIX = "not applicable: "
WAIVED_PREFIX = "waived: "


class Finding(AssertionError):
    """The check read what it needed and found it wrong (same as a failing `assert`). `remediation`, when given,
    is what to do about THIS finding; the report shows it instead of the paired fixer's general description."""

    def __init__(self, message: str, remediation: str | None = None):
        super().__init__(message)
        self.remediation = remediation


class CannotCheck(Exception):
    """The check could not read or judge what it needs: the outcome is *error*, with this message (what could
    not be read and why, and what to fix or set)."""


class MissingExpectation(CannotCheck):
    """The inventory lacks an expectation an in-scope requirement needs."""

    def __init__(self, key: str, why: str = ""):
        self.key = key
        super().__init__(f"cannot check: the inventory gives no stackcheck.{key}{': ' + why if why else ''} "
                         f"(set stackcheck.{key}, or narrow stackcheck.scope)")


class NotApplicable(Exception):
    """A fact observed on the target or declared in the inventory makes the requirement not apply there.
    The message states that fact ("not applicable: " is added when missing)."""

    def __init__(self, fact: str):
        super().__init__(fact if fact.startswith(NA_PREFIX) else NA_PREFIX + fact)


def need(lab, key: str, why: str = "") -> Any:
    """The inventory's expectation `key`, or MissingExpectation when it is unset (None, empty)."""
    value = lab.get(key)
    if value in (None, "", [], {}):
        raise MissingExpectation(key, why)
    return value


def outcome_of_exception(exc: BaseException | None) -> str:
    """The outcome word for how a check's body ended (None: it returned)."""
    if exc is None:
        return PASSED
    if isinstance(exc, NotApplicable):
        return NOT_APPLICABLE
    if isinstance(exc, (AssertionError, pytest.fail.Exception)):
        return FAILED
    if isinstance(exc, pytest.skip.Exception):
        return NOT_APPLICABLE if str(exc).startswith(NA_PREFIX) else SKIPPED
    return ERROR


def is_expected_failure(exc: BaseException) -> bool:
    """Errors whose one-line reason is the whole story (no traceback is worth an auditor's time)."""
    return isinstance(exc, CannotCheck)


# --- a requirement's verdict from its checks' outcomes ---------------------------------------------------------
def requirement_verdict(outcomes: list[str], waived: bool = False) -> str:
    """The verdict of one requirement from the outcomes of its checks (over every host).

    failed when any check found it wrong; else error when any could not check; else passed when at least one
    passed and none left a doubt; not-applicable only when every check was; waived checks count as waived."""
    if waived:
        return WAIVED
    real = [o for o in outcomes if o != WAIVED]
    if any(o in (FAILED, FIX_FAILED) for o in real):
        return FAILED
    if any(o in (ERROR, SKIPPED) for o in real) or not outcomes:
        return ERROR
    if any(o == WAIVED for o in outcomes):
        return WAIVED
    if any(o in (PASSED, FIXED) for o in real):
        return PASSED
    return NOT_APPLICABLE


GATE_OK = {PASSED, WAIVED, NOT_APPLICABLE}
