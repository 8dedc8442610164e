"""Honest reports: per check an outcome word, its requirement ids, severity, role, host, evidence, remediation
and (for fixes) the diff; JUnit XML for auditors; secrets redacted from everything written or shown.

Outcomes: passed, failed, fixed, fix-failed, error (unreachable host, timeout, broken probe), not-applicable,
waived, skipped. Nothing that could not be checked is ever reported as passed.
"""
from __future__ import annotations

import datetime
import os
import platform
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

REDACTED = "[REDACTED]"
NOT_APPLICABLE = "not applicable"
WAIVED = "waived"


class Redactor:
    """Replaces every known secret (and its common encodings) by [REDACTED]."""

    def __init__(self, secrets=()):
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text):
        if not text or not self.secrets:
            return text
        text = str(text)
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


@dataclass
class CaseResult:
    """One check on one host, as the report keeps it (built from pytest's reports, also under xdist)."""

    nodeid: str
    name: str
    classname: str
    outcome: str = "passed"
    duration: float = 0.0
    message: str = ""
    details: str = ""
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return self.nodeid.split("/")[0] if "/" in self.nodeid else self.nodeid.split("::")[0]


def outcome_of(report, fix_status: str | None) -> str:
    """Map a pytest TestReport (phase + outcome) and the fix engine's status to our outcome word."""
    if report.skipped:
        reason = skip_reason(report)
        if reason.startswith(NOT_APPLICABLE):
            return "not-applicable"
        if reason.startswith(WAIVED):
            return "waived"
        return "skipped"
    if report.when != "call" and report.failed:
        return "error"
    if report.failed:
        if fix_status in ("fix-failed", "refused"):
            return "fix-failed"
        return "failed"
    return "fixed" if fix_status == "fixed" else "passed"


def skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = longrepr[2]
        return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason
    return str(longrepr or "")


def short_message(report) -> str:
    """The one line an auditor reads first: the assertion message, the error, or the skip reason."""
    if report.skipped:
        return skip_reason(report)
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    if crash is not None and crash.message:
        return crash.message.strip()
    text = str(report.longrepr or "").strip()
    return text.splitlines()[-1] if text else ""


def write_junit(results: list[CaseResult], directory: Path, redact: Redactor, inventory: str) -> Path:
    """reports/stackcheck-<UTC time>.xml and a copy as reports/latest.xml. Properties per testcase."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    counts = {k: 0 for k in ("tests", "failures", "errors", "skipped")}
    suite = ET.Element("testsuite", name="stackcheck", timestamp=stamp, hostname=platform.node())
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="inventory", value=str(inventory))
    for r in results:
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=r.classname, name=redact(r.name), time=f"{r.duration:.3f}")
        cprops = ET.SubElement(case, "properties")
        others = sorted((k, v) for k, v in r.properties.items() if k != "outcome")
        for key, value in [("outcome", r.outcome), *others]:
            ET.SubElement(cprops, "property", name=key, value=redact(str(value)))
        message = redact(r.message)
        if r.outcome in ("failed", "fix-failed"):
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=message).text = redact(r.details)
        elif r.outcome == "error":
            counts["errors"] += 1
            ET.SubElement(case, "error", message=message).text = redact(r.details)
        elif r.outcome in ("skipped", "not-applicable", "waived"):
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", type=r.outcome, message=message)
    for key, value in counts.items():
        suite.set(key, str(value))
    tree = ET.ElementTree(ET.Element("testsuites"))
    tree.getroot().append(suite)
    ET.indent(tree)
    path = directory / f"stackcheck-{stamp}-{os.getpid()}.xml"
    tree.write(path, encoding="utf-8", xml_declaration=True)
    shutil.copyfile(path, directory / "latest.xml")
    return path


def summary_lines(results: list[CaseResult], redact: Redactor) -> list[str]:
    """Per family: counts by outcome, then each failure/error with its host, message and remediation."""
    lines: list[str] = []
    families: dict[str, list[CaseResult]] = {}
    for r in results:
        families.setdefault(r.family, []).append(r)
    for family, cases in sorted(families.items()):
        tally: dict[str, int] = {}
        for c in cases:
            tally[c.outcome] = tally.get(c.outcome, 0) + 1
        lines.append(f"{family}: " + ", ".join(f"{n} {o}" for o, n in sorted(tally.items())))
        for c in cases:
            if c.outcome in ("failed", "fix-failed", "error"):
                ids = c.properties.get("requirements", "")
                lines.append(f"  {c.outcome.upper():10} {c.name} [{ids}] {redact(c.message)[:200]}")
                if c.properties.get("remediation") and c.outcome != "error":
                    lines.append(f"             remediation: {redact(c.properties['remediation'])[:200]}")
    return lines


def requirement_lines(checks: list[tuple[str, tuple[str, ...]]], order: list[str]) -> list[str]:
    """`--collect-only`: each requirement id (in catalog `order`) with the checks that cover it in this selection,
    a check's hosts folded into one entry (`test_x[dbnode1,dbnode2]`), from (nodeid, requirement ids) pairs."""
    by_id: dict[str, dict[str, list[str]]] = {}
    for nodeid, reqs in checks:
        name = nodeid.rpartition("::")[2]
        func, _, param = name.partition("[")
        for rid in reqs:
            by_id.setdefault(rid, {}).setdefault(func, []).extend([param.rstrip("]")] if param else [])
    if not by_id:
        return []
    width = max(map(len, by_id))
    lines = [f"requirements of the {len(checks)} collected checks ({len(by_id)} ids):"]
    rank = {rid: i for i, rid in enumerate(order)}
    for rid in sorted(by_id, key=lambda r: rank.get(r, len(rank))):
        entries = [f"{f}[{','.join(hosts)}]" if hosts else f for f, hosts in by_id[rid].items()]
        lines.append(f"  {rid:<{width}}  {' '.join(entries)}")
    return lines

