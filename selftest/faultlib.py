"""What every fault test on the lab in a box needs: a door into a lab host (`labbox exec`, the same one an
operator's mistake would come through), and a way to run checks as a user would (a real `pytest --host=labbox`
in a subprocess, with its own JUnit report that we read back).

    def test_cluster_size_fault(lab_up):
        with fault("dbnode3", inject="systemctl stop mariadb", restore="systemctl start mariadb"):
            run = run_checks("tests_db/test_cluster.py::test_cluster_size_matches_inventory")
            assert run.outcome("test_cluster_size_matches_inventory[dbnode1]") == "failed"
            assert "found 2" in run.message("test_cluster_size_matches_inventory[dbnode1]")
        fixed = run_checks("tests_db/...", fix=True)
        assert fixed.outcome(...) == "fixed"
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# requirement ids a check of which was seen failing (failed, fix-failed, fixed, or failing first in a fix run)
# by run_checks since the current fault test started: what its covers(...) claim is verified against
SEEN_FAILING: set[str] = set()
FAILING = {"failed", "fix-failed", "fixed"}


def labbox(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "labbox", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"labbox {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc


def lab_exec(host: str, command: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a shell command inside a lab host (`labbox exec HOST -- sh -c CMD`)."""
    return labbox("exec", host, "--", "sh", "-c", command, check=check, timeout=timeout)


@contextlib.contextmanager
def fault(host: str, inject: str, restore: str | None = None):
    """Inject a fault; on leaving the block run `restore` whatever happened (when the fix did not)."""
    lab_exec(host, inject)
    try:
        yield
    finally:
        if restore:
            lab_exec(host, restore, check=False)


@dataclass
class Run:
    returncode: int
    output: str
    cases: dict[str, dict]
    run: dict[str, str] = field(default_factory=dict)  # the report's run properties (run_id, host_key_checking ...)

    def case(self, name: str) -> dict:
        if name not in self.cases:
            raise AssertionError(f"no check {name} in the run; ran: {sorted(self.cases)}\n{self.output[-3000:]}")
        return self.cases[name]

    def outcome(self, name: str) -> str:
        return self.case(name)["outcome"]

    def message(self, name: str) -> str:
        return self.case(name)["message"]

    def outcomes(self) -> dict[str, str]:
        return {name: c["outcome"] for name, c in self.cases.items()}


def run_checks(*selectors: str, fix: bool = False, dry_run: bool = False, fix_data: bool = False,
               inventory: str = "labbox", extra: tuple[str, ...] = (), timeout: float = 900,
               env: dict[str, str] | None = None) -> Run:
    """Run checks (pytest node ids or paths, `-k` expressions via extra) against the lab as a user would; `env`
    adds environment variables (e.g. the engine's test hook)."""
    with tempfile.TemporaryDirectory(prefix="stackcheck-selftest-") as reports:
        cmd = [sys.executable, "-m", "pytest", f"--host={inventory}", f"--reports={reports}", "-q", "-p", "no:randomly",
               *selectors, *extra]
        if fix:
            cmd.append("--fix")
        if dry_run:
            cmd.append("--dry-run")
        if fix_data:
            cmd.append("--fix-data")
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | (env or {})
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=timeout, env=environ,
                              preexec_fn=_default_sigint)
        latest = Path(reports) / "latest.xml"
        cases = parse_junit(latest) if latest.exists() else {}
        run = {p.get("name"): p.get("value") for p in ET.parse(latest).getroot().find("testsuite/properties")} \
            if latest.exists() else {}
    for case in cases.values():
        if case.get("outcome") in FAILING or case.get("first_outcome") in FAILING or case.get("real_outcome") in FAILING:
            SEEN_FAILING.update(case.get("requirements", "").split())
    return Run(proc.returncode, proc.stdout + proc.stderr, cases, run)


def _default_sigint() -> None:
    """A run started from a background job inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt: the checks run as a user's terminal would start them, Ctrl-C included."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def parse_junit(path: Path) -> dict[str, dict]:
    cases = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        problem = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
        props["message"] = problem.get("message", "") if problem is not None else ""
        props["classname"] = case.get("classname")
        props["time"] = case.get("time", "0")  # seconds the check took (a hung host's: one timeout, or none)
        cases[case.get("name")] = props
    return cases


def assert_all_pass(run: Run) -> None:
    bad = {n: (c["outcome"], c["message"][:200]) for n, c in run.cases.items() if c["outcome"] not in ("passed",)}
    assert run.cases and not bad, f"expected every check to pass on the healthy lab, got {bad}\n{run.output[-2000:]}"
