"""The fix journal on the target host: what a fix is about to do, written there BEFORE it changes anything, so that
a fix run that dies half-way (SIGKILL by a CI timeout or the OOM killer, a lost connection, a reboot) can be
rolled back by the next run, which finds the journal open.

One journal per host at JOURNAL (persistent, unlike the lock in /run: a host that rebooted mid-fix still has the
files the fix changed). It names its owner (runner host, pid, start time), the fixer, each file with its backup
and its sha256 before and after, each step with its undo, how many steps were done, and the phase. A run that
ends normally closes it (kept beside the backups for the audit trail).

Recovery trusts checksums, not hope: a file is restored only when it holds what the dead fix wrote (its "after"
sum), left alone when it already holds its "before", and reported as left when it holds anything else (someone
changed it since). Steps done are undone in reverse; API steps (openstacksdk, SQL) cannot be replayed from a
journal and are reported as left. When anything is left, that host is not fixed again until an operator looks.
"""
from __future__ import annotations

import json
import os
import shlex
import socket
import time
from dataclasses import asdict, dataclass, field

from stackcheck.transport import Transport

JOURNAL = "/var/lib/stackcheck/fix-journal.json"
# The audit trail: one entry per fix in the host's own log, tagged `stackcheck` (`journalctl -t stackcheck`), as
# Ansible leaves its module calls in the managed host's syslog. journald through systemd-cat; where there is no
# journald, syslog through logger. {message} is one shell-quoted line.
AUDIT_TAG = "stackcheck"
AUDIT_COMMAND = (f"systemd-cat -t {AUDIT_TAG} -p notice printf '%s\\n' {{message}} 2>/dev/null || "
                 f"logger -t {AUDIT_TAG} -p user.notice --size 65536 -- {{message}}")
# another runner's lock (or journal) older than this is taken as abandoned: no fix takes hours
STALE_AFTER = 2 * 3600


def owner_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{int(time.time())}"


def owner_is_alive(owner: str, now: float | None = None) -> tuple[bool, str]:
    """(alive, why) for an owner token `runnerhost:pid:epoch`. On this runner: is that pid running? For
    another runner (we cannot see its processes): younger than STALE_AFTER counts as alive."""
    try:
        host, pid, started = owner.strip().split(":")
        pid_n, started_s = int(pid), float(started)
    except ValueError:
        return False, f"the owner {owner.strip()!r} is not a stackcheck token"
    age = (now or time.time()) - started_s
    if host == socket.gethostname():
        try:
            os.kill(pid_n, 0)
        except ProcessLookupError:
            return False, f"process {pid_n} on {host} is gone"
        except PermissionError:
            pass  # it exists, as another user
        return True, f"process {pid_n} on {host} is running (started {age:.0f} s ago)"
    if age > STALE_AFTER:
        return False, f"it started {age / 3600:.1f} h ago on {host}, longer than any fix takes ({STALE_AFTER // 3600} h)"
    return True, f"it started {age:.0f} s ago on another runner ({host}), whose processes this runner cannot see"


@dataclass
class Journal:
    owner: str
    fixer: str
    where: str
    files: list[dict] = field(default_factory=list)  # {path, backup, before: sha|None (absent), after: sha}
    steps: list[dict] = field(default_factory=list)  # {description, do: str|None (API step), undo: str|None}
    done: int = 0  # steps done
    phase: str = "planned"  # planned | backed-up | written | acting | rechecking | passed | rolling-back
    requirements: list[str] = field(default_factory=list)  # the fixer's requirement ids (for the audit entry)

    def save(self, t: Transport) -> None:
        d = shlex.quote(os.path.dirname(JOURNAL))
        r = t.run(f"mkdir -p {d} && chmod 0700 {d} && umask 077 && cat > {JOURNAL}.new && mv -f {JOURNAL}.new {JOURNAL}",
                  stdin=json.dumps(asdict(self), indent=1))
        if not r.ok:
            raise RuntimeError(f"cannot write the fix journal {JOURNAL}: {r.reason()}")

    def close(self, t: Transport, archive_dir: str) -> None:
        """The fix ended (fixed, or rolled back completely): keep the journal beside the backups (0700, as they)."""
        a = shlex.quote(archive_dir)
        t.run(f"(umask 077 && mkdir -p {a}) && mv -f {JOURNAL} {a}/fix-journal.json")


