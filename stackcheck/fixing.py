"""The fix engine: plan -> diff -> (dry run stops here) -> lock -> guard -> backup -> validate -> apply ->
re-check -> roll back if the re-check fails.

A fixer is a function registered for requirement ids with a risk class. It only READS the host and describes
what it would change through the FixContext it is given (file edits, commands, API calls, each with its undo);
the engine does the changing, so every fixer gets the same safety for free:

    from stackcheck.fixing import fixer

    @fixer("DBH-1", risk="config", checks=["test_swap_file_in_fstab"])
    def add_swapfile_to_fstab(ctx):
        '''Add the swap file's line to /etc/fstab and activate it.'''
        fstab = ctx.read("/etc/fstab")
        ctx.edit("/etc/fstab", fstab.rstrip("\\n") + "\\n/swapfile none swap defaults 0 0\\n")
        ctx.command("swapon /swapfile", undo="swapoff /swapfile")

Risk classes: `config` (edit files, reload), `restart` (restarts a service), `data` (touches stored data:
only with --fix-data), `access` (creates or widens access: an account, a grant, a firewall opening to new
sources: only with --fix-access). A fixer that sees while planning that nothing safe can be done raises
FixDeclined with the reason; the report keeps it (fix_status = declined). A fixer that makes no change (plan empty) is a no-op, which is what makes fixers
idempotent: the second run finds nothing to do.
"""
from __future__ import annotations

import difflib
import hashlib
import inspect
import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from stackcheck import journal
from stackcheck.transport import Result, Transport
from stackcheck.verdicts import CannotCheck

RISKS = ("config", "restart", "data", "access", "rejoin", "recover")
# risk classes --fix alone never runs; `rejoin` and `recover` act on a whole Galera cluster (a node's datadir set
# aside for a full state transfer; a new Primary component bootstrapped after quorum loss)
OPT_IN = {"data": "--fix-data", "access": "--fix-access", "rejoin": "--fix-rejoin", "recover": "--fix-recover"}
BACKUP_ROOT = "/var/backups/stackcheck"
LOCK_PATH = "/run/stackcheck-fix.lock"


class FixRefused(Exception):
    """The engine will not run this fix (lock held, cluster not healthy, unsafe); nothing was changed."""


class FixDeclined(FixRefused):
    """The fixer found, while planning, nothing safe to do (the reason says why and what to do by hand)."""


@dataclass
class Fixer:
    func: Callable
    requirements: tuple[str, ...]
    risk: str
    checks: tuple[str, ...]
    roles: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.func.__module__}.{self.func.__name__}"

    @property
    def description(self) -> str:
        return (inspect.getdoc(self.func) or self.func.__name__.replace("_", " ")).splitlines()[0]

    def pairs_with(self, requirement_ids, check_name: str) -> bool:
        base = check_name.split("[")[0]
        return bool(set(self.requirements) & set(requirement_ids)) and (not self.checks or base in self.checks)


REGISTRY: list[Fixer] = []


def fixer(*requirements: str, risk: str, checks=(), roles=()):
    """Register a fixer for requirement ids (optionally only for some check functions or roles)."""
    if risk not in RISKS:
        raise ValueError(f"risk must be one of {RISKS}, not {risk!r}")

    def register(func):
        REGISTRY.append(Fixer(func, tuple(requirements), risk, tuple(checks), tuple(roles)))
        return func

    return register


def fixers_for(requirement_ids, check_name: str, roles=()) -> list[Fixer]:
    return [
        f for f in REGISTRY if f.pairs_with(requirement_ids, check_name) and (not f.roles or set(f.roles) & set(roles))
    ]


# --- what a fixer describes ------------------------------------------------------------------------------------
# A config line that carries a credential (`password = x`, `admin_token: y`, `set secret z`): its value is
# masked in every diff the engine prints or reports. Host config files hold secrets the inventory does not
# know (a service user's password), so the run's redactor cannot catch them; the file gets the real value.
_SECRET_LINE = re.compile(r"(?im)^([+ -]?[ \t]*(?:set[ \t]+)?[\w.-]*(?:password|secret|token|_pass|passwd)[\w.-]*"
                          r"[ \t]*[=:][ \t]*)\S.*$")


