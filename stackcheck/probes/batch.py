"""Many reads in one round trip, each with its own exit code: a batched probe whose parts can fail one by one.

`cmd1; cmd2; true` hides a failure: a `permission denied` or a `command not found` in one read leaves its
section empty, and an empty ruleset or list is then judged as "nothing wrong" (or as a confident finding).
Here every read is a *part*: the script prints its header (`### name`, as sections.split reads), its stdout, then
a status line with its exit code and its stderr lines, so the probe judges each part as `Result.output` judges a
command: a part that failed raises CannotCheck naming what could not be read and why, and only when its facts are
used (a check that needs the routes does not fail because ebtables could not be read).

    script = batch.script(batch.part("route", "ip -j route show"), batch.file("/etc/iptables/rules.v4"))
    parts = batch.run(transport, script)
    parts.output("route", "the routing table")      # stdout, or CannotCheck with the reason
    parts.file("/etc/iptables/rules.v4")            # content, None when the file does not exist, or CannotCheck

Each part runs in a subshell (its `exit` ends only itself) under `sh`; its stdout goes straight through, its
stderr is kept for the status. Files are read by `__sc_file`, which tells "does not exist" (exit 3, `MISSING`)
from "cannot be read" (a directory we may not search hides a file too: that is unreadable, not missing).
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from stackcheck.transport import Result
from stackcheck.verdicts import CannotCheck

STATUS = "@@sc-rc@@"  # `@@sc-rc@@ RC NAME`: the end of a part
ERR = "@@sc-err@@"  # `@@sc-err@@ LINE`: one stderr line of the part just ended
MISSING = 3  # the exit code of __sc_file for a file that does not exist

# The shell functions every batch starts with. The stderr of the part is captured by `$( ... 2>&1 >&3 )` while
# its stdout goes to fd 3, the batch's stdout: output stays exact and streams; the part's status follows it.
PRELUDE = r"""
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"  # the administration tools, also for a login whose PATH lacks them
__sc_part() {
  echo "### $1"
  { __sc_err=$( (eval "$2") 2>&1 >&3 3>&- ); __sc_rc=$?; } 3>&1
  printf '\n%s %s %s\n' '@@sc-rc@@' "$__sc_rc" "$1"
  [ -z "$__sc_err" ] || printf '%s\n' "$__sc_err" | sed 's/^/@@sc-err@@ /'
}
__sc_cat() {
  if [ -f "$1" ]; then cat -- "$1"
  elif [ -e "$1" ]; then echo "$1: not a regular file" >&2; return 1
  elif stat -- "$1" 2>&1 | grep -qi 'permission denied'; then echo "$1: Permission denied" >&2; return 1
  else return 3; fi
}
__sc_file() { __sc_part "$1" '__sc_cat "$1"'; }
"""
# (__sc_file: the part's eval runs inside __sc_part, whose "$1" is the part's name, the path)


def part(name: str, command: str) -> str:
    """The shell line that runs `command` as the part `name` (the command may use `exit`, pipes, `if`)."""
    return f"__sc_part {shlex.quote(name)} {shlex.quote(command)}"


def file(path: str, name: str | None = None) -> str:
    """The shell line that reads the file `path` as the part named by the path (or `name`: a part whose name
    stays the same whatever the path is)."""
    if name is not None:
        return part(name, f"__sc_cat {shlex.quote(path)}")
    return f"__sc_file {shlex.quote(path)}"


def files_in(directory: str, pattern: str = "*") -> str:
    """Shell: the directory as a part of its own (an unreadable directory is a failure, never "no files"), then
    each file matching `pattern` in it as a part named by its path."""
    d = shlex.quote(directory)
    listing = part(f"dir {directory}", f"[ ! -e {d} ] || ls -A {d} >/dev/null")
    # `[ ! -e ] ||`, not `[ -e ] &&`: an unmatched glob (no file) must not leave the script's exit code at 1
    return f"{listing}; for __sc_f in {d}/{pattern}; do [ ! -e \"$__sc_f\" ] || __sc_file \"$__sc_f\"; done"


def script(*lines: str) -> str:
    return PRELUDE + "\n".join(lines) + "\n"


def of_parts(parts: dict[str, str]) -> str:
    """The script running each command of `parts` (name -> command) as a part of that name, in order."""
    return script(*(part(name, command) for name, command in parts.items()))


@dataclass
class Part:
    name: str
    text: str  # the part's stdout, exact
    rc: int
    err: list[str] = field(default_factory=list)  # its stderr lines

    def result(self) -> Result:
        return Result(self.rc, self.text, _telling(self.err))

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def reason(self) -> str:
        """Why the part did not succeed, in one line (as Result.reason says it of a command)."""
        return self.result().reason()

    def output(self, what: str, ok: tuple[int, ...] = (0,)) -> str:
        return self.result().output(what, ok)


def _telling(err: list[str]) -> str:
    """The stderr to report: the line that says why (`Permission denied`, `not found`), else them all (tools such
    as arptables print the reason first and advice after it)."""
    for line in err:
        low = line.lower()
        if "permission denied" in low or "not permitted" in low or "not found" in low or "you must be root" in low:
            return line
    return " / ".join(line.strip() for line in err if line.strip())


class Batch(dict):
    """name -> Part, from one batched read. `trouble` is why the batch itself could not run to its end (then a
    part it did not reach is a failure too)."""

    def __init__(self, trouble: str = ""):
        super().__init__()
        self.trouble = trouble

    def part(self, name: str, what: str) -> Part:
        if name not in self:
            raise CannotCheck(f"could not read {what}: the batched read did not reach it"
                              + (f" ({self.trouble})" if self.trouble else ""))
        return self[name]

    def output(self, name: str, what: str, ok: tuple[int, ...] = (0,)) -> str:
        """The stdout of part `name`, or CannotCheck saying that `what` could not be read and why."""
        return self.part(name, what).output(what, ok)

    def file(self, path: str, name: str | None = None) -> str | None:
        """The content of the file read as a part (named by its path, or `name`), None when it does not exist,
        CannotCheck when it is unreadable."""
        p = self.part(name or path, path)
        if p.rc == MISSING:
            return None
        return p.output(path)

    def names(self, prefix: str = "") -> list[str]:
        return [n for n in self if n.startswith(prefix)]


def parse(text: str) -> Batch:
    """The parts of a batch's stdout (lines outside a part are ignored; an unfinished last part is dropped)."""
    out = Batch()
    name, lines = None, []
    last: Part | None = None
    for line in text.split("\n"):
        if name is None:
            if line.startswith("### "):
                name, lines = line[4:], []
            elif line.startswith(ERR + " ") and last is not None:
                last.err.append(line[len(ERR) + 1:])
            elif line == ERR and last is not None:
                last.err.append("")
            continue
        rc, sep, rest = line[len(STATUS) + 1:].partition(" ") if line.startswith(STATUS + " ") else ("", "", "")
        if sep and rest == name and rc.lstrip("-").isdigit():
            # the status line follows a newline of our own, which the split consumed: the lines are stdout
            last = out[name] = Part(name, "\n".join(lines), int(rc))
            name = None
        else:
            lines.append(line)
    return out


def run(transport, text: str) -> Batch:
    """Run a batch script; each part is judged when it is read."""
    r = transport.run(text)
    found = parse(r.stdout)  # rc judged: every part carries its own exit code; a batch cut short is `trouble`
    if r.rc != 0:
        found.trouble = r.reason()
    return found
