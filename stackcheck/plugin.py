"""pytest hooks only: options, host parametrisation by role, scope and waivers at collection, the outcome of each
phase, and the --fix run loop. The work is done elsewhere:

    run.py        the run's state (inventory, connections, redactor, results)
    fixtures.py   what checks ask for (lab, target, transport, host, db, cloud, s3, evidence)
    verdicts.py   the outcome rules (the only place that decides passed / failed / error / not applicable)
    outcomes.py   a phase's report -> outcome word and the auditor's properties
    fixflow.py    --fix: the paired fixers of a finding, and the final re-check of a fix run
    recorder.py   every result, the per-requirement verdicts, the reports, the terminal summary, the exit code
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import signal
from pathlib import Path

import pytest

from stackcheck import drift, fixflow, outcomes, shard, traces
from stackcheck import verdicts as v
from stackcheck.coverage import check_names
from stackcheck.inventory import REPO
from stackcheck.recorder import Recorder
from stackcheck.report import requirement_lines
from stackcheck.requirements import catalog
from stackcheck.run import STATE, State, state_of

pytest_plugins = ["stackcheck.fixtures"]


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("stackcheck", "stackcheck: conformance checks of the lab")
    g.addoption("--host", dest="stackcheck_host", default=os.environ.get("STACKCHECK_HOST", "labbox"),
                metavar="INVENTORY",
                help="inventory name (inventories/NAME.yaml) or path to check (default: labbox, the lab in a box)")
    g.addoption("--fix", action="store_true",
                help="repair failed checks with their paired fixers (risk classes config and restart), one host at "
                     "a time: diff, backup, validate, apply, re-check, roll back if the re-check fails; then every "
                     "check that failed is checked again and the run ends with the final state")
    g.addoption("--dry-run", action="store_true",
                help="with or without --fix: print each fix's plan and diff, change nothing")
    g.addoption("--read-only", action="store_true",
                help="write nothing anywhere (also stackcheck.read_only: true): no probe schema, no EC2 credential, no "
                     "sweep, no fix (refuses --fix); checks that only a write can prove end in error, not checked")
    g.addoption("--fix-data", action="store_true",
                help="also run fixers of risk class 'data' (they touch stored data; implies --fix)")
    g.addoption("--fix-access", action="store_true",
                help="also run fixers of risk class 'access' (they create or widen access: accounts, grants, firewall "
                     "openings to new sources; implies --fix)")
    g.addoption("--fix-rejoin", action="store_true",
                help="also rejoin Galera nodes that ran a component of their own or hold other data (split brain, "
                     "divergence): each is stopped, its datadir set aside (kept, never deleted) and it rejoins by a "
                     "full state transfer from the majority; the rows only the set-aside copy holds are listed "
                     "(implies --fix)")
    g.addoption("--fix-recover", action="store_true",
                help="also recover a Galera cluster that lost quorum: bootstrap the node with the most recent "
                     "committed write (refused while any node's state is unknown), then start the others one at a "
                     "time (implies --fix)")
    g.addoption("--connect-timeout", type=float, default=None, metavar="S",
                help="seconds to reach a host before its checks become errors (default: inventory, 10)")
    g.addoption("--probe-timeout", type=float, default=None, metavar="S",
                help="seconds one remote command may take (default: inventory, 30)")
    g.addoption("--deadline", type=float, default=None, metavar="S",
                help="seconds the whole run may take; checks not started by then end as errors, the report is "
                     "written, the gate fails (default: inventory stackcheck.deadline, 1800)")
    g.addoption("--reports", dest="stackcheck_reports", default=str(REPO / "reports"), metavar="DIR",
                help="where the reports go (default: reports/; JUnit, JSON and HTML, also as latest.xml / latest.json "
                     "/ latest.html)")
    g.addoption("--baseline", dest="stackcheck_baseline", default=None, metavar="FILE",
                help="compare with this JSON report (default: the previous run of the same inventory in the reports "
                     "directory): new failures, repaired, still failing since DATE")
    g.addoption("--shard", dest="stackcheck_shard", default=None, metavar="K/N",
                help="run only the checks of the K-th of N host shards (hosts dealt out by a hash of their name; "
                     "checks bound to no single host in shard 1), for N parallel CI jobs; join their reports with "
                     "`python -m stackcheck.merge OUT.xml IN.xml...`")
    g.addoption("--gate", dest="stackcheck_gate", choices=drift.GATE_MODES, default="strict",
                help="strict (default): fail unless every requirement in scope passed (or is waived or not "
                     "applicable); new: fail only on requirements worse than the baseline (known failures allowed)")


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "requirement(*ids): the requirement ids of shared/REQUIREMENTS.md this check covers",
        "role(*roles): the inventory roles whose hosts this check runs on",
        f"severity(level): one of {', '.join(outcomes.SEVERITIES)} (default medium)",
        "covers(*ids): selftest: the requirement ids a fault test proves",
        "lifecycle: selftest: stops and starts the whole lab in a box (runs last)",
    ):
        config.addinivalue_line("markers", line)
    state = State(config)
    config.stash[STATE] = state
    config.pluginmanager.register(Recorder(state), "stackcheck-recorder")
    if state.fixing and getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("--fix repairs one host at a time: run it without -n")
    if state.fixing and not config.option.collectonly:
        # a CI timeout sends SIGTERM: end like Ctrl-C, so the fix under way is rolled back and the report written
        signal.signal(signal.SIGTERM, _terminate)
    # fixers are always registered: the report names a check's fixer (and its risk) on every run, not only --fix
    for mod in pkgutil.iter_modules([str(REPO / "fixes")]):
        importlib.import_module(f"fixes.{mod.name}")
    if config.getoption("stackcheck_baseline"):
        try:  # a baseline that cannot be read stops the run before any host is contacted, like a bad inventory
            drift.load_baseline(Path(config.getoption("stackcheck_baseline")))
        except drift.BaselineError as exc:
            raise pytest.UsageError(str(exc)) from None
    explicit = any(a == "--host" or a.startswith("--host=") for a in config.invocation_params.args)
    if explicit or _runs_checks(config):
        state.lab  # noqa: B018 - a bad inventory stops the run here, with exit code 4 and one line
    traces.configure(config)  # --read-only (or the inventory's read_only) refuses every fix option: exit code 4


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist: a worker's results belong to the controller's run (one run id in the report)."""
    node.workerinput["stackcheck_run_id"] = state_of(node.config).run_id


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def _runs_checks(config: pytest.Config) -> bool:
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path.is_relative_to(REPO) and any(part in outcomes.CHECK_DIRS for part in path.relative_to(REPO).parts):
            return True
    return False


