"""What a run leaves on the targets: nothing it does not remove itself, and nothing the next run cannot sweep.

A normal run creates two things on a site, and each carries a marker a later run recognises:

    a probe schema    DBK-5 writes `stackcheck_probe_<created>_<token>` (created: the DB server's UNIX time) on a
                      node and reads it on the others. While it lives, its creator holds the node-local lock
                      GET_LOCK('<the schema's name>') on the connection that made it, so a schema whose lock is
                      free on every node has no live creator (a killed runner's connection is closed by its kernel,
                      and the server drops the lock with it).
    an EC2 credential the S3 checks, when the inventory gives none, create one for the checking user; its blob
                      carries {"stackcheck": {"created": <UNIX time of the runner>, "runner": "<host>:<pid>"}}.

Each is removed when its check (or the S3 module) ends. A run killed in between (SIGKILL, a lost runner) leaves it
behind; before a run creates its own, it sweeps the marked ones that no live run can own: a probe schema whose
lock is free on every DB node, or any marked object older than LEASE (a probe schema lives for one check, a
credential for the S3 module: minutes at most). Unmarked objects are never touched.

--read-only (or `stackcheck.read_only: true`) writes nothing anywhere: no probe schema, no credential, no sweep, no
fix. A check that can only be proven by a write is then not checked: it ends in *error* (NeedsWrite), never in a
pass, so the gate stays closed on it until it is checked or taken out of stackcheck.scope.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from dataclasses import dataclass, field

import pytest

from stackcheck.verdicts import CannotCheck

PROBE_PREFIX = "stackcheck_probe_"
LEASE = 3600  # seconds: longer than any stackcheck object lives (one check, or the S3 module of one run)
LEASE_ENV = "STACKCHECK_TEST_TRACE_LEASE"  # for tests only: a shorter lease, so a test need not wait an hour
KILL_ENV = "STACKCHECK_TEST_KILL_AT"  # for tests only: SIGKILL this process right after it created `probe-schema`
                                      # or `ec2-credential`, as a CI timeout would
MARKER_KEY = "stackcheck"  # the key of the marker in an EC2 credential's blob

# a probe schema of this version, and of the versions before it (no creation time in the name)
_PROBE_NAME = re.compile(rf"^{PROBE_PREFIX}(?P<created>\d{{10}})_[0-9a-f]{{8}}$")
_LEGACY_PROBE_NAME = re.compile(rf"^{PROBE_PREFIX}[0-9a-f]{{16}}$")


def lease() -> float:
    return float(os.environ.get(LEASE_ENV) or LEASE)


NOT_CHECKED = "not checked in a read-only run"


class NeedsWrite(CannotCheck):
    """A requirement that only a write can prove, in a run that may write nothing: not checked (an error)."""

    def __init__(self, what: str, instead: str):
        super().__init__(f"{NOT_CHECKED} (--read-only or stackcheck.read_only: nothing may be written): {what}; "
                         f"{instead}")


def kill_point(name: str) -> None:
    """For tests only: die here as a CI timeout would kill the run (no cleanup, no report)."""
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


# --- the run's traces: read-only, the sweeps, what they did ------------------------------------------------------
@dataclass
class Traces:
    read_only: bool
    pending: list[str] = field(default_factory=list)  # sweep lines not yet attached to a check's report
    _swept: set[str] = field(default_factory=set)

    def refuse_write(self, what: str, instead: str) -> None:
        if self.read_only:
            raise NeedsWrite(what, instead)

    def say(self, line: str) -> None:
        self.pending.append(line)

    def sweep_once(self, kind: str, sweep) -> None:
        """Run `sweep(say)` the first time this process is about to create a `kind` (never in a read-only run);
        a sweep that breaks is said, and never decides a check."""
        if self.read_only or kind in self._swept:
            return
        self._swept.add(kind)
        try:
            sweep(self.say)
        except Exception as exc:  # noqa: BLE001 - the sweep is housekeeping: say it, let the check go on
            self.say(f"{kind}: the sweep of earlier runs' leftovers failed: {type(exc).__name__}: "
                     f"{' '.join(str(exc).split())[:200]}")


TRACES = pytest.StashKey[Traces]()


def read_only(config: pytest.Config) -> bool:
    from stackcheck.run import state_of

    state = state_of(config)
    return bool(config.getoption("read_only") or (state.loaded and state.lab.get("read_only")))


def traces_of(config: pytest.Config) -> Traces:
    if TRACES not in config.stash:
        config.stash[TRACES] = Traces(read_only(config))
    return config.stash[TRACES]


def configure(config: pytest.Config) -> None:
    """A read-only run refuses every fix option (exit code 4), and the sweeps get reported."""
    from stackcheck.run import FIX_OPTIONS

    if read_only(config):
        given = [f"--{o.replace('_', '-')}" for o in FIX_OPTIONS if o != "dry_run" and config.getoption(o)]
        if given:
            raise pytest.UsageError(
                f"{' and '.join(given)} cannot run in a read-only run (--read-only, or stackcheck.read_only: true in "
                "the inventory): a read-only run writes nothing anywhere. Run the fix without it; --dry-run shows the "
                "fixes' plans and diffs and changes nothing")
    config.pluginmanager.register(Reporter(config), "stackcheck-traces")


class Reporter:
    """What the sweeps did (and what a check could not remove) goes into the report of the check that was running
    (property `traces`; under xdist it travels with it to the controller) and into one terminal section; a
    read-only run says what it did not check."""

    def __init__(self, config: pytest.Config):
        self.config = config

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        from stackcheck.outcomes import is_check

        traces = self.config.stash.get(TRACES, None)
        # on the report the recorder keeps: a check's call, or its setup when that failed
        if (traces is not None and traces.pending and is_check(item)
                and (report.when == "call" or (report.when == "setup" and not report.passed))):
            report.user_properties.append(("stackcheck_traces", "; ".join(traces.pending)))
            traces.pending = []
        return report

    def pytest_terminal_summary(self, terminalreporter) -> None:
        from stackcheck.run import state_of

        state = state_of(self.config)
        said = [r.properties["traces"] for r in state.results if r.properties.get("traces")]
        if said:
            terminalreporter.section("stackcheck traces: what earlier runs left, what this one could not remove")
            for line in said:
                for part in line.split("; "):
                    terminalreporter.write_line(state.redact(part))
        if read_only(self.config):
            unchecked = sorted({r.name.split("[")[0] for r in state.results if NOT_CHECKED in r.message})
            terminalreporter.write_line(
                "read-only run: nothing was written on any host"
                + (f"; not checked, because only a write proves them: {', '.join(unchecked)}" if unchecked else ""))


# --- DBK-5's probe schema --------------------------------------------------------------------------------------
def probe_schema_name(server_time: int, token: str) -> str:
    return f"{PROBE_PREFIX}{int(server_time):010d}_{token}"


PROBE_LISTING = (  # one row per marked schema on a node, with that node's clock and whether anyone holds its lock
    "SELECT s.SCHEMA_NAME, UNIX_TIMESTAMP(), IS_USED_LOCK(s.SCHEMA_NAME), UNIX_TIMESTAMP(MIN(t.CREATE_TIME)) "
    "FROM information_schema.SCHEMATA s LEFT JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.SCHEMA_NAME "
    "WHERE s.SCHEMA_NAME LIKE 'stackcheck\\_probe\\_%' GROUP BY s.SCHEMA_NAME")


@dataclass
class Verdict:
    name: str
    sweep: bool
    why: str


def judge_probe_schemas(listings: dict[str, list[tuple]], unanswered: list[str], lease_s: float) -> list[Verdict]:
    """Which marked schemas to drop, from each answering node's PROBE_LISTING rows. A schema with a live lock
    anywhere, or one whose lock could not be looked at on some node, is kept until it is older than the lease; a
    name that is not ours (no creation time, no legacy form) is never touched."""
    seen: dict[str, dict] = {}
    for node, rows in listings.items():
        for name, now, holder, table_created in rows:
            s = seen.setdefault(name, {"now": int(now), "holders": [], "table_created": table_created})
            if holder is not None:
                s["holders"].append(node)
            if table_created is not None and s["table_created"] is None:
                s["table_created"] = table_created
    verdicts = []
    for name, s in sorted(seen.items()):
        m = _PROBE_NAME.match(name)
        created = int(m["created"]) if m else (int(s["table_created"]) if _LEGACY_PROBE_NAME.match(name)
                                                and s["table_created"] is not None else None)
        if created is None:
            why = ("no creation time (an older stackcheck's probe without its table)" if _LEGACY_PROBE_NAME.match(name)
                   else "not a name stackcheck makes")
            verdicts.append(Verdict(name, False, f"kept: {why}: drop it by hand if it is a leftover"))
            continue
        age = s["now"] - created
        if age > lease_s:
            verdicts.append(Verdict(name, True, f"created {age:.0f} s ago, longer than any run lasts ({lease_s:.0f} s)"))
        elif s["holders"]:
            verdicts.append(Verdict(name, False, f"kept: a live run holds its lock on {', '.join(s['holders'])}"))
        elif unanswered:
            verdicts.append(Verdict(name, False, f"kept: created {age:.0f} s ago and its lock could not be looked at "
                                                 f"on {', '.join(unanswered)}"))
        elif m is None:
            verdicts.append(Verdict(name, False, f"kept: an older stackcheck's probe (no lock to tell whether its run "
                                                 f"lives), {age:.0f} s old"))
        else:
            verdicts.append(Verdict(name, True, f"created {age:.0f} s ago by a run that is gone (its lock is free on "
                                                "every DB node)"))
    return verdicts


def sweep_probe_schemas(connections, lab, say) -> None:
    """One listing per DB node, then a DROP (replicated) of each leftover on a node that has it."""
    import pymysql

    from stackcheck.transport import HostUnreachable

    listings: dict[str, list[tuple]] = {}
    unanswered: list[str] = []
    for node in lab.hosts("dbnode"):
        try:
            with connections.sql(node).cursor() as cur:
                cur.execute(PROBE_LISTING)
                listings[node.name] = list(cur.fetchall())
        except (HostUnreachable, pymysql.MySQLError) as exc:
            unanswered.append(f"{node.name} ({' '.join(str(exc).split())[:80]})")
    for v in judge_probe_schemas(listings, unanswered, lease()):
        if not v.sweep:
            say(f"probe schema {v.name}: {v.why}")
            continue
        node = next(n for n in lab.hosts("dbnode") if any(r[0] == v.name for r in listings.get(n.name, ())))
        try:
            with connections.sql(node).cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{v.name}`")
            say(f"dropped the probe schema {v.name} on {node.name}: {v.why}")
        except (HostUnreachable, pymysql.MySQLError) as exc:
            say(f"could not drop the probe schema {v.name} on {node.name} ({v.why}): {exc}")


# --- the S3 checks' EC2 credential -----------------------------------------------------------------------------
def credential_marker(now: float | None = None) -> dict:
    return {"created": int(now if now is not None else time.time()), "runner": f"{socket.gethostname()}:{os.getpid()}"}


def judge_ec2_credentials(creds: list[dict], now: float, lease_s: float) -> list[Verdict]:
    """Which of a user's credentials ({id, blob}) are leftovers of killed runs: marked, and older than the lease
    (the runner's clock; Keystone keeps no creation time). Unmarked credentials are not ours and never listed."""
    verdicts = []
    for cred in creds:
        try:
            marker = json.loads(cred.get("blob") or "{}").get(MARKER_KEY)
            created = int(marker["created"])
        except (TypeError, ValueError, KeyError, AttributeError):
            continue
        age = now - created
        runner = marker.get("runner", "?")
        if age > lease_s:
            verdicts.append(Verdict(cred["id"], True, f"created {age:.0f} s ago by {runner}, longer than any run "
                                                      f"lasts ({lease_s:.0f} s)"))
        else:
            verdicts.append(Verdict(cred["id"], False, f"kept: created {age:.0f} s ago by {runner}, maybe a live run"))
    return verdicts


def sweep_ec2_credentials(conn, say) -> None:
    """One listing of the checking user's EC2 credentials, then a delete of each marked leftover."""
    creds = [{"id": c.id, "blob": c.blob} for c in conn.identity.credentials(user_id=conn.current_user_id)
             if c.type == "ec2"]
    for v in judge_ec2_credentials(creds, time.time(), lease()):
        if not v.sweep:
            say(f"EC2 credential {v.name}: {v.why}")
            continue
        try:
            conn.identity.delete_credential(v.name, ignore_missing=True)
            say(f"deleted the EC2 credential {v.name} of the checking user: {v.why}")
        except Exception as exc:  # noqa: BLE001 - say it; the next run tries again
            say(f"could not delete the EC2 credential {v.name} ({v.why}): {type(exc).__name__}: {exc}")
