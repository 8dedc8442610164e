"""A batched probe command (several reads in one SSH round trip) whose every part says how it ended.

`cmd1; cmd2; true` hides a failed `cmd1`: a permission denied or a missing command then looks like an empty
answer a check would happily judge. `part(name, command)` prints the part's stdout, then its stderr and exit
code after markers; `split(text)` gives each part back as a `transport.Result`, so a check takes its output with
`.output("what it reads")` like any other command's (CannotCheck with the reason when the part failed).

Each part runs in its own subshell: parts do not share shell variables, and `exit` ends only its part."""
from __future__ import annotations

import re

from stackcheck.transport import Result

MARK = "@@stackcheck-part"
_HEADER = re.compile(rf"^{MARK} (out|err|rc) (\S+)(?: (-?\d+))?$")


def part(name: str, command: str) -> str:
    """Shell text printing `command`'s stdout, stderr and exit code under `name` (no spaces in names)."""
    # fd 3 carries the part's stdout past the command substitution, which captures its stderr alone
    return (f"echo '{MARK} out {name}'; {{ e=$( {{ {command}\n}} 2>&1 1>&3 ); r=$?; }} 3>&1; "
            f"echo '{MARK} err {name}'; [ -z \"$e\" ] || printf '%s\\n' \"$e\"; echo \"{MARK} rc {name} $r\"")


def command(parts: dict[str, str]) -> str:
    """One shell command running every part (name -> command) in order."""
    return "\n".join(part(name, cmd) for name, cmd in parts.items())


def split(text: str) -> dict[str, Result]:
    """name -> Result(rc, stdout, stderr) of each part. A part whose exit code never came (the probe was cut
    short) has rc -1, so `.output()` refuses it too."""
    out: dict[str, list[str]] = {}
    err: dict[str, list[str]] = {}
    rcs: dict[str, int] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m is None:
            if current is not None:
                current.append(line)
            continue
        kind, name, rc = m.groups()
        if kind == "out":
            current = out.setdefault(name, [])
        elif kind == "err":
            current = err.setdefault(name, [])
        else:
            rcs[name] = int(rc)
            current = None
    return {name: Result(rcs.get(name, -1), _text(lines), _text(err.get(name, []))
                         or ("" if name in rcs else "the probe ended before this part did"))
            for name, lines in out.items()}


def _text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def judged(text: str, name: str, what: str, ok: tuple[int, ...] = (0,)) -> str:
    """The output of part `name` of a batched probe's `text`, its exit code judged (CannotCheck otherwise)."""
    found = split(text).get(name)
    if found is None:
        found = Result(-1, "", f"the probe printed no part {name!r}")
    return found.output(what, ok)
