"""Collects every check's result (on the xdist controller too: the one place that sees them all), turns them into
per-requirement verdicts, writes the reports, prints the terminal summary and sets the exit code: 0 only when
every requirement in scope is passed, waived or not applicable (by an observed or declared fact)."""
from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from stackcheck import drift as dr
from stackcheck import hostkeys
from stackcheck import report as rep
from stackcheck import verdicts as v
from stackcheck.requirements import catalog


class Recorder:
    def __init__(self, state):
        self.state = state
        self.drift: dr.Comparison | None = None  # this run against the previous one (set at the session's end)
        self.gate: bool | None = None  # the gate's answer in the run's mode (--gate)

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
        # a shard answers only for its own checks: a requirement whose checks ran in other shards is not missing
        sharded = bool(session.config.getoption("stackcheck_shard", None))
        state.requirements = rep.requirement_results(state.results, catalog(), lab.in_scope,
                                                     _complete(session) and not sharded)
        directory = Path(session.config.getoption("stackcheck_reports"))
        self.drift, gate = drift_gate(session.config, state.requirements, directory, state.inventory_arg)
        self.gate = gate
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            # the gate is the requirements' verdicts, not pytest's count of failed tests (a waived check that
            # fails is waived; a check fixed by the run's final re-check passes)
            session.exitstatus = pytest.ExitCode.OK if gate else pytest.ExitCode.TESTS_FAILED
        info = {"exit_code": int(session.exitstatus), "gate": "pass" if gate else "fail", "drift": self.drift,
                "gate_mode": session.config.getoption("stackcheck_gate"), "waivers": lab.waivers,
                "inventory_path": lab.path, "complete": _complete(session)}
        state.report_path = rep.write_reports(state.results, state.requirements, directory, state.redact,
                                              state.inventory_arg, lab.expect["scope"], info, run_facts(state),
                                              _run_limits(state))

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
        if self.drift is not None:
            tr.section("stackcheck drift")
            for line in dr.summary_lines(self.drift):
                tr.write_line(line)
            if self.state.config.getoption("stackcheck_gate") == "new":
                tr.write_line("--gate new: the gate fails only on requirements worse than the baseline")
        if state.requirements:
            tr.section("stackcheck requirements")
            for line in rep.requirement_summary(state.requirements, state.redact, self.drift, self.gate):
                tr.write_line(line)
        host_key_lines = _host_key_lines(state)
        if host_key_lines:
            tr.section("stackcheck host keys")
            for line in host_key_lines:
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
            tr.write_line(f"reports: {state.report_path} and .json, .html (copies: latest.xml, latest.json, "
                          "latest.html)")


def run_facts(state) -> dict[str, str]:
    """What the report says of the run besides its results: its id (the one each fix's audit entry on a host
    names) and how hosts were identified (a run that did not verify a host key says so)."""
    lab = state.lab
    facts = {"run_id": state.run_id,
             "host_key_checking": hostkeys.summary({h.name: h.host_key_checking for h in lab.hosts() if not h.local})}
    if state.config.getoption("stackcheck_shard", None):  # stackcheck.merge joins the shards' reports
        facts["shard"] = state.config.getoption("stackcheck_shard")
    if lab.unverified_hosts():
        facts["host_key_warning"] = hostkeys.off_notice(lab.unverified_hosts())
    return facts


def _host_key_lines(state) -> list[str]:
    """The terminal's word on host identity: a run with a host key unverified says so, every time."""
    if not state.loaded:
        return []
    lines = [f"WARNING: {hostkeys.off_notice(state.lab.unverified_hosts())}"] if state.lab.unverified_hosts() else []
    return lines + state.connections.recorded_keys  # accept-new's records (an xdist worker's stay in the file)


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


def drift_gate(config: pytest.Config, requirements, directory: Path, inventory: str) -> tuple[dr.Comparison, bool]:
    """This run against its baseline (--baseline FILE, or the previous run of the inventory in the reports
    directory), and the gate's answer in the chosen mode (--gate strict, the default, or new)."""
    named = config.getoption("stackcheck_baseline")
    path = Path(named) if named else dr.previous_run(directory, inventory)
    baseline = dr.load_baseline(path) if path else None
    now = dr.iso_time(datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
    verdicts = {r.id: r.verdict for r in requirements}
    comparison = dr.compare(verdicts, baseline, now, str(path) if path else None)
    if config.getoption("stackcheck_gate") == "new":
        return comparison, dr.gate_new_passes(verdicts, comparison)
    return comparison, rep.gate_passes(requirements)
