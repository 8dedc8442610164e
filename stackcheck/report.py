"""Honest reports: per check an outcome word, its requirement ids, severity, role, host, evidence, remediation
and (for fixes) the diff; JUnit XML for auditors; secrets redacted from everything written or shown.

Outcomes: passed, failed, fixed, fix-failed, error (unreachable host, timeout, broken probe), not-applicable,
waived, skipped. Nothing that could not be checked is ever reported as passed.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from stackcheck import verdicts as v

REDACTED = "[REDACTED]"
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


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

    @property
    def requirement_ids(self) -> list[str]:
        return self.properties.get("requirements", "").split()


@dataclass
class RequirementResult:
    """One requirement's verdict over all its checks and hosts: what the gate is made of."""

    id: str
    text: str
    severity: str
    verdict: str
    reason: str = ""  # the message that decided it (the first failure or error, or why N/A / waived)
    cases: list[str] = field(default_factory=list)  # "check[host]: outcome"


def requirement_results(results: list[CaseResult], catalog: dict, in_scope, complete: bool) -> list[RequirementResult]:
    """The verdict of every requirement in scope. `complete`: the whole suite ran (no -k, -m or paths), so a
    requirement in scope that no check answered is an error; otherwise only the selected requirements count."""
    out = []
    for rid, req in catalog.items():
        if not in_scope(rid):
            continue
        cases = [r for r in results if rid in r.requirement_ids]
        if not cases and not complete:
            continue
        verdict = v.requirement_verdict([c.outcome for c in cases])
        deciding = _deciding(cases, verdict)
        reason = (f"{deciding.name}: {deciding.message}" if deciding and deciding.message else
                  "" if cases else "no check of this requirement ran: is its family's folder missing from the run?")
        severity = min((c.properties.get("severity", "medium") for c in cases), key=lambda s: SEVERITY_RANK.get(s, 9),
                       default="medium")
        out.append(RequirementResult(rid, req.text, severity, verdict, reason,
                                     [f"{c.name}: {_case_word(c)}" for c in cases]))
    return out


def _case_word(case: CaseResult) -> str:
    real = case.properties.get("real_outcome")
    return f"{case.outcome}, {real}" if real and case.outcome == v.WAIVED else case.outcome


def _deciding(cases: list[CaseResult], verdict: str) -> CaseResult | None:
    wanted = {v.FAILED: (v.FAILED, v.FIX_FAILED), v.ERROR: (v.ERROR, v.SKIPPED), v.WAIVED: (v.WAIVED,),
              v.NOT_APPLICABLE: (v.NOT_APPLICABLE,)}.get(verdict, ())
    return next((c for c in cases if c.outcome in wanted), None)


def gate_passes(requirements: list[RequirementResult]) -> bool:
    return all(r.verdict in v.GATE_OK for r in requirements)


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
        # an assert's message is followed by pytest's explanation of the expression: the auditor needs the former
        message = crash.message.strip()
        message = message.split("\nassert ")[0].strip() if not message.startswith("assert ") else message
        return re.sub(r"^(AssertionError|stackcheck\.verdicts\.Finding): ", "", message)  # a finding says itself
    text = str(report.longrepr or "").strip()
    return text.splitlines()[-1] if text else ""