def load(t: Transport) -> Journal | None:
    r = t.run(f"cat {JOURNAL} 2>/dev/null || {{ [ ! -e {JOURNAL} ] && echo none; }}")
    text = r.output(f"the fix journal {JOURNAL}")
    if text.strip() == "none":
        return None
    try:
        return Journal(**json.loads(text))
    except (ValueError, TypeError) as exc:
        raise RuntimeError(f"the fix journal {JOURNAL} is not readable ({exc}): look at it by hand") from None


def sha256(t: Transport, path: str) -> str | None:
    """The file's sha256, None when it does not exist."""
    q = shlex.quote(path)
    r = t.run(f"if [ -e {q} ]; then sha256sum -- {q}; else echo absent; fi")
    out = r.output(f"the checksum of {path}").strip()
    return None if out == "absent" else out.split()[0]


def recover(t: Transport, j: Journal, say) -> list[str]:
    """Roll back what a dead run's journal says it did; returns what could not be put back (empty: the host is
    as it was before that fix). A journal whose fix had passed its re-check is finished, not rolled back."""
    if j.phase == "passed":
        say(f"the interrupted fix {j.fixer} had passed its re-check: it is finished, nothing to roll back")
        return []
    left: list[str] = []
    for f in j.files:
        now = sha256(t, f["path"])
        if now == f["before"]:
            say(f"{f['path']}: as before the fix (unchanged)")
        elif now == f["after"]:
            q = shlex.quote(f["path"])
            cmd = (f"rm -f -- {q}" if f["before"] is None
                   else f"cp -a -- {shlex.quote(f['backup'])} {q}")
            r = t.run(cmd)
            if r.ok and sha256(t, f["path"]) == f["before"]:
                say(f"{f['path']}: restored from {f['backup'] or '(it did not exist)'} (verified)")
            else:
                left.append(f["path"])
                say(f"{f['path']}: could NOT be restored ({r.reason() if not r.ok else 'checksum differs'})")
        else:
            left.append(f["path"])
            say(f"{f['path']}: changed by someone else since (neither its content before nor after the fix): "
                f"left as it is; the backup is {f['backup'] or 'none (new file)'}")
    def run(command: str, done: str, what: str) -> None:
        r = t.run(command)
        if r.ok:
            say(f"{done}: {step['description']}")
        else:
            left.append(f"{what} of {step['description']}")
            say(f"could not {what} {step['description']}: {r.reason()}")

    for step in reversed(j.steps[:j.done]):
        if step["undo"]:
            run(step["undo"], "undone", "undo")
        elif step["do"] is None:
            left.append(f"API step {step['description']}")
            say(f"{step['description']}: an API step cannot be undone from the journal: check it by hand")
    if j.files:  # restarts ran against the new files: run them again so services read the restored ones
        for step in j.steps[:j.done]:
            if step["undo"] is None and step["do"] and "restart" in step["do"]:
                run(step["do"], "re-ran after restore", "re-run")
    return left


def audit_message(run_id: str, requirements, fixer: str, where: str, outcome: str,
                  files: list[tuple[str, str | None, str | None]], steps: str = "") -> str:
    """The one line a fix leaves in the host's log: run id, requirement ids, fixer, outcome, and each file with
    its sha256 before and after (`absent` when it did not or does not exist, `unknown` when it could not be
    read), and how many of its steps ran (done/planned). Names, paths and checksums only: never a file's content
    or a command (they may carry secrets)."""
    def word(sha: str | None) -> str:
        return "absent" if sha is None else sha
    parts = [f"fix {outcome}:", f"run_id={run_id}", f"requirements={','.join(requirements)}", f"fixer={fixer}",
             f"host={where}", f"runner={socket.gethostname()}:{os.getpid()}"]
    parts += [f"file={shlex.quote(path)} before={word(before)} after={word(after)}" for path, before, after in files]
    parts += [f"steps={steps}"] if steps else []
    return " ".join(" ".join(parts).split())  # one line: a newline would make two entries


def audit(t: Transport, message: str) -> str:
    """Write `message` to the host's log; '' when written, else why not (the fix's log says so)."""
    r = t.run(AUDIT_COMMAND.format(message=shlex.quote(message)))
    return "" if r.ok else r.reason()