def mask_secrets(diff: str) -> str:
    return _SECRET_LINE.sub(lambda m: m.group(1) + "[REDACTED]", diff)


@dataclass
class FileEdit:
    path: str
    old: str | None  # None: the file does not exist yet
    new: str
    validate: str | None = None  # shell command; {path} is replaced by the candidate file (validated before write)
    validate_in_place: str | None = None  # for validators that read the whole tree (apachectl configtest)
    mode: str = "0644"  # only for new files; existing files keep their mode and owner

    def diff(self) -> str:
        return mask_secrets("".join(
            difflib.unified_diff(
                (self.old or "").splitlines(keepends=True),
                self.new.splitlines(keepends=True),
                fromfile=f"a{self.path}" if self.old is not None else "/dev/null",
                tofile=f"b{self.path}",
            )
        ))


@dataclass
class Action:
    description: str
    do: str | Callable[[], Any]
    undo: str | Callable[[], Any] | None = None


@dataclass
class FixContext:
    """What a fixer sees: read access, and methods that add steps to the plan."""

    transport: Transport | None
    target: Any = None  # the inventory Host (None for cloud-wide fixers)
    lab: Any = None
    host: Any = None  # testinfra host over the same transport
    extra: dict = field(default_factory=dict)  # fixtures the check used (db, cloud ...)
    edits: list[FileEdit] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    acts_on: list[Transport] = field(default_factory=list)  # hosts a fixer with no target changes (cluster-wide)

    def run(self, command: str) -> Result:
        """Run a read-only command while planning (reading state); changes go through edit/command."""
        return self.transport.run(command)

    def read(self, path: str) -> str | None:
        """A file's content, or None when it does not exist."""
        result = self.transport.run(f"cat -- {shlex.quote(path)}")
        if result.rc != 0:
            if "No such file" in result.stderr:
                return None
            raise RuntimeError(f"cannot read {path}: {result.stderr.strip()}")
        return result.stdout  # rc judged: a failure raised above

    def edit(self, path: str, new: str, validate: str | None = None, validate_in_place: str | None = None,
             mode: str = "0644") -> None:
        old = self.read(path)
        if old == new:
            return
        self.edits.append(FileEdit(path, old, new, validate, validate_in_place, mode))

    def command(self, command: str, undo: str | None = None, description: str | None = None) -> None:
        """A shell command run after the files are written (restart, reload, swapon ...)."""
        self.actions.append(Action(description or command, command, undo))

    def call(self, description: str, do: Callable[[], Any], undo: Callable[[], Any] | None = None) -> None:
        """An API step (openstacksdk, SQL) with its undo."""
        self.actions.append(Action(description, do, undo))

    def note(self, text: str) -> None:
        """Something the report should keep (e.g. the old endpoint, so it can be restored by hand)."""
        self.notes.append(text)

    def touches(self, transport: Transport) -> None:
        """A fixer without a target host (a cluster-wide one) names each host its steps change: the engine holds
        each host's fix lock while it acts, and leaves an audit entry on each."""
        if all(t.name != transport.name for t in self.acts_on):
            self.acts_on.append(transport)

    def result(self, text: str) -> None:
        """What a step found while it ran (e.g. the rows only a set-aside copy holds): logged after the steps."""
        self.results.append(text)

    @property
    def empty(self) -> bool:
        return not self.edits and not self.actions


@dataclass
class FixOutcome:
    status: str  # noop | planned | fixed | fix-failed | refused | declined | interrupted
    fixer: str
    risk: str
    diff: str = ""
    log: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)
    recheck_error: str = ""
    rollback_left: list[str] = field(default_factory=list)  # what a rollback could not put back
    stop_run: bool = False  # interrupted by Ctrl-C / SIGTERM: the run stops after reporting this fix
    after_rollback: str = ""  # the check's result once rolled back

    def summary(self) -> str:
        return "\n".join(self.log)


