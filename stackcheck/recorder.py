"""Collects every check's result (on the xdist controller too: the one place that sees them all), turns them into
per-requirement verdicts, writes the reports, prints the terminal summary and sets the exit code: 0 only when
every requirement in scope is passed, waived or not applicable (by an observed or declared fact)."""
from __future__ import annotations

from pathlib import Path

import pytest

from stackcheck import report as rep
from stackcheck import verdicts as v
from stackcheck.requirements import catalog


class Recorder:
    def __init__(self, state):
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.record(report)

    def record(self, report: pytest.TestReport, recheck_of: rep.CaseResult | None = None) -> None:
        """Keep one result per check and host; a final re-check of a fix run replaces the first result."""
        state = self.state
        props = {k[len("stackcheck_"):]: val for k, val in report.user_properties if k.startswith("stackcheck_")}
        if report.when == "teardown":
            if report.failed:
                r = state.result_of(report.nodeid)
                if r is not None and r.outcome in (v.PASSED, v.FIXED):
                    r.outcome, r.message = v.ERROR, "teardown: " + rep.short_message(report)
            return
        if not props:
            return
        module, _, name = report.nodeid.rpartition("::")
        result = rep.CaseResult(
            nodeid=report.nodeid, name=name, classname=module.replace("/", ".").removesuffix(".py"),
            outcome=props["outcome"], duration=report.duration, message=rep.short_message(report),
            details=str(report.longrepr or "") if report.failed else "", properties=props,
        )
        if recheck_of is not None:
            result.properties["first_outcome"] = recheck_of.outcome
            result.properties["first_message"] = recheck_of.message
            for key in ("fix_status", "fixer", "fix_risk", "fix_diff", "fix_log"):
                if key in recheck_of.properties and key not in result.properties:
                    result.properties[key] = recheck_of.properties[key]
            state.results = [r for r in state.results if r.nodeid != report.nodeid]
        state.results.append(result)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        state = self.state
        if hasattr(session.config, "workerinput") or not state.results or not state.loaded:
            return
        lab = state.lab
        state.requirements = rep.requirement_results(state.results, catalog(), lab.in_scope, _complete(session))
        state.report_path = rep.write_reports(state.results, state.requirements,
                                              Path(session.config.getoption("stackcheck_reports")), state.redact,
                                              state.inventory_arg, lab.expect["scope"], _run_limits(state))
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            # the gate is the requirements' verdicts, not pytest's count of failed tests (a waived check that
            # fails is waived; a check fixed by the run's final re-check passes)
            session.exitstatus = pytest.ExitCode.OK if rep.gate_passes(state.requirements) \
                else pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        state = self.state
        if not state.results:
            return
        tr = terminalreporter
        tr.section("stackcheck summary")
        for line in rep.summary_lines(state.results, state.redact):
            tr.write_line(line)
        rechecked = [r for r in state.results if "first_outcome" in r.properties]
        if rechecked:
            tr.section("stackcheck re-checks after the fixes")
            for r in rechecked:
                tr.write_line(f"{r.name}: {r.properties['first_outcome']} before the run's fixes, {r.outcome} now"
                              + (f": {state.redact(r.message)[:200]}" if r.message else ""))
        if state.sweep_log:
            tr.section("stackcheck: fix runs interrupted earlier")
            for line in state.sweep_log:
                tr.write_line(state.redact(line))
        fixes = [r for r in state.results if r.properties.get("fix_log")]
        if fixes:
            tr.section("stackcheck fixes")
            for r in fixes:
                tr.write_line(f"{r.name}: {r.properties['fix_status']}")
                for line in state.redact(r.properties["fix_log"]).splitlines():
                    tr.write_line(f"  {line}")
        if state.requirements:
            tr.section("stackcheck requirements")
            for line in rep.requirement_summary(state.requirements, state.redact):
                tr.write_line(line)
        limits = _run_limits(state)
        if limits["unreachable"] or limits["not_run_past_deadline"]:
            tr.section("stackcheck: what this run could not reach")
            for service, reason in limits["unreachable"].items():
                tr.write_line(f"{service}: {reason} (not tried again in this run)")
            if limits["not_run_past_deadline"]:
                tr.write_line(f"{limits['not_run_past_deadline']} check(s) not run: the run's deadline of "
                              f"{limits['deadline_s']:g} s was reached")
        if state.report_path:
            tr.write_line(f"reports: {state.report_path} and .json (copies: latest.xml, latest.json)")


def _run_limits(state) -> dict:
    """What the run's limits did: its deadline (and whether it was reached), each host service that failed and
    was not tried again (RunBudget)."""
    unreachable = state.connections.budget.failed() if state.has_connections else {}
    not_run = sum(r.message.startswith(state.deadline.message.split(" (")[0]) for r in state.results)
    return {"deadline_s": state.deadline.seconds, "not_run_past_deadline": not_run,
            "unreachable": {service: state.redact(reason) for service, reason in sorted(unreachable.items())}}


def _complete(session: pytest.Session) -> bool:
    """The whole suite ran: no -k, no -m, no paths or node ids of the user's own (so a requirement nobody
    answered is an error, not a deselection)."""
    opt = session.config.option
    return (not getattr(opt, "keyword", "") and not getattr(opt, "markexpr", "")
            and session.config.args_source == pytest.Config.ArgsSource.TESTPATHS)
