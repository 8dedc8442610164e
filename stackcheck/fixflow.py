"""`--fix` inside a pytest run: a check that found something wrong (a finding, never an error) gets its paired
fixers through the engine, one at a time; and after every check has run, each check that still did not pass
is run once more, so the run ends with what is true after its fixes (LB-2's rotation fails while LB-3's pool is
wrong, and passes once the pool is fixed)."""
from __future__ import annotations

import pytest
from _pytest.runner import runtestprotocol

from stackcheck.fixing import Engine, FixContext, FixRefused
from stackcheck.guards import guard_for
from stackcheck.probes.sql import Database
from stackcheck.outcomes import FIX, WAIVER, paired_fixers, target_of
from stackcheck.run import state_of
from stackcheck.transport import HostUnreachable, ProbeTimeout
from stackcheck.verdicts import CannotCheck

RECHECK = pytest.StashKey[str]()  # set on an item while it is re-checked at the end of a fix run: its first result


def try_fix(item: pytest.Item) -> bool:
    """Run the paired fixers of a failed check; True when one fixed it (its re-check passed)."""
    if item.stash.get(WAIVER, None) is not None or RECHECK in item.stash:
        return False  # a waived check is knowingly left as it is; a final re-check only observes
    config = item.config
    state = state_of(config)
    target = target_of(item)
    candidates = paired_fixers(item)
    if not candidates:
        return False
    if target and target.name in state.fix_refused:
        fx = candidates[0]
        item.stash[FIX] = {"status": "refused", "fixer": fx.name, "risk": fx.risk, "diff": "",
                           "log": f"refused: {state.fix_refused[target.name]}"}
        return False
    engine = Engine(dry_run=config.getoption("dry_run"), allow_data=config.getoption("fix_data"),
                    allow_access=config.getoption("fix_access"), echo=lambda s: None, run_id=state.run_id,
                    opt_in=tuple(r for r in ("rejoin", "recover") if config.getoption(f"fix_{r}")))
    transport = state.connections.transport(target) if target else None
    extra = _as_fix_account(state, target, dict(item.funcargs))
    for fx in candidates:
        ctx = FixContext(transport, target, state.lab, item.funcargs.get("host"), extra=extra)
        try:
            result = engine.fix(fx, ctx, recheck=item.runtest, guard=guard_for(state, target, fx),
                                where=target.name if target else "cloud")
        except (HostUnreachable, ProbeTimeout):
            raise
        except Exception as exc:  # noqa: BLE001 - a fixer that breaks while planning changed nothing
            item.stash[FIX] = {"status": "fix-failed", "fixer": fx.name, "risk": fx.risk,
                               "log": f"fixer failed while planning: {exc}", "diff": ""}
            return False
        if result.status == "noop":
            continue
        if result.status in NEXT_FIXER_MAY_ACT:
            # this fixer did nothing (refused or declined): a later one may fit the case (e.g. the quorum
            # recovery after the plain restart was refused); the report keeps the first status and every reason
            earlier = item.stash.get(FIX, None)
            if earlier is None:
                item.stash[FIX] = {"status": result.status, "fixer": result.fixer, "risk": result.risk,
                                   "log": result.summary(), "diff": result.diff}
            else:
                earlier["log"] += "\n" + result.summary()
            continue
        earlier = item.stash.get(FIX, None)
        item.stash[FIX] = {"status": result.status, "fixer": result.fixer, "risk": result.risk,
                           "log": (earlier["log"] + "\n" if earlier else "") + result.summary(), "diff": result.diff}
        if result.stop_run:  # Ctrl-C or SIGTERM: this fix was rolled back; report it and stop the run
            item.session.shouldstop = f"interrupted during the fix of {item.name}: rolled back, the run stops"
        return result.status == "fixed"
    return False


def _as_fix_account(state, target, extra: dict) -> dict:
    """Fixers write SQL as db.fix_user (checks read as the least-privileged db.user): their `connections` and `db`
    are the fix account's; the re-check keeps the check's own."""
    if not state.lab.get("db.fix_user"):
        return extra
    fixing = state.connections.for_fixes()
    extra["connections"] = fixing
    if "db" in extra and target is not None:
        extra["db"] = Database(lambda: fixing.sql(target), target.name)
    return extra


NEXT_FIXER_MAY_ACT = ("refused", "declined")  # nothing was changed: the next paired fixer is tried


def sweep_interrupted_fixes(session: pytest.Session) -> None:
    """Before any check of a fix run: on every host it will check, clear a dead run's lock and roll back its
    open fix journal (issue: a fix run killed half-way must leave every host as it was, or be finished by the
    next run). A host whose left-over fix cannot be rolled back is refused for every fix of this run."""
    state = state_of(session.config)
    engine = Engine(dry_run=session.config.getoption("dry_run"), echo=lambda s: None, run_id=state.run_id)
    hosts = {t.name: t for t in (target_of(i) for i in session.items) if t}
    for name, host in hosts.items():
        def say(line, name=name):
            state.sweep_log.append(f"{name}: {line}")
        try:
            engine.sweep(state.connections.transport(host), say, guard=guard_for(state, host))
        except FixRefused as exc:
            state.fix_refused[name] = str(exc)
            say(f"refused for this run: {exc}")
        except CannotCheck:
            pass  # unreachable: its checks say so, and nothing will be fixed there


def run_with_final_recheck(session: pytest.Session) -> bool:
    """The run loop of a fix run: every item once (fixing what fails), then each item that did not pass once
    more, observing only. Its reports replace the first ones in the run's record (the first kept as
    `first_outcome`), so the gate and the report follow the final state."""
    items = session.items
    sweep_interrupted_fixes(session)
    not_passed: list[pytest.Item] = []
    for i, item in enumerate(items):
        # the last item tears the session's fixtures down; re-checks set them up again (connections reconnect)
        nextitem = items[i + 1] if i + 1 < len(items) else None
        item.ihook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        if session.shouldfail:
            raise session.Failed(session.shouldfail)
        if session.shouldstop:
            raise session.Interrupted(session.shouldstop)
        result = state_of(session.config).result_of(item.nodeid)
        if result is not None and result.outcome in ("failed", "fix-failed", "error"):
            not_passed.append(item)
    if state_of(session.config).config.getoption("dry_run"):
        not_passed = []  # nothing changed: a re-check could only repeat itself
    recorder = session.config.pluginmanager.get_plugin("stackcheck-recorder")
    for i, item in enumerate(not_passed):
        nextitem = not_passed[i + 1] if i + 1 < len(not_passed) else None
        first = state_of(session.config).result_of(item.nodeid)
        item.stash[RECHECK] = first.outcome if first else ""
        item._initrequest()  # a fresh fixture request, as pytest-rerunfailures does for a second run
        for report in runtestprotocol(item, nextitem=nextitem, log=False):
            recorder.record(report, recheck_of=first)
    return True