# --- parametrisation by role -----------------------------------------------------------------------------------
def _absent_role_fact(lab, roles) -> str | None:
    """A role without hosts is only acceptable when the inventory's platform description says so."""
    if "lb" in roles and lab.get("lb.kind") != "haproxy":
        return f"the load balancer is {lab.get('lb.kind')} (stackcheck.lb.kind), not an HAProxy host"
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" not in metafunc.fixturenames:
        return
    roles = outcomes.roles_of(metafunc.definition)
    if not roles:
        raise pytest.UsageError(f"{metafunc.definition.nodeid} checks a host but has no @pytest.mark.role(...)")
    lab = state_of(metafunc.config).lab
    hosts = lab.hosts(*roles)
    if hosts:
        metafunc.parametrize("target", hosts, ids=[h.name for h in hosts])
    else:
        metafunc.parametrize("target", [None], ids=[f"no-{roles[0]}"])


def _role_problem(lab, roles) -> Exception | None:
    if lab.hosts(*roles):
        return None
    fact = _absent_role_fact(lab, roles)
    if fact:
        return v.NotApplicable(fact)
    return v.CannotCheck(f"cannot check: no host of the inventory has role {' or '.join(roles)}: add the group "
                         f"({roles[0]}: hosts: ...) to all.children, or narrow stackcheck.scope")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = state_of(config)
    if not state.loaded:
        return
    lab = state.lab
    known = catalog()
    for waiver in lab.waivers:
        if waiver.check and waiver.check not in check_names(waiver.id):
            raise pytest.UsageError(f"{lab.path}: stackcheck.waivers: {waiver.id}: {waiver.check} is not a check of "
                                    f"{waiver.id} (its checks: {', '.join(sorted(check_names(waiver.id)))})")
    selected = []
    for item in items:
        reqs = outcomes.requirements_of(item)
        unknown = [r for r in reqs if r not in known]
        if unknown:
            raise pytest.UsageError(f"{item.nodeid}: unknown requirement id {unknown[0]} (not in REQUIREMENTS.md)")
        if reqs and not any(lab.in_scope(r) for r in reqs):
            continue  # out of the inventory's scope: not run, not reported
        selected.append(item)
        target = outcomes.target_of(item)
        for waiver in lab.waivers:
            if waiver.applies(reqs, getattr(target, "name", None), item.name):
                if waiver.active():
                    item.stash[outcomes.WAIVER] = waiver  # it still runs: the report keeps its real outcome
                else:
                    item.user_properties.append(("waiver", f"expired {waiver.expires}: {waiver.reason}"))
    if config.getoption("stackcheck_shard"):
        selected = _this_shard(config, lab, selected)
    if len(selected) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in selected])
        items[:] = selected