# --- the engine ------------------------------------------------------------------------------------------------
class Engine:
    """Runs one fixer through the safe sequence. `recheck()` re-runs the paired check and raises if it fails;
    `guard()` (optional) raises FixRefused when touching this host now could cost a cluster its quorum."""

    def __init__(self, dry_run: bool = False, allow_data: bool = False, echo: Callable[[str], None] = print,
                 allow_access: bool = False, opt_in: tuple[str, ...] = (), run_id: str | None = None):
        self.dry_run = dry_run
        self.allowed = ({"config", "restart"} | ({"data"} if allow_data else set())
                        | ({"access"} if allow_access else set()) | set(opt_in))
        self.echo = echo
        self.stamp = time.strftime("%Y%m%dT%H%M%S")
        self.owner = journal.owner_token()
        self.run_id = run_id or f"{self.stamp}-{os.getpid()}"  # the run's id (its report carries the same)

    def fix(self, fx: Fixer, ctx: FixContext, recheck: Callable[[], None], guard: Callable[[], None] | None = None,
            where: str = "") -> FixOutcome:
        out = FixOutcome("noop", fx.name, fx.risk)
        say = lambda line: (out.log.append(line), self.echo(line))  # noqa: E731
        if fx.risk not in self.allowed:
            out.status = "refused"
            say(f"fix {fx.name} [{where}]: refused: risk class '{fx.risk}' needs {OPT_IN[fx.risk]}")
            return out
        try:
            fx.func(ctx)
        except FixRefused as exc:  # the fixer saw, while planning, that it must not act (e.g. it would cut SSH)
            out.status = "declined"
            say(f"fix {fx.name} [{where}]: declined: {exc}")
            return out
        if ctx.empty:
            say(f"fix {fx.name} [{where}]: nothing to change")
            return out
        out.diff = "".join(e.diff() for e in ctx.edits)
        say(f"fix {fx.name} [{where}] ({fx.risk}): {fx.description}")
        for edit in ctx.edits:
            say(edit.diff().rstrip("\n") or f"(rewrite {edit.path})")
        for action in ctx.actions:
            say(f"then: {action.description}")
        for note in ctx.notes:
            say(f"note: {note}")
        if self.dry_run:
            out.status = "planned"
            say("dry run: nothing changed")
            return out
        lock = ctx.transport is not None and (bool(ctx.edits) or any(isinstance(a.do, str) for a in ctx.actions))
        locked = False
        held: list[Transport] = []  # the hosts a cluster-wide fixer acts on, locked in name order
        jnl: journal.Journal | None = None
        befores: list[str | None] | None = None  # the files' checksums before the fix, once backed up
        try:
            if lock:
                self._lock(ctx.transport, say)
                locked = True
            for t in sorted(ctx.acts_on if ctx.transport is None else [], key=lambda t: t.name):
                self._lock(t, say)
                held.append(t)
            if guard is not None:
                guard()
            done: list[Action] = []
            try:
                if lock:  # written on the host before anything changes, so a dead run can be rolled back
                    jnl = journal.Journal(self.owner, fx.name, where, requirements=list(fx.requirements), steps=[
                        {"description": a.description, "do": a.do if isinstance(a.do, str) else None,
                         "undo": a.undo if isinstance(a.undo, str) else None} for a in ctx.actions])
                    jnl.save(ctx.transport)
                out.backups = [self._backup(ctx.transport, e) for e in ctx.edits]
                befores = [before for _, before in out.backups]
                if jnl is not None:
                    jnl.files = [{"path": e.path, "backup": b, "before": before,
                                  "after": hashlib.sha256(e.new.encode()).hexdigest()}
                                 for e, (b, before) in zip(ctx.edits, out.backups)]
                    out.backups = [b for b, _ in out.backups]
                    jnl.phase = "backed-up"
                    jnl.save(ctx.transport)
                else:
                    out.backups = [b for b, _ in out.backups]
                test_stop("after-backup")
                for edit in ctx.edits:
                    self._write(ctx.transport, edit)
                test_stop("after-write")
                self._journal(ctx, jnl, "acting")
                for action in ctx.actions:
                    self._do(ctx.transport, action.do, action.description)
                    done.append(action)
                    if jnl is not None:
                        jnl.done = len(done)
                        jnl.save(ctx.transport)
                    test_stop("after-first-action" if len(done) == 1 else "")
                for line in ctx.results:
                    say(f"result: {line}")
                self._journal(ctx, jnl, "rechecking")
                test_stop("during-recheck")
                recheck()
                self._journal(ctx, jnl, "passed")
            except FixRefused:
                raise
            except BaseException as exc:  # noqa: BLE001 - any failure after the first write means roll back
                out.status = "fix-failed"
                out.recheck_error = _first_line(exc)
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    out.status, out.stop_run = "interrupted", True
                    say(f"interrupted ({type(exc).__name__}) during the fix: rolling back before the run stops")
                elif isinstance(exc, CannotCheck):  # the host went away (connection lost, timeout) mid-fix
                    out.status = "interrupted"
                    say(f"the host stopped answering during the fix ({out.recheck_error}): rolling back; what cannot "
                        f"be rolled back now stays in {journal.JOURNAL} for the next --fix run")
                else:
                    say(f"re-check failed after the fix: {out.recheck_error}; rolling back")
                try:
                    self._rollback(ctx, done, out, say)
                except CannotCheck as lost:
                    out.rollback_left = ["everything: " + _first_line(lost)]
                    say(f"could not roll back: {_first_line(lost)}; the next --fix run rolls it back from the journal")
                if jnl is not None and not out.rollback_left:
                    jnl.close(ctx.transport, f"{BACKUP_ROOT}/{self.stamp}")
                if out.status != "interrupted":
                    out.after_rollback = self._check_after_rollback(recheck)
                    say(f"after the rollback the check {out.after_rollback}")
                rolled = "rollback incomplete: " + ", ".join(out.rollback_left) if out.rollback_left else "rolled back"
                self._audit(ctx, fx, where, f"{out.status} ({rolled})", befores, f"{len(done)}/{len(ctx.actions)}", say)
                self._audit_each(held, fx, f"{out.status} ({rolled})", f"{len(done)}/{len(ctx.actions)}", say)
                return out
            if jnl is not None:
                jnl.close(ctx.transport, f"{BACKUP_ROOT}/{self.stamp}")
        except FixRefused as exc:
            out.status = "refused"
            say(f"refused: {exc}")
            return out
        finally:
            if locked and not out.rollback_left:
                self._unlock(ctx.transport)
            for t in held:
                self._unlock(t)
        out.status = "fixed"
        say(f"fixed: the check passes now (backups: {', '.join(out.backups) or 'none'})")
        self._audit(ctx, fx, where, "fixed", befores, f"{len(done)}/{len(ctx.actions)}", say)
        self._audit_each(held, fx, "fixed", f"{len(done)}/{len(ctx.actions)}", say)
        return out

    def _audit(self, ctx: FixContext, fx: Fixer, where: str, outcome: str, befores, steps: str, say) -> None:
        """The fix's one entry in the target's log (journal.audit_message): what an operator of that host finds
        with `journalctl -t stackcheck`, whoever ran the fix. A host without a transport (a cloud-wide fix) has
        no log of ours to write to; a host that stopped answering gets none, and the fix's log says so."""
        if ctx.transport is None:
            return
        where = where or ctx.transport.name
        befores = befores if befores is not None else [None if e.old is None else "unknown" for e in ctx.edits]
        self._audit_on(ctx.transport, where, fx, outcome, steps, say,
                       lambda: [(e.path, before, journal.sha256(ctx.transport, e.path))
                                for e, before in zip(ctx.edits, befores)])

    def _audit_each(self, held: list[Transport], fx: Fixer, outcome: str, steps: str, say) -> None:
        """A cluster-wide fix's entry in the log of every host it acted on (it edits no file of ours)."""
        for t in held:
            self._audit_on(t, t.name, fx, outcome, steps, say, lambda: [])

    def _audit_on(self, t: Transport, where: str, fx: Fixer, outcome: str, steps: str, say, files) -> None:
        try:
            failed = journal.audit(t, journal.audit_message(self.run_id, fx.requirements, fx.name, where, outcome,
                                                            files(), steps))
        except CannotCheck as exc:
            failed = _first_line(exc)
        say(f"audit entry NOT written to {where}'s log: {failed}" if failed
            else f"audit: logged to {where}'s journal (journalctl -t {journal.AUDIT_TAG}), run {self.run_id}")

    @staticmethod
    def _journal(ctx: FixContext, jnl, phase: str) -> None:
        if jnl is not None:
            jnl.phase = phase
            jnl.save(ctx.transport)

    @staticmethod
    def _check_after_rollback(recheck: Callable[[], None]) -> str:
        try:
            recheck()
        except Exception as exc:  # noqa: BLE001 - the result is what we report
            return f"fails as before: {_first_line(exc)}"
        return "passes (the failure did not come back after the rollback)"

    # -- steps --------------------------------------------------------------------------------------------------
    def _lock(self, t: Transport, say) -> None:
        """Take the host's fix lock (mkdir is atomic: two fix runs cannot both hold it). A lock whose owner is dead
        is cleared, and an open journal left by a dead run is rolled back first (or, when that is impossible,
        this host is refused with what is left). A live owner still blocks, named in the message."""
        r = t.run(f"mkdir {LOCK_PATH} && echo {self.owner} > {LOCK_PATH}/owner && echo acquired"
                  f" || {{ test -d {LOCK_PATH} && echo \"held: $(cat {LOCK_PATH}/owner 2>/dev/null)\"; }}")
        said = r.stdout.strip()  # rc judged: "acquired" takes the lock, "held: OWNER" names who has it (OWNER may be
        # empty: a run killed between mkdir and echo), nothing at all means the lock could not be made
        if said != "acquired" and not said.startswith("held:"):
            first = (r.stderr.strip().splitlines() or [""])[0]
            raise FixRefused(f"could not take the fix lock {LOCK_PATH} on {t.name}: {Result(r.rc, '', first).reason()}")
        owner = said.removeprefix("held:").strip()
        if said != "acquired":
            alive, why = journal.owner_is_alive(owner)
            if alive:
                raise FixRefused(f"another fix run holds {LOCK_PATH} on {t.name}: {owner} ({why})")
            # atomic: of two runs that found the same dead owner, one renames the lock away, the other fails
            stale = f"{LOCK_PATH}.stale-{os.getpid()}"
            r = t.run(f"mv {LOCK_PATH} {stale} && rm -rf {stale} && mkdir {LOCK_PATH} && "
                      f"echo {self.owner} > {LOCK_PATH}/owner && echo acquired")
            if r.stdout.strip() != "acquired":  # rc judged: the word is printed only when every step succeeded
                raise FixRefused(f"the stale fix lock on {t.name} ({owner}) was taken over by another run")
            say(f"cleared the stale fix lock of {owner} on {t.name}: {why}")
        try:
            self._recover(t, say)
        except BaseException:
            self._unlock(t)  # the journal stays open: every later run refuses this host with the same reason
            raise

    def sweep(self, t: Transport, say, guard: Callable[[], None] | None = None) -> None:
        """Before a fix run plans anything on a host: clear a dead run's lock and roll back its open journal, so
        that checks and plans see the host as it was before that fix (a half-done fix can make a check pass, or
        make a plan stale). FixRefused when a live run holds the host or the rollback left something."""
        if self.dry_run:
            left_over = journal.load(t)
            if left_over is not None:
                say(f"{t.name} has the open fix journal of {left_over.owner} ({left_over.fixer}): a --fix run rolls it "
                    f"back first (dry run: nothing changed)")
            return
        if guard is not None and journal.load(t) is not None:
            guard()  # rolling a fix back can restart a service: a DB node only while the rest of its cluster is fine
        self._lock(t, say)
        self._unlock(t)

    def _recover(self, t: Transport, say) -> None:
        """We hold the lock: an open journal now can only be a dead run's."""
        left_over = journal.load(t)
        if left_over is None:
            return
        say(f"found the open fix journal of {left_over.owner} on {t.name} ({left_over.fixer}, phase "
            f"{left_over.phase}): rolling that fix back first")
        left = journal.recover(t, left_over, say)
        files = [(f["path"], f["before"], journal.sha256(t, f["path"])) for f in left_over.files]
        outcome = (f"rollback of {left_over.owner}'s interrupted fix "
                   + (f"incomplete: {', '.join(left)}" if left else "done"))
        failed = journal.audit(t, journal.audit_message(self.run_id, left_over.requirements, left_over.fixer, t.name,
                                                        outcome, files))
        if failed:
            say(f"audit entry NOT written to {t.name}'s log: {failed}")
        if left:
            raise FixRefused(f"an interrupted fix ({left_over.fixer} by {left_over.owner}) could not be rolled back "
                             f"on {t.name}: {'; '.join(left)}; {journal.JOURNAL} keeps the details: put these back "
                             f"by hand, then remove it and {LOCK_PATH}")
        left_over.close(t, f"{BACKUP_ROOT}/{self.stamp}-recovered")
        say(f"rolled back the interrupted fix {left_over.fixer}: {t.name} is as it was before it")

    def _unlock(self, t: Transport) -> None:
        t.run(f"rm -rf {LOCK_PATH}")

    def _backup(self, t: Transport, edit: FileEdit) -> tuple[str, str | None]:
        """(backup path, sha256 of the file now); ("", None) for a file the fix creates."""
        if edit.old is None:
            return "", None
        dest = f"{BACKUP_ROOT}/{self.stamp}{edit.path}"
        src = shlex.quote(edit.path)
        # every directory of the backup tree 0700 (umask): a backup of a 0600 file is as private as the file
        r = t.run(f"umask 077 && mkdir -p {shlex.quote(os.path.dirname(dest))} && chmod 0700 {BACKUP_ROOT} && "
                  f"cp -a -- {src} {shlex.quote(dest)} && sha256sum -- {src}")
        if not r.ok:
            raise FixRefused(f"cannot back up {edit.path}: {r.reason()}")
        return dest, r.stdout.split()[0]  # rc judged: r.ok above

    def _write(self, t: Transport, edit: FileEdit) -> None:
        path, cand = shlex.quote(edit.path), shlex.quote(f"{edit.path}.stackcheck-new")
        r = t.run(_write_command(edit), stdin=edit.new)
        if not r.ok:
            raise RuntimeError(f"cannot write {edit.path}: {r.stderr.strip()}")
        if edit.validate:
            v = t.run(edit.validate.replace("{path}", cand))
            if not v.ok:
                t.run(f"rm -f {cand}")
                raise RuntimeError(f"validation of the new {edit.path} failed ({edit.validate}): "
                                   f"{v.reason()}")
        r = t.run(f"mv -f {cand} {path}")
        if not r.ok:
            raise RuntimeError(f"cannot replace {edit.path}: {r.stderr.strip()}")
        if edit.validate_in_place:
            v = t.run(edit.validate_in_place)
            if not v.ok:
                raise RuntimeError(f"validation failed ({edit.validate_in_place}): {v.reason()}")

    def _do(self, t: Transport | None, step, description: str) -> None:
        if callable(step):
            step()
            return
        r = t.run(step)
        if not r.ok:
            raise RuntimeError(f"`{description}` failed: {r.reason()}")

    def _rollback(self, ctx: FixContext, done: list[Action], out: FixOutcome, say) -> None:
        """Restore every file and verify it (exit code, and the restored file's checksum equal to its backup's),
        run the undo steps, re-run restarts so services read the restored files. A rollback that could not be
        verified is said loudly: the host is then NOT as it was, and the log names what is left."""
        left: list[str] = []
        for edit, backup in zip(ctx.edits, out.backups):
            path = shlex.quote(edit.path)
            if edit.old is None:
                r = ctx.transport.run(f"rm -f -- {path} {shlex.quote(edit.path + '.stackcheck-new')} && ! test -e {path}")
                ok = r.ok
            else:
                r = ctx.transport.run(f"cp -a -- {shlex.quote(backup)} {path} && sha256sum -- {shlex.quote(backup)} {path}")
                sums = {line.split()[0] for line in r.stdout.splitlines() if line.strip()}  # rc judged: r.ok below
                ok = r.ok and len(sums) == 1
            if ok:
                say(f"restored {edit.path} (verified)")
            else:
                left.append(edit.path)
                say(f"could NOT restore {edit.path} from {backup or '(new file)'}: {r.reason() if not r.ok else 'checksum differs from the backup'}")
        for action in reversed(done):
            if action.undo is not None:
                try:
                    self._do(ctx.transport, action.undo, f"undo {action.description}")
                    say(f"undone: {action.description}")
                except Exception as exc:  # noqa: BLE001 - report and go on undoing the rest
                    left.append(f"undo of {action.description}")
                    say(f"could not undo {action.description}: {_first_line(exc)}")
        # restarts ran against the new files: run them again so services read the restored ones
        if ctx.edits:
            for action in done:
                if action.undo is None and isinstance(action.do, str) and "restart" in action.do:
                    try:
                        self._do(ctx.transport, action.do, action.description)
                        say(f"re-ran after restore: {action.description}")
                    except Exception as exc:  # noqa: BLE001
                        left.append(f"re-run of {action.description}")
                        say(f"could not re-run {action.description}: {_first_line(exc)}")
        out.rollback_left = left
        if left:
            say(f"ROLLBACK INCOMPLETE: not as before: {', '.join(left)}; backups under {BACKUP_ROOT}/{self.stamp}")
        else:
            say("rolled back: every file verified against its backup")


