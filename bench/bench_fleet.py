#!/usr/bin/env python3
"""Benchmark at fleet scale: the 12 host checks of `make bench` on every host of a fleet of N light compute hosts
(`labbox fleet up N`), for N = 8, 32, 128, through
  (a) stackcheck (one connection and one shell per host),
  (b) plain pytest-testinfra, paramiko backend, `-n 2` (pytest-xdist: testinfra's own answer at scale),
  (c) ansible-playbook, the same checks as tasks (pipelining on, facts off, interpreter set, forks sized),
  (d) stackcheck as 2 CI jobs would run it: --shard 1/2 and 2/2 at once, then stackcheck.merge,
rounds interleaved. Per N: wall time best and median, seconds per host, CPU seconds and peak memory of the runner
(its whole process tree: forks, xdist workers, ssh processes; read from a cgroup of its own), the ratios, and
whether every verdict is identical. Exit 1 when any verdict differs.

    .venv/bin/python bench/bench_fleet.py [--sizes 8,32,128] [--rounds 3] [--ansible .venv-bench/bin/ansible-playbook]

Everything runs on this machine (the fleet's sshds too): figures are of one 2-core machine, runner and hosts alike.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from bench_host_checks import CHECKS, verdicts  # noqa: E402  (the 8-host bench's checks and JUnit reading)

FLEET_INVENTORY = REPO / "inventories" / "fleet.yaml"
CALLBACK_DIR = REPO / "bench" / "ansible"
PLAYBOOK = CALLBACK_DIR / "bench_host.yml"
CGROUP_ROOTS = (Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup/cpuacct"))
ANSIBLE_FORKS_MAX = 32  # at N = 32 on this machine: forks 32 took 90 s, forks 8 118 s (ansible-core 2.19)


@dataclass
class Side:
    label: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    peaks: list[int] = field(default_factory=list)
    verdicts: dict = field(default_factory=dict)


class Cgroup:
    """A memory + cpuacct cgroup (v1) for one run of a runner: its whole process tree's peak memory and CPU."""

    def __init__(self, name: str):
        self.dirs = [root / name for root in CGROUP_ROOTS]
        for d in self.dirs:
            d.mkdir(exist_ok=True)

    def enter(self) -> None:  # in the child, before exec
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(os.getpid()))

    def peak_bytes(self) -> int:
        return int((self.dirs[0] / "memory.max_usage_in_bytes").read_text())

    def cpu_seconds(self) -> float:
        return int((self.dirs[1] / "cpuacct.usage").read_text()) / 1e9

    def close(self) -> None:
        """End what the runner left behind (ansible's ssh ControlPersist masters: ours), then remove the cgroup."""
        for _ in range(50):
            pids = [int(p) for p in (self.dirs[0] / "cgroup.procs").read_text().split()]
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        for d in self.dirs:
            d.rmdir()


