"""pytest hooks only: options, host parametrisation by role, the --fix flow, report properties.

The work is done elsewhere: inventory.py (what the lab is), connections.py (how to reach it), fixing.py (how to
repair safely), report.py (what to tell the auditor)."""
from __future__ import annotations

import importlib
import os
import pkgutil
from pathlib import Path

import pytest

from stackcheck import report as rep
from stackcheck.connections import Connections
from stackcheck.verdicts import NotApplicable
from stackcheck.fixing import Engine, FixContext, fixers_for
from stackcheck.guards import guard_for
from stackcheck.inventory import REPO, InventoryError, load
from stackcheck.probes.sql import Database
from stackcheck.requirements import catalog
from stackcheck.transport import HostUnreachable, ProbeTimeout

CHECK_DIRS = ("tests_host", "tests_openstack", "tests_db", "tests_storage")
SEVERITIES = ("critical", "high", "medium", "low")
STATE = pytest.StashKey["State"]()
FIX = pytest.StashKey[dict]()
EVIDENCE = pytest.StashKey[dict]()


class State:
    """Per-run state: the inventory (loaded once), connections, results for the report."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.inventory_arg = config.getoption("stackcheck_host")
        self._lab = None
        self._connections = None
        self.redact = rep.Redactor()
        self.results: list[rep.CaseResult] = []
        self.report_path: Path | None = None

    @property
    def lab(self):
        if self._lab is None:
            try:
                self._lab = load(self.inventory_arg)
                self.redact = rep.Redactor(self._lab.secrets())
            except InventoryError as exc:
                raise pytest.UsageError(str(exc)) from None
        return self._lab

    @property
    def loaded(self) -> bool:
        return self._lab is not None

    @property
    def connections(self) -> Connections:
        if self._connections is None:
            opt = self.config.getoption
            self._connections = Connections(self.lab, opt("connect_timeout"), opt("probe_timeout"))
        return self._connections


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("stackcheck", "stackcheck: conformance checks of the lab")
    g.addoption("--host", dest="stackcheck_host", default=os.environ.get("STACKCHECK_HOST", "labbox"),
                metavar="INVENTORY",
                help="inventory name (inventories/NAME.yaml) or path to check (default: labbox, the lab in a box)")
    g.addoption("--fix", action="store_true",
                help="repair failed checks with their paired fixers (risk classes config and restart), one host at "
                     "a time: diff, backup, validate, apply, re-check, roll back if the re-check fails")
    g.addoption("--dry-run", action="store_true",
                help="with or without --fix: print each fix's plan and diff, change nothing")
    g.addoption("--fix-data", action="store_true",
                help="also run fixers of risk class 'data' (they touch stored data; implies --fix)")
    g.addoption("--fix-access", action="store_true",
                help="also run fixers of risk class 'access' (they create or widen access: accounts, grants, firewall "
                     "openings to new sources; implies --fix)")
    g.addoption("--connect-timeout", type=float, default=None, metavar="S",
                help="seconds to reach a host before its checks become errors (default: inventory, 10)")
    g.addoption("--probe-timeout", type=float, default=None, metavar="S",
                help="seconds one remote command may take (default: inventory, 30)")
    g.addoption("--reports", dest="stackcheck_reports", default=str(REPO / "reports"), metavar="DIR",
                help="where the JUnit report goes (default: reports/; also reports/latest.xml)")


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "requirement(*ids): the requirement ids of shared/REQUIREMENTS.md this check covers",
        "role(*roles): the inventory roles whose hosts this check runs on",
        f"severity(level): one of {', '.join(SEVERITIES)} (default medium)",
        "covers(*ids): selftest: the requirement ids a fault test proves",
        "lifecycle: selftest: stops and starts the whole lab in a box (runs last)",
    ):
        config.addinivalue_line("markers", line)
    state = State(config)
    config.stash[STATE] = state
    config.pluginmanager.register(Recorder(state), "stackcheck-recorder")
    fixing = any(config.getoption(o) for o in ("fix", "fix_data", "fix_access", "dry_run"))
    if fixing and getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("--fix repairs one host at a time: run it without -n")
    if fixing:
        for mod in pkgutil.iter_modules([str(REPO / "fixes")]):
            importlib.import_module(f"fixes.{mod.name}")
    explicit = any(a == "--host" or a.startswith("--host=") for a in config.invocation_params.args)
    if explicit or _runs_checks(config):
        state.lab  # noqa: B018 - a bad inventory stops the run here, with exit code 4 and one line


def _runs_checks(config: pytest.Config) -> bool:
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if any(part in CHECK_DIRS for part in path.relative_to(REPO).parts) if path.is_relative_to(REPO) else False:
            return True
    return False


# --- parametrisation by role -----------------------------------------------------------------------------------
def _roles(node) -> tuple[str, ...]:
    return tuple(r for m in node.iter_markers("role") for r in m.args)


def _requirements(node) -> tuple[str, ...]:
    return tuple(r for m in node.iter_markers("requirement") for r in m.args)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" not in metafunc.fixturenames:
        return
    roles = _roles(metafunc.definition)
    if not roles:
        raise pytest.UsageError(f"{metafunc.definition.nodeid} checks a host but has no @pytest.mark.role(...)")
    hosts = metafunc.config.stash[STATE].lab.hosts(*roles)
    if hosts:
        metafunc.parametrize("target", hosts, ids=[h.name for h in hosts])
    else:
        reason = f"{rep.NOT_APPLICABLE}: no host has role {' or '.join(roles)}"
        metafunc.parametrize("target", [pytest.param(None, marks=pytest.mark.skip(reason=reason))],
                             ids=[f"no-{roles[0]}"])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[STATE]
    if not state.loaded:
        return
    lab = state.lab
    known = catalog()
    for item in items:
        reqs = _requirements(item)
        unknown = [r for r in reqs if r not in known]
        if unknown:
            raise pytest.UsageError(f"{item.nodeid}: unknown requirement id {unknown[0]} (not in REQUIREMENTS.md)")
        roles = _roles(item)
        target = getattr(item, "callspec", None) and item.callspec.params.get("target")
        if roles and "target" not in getattr(item, "fixturenames", ()) and not lab.hosts(*roles):
            item.add_marker(pytest.mark.skip(reason=f"{rep.NOT_APPLICABLE}: no host has role {' or '.join(roles)}"))
        for waiver in lab.waivers:
            if waiver.applies(reqs, getattr(target, "name", None)):
                if waiver.active():
                    until = f" (until {waiver.expires})" if waiver.expires else ""
                    item.add_marker(pytest.mark.skip(reason=f"{rep.WAIVED}: {waiver.id}: {waiver.reason}{until}"))
                else:
                    item.user_properties.append(("waiver", f"expired {waiver.expires}: {waiver.reason}"))


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> list[str]:
    """`pytest --collect-only`: what would run, by requirement id."""
    if not config.option.collectonly:
        return []
    checks = [(item.nodeid, _requirements(item)) for item in items if _requirements(item)]
    return rep.requirement_lines(checks, list(catalog()))


# --- fixtures --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def lab(request):
    """The inventory: hosts by role and the expectations (lab.get("db.cluster_name"))."""
    return request.config.stash[STATE].lab


@pytest.fixture(scope="session")
def connections(request):
    state = request.config.stash[STATE]
    # connect to every host this run (or this xdist worker) will check, all at once: a dead host then costs
    # one connect timeout in total, not one per host in turn
    targets = {item.callspec.params["target"].name: item.callspec.params["target"]
               for item in request.session.items
               if getattr(item, "callspec", None) and item.callspec.params.get("target") is not None}
    state.connections.warm(list(targets.values()))
    yield state.connections
    state.connections.close()


@pytest.fixture
def target():
    """The inventory host a check runs on; the plugin parametrises it by the check's role marker."""
    raise pytest.UsageError("`target` is parametrised from @pytest.mark.role; this check has none")


