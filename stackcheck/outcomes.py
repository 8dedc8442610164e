"""From how a check ended to what the report says: its outcome word (by the rules of verdicts.py, the only
place that decides), and the properties an auditor reads (requirements, severity, host, evidence, remediation,
fix status and diff, waiver). The terminal shows the same word as the JUnit file (pytest_report_teststatus)."""
from __future__ import annotations

import pytest

from stackcheck import report as rep
from stackcheck import verdicts as v
from stackcheck.fixing import fixers_for
from stackcheck.requirements import catalog

FIX = pytest.StashKey[dict]()
WAIVER = pytest.StashKey[object]()
CHECK_DIRS = ("tests_host", "tests_openstack", "tests_db", "tests_storage")
SEVERITIES = ("critical", "high", "medium", "low")


def roles_of(node) -> tuple[str, ...]:
    return tuple(r for m in node.iter_markers("role") for r in m.args)


def requirements_of(node) -> tuple[str, ...]:
    return tuple(r for m in node.iter_markers("requirement") for r in m.args)


def target_of(item):
    return getattr(item, "callspec", None) and item.callspec.params.get("target")


def is_check(item) -> bool:
    return bool(requirements_of(item) or roles_of(item)) or any(part in CHECK_DIRS for part in item.path.parts)


def outcome(report, call, fix: dict | None) -> str:
    """The outcome word of one phase's report."""
    if report.skipped:
        reason = rep.skip_reason(report)
        if reason.startswith(v.NA_PREFIX.strip()):
            return v.NOT_APPLICABLE
        return v.WAIVED if reason.startswith(v.WAIVED_PREFIX) else v.SKIPPED
    if report.passed:
        return v.FIXED if fix and fix["status"] == "fixed" else v.PASSED
    if report.when != "call":
        return v.ERROR  # setup or teardown broke: the check could not run
    word = v.outcome_of_exception(call.excinfo.value if call.excinfo else None)
    if fix and fix["status"] == "interrupted":
        return v.ERROR  # the fix did not end: never "fixed", never a plain finding
    if word == v.FAILED and fix and fix["status"] in ("fix-failed", "refused"):
        return v.FIX_FAILED
    return word


def properties(item, report, call, fix: dict | None, real: str) -> dict[str, str]:
    reqs = requirements_of(item)
    target = target_of(item)
    waiver = item.stash.get(WAIVER, None)
    severity = next((m.args[0] for m in item.iter_markers("severity")), "medium")
    props = {
        "requirements": " ".join(reqs),
        "severity": severity,
        "roles": " ".join(roles_of(item)),
        "host": getattr(target, "name", "") or "",
        "outcome": v.WAIVED if waiver is not None else real,
        "evidence": evidence(item, report),
        "remediation": remediation(item, reqs, target, call, real, report),
        "fixer": ", ".join(f.name for f in paired_fixers(item)),
    }
    if waiver is not None:
        props.update({"waiver": waiver.describe(), "real_outcome": real})
    if fix:
        props.update({"fix_status": fix["status"], "fix_risk": fix["risk"], "fix_diff": fix["diff"],
                      "fix_log": fix["log"], "fixer": fix["fixer"]})
    return props


def evidence(item, report) -> str:
    from stackcheck.fixtures import EVIDENCE

    seen = item.stash.get(EVIDENCE, {})
    parts = [f"{k}={val}" for k, val in seen.items()]
    if report.failed or report.skipped:
        parts.append(rep.short_message(report))
    return "; ".join(p for p in parts if p)


def paired_fixers(item):
    target = target_of(item)
    roles = target.roles if target else roles_of(item)
    return fixers_for(requirements_of(item), item.name, roles)


def remediation(item, reqs, target, call, real: str, report) -> str:
    """What to do about THIS result: the finding's own remediation when it names one, the paired fixer, or the
    catalog's repair; for an error, the error's message already says what to fix or set."""
    exc = call.excinfo.value if call is not None and call.excinfo is not None else None
    own = getattr(exc, "remediation", None)
    if own:
        return own
    if real == v.ERROR:
        return f"could not check; make it checkable: {rep.short_message(report)}"
    paired = paired_fixers(item)
    if paired:
        return "; ".join(f"{f.description} (pytest --fix{'' if f.risk in ('config', 'restart') else '-' + f.risk}, "
                         f"risk {f.risk})" for f in paired)
    texts = [catalog()[r].remediation for r in reqs if r in catalog() and catalog()[r].remediation]
    return " ".join(texts) or ("manual: see " + ", ".join(reqs) if reqs else "")


# the terminal's word for each outcome (category, letter, verbose word): the same as the JUnit's
TERMINAL = {
    v.ERROR: ("error", "E", "ERROR"),
    v.NOT_APPLICABLE: ("not applicable", "n", "NOT APPLICABLE"),
    v.WAIVED: ("waived", "w", "WAIVED"),
    v.FIXED: ("fixed", "f", "FIXED"),
    v.FIX_FAILED: ("failed", "F", "FIX-FAILED"),
}