def timed(cmd: list[str], cwd: Path, env: dict | None = None) -> tuple[float, float, int, str]:
    """Run one benchmark command in a cgroup of its own: wall seconds, CPU seconds, peak bytes, output."""
    group = Cgroup(f"sc-bench-{os.getpid()}")
    try:
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, preexec_fn=group.enter)
        took = time.monotonic() - started
        cpu, peak = group.cpu_seconds(), group.peak_bytes()
    finally:
        group.close()
    if proc.returncode not in (0, 1, 2):  # 2: ansible-playbook when a task failed on some host
        sys.exit(f"benchmark run failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return took, cpu, peak, proc.stdout + proc.stderr


def fleet_up(n: int) -> dict[str, str]:
    """The fleet at size n; returns host name -> address."""
    subprocess.run([sys.executable, "-m", "labbox", "fleet", "up", str(n)], cwd=REPO, check=True)
    inv = yaml.safe_load(FLEET_INVENTORY.read_text())
    return {name: hv["ansible_host"] for name, hv in inv["all"]["children"]["compute"]["hosts"].items()}


def commands(tmp: Path, hosts: dict[str, str], inv: dict, ansible: str) -> dict[str, tuple[list[str], dict | None]]:
    key, known = inv["all"]["vars"]["ansible_ssh_private_key_file"], inv["all"]["vars"]["stackcheck_known_hosts"]
    ini = str(tmp / "pytest.ini")
    stackcheck = [sys.executable, "-m", "pytest", "-c", ini, "--noconftest", "-q", "-p", "no:pytest11.testinfra",
                  "-p", "no:cacheprovider", "-p", "stackcheck.plugin", f"--host={FLEET_INVENTORY}",
                  f"--reports={tmp / 'sc'}", str(CHECKS)]
    testinfra = [sys.executable, "-m", "pytest", "-c", ini, "--noconftest", "-q", "-p", "no:cacheprovider",
                 "-W", "ignore::pytest.PytestUnknownMarkWarning", "-n", "2",
                 "--hosts=" + ",".join(f"paramiko://root@{a}" for a in hosts.values()),
                 f"--ssh-identity-file={key}", f"--junitxml={tmp / 'ti.xml'}", str(CHECKS)]
    # (d) the recipe past one runner's reach: 2 shards at once (as 2 CI jobs would run), merged into one report
    shard = [stackcheck[:-2] + [f"--reports={tmp / f'sc{k}'}", f"--shard={k}/2", str(CHECKS)] for k in (1, 2)]
    merge = [sys.executable, "-m", "stackcheck.merge", str(tmp / "sc2" / "merged.xml"),
             str(tmp / "sc1" / "latest.xml"), str(tmp / "sc2" / "latest.xml")]
    two_shards = ["sh", "-c", f"{shlex.join(shard[0])} >/dev/null 2>&1 & {shlex.join(shard[1])} >/dev/null 2>&1; "
                              f"wait; {shlex.join(merge)} >/dev/null"]
    forks = min(len(hosts), ANSIBLE_FORKS_MAX)
    env = {**os.environ,
           "ANSIBLE_PIPELINING": "True", "ANSIBLE_FORKS": str(forks), "ANSIBLE_HOST_KEY_CHECKING": "True",
           "ANSIBLE_CALLBACKS_ENABLED": "verdicts", "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_DIR),
           "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal", "ANSIBLE_LOAD_CALLBACK_PLUGINS": "True",
           "BENCH_VERDICTS": str(tmp / "ansible.json"), "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"),
           # ControlPersist as Ansible's default, but masters in this run's own directory: no run reuses another's
           "ANSIBLE_SSH_ARGS": f"-C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile={known} "
                               f"-o StrictHostKeyChecking=yes",
           "ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp / "cp"), "ANSIBLE_NOCOLOR": "1"}
    ansible_cmd = [ansible, "-i", str(FLEET_INVENTORY), "-e", "ansible_python_interpreter=/usr/bin/python3",
                   str(PLAYBOOK)]
    this_checkout = {**os.environ, "PYTHONPATH": str(REPO)}  # the stackcheck of this checkout, not the venv's
    return {"stackcheck": (stackcheck, this_checkout), "stackcheck-2": (two_shards, this_checkout),
            "testinfra": (testinfra, None), "ansible": (ansible_cmd, env)}


def measure(n: int, rounds: int, ansible: str) -> dict[str, Side]:
    hosts = fleet_up(n)
    inv = yaml.safe_load(FLEET_INVENTORY.read_text())
    by_address = {a: name for name, a in hosts.items()}
    sides = {k: Side(k) for k in ("stackcheck", "stackcheck-2", "testinfra", "ansible")}
    with tempfile.TemporaryDirectory(prefix="stackcheck-bench-fleet-") as tmp:
        tmp = Path(tmp)
        (tmp / "pytest.ini").write_text("[pytest]\n")
        cmds = commands(tmp, hosts, inv, ansible)
        # interleaved (a, b, c, a, b, c, ...): the three meet the same machine; timings drift minute to minute
        for _ in range(rounds):
            for name, (cmd, env) in cmds.items():
                shutil.rmtree(tmp / "cp", ignore_errors=True)
                wall, cpu, peak, _out = timed(cmd, tmp, env)
                side = sides[name]
                side.walls.append(wall)
                side.cpus.append(cpu)
                side.peaks.append(peak)
        sides["stackcheck"].verdicts = verdicts(tmp / "sc" / "latest.xml")
        sides["stackcheck-2"].verdicts = verdicts(tmp / "sc2" / "merged.xml")
        sides["testinfra"].verdicts = {(f, by_address.get(h, h)): v for (f, h), v in verdicts(tmp / "ti.xml").items()}
        sides["ansible"].verdicts = {tuple(k.split("|")): v for k, v in json.loads((tmp / "ansible.json").read_text()).items()}
    return sides


def table(n: int, rounds: int, sides: dict[str, Side]) -> list[str]:
    sc = sides["stackcheck"]
    lines = [f"N = {n} hosts x 12 checks = {12 * n} host checks, {rounds} round(s) interleaved",
             f"  {'runner':46} {'best s':>7} {'median':>7} {'s/host':>7} {'CPU s':>6} {'peak MiB':>8} {'x (median)':>10}"]
    labels = {"stackcheck": "stackcheck (1 connection + 1 shell per host)",
              "stackcheck-2": "stackcheck, --shard 1/2 + 2/2 at once, merged",
              "testinfra": "pytest-testinfra paramiko, -n 2",
              "ansible": f"ansible-playbook, pipelining, forks {min(n, ANSIBLE_FORKS_MAX)}"}
    for key, side in sides.items():
        ratio = median(side.walls) / median(sc.walls)
        lines.append(f"  {labels[key]:46} {min(side.walls):7.2f} {median(side.walls):7.2f} "
                     f"{median(side.walls) / n:7.3f} {median(side.cpus):6.1f} {max(side.peaks) / 2**20:8.0f} "
                     f"{ratio:9.1f}x")
    others = ("stackcheck-2", "testinfra", "ansible")
    same = ", ".join(f"{o} {'yes' if sc.verdicts == sides[o].verdicts else 'NO'}" for o in others)
    passed = sum(v == "passed" for v in sc.verdicts.values())
    lines.append(f"  verdicts identical to stackcheck's: {same} ({len(sc.verdicts)} verdicts, {passed} passed)")
    for other in others:
        for k in sorted(set(sc.verdicts) | set(sides[other].verdicts)):
            if sc.verdicts.get(k) != sides[other].verdicts.get(k):
                lines.append(f"    {k}: stackcheck={sc.verdicts.get(k)} {other}={sides[other].verdicts.get(k)}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8,32,128", help="fleet sizes, comma-separated (default 8,32,128)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per size, interleaved (default 3)")
    parser.add_argument("--ansible", default=str(REPO / ".venv-bench" / "bin" / "ansible-playbook"),
                        help="ansible-playbook to use (default: .venv-bench, which `make bench-fleet` installs)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_fleet needs root (labbox fleet, and a cgroup per runner for its CPU and memory)")
    if not Path(args.ansible).exists() and not shutil.which(args.ansible):
        sys.exit(f"no {args.ansible}: `make bench-fleet` installs ansible-core into .venv-bench")
    print(f"fleet benchmark, {time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} CPU(s), "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    same = True
    for n in (int(s) for s in args.sizes.split(",")):
        sides = measure(n, args.rounds, args.ansible)
        lines = table(n, args.rounds, sides)
        same &= not any(line.startswith("    ") for line in lines)
        print("\n".join(lines), flush=True)
    print("the fleet is left up for another look (`labbox fleet status`); `labbox fleet down` removes it")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