def write_reports(results: list[CaseResult], requirements: list[RequirementResult], directory: Path,
                  redact: Redactor, inventory: str, scope: list[str] | None, info: dict | None = None,
                  run: dict[str, str] | None = None, limits: dict | None = None) -> Path:
    """reports/stackcheck-<UTC time>-<pid>.xml (JUnit, a testcase per check and host), .json (the machine-readable
    results, stackcheck/results_json.py) and .html (the auditor's page, stackcheck/html_report.py), with copies
    latest.xml / latest.json / latest.html. `info`: what the recorder knows beyond the results (exit code, gate
    mode, waivers, drift, inventory path); `run`: more facts of the run (its id, its host key checking), in the
    JSON's run and the JUnit's properties; `limits`: what the run's deadline and failure budget did (JSON's run)."""
    from stackcheck import html_report, results_json

    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = write_junit(results, directory / f"stackcheck-{stamp}-{os.getpid()}.xml", redact, inventory, stamp, run)
    doc = results_json.document(results, requirements, redact, inventory, scope, stamp, path.stem, info)
    doc["run"].update(run or {})
    doc["run"].update({k: redact(val) if isinstance(val, str) else val for k, val in (limits or {}).items()})
    path.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    shutil.copyfile(path.with_suffix(".json"), directory / "latest.json")
    path.with_suffix(".html").write_text(html_report.render(doc), encoding="utf-8")
    shutil.copyfile(path.with_suffix(".html"), directory / "latest.html")
    return path


def write_junit(results: list[CaseResult], path: Path, redact: Redactor, inventory: str, stamp: str,
                run: dict[str, str] | None = None) -> Path:
    """The JUnit file at `path` and a copy as latest.xml beside it. Properties per testcase."""
    counts = {k: 0 for k in ("tests", "failures", "errors", "skipped")}
    suite = ET.Element("testsuite", name="stackcheck", timestamp=stamp, hostname=platform.node())
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="inventory", value=str(inventory))
    for key, value in (run or {}).items():
        ET.SubElement(props, "property", name=key, value=str(value))
    for r in results:
        counts["tests"] += 1
        case = ET.SubElement(suite, "testcase", classname=r.classname, name=redact(r.name), time=f"{r.duration:.3f}")
        cprops = ET.SubElement(case, "properties")
        others = sorted((k, v) for k, v in r.properties.items() if k != "outcome")
        for key, value in [("outcome", r.outcome), *others]:
            ET.SubElement(cprops, "property", name=key, value=redact(str(value)))
        message = redact(r.message)
        if r.outcome in (v.FAILED, v.FIX_FAILED):
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=message).text = redact(r.details)
        elif r.outcome == v.ERROR:
            counts["errors"] += 1
            ET.SubElement(case, "error", message=message).text = redact(r.details)
        elif r.outcome in (v.SKIPPED, v.NOT_APPLICABLE, v.WAIVED):
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", type=r.outcome, message=message)
    for key, value in counts.items():
        suite.set(key, str(value))
    tree = ET.ElementTree(ET.Element("testsuites"))
    tree.getroot().append(suite)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    shutil.copyfile(path, path.parent / "latest.xml")
    return path


def requirement_summary(requirements: list[RequirementResult], redact: Redactor, drift=None,
                        gate: bool | None = None) -> list[str]:
    """The gate's answer: counts of requirement verdicts, then each requirement that keeps the gate closed (with
    its drift since the baseline, when `drift`, a drift.Comparison, has one). `gate`: the answer of the run's gate
    mode (default: the strict gate)."""
    tally: dict[str, int] = {}
    for r in requirements:
        tally[r.verdict] = tally.get(r.verdict, 0) + 1
    word = "PASS" if (gate_passes(requirements) if gate is None else gate) else "FAIL"
    lines = [f"gate: {word}: {len(requirements)} requirements in scope: "
             + ", ".join(f"{n} {o}" for o, n in sorted(tally.items()))]
    for r in requirements:
        if r.verdict not in v.GATE_OK:
            since = drift.by_id.get(r.id) if drift is not None else None
            mark = f" [{since.describe()}]" if since is not None else ""
            lines.append(f"  {r.verdict.upper():10} {r.id} ({r.severity}){mark} {redact(r.reason)[:220]}")
    return lines


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
            if c.outcome in (v.FAILED, v.FIX_FAILED, v.ERROR):
                ids = c.properties.get("requirements", "")
                lines.append(f"  {c.outcome.upper():10} {c.name} [{ids}] {redact(c.message)[:200]}")
                if c.properties.get("remediation") and c.outcome != v.ERROR:
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