@pytest.fixture
def transport(connections, target):
    t = connections.transport(target)
    t.open()  # connect now, so an unreachable host is an error of the setup, not a failure
    return t


@pytest.fixture
def host(connections, target, transport):
    """testinfra's `host` for the target, over the run's one connection to it."""
    return connections.host(target)


@pytest.fixture
def db(connections, target, lab):
    """SQL on the target DB node as the inventory's DB user (reconnects after restarts)."""
    return Database(lambda: connections.sql(target), name=target.name)


@pytest.fixture(scope="session")
def cloud(connections):
    """openstacksdk Connection of the inventory's cloud; not applicable when the inventory names none."""
    try:
        return connections.cloud()
    except NotApplicable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def s3(request, connections, lab):
    """boto3 access to the cloud's S3 API (stackcheck/s3.py): EC2 credentials from the inventory, or created for
    the checking user and deleted at the end; not applicable when neither is possible."""
    from stackcheck import s3 as s3mod

    try:
        access = s3mod.open_s3(lab, connections.cloud)
    except NotApplicable as exc:
        pytest.skip(str(exc))
    state = request.config.stash[STATE]  # credentials made here are secrets of the run too
    state.redact = rep.Redactor([*state.redact.secrets, access.access, access.secret])
    yield access
    s3mod.close_s3(access, connections.cloud)


