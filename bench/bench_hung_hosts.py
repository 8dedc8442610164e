#!/usr/bin/env python3
"""Benchmark: what hung hosts cost a run (issue 19). Runs the whole suite against the lab in a box with the
default timeouts (connect 10 s, probe 30 s): healthy, with one host frozen, with three hosts frozen, the issue's
own scenario (dbnode2 frozen one second into `tests_db`: 176 s before the run's failure budget) and `--deadline 20`
with a host frozen; prints them side by side with the bound "healthy + one connect and one probe timeout per hung
service". A host is frozen with its cgroup's cgroup.freeze (every process stops; its kernel still accepts TCP),
always thawed afterwards, and the DB cluster is waited for until healthy before the next scenario. Each
scenario holds the lab lock (/tmp/stackcheck-lab.lock) only while it runs. Needs the lab in a box up.

    .venv/bin/python bench/bench_hung_hosts.py [--only NAME ...]
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from selftest.faults.test_db import wait_lab_healthy  # noqa: E402 - the repo's own helper, after the path
from selftest.faults.test_hung_hosts import freeze_file  # noqa: E402

CONNECT, PROBE = 10, 30
LOCK = "/tmp/stackcheck-lab.lock"


@dataclass
class Scenario:
    name: str
    frozen: tuple[str, ...] = ()
    selection: tuple[str, ...] = ()  # () = the whole suite
    freeze_after: float = 0.0  # seconds into the run (0: before it starts)
    extra: tuple[str, ...] = ()
    services: int = 0  # hung services: SSH of each frozen host, SQL of a frozen DB node


SCENARIOS = [
    Scenario("healthy"),
    Scenario("1 hung host (dbnode2)", ("dbnode2",), services=2),
    Scenario("3 hung hosts (dbnode2, network, compute)", ("dbnode2", "network", "compute"), services=4),
    # Keystone, Horizon, SPICE and SSH of the controller; Swift's proxy answers S3 with HTTP 500 after waiting
    # for Keystone itself (its own timeout, per request: an answer, not a hang of ours)
    Scenario("controller (Keystone) hung", ("controller",), services=3),
    Scenario("tests_db healthy", selection=("tests_db",)),
    Scenario("tests_db, dbnode2 frozen 1 s in", ("dbnode2",), ("tests_db",), freeze_after=1.0, services=2),
    Scenario("--deadline 20, dbnode2 frozen", ("dbnode2",), extra=("--deadline=20",), services=2),
]


@contextlib.contextmanager
def lab_lock():
    with open(LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def freeze(hosts, value: str) -> None:
    for host in hosts:
        freeze_file(host).write_text(value)


def run(s: Scenario) -> dict:
    with tempfile.TemporaryDirectory(prefix="stackcheck-bench-") as reports, lab_lock():
        cmd = [sys.executable, "-m", "pytest", "--host=labbox", f"--reports={reports}", "-q", "-p", "no:randomly",
               *s.extra, *s.selection]
        timer = threading.Timer(s.freeze_after, freeze, (s.frozen, "1")) if s.frozen else None
        try:
            if timer and not s.freeze_after:
                freeze(s.frozen, "1")
            started = time.monotonic()
            if timer and s.freeze_after:
                timer.start()
            proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1800)
            took = time.monotonic() - started
        finally:
            if timer:
                timer.cancel()
            freeze(s.frozen, "0")
            if s.frozen:
                wait_lab_healthy(240)
        latest = Path(reports) / "latest.json"
        if not latest.exists():
            sys.exit(f"{s.name}: no report ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
        doc = json.loads(latest.read_text())
    cases = doc["cases"]
    outcomes: dict[str, int] = {}
    for c in cases:
        outcomes[c["outcome"]] = outcomes.get(c["outcome"], 0) + 1
    return {"took": took, "rc": proc.returncode, "checks": len(cases), "outcomes": outcomes,
            "hung_errors": sum(c["outcome"] == "error" for c in cases if c.get("host") in s.frozen),
            "hung_checks": sum(c.get("host") in s.frozen for c in cases),
            "not_run": doc["run"].get("not_run_past_deadline", 0), "unreachable": len(doc["run"].get("unreachable", {}))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run only the scenarios whose name contains one of these")
    args = parser.parse_args()
    if not (REPO / "inventories" / "labbox.yaml").exists():
        sys.exit("no inventories/labbox.yaml: run `labbox up` first")
    chosen = [s for s in SCENARIOS if not args.only or any(o in s.name for o in args.only)]
    results = {}
    for s in chosen:
        results[s.name] = run(s)
        r = results[s.name]
        print(f"  ... {s.name}: {r['took']:.1f} s", file=sys.stderr, flush=True)
    base = {"tests_db": results.get("tests_db healthy"), "all": results.get("healthy")}
    print(f"default timeouts: connect {CONNECT} s, probe {PROBE} s; bound = healthy + {CONNECT + PROBE} s per hung "
          "service")
    print(f"{'scenario':44} {'wall s':>7} {'bound s':>8} {'exit':>4} {'checks':>6}  outcomes; hung hosts' checks")
    for s in chosen:
        r = results[s.name]
        healthy = base["tests_db" if s.selection == ("tests_db",) else "all"]
        bound = f"{healthy['took'] + s.services * (CONNECT + PROBE):.0f}" if healthy and s.services else "-"
        outs = ", ".join(f"{n} {k}" for k, n in sorted(r["outcomes"].items()))
        hung = f"; {r['hung_errors']}/{r['hung_checks']} error" if s.frozen else ""
        more = (f"; {r['not_run']} not run (deadline)" if r["not_run"] else "") + \
               (f"; {r['unreachable']} services not retried" if r["unreachable"] else "")
        print(f"{s.name:44} {r['took']:7.1f} {bound:>8} {r['rc']:>4} {r['checks']:>6}  {outs}{hung}{more}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