def _this_shard(config: pytest.Config, lab, items: list[pytest.Item]) -> list[pytest.Item]:
    try:
        k, n = shard.parse(config.getoption("stackcheck_shard"))
    except shard.ShardError as exc:
        raise pytest.UsageError(str(exc)) from None
    kept, _ = shard.split(items, k, n, lambda item: getattr(outcomes.target_of(item), "name", None),
                          [h.name for h in lab.hosts()])
    return kept


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> list[str]:
    """`pytest --collect-only`: what would run, by requirement id."""
    if not config.option.collectonly:
        return []
    checks = [(item.nodeid, outcomes.requirements_of(item)) for item in items if outcomes.requirements_of(item)]
    return requirement_lines(checks, list(catalog()))


# --- running a check -------------------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    state = state_of(item.config)
    roles = outcomes.roles_of(item)
    if state.loaded and outcomes.is_check(item) and state.deadline.reached():
        raise v.CannotCheck(state.deadline.message)
    if roles and state.loaded and outcomes.is_check(item):
        problem = _role_problem(state.lab, roles)
        if isinstance(problem, v.NotApplicable):
            pytest.skip(str(problem))
        if problem is not None:
            raise problem
    try:
        return (yield)
    except v.NotApplicable as exc:
        pytest.skip(str(exc))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    try:
        return (yield)
    except v.NotApplicable as exc:
        pytest.skip(str(exc))
    except (AssertionError, pytest.fail.Exception):  # a finding (an error, a check that could not read, is not repaired)
        if not state_of(item.config).fixing or not _fix_within_deadline(item):
            raise
        return None


def _fix_within_deadline(item: pytest.Item) -> bool:
    """No fix starts after the run's deadline (the finding stays a finding); one that started runs to its end
    (or its rollback) even past it: stopping it between two commands would leave the host half-changed. Each
    of its commands is still bounded by its timeout."""
    state = state_of(item.config)
    if state.deadline.reached():
        return False
    budget = state.connections.budget
    budget.enforce_deadline = False
    try:
        return fixflow.try_fix(item)
    finally:
        budget.enforce_deadline = True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    state = state_of(item.config)
    if call.excinfo is not None and v.is_expected_failure(call.excinfo.value) and not report.skipped:
        # the reason is the whole story, in the terminal, the evidence and the report: no traceback, no class name
        report.longrepr = str(call.excinfo.value)
    if outcomes.is_check(item) and (report.when == "call" or (report.when == "setup" and not report.passed)):
        fix = item.stash.get(outcomes.FIX, None)
        real = outcomes.outcome(report, call, fix)
        props = outcomes.properties(item, report, call, fix, real)
        report.user_properties.extend((f"stackcheck_{k}", val) for k, val in props.items())
        if item.stash.get(outcomes.WAIVER, None) is not None and not report.skipped:
            # the gate counts it as waived; the report keeps what it really found (real_outcome, evidence)
            report.outcome = "skipped"
            report.longrepr = (str(item.path), 0, f"{v.WAIVED_PREFIX}{props['waiver']}; the check itself: {real}"
                               + (f": {props['evidence']}" if props["evidence"] else ""))
    redact = state.redact
    if report.longrepr is not None and redact.secrets and not isinstance(report.longrepr, tuple):
        text = str(report.longrepr)
        if redact(text) != text:
            report.longrepr = redact(text)
    report.sections = [(title, redact(content)) for title, content in report.sections]
    return report


def pytest_report_teststatus(report, config):
    """The terminal says what the JUnit file says (an error is ERROR, not FAILED)."""
    props = dict(getattr(report, "user_properties", ()))
    word = props.get("stackcheck_outcome")
    if word in outcomes.TERMINAL and report.when in ("setup", "call"):
        return outcomes.TERMINAL[word]
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session):
    """A fix run ends with what is true: after its fixes, every check that did not pass is checked again."""
    if not state_of(session.config).fixing or session.config.option.collectonly:
        return None
    if session.testsfailed and not session.config.option.continue_on_collection_errors:
        raise session.Interrupted(f"{session.testsfailed} error(s) during collection")
    return fixflow.run_with_final_recheck(session)