@pytest.fixture
def evidence(request):
    """A dict a check fills with what it observed; it goes into the report even when the check passes."""
    return request.node.stash.setdefault(EVIDENCE, {})


# --- --fix -----------------------------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    try:
        return (yield)
    except NotApplicable as exc:
        pytest.skip(str(exc))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    try:
        return (yield)
    except NotApplicable as exc:
        pytest.skip(str(exc))
    except AssertionError:
        config = item.config
        if not any(config.getoption(o) for o in ("fix", "fix_data", "fix_access", "dry_run")):
            raise
        if _try_fix(item):
            return None
        raise


def _try_fix(item: pytest.Item) -> bool:
    config = item.config
    state = config.stash[STATE]
    target = item.funcargs.get("target")
    roles = target.roles if target is not None else _roles(item)
    candidates = fixers_for(_requirements(item), item.name, roles)
    if not candidates:
        return False
    engine = Engine(dry_run=config.getoption("dry_run"), allow_data=config.getoption("fix_data"), echo=lambda s: None,
                    allow_access=config.getoption("fix_access"))
    transport = state.connections.transport(target) if target is not None else None
    for fx in candidates:
        ctx = FixContext(transport, target, state.lab, item.funcargs.get("host"), extra=dict(item.funcargs))
        try:
            outcome = engine.fix(fx, ctx, recheck=item.runtest, guard=guard_for(state, target),
                                 where=target.name if target is not None else "cloud")
        except (HostUnreachable, ProbeTimeout):
            raise
        except Exception as exc:  # noqa: BLE001 - a fixer that breaks while planning changed nothing
            item.stash[FIX] = {"status": "fix-failed", "fixer": fx.name, "risk": fx.risk,
                               "log": f"fixer failed while planning: {exc}", "diff": ""}
            return False
        if outcome.status == "noop":
            continue
        item.stash[FIX] = {"status": outcome.status, "fixer": outcome.fixer, "risk": outcome.risk,
                           "log": outcome.summary(), "diff": outcome.diff}
        return outcome.status == "fixed"
    return False


# --- reporting -------------------------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    state = item.config.stash[STATE]
    redact = state.redact
    is_check = bool(_requirements(item) or _roles(item)) or any(part in CHECK_DIRS for part in item.path.parts)
    if is_check and (report.when == "call" or (report.when == "setup" and not report.passed)):
        report.user_properties.extend(_properties(item, report, call, state))
    if call.excinfo is not None and call.excinfo.errisinstance((HostUnreachable, ProbeTimeout)):
        report.longrepr = str(call.excinfo.value)  # the reason is the whole story; no traceback for an auditor
    if report.longrepr is not None and redact.secrets:
        text = str(report.longrepr)
        if redact(text) != text:
            report.longrepr = redact(text)
    report.sections = [(title, redact(content)) for title, content in report.sections]
    return report


