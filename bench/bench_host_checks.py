#!/usr/bin/env python3
"""Benchmark: the same 96 host checks (12 checks x 8 hosts of the lab in a box), through stackcheck and through
plain pytest-testinfra (paramiko backend, its defaults), in one run. Prints both wall times, their ratio and
whether every verdict is identical. Needs the lab in a box up (`labbox up`).

    .venv/bin/python bench/bench_host_checks.py [--rounds N]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from statistics import median

import yaml

REPO = Path(__file__).resolve().parents[1]
CHECKS = REPO / "bench" / "checks" / "test_bench_host.py"


def verdicts(junit: Path) -> dict[tuple[str, str], str]:
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name")
        func, _, param = name.partition("[")
        host = param.rstrip("]").split("://")[-1].split("@")[-1]  # testinfra ids: paramiko://root@ADDR
        verdict = "failed" if case.find("failure") is not None or case.find("error") is not None else \
            "skipped" if case.find("skipped") is not None else "passed"
        out[(func, host)] = verdict
    return out


def run(cmd: list[str], cwd: Path) -> float:
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    took = time.monotonic() - started
    if proc.returncode not in (0, 1):
        sys.exit(f"benchmark run failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="run each side N times (interleaved); best and median")
    args = parser.parse_args()
    inv_path = REPO / "inventories" / "labbox.yaml"
    if not inv_path.exists():
        sys.exit("no inventories/labbox.yaml: run `labbox up` first")
    inv = yaml.safe_load(inv_path.read_text())
    key = inv["all"]["vars"]["ansible_ssh_private_key_file"]
    hosts = {}
    for group in inv["all"]["children"].values():
        for name, hv in (group.get("hosts") or {}).items():
            if hv and hv.get("ansible_host"):
                hosts[name] = hv["ansible_host"]
    address_to_name = {a: n for n, a in hosts.items()}
    with tempfile.TemporaryDirectory(prefix="stackcheck-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "pytest.ini").write_text("[pytest]\n")
        sc_junit, ti_junit = tmp / "sc" / "latest.xml", tmp / "ti.xml"
        stackcheck = [sys.executable, "-m", "pytest", "-c", str(tmp / "pytest.ini"), "--noconftest", "-q",
                      "-p", "no:pytest11.testinfra", "-p", "no:cacheprovider", "-p", "stackcheck.plugin",
                      "--host=labbox", f"--reports={tmp / 'sc'}", str(CHECKS)]
        testinfra = [sys.executable, "-m", "pytest", "-c", str(tmp / "pytest.ini"), "--noconftest", "-q",
                     "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnknownMarkWarning",
                     "--hosts=" + ",".join(f"paramiko://root@{a}" for a in hosts.values()),
                     f"--ssh-identity-file={key}", f"--junitxml={ti_junit}", str(CHECKS)]
        # rounds interleaved (stackcheck, testinfra, stackcheck, ...) so that both sides meet the same machine:
        # timings here drift by 20-30 % from one minute to the next
        sc_times, ti_times = [], []
        for _ in range(args.rounds):
            sc_times.append(run(stackcheck, tmp))
            ti_times.append(run(testinfra, tmp))
        v_sc = verdicts(sc_junit)
        v_ti = {(f, address_to_name.get(h, h)): v for (f, h), v in verdicts(ti_junit).items()}
    n = len(v_sc)
    t_sc, t_ti = min(sc_times), min(ti_times)
    print(f"{n} host checks ({len(hosts)} hosts), {args.rounds} round(s), wall time best (median):")
    print(f"  stackcheck (one connection and one shell per host): {t_sc:6.2f} s ({median(sc_times):.2f} s)")
    print(f"  pytest-testinfra, paramiko backend, defaults:       {t_ti:6.2f} s ({median(ti_times):.2f} s)")
    print(f"  ratio: stackcheck is {t_ti / t_sc:.1f}x faster (medians: {median(ti_times) / median(sc_times):.1f}x)")
    same = v_sc == v_ti
    print(f"  verdicts identical: {'yes' if same else 'NO'} ({sum(v == 'passed' for v in v_sc.values())} passed)")
    if not same:
        for k in sorted(set(v_sc) | set(v_ti)):
            if v_sc.get(k) != v_ti.get(k):
                print(f"    {k}: stackcheck={v_sc.get(k)} testinfra={v_ti.get(k)}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
