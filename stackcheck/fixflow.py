"""`--fix` inside a pytest run: a check that found something wrong (a finding, never an error) gets its paired
fixers through the engine, one at a time; and after every check has run, each check that still did not pass
is run once more, so the run ends with what is true after its fixes (LB-2's rotation fails while LB-3's pool is
wrong, and passes once the pool is fixed)."""
from __future__ import annotations

import pytest
from _pytest.runner import runtestprotocol

from stackcheck.fixing import Engine, FixContext
from stackcheck.guards import guard_for
from stackcheck.outcomes import FIX, WAIVER, paired_fixers, target_of
from stackcheck.run import state_of
from stackcheck.transport import HostUnreachable, ProbeTimeout

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
    engine = Engine(dry_run=config.getoption("dry_run"), allow_data=config.getoption("fix_data"),
                    allow_access=config.getoption("fix_access"), echo=lambda s: None)
    transport = state.connections.transport(target) if target else None
    for fx in candidates:
        ctx = FixContext(transport, target, state.lab, item.funcargs.get("host"), extra=dict(item.funcargs))
        try:
            result = engine.fix(fx, ctx, recheck=item.runtest, guard=guard_for(state, target),
                                where=target.name if target else "cloud")
        except (HostUnreachable, ProbeTimeout):
            raise
        except Exception as exc:  # noqa: BLE001 - a fixer that breaks while planning changed nothing
            item.stash[FIX] = {"status": "fix-failed", "fixer": fx.name, "risk": fx.risk,
                               "log": f"fixer failed while planning: {exc}", "diff": ""}
            return False
        if result.status == "noop":
            continue
        item.stash[FIX] = {"status": result.status, "fixer": result.fixer, "risk": result.risk,
                           "log": result.summary(), "diff": result.diff}
        return result.status == "fixed"
    return False


def run_with_final_recheck(session: pytest.Session) -> bool:
    """The run loop of a fix run: every item once (fixing what fails), then each item that did not pass once
    more, observing only. Its reports replace the first ones in the run's record (the first kept as
    `first_outcome`), so the gate and the report follow the final state."""
    items = session.items
    not_passed: list[pytest.Item] = []
    for i, item in enumerate(items):
        # keep the session's fixtures (connections) for the re-checks: the last item's "next" is the first one
        nextitem = items[i + 1] if i + 1 < len(items) else (items[0] if items else None)
        reports = item.ihook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        del reports
        if session.shouldfail or session.shouldstop:
            break
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
    if not not_passed and items:
        session._setupstate.teardown_exact(None)  # what the first loop kept alive for re-checks
    return True