def _properties(item, report, call, state) -> list[tuple[str, str]]:
    reqs = _requirements(item)
    target = getattr(item, "callspec", None) and item.callspec.params.get("target")
    fix = item.stash.get(FIX, None)
    severity = next((m.args[0] for m in item.iter_markers("severity")), "medium")
    outcome = rep.outcome_of(report, fix and fix["status"])
    if call.excinfo is not None and call.excinfo.errisinstance((HostUnreachable, ProbeTimeout)):
        outcome = "error"
    elif report.when == "call" and report.failed and call.excinfo is not None \
            and not call.excinfo.errisinstance(AssertionError) and not fix:
        outcome = "error"  # the probe broke: we do not know the answer, so it is not a finding
    props = {
        "requirements": " ".join(reqs),
        "severity": severity,
        "roles": " ".join(_roles(item)),
        "host": getattr(target, "name", "") or "",
        "outcome": outcome,
        "evidence": _evidence(item, report),
        "remediation": _remediation(item, reqs, target),
    }
    if fix:
        props.update({"fix_status": fix["status"], "fixer": fix["fixer"], "fix_risk": fix["risk"],
                      "fix_diff": fix["diff"], "fix_log": fix["log"]})
    return [(f"stackcheck_{k}", v) for k, v in props.items()]


def _evidence(item, report) -> str:
    seen = item.stash.get(EVIDENCE, {})
    parts = [f"{k}={v}" for k, v in seen.items()]
    if report.failed or report.skipped:
        parts.append(rep.short_message(report))
    return "; ".join(p for p in parts if p)


def _remediation(item, reqs, target) -> str:
    roles = target.roles if target is not None else _roles(item)
    paired = fixers_for(reqs, item.name, roles)
    if paired:
        return "; ".join(f"{f.description} (pytest --fix, risk {f.risk})" for f in paired)
    texts = [catalog()[r].remediation for r in reqs if r in catalog() and catalog()[r].remediation]
    return " ".join(texts) or ("manual: see " + ", ".join(reqs) if reqs else "")


class Recorder:
    """Collects every report (on the xdist controller too: the one place that sees them all, so the JUnit is
    complete), writes the JUnit file and the terminal summary."""

    def __init__(self, state: State):
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.state
        props = {k[len("stackcheck_"):]: v for k, v in report.user_properties if k.startswith("stackcheck_")}
        if report.when == "teardown":
            if report.failed:
                for r in state.results:
                    if r.nodeid == report.nodeid and r.outcome in ("passed", "fixed"):
                        r.outcome, r.message = "error", "teardown: " + rep.short_message(report)
            return
        if not props:
            return
        module, _, name = report.nodeid.rpartition("::")
        state.results.append(rep.CaseResult(
            nodeid=report.nodeid, name=name, classname=module.replace("/", ".").removesuffix(".py"),
            outcome=props["outcome"], duration=report.duration, message=rep.short_message(report),
            details=str(report.longrepr or "") if report.failed else "", properties=props,
        ))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        state = self.state
        if hasattr(session.config, "workerinput") or not state.results:
            return
        state.report_path = rep.write_junit(state.results, Path(session.config.getoption("stackcheck_reports")),
                                            state.redact, state.inventory_arg)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        state = self.state
        if not state.results:
            return
        tr = terminalreporter
        tr.section("stackcheck summary")
        for line in rep.summary_lines(state.results, state.redact):
            tr.write_line(line)
        fixes = [r for r in state.results if r.properties.get("fix_log")]
        if fixes:
            tr.section("stackcheck fixes")
            for r in fixes:
                tr.write_line(f"{r.name}: {r.properties['fix_status']}")
                for line in state.redact(r.properties["fix_log"]).splitlines():
                    tr.write_line(f"  {line}")
        if state.report_path:
            tr.write_line(f"JUnit report: {state.report_path} (and {state.report_path.parent / 'latest.xml'})")