# For tests only (README, "Testing an interrupted fix"): STACKCHECK_TEST_STOP_AT=STEP[:HOW] stops the engine at
# STEP (after-backup, after-write, after-first-action, during-recheck): HOW is a signal the process sends itself
# (KILL by default; INT, TERM), or EXEC to run the local command in STACKCHECK_TEST_EXEC there (e.g. cut the
# network to the host). Off unless set; nothing else reads them.
TEST_STOP_ENV, TEST_EXEC_ENV = "STACKCHECK_TEST_STOP_AT", "STACKCHECK_TEST_EXEC"


def test_stop(step: str) -> None:
    wanted = os.environ.get(TEST_STOP_ENV, "")
    if not step or not wanted:
        return
    where, _, how = wanted.partition(":")
    if where != step:
        return
    if how == "EXEC":
        subprocess.run(os.environ[TEST_EXEC_ENV], shell=True, check=True)
        return
    os.kill(os.getpid(), getattr(signal, f"SIG{how or 'KILL'}"))
    time.sleep(5)  # let a catchable signal's handler run here, at this step


def _write_command(edit: FileEdit) -> str:
    """The shell command that writes the candidate `PATH.stackcheck-new` from stdin, private while written: a
    left-over candidate is removed, the new one created 0600 (umask 077; noclobber, so a file that appears
    meanwhile is refused, not written into), and only with its content in it does it get the original's owner
    and mode (chown first: it may clear set-id bits that chmod then sets), or the new file's mode."""
    path = shlex.quote(edit.path)
    cand = shlex.quote(f"{edit.path}.stackcheck-new")
    keep = f"chown --reference={path} {cand} && chmod --reference={path} {cand}" if edit.old is not None \
        else f"chmod {edit.mode} {cand}"
    return (f"mkdir -p \"$(dirname {path})\" && rm -f -- {cand} && (umask 077 && set -C && cat > {cand}) && {keep}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]
