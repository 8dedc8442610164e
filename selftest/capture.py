"""Capture what the lab in a box really prints, for the unit tests' data files (never hand-written).

    # re-run the check a replay file names (its check, host and user) and record every command's answer
    flock /tmp/stackcheck-lab.lock .venv/bin/python -m selftest.capture replay selftest/unit/data/openstack/replay/*.json
    # one probe command's stdout as HOST's USER (root, or nobody through `su nobody -s /bin/sh`)
    flock /tmp/stackcheck-lab.lock .venv/bin/python -m selftest.capture raw HOST USER 'apache.read_command()' OUT

As `nobody` the command runs through `su nobody -s /bin/sh -c CMD`: a non-root login's PATH
(/usr/local/bin:/usr/bin:/bin), no /usr/sbin, no root's permissions, as a monitoring user would run it."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

from stackcheck.transport import Result, Transport

LABBOX = str(Path(sys.executable).with_name("labbox"))
CHECK_MODULES = ("tests_openstack.test_ceilometer", "tests_openstack.test_horizon", "tests_openstack.test_neutron",
                 "tests_openstack.test_spice", "tests_openstack.test_projects")


class LabExec(Transport):
    """Runs each command inside a lab host as root or as nobody, and keeps every answer."""

    def __init__(self, host: str, user: str):
        self.name, self.user = host, user
        self.calls: list[dict] = []

    def run(self, command, stdin=None, timeout=None):
        argv = ["sh", "-c", command] if self.user == "root" else ["su", self.user, "-s", "/bin/sh", "-c", command]
        proc = subprocess.run([LABBOX, "exec", self.name, "--", *argv], capture_output=True, timeout=timeout or 60,
                              input=stdin.encode() if isinstance(stdin, str) else stdin)
        result = Result(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))
        self.calls.append({"rc": result.rc, "stdout": result.stdout, "stderr": result.stderr})
        return result


def check_named(name: str):
    for module in CHECK_MODULES:
        found = getattr(importlib.import_module(module), name, None)
        if found is not None:
            return found
    raise SystemExit(f"no check {name} in {', '.join(CHECK_MODULES)}")


def replay(path: Path, tmp: Path) -> None:
    """Re-run the check the replay file names with the unit tests' inventory, and record its answers."""
    from selftest.unit.test_openstack_verdicts import make_lab, run_check
    data = json.loads(path.read_text())
    transport = LabExec(data["host"], data["user"])
    try:
        run_check(check_named(data["check"]), make_lab(tmp), data["host"], transport)
        outcome = "passed"
    except BaseException as exc:  # the verdict is the unit test's business; the capture is what the lab printed
        outcome = f"{type(exc).__name__}: {str(exc)[:160]}"
    data["calls"] = transport.calls
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"{path.name}: {len(transport.calls)} call(s), the check said {outcome}")


def raw(host: str, user: str, expression: str, out: Path) -> None:
    """The stdout of one probe command (a Python expression over stackcheck.probes' modules) as host's user."""
    probes = {name: importlib.import_module(f"stackcheck.probes.{name}")
              for name in ("apache", "galera", "hostconf", "logs", "mycnf", "ovs", "spice", "swift")}
    result = LabExec(host, user).run(eval(expression, probes))  # an expression the operator typed, not data
    out.write_text(result.stdout)
    print(f"{out}: exit code {result.rc}, {len(result.stdout)} characters" + (f", stderr {result.stderr[:200]!r}"
                                                                               if result.stderr else ""))


def main(argv: list[str]) -> None:
    import tempfile
    if argv[:1] == ["replay"]:
        with tempfile.TemporaryDirectory() as tmp:
            for name in argv[1:]:
                replay(Path(name), Path(tmp))
    elif argv[:1] == ["raw"] and len(argv) == 5:
        raw(argv[1], argv[2], argv[3], Path(argv[4]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
