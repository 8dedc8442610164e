"""The fleet beside the lab (`labbox fleet`), and what it is for: a run split into 4 shards (`--shard K/4`) and
merged (`python -m stackcheck.merge`) gives every testcase the verdict a single run gives it, and 128 hosts behind
one jump host with sshd's default MaxStartups all connect. The fleet is removed at the end (`labbox fleet down`);
the lab itself is not touched (its own bridge, addresses and state)."""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from labbox import fleet
from selftest.faultlib import REPO, labbox

SHARD_FLEET = 16
JUMP_FLEET = 128
BENCH_CHECKS = REPO / "bench" / "checks" / "test_bench_host.py"


@pytest.fixture(scope="module")
def fleet_of_16():
    labbox("fleet", "up", str(SHARD_FLEET), timeout=300)
    yield fleet.INVENTORY
    labbox("fleet", "down", timeout=300)


def pytest_argv(reports: Path, *args: str, inventory: Path = fleet.INVENTORY) -> list[str]:
    """The whole suite (a complete selection: requirements are judged as in CI) on the fleet."""
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--host={inventory}",
            f"--reports={reports}", *args]


def pytest_run(reports: Path, *args: str, inventory: Path = fleet.INVENTORY) -> None:
    proc = subprocess.run(pytest_argv(reports, *args, inventory=inventory), cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode in (0, 1), f"run failed ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"


def pytest_runs_at_once(runs: list[list[str]]) -> None:
    """As a CI system's parallel jobs run them (and in a quarter of the time on this machine)."""
    procs = [subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for argv in runs]
    for argv, proc in zip(runs, procs):
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode in (0, 1), f"{' '.join(argv[-2:])} failed ({proc.returncode}):\n{out[-3000:]}"


def case_verdicts(junit: Path) -> dict[str, str]:
    """classname::name -> the stackcheck outcome recorded for it."""
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome = next(p.get("value") for p in case.iter("property") if p.get("name") == "outcome")
        out[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return out


def test_fleet_hosts_are_up_with_their_own_keys(fleet_of_16):
    inv = yaml.safe_load(fleet_of_16.read_text())
    hosts = inv["all"]["children"]["compute"]["hosts"]
    assert len(hosts) == SHARD_FLEET
    known = Path(inv["all"]["vars"]["stackcheck_known_hosts"]).read_text().splitlines()
    assert sorted(line.split()[0] for line in known) == sorted(hv["ansible_host"] for hv in hosts.values())
    assert len({line.split()[2] for line in known}) == SHARD_FLEET, "each host must have a host key of its own"
    status = labbox("fleet", "status")
    assert f"{SHARD_FLEET}/{SHARD_FLEET} running" in status.stdout, status.stdout


def test_four_shards_merged_equal_one_run(fleet_of_16, tmp_path):
    pytest_runs_at_once([pytest_argv(tmp_path / "one"),
                         *(pytest_argv(tmp_path / f"shard{k}", f"--shard={k}/4") for k in range(1, 5))])
    shards = [tmp_path / f"shard{k}" / "latest.xml" for k in range(1, 5)]
    merged = tmp_path / "merged.xml"
    proc = subprocess.run([sys.executable, "-m", "stackcheck.merge", str(merged), *map(str, shards)], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    one = case_verdicts(tmp_path / "one" / "latest.xml")
    per_shard = [case_verdicts(s) for s in shards]
    assert all(per_shard), f"a shard ran nothing: {[len(s) for s in per_shard]}"
    assert case_verdicts(merged) == one
    single = json.loads((tmp_path / "one" / "latest.json").read_text())
    joined = json.loads(merged.with_suffix(".json").read_text())
    assert {r["id"]: r["verdict"] for r in joined["requirements"]} == \
        {r["id"]: r["verdict"] for r in single["requirements"]}
    assert joined["run"]["gate"] == single["run"]["gate"]


def test_128_hosts_behind_one_jump_host_all_connect(fleet_of_16, tmp_path):
    """fleet001 is the bastion of the 127 others (its sshd has the default MaxStartups 10:30:100)."""
    labbox("fleet", "up", str(JUMP_FLEET), timeout=300)
    inv = yaml.safe_load(fleet.INVENTORY.read_text())
    hosts = inv["all"]["children"]["compute"]["hosts"]
    bastion = "fleet001"
    for name, hv in hosts.items():
        if name != bastion:
            hv["stackcheck_jump_host"] = bastion
    jump_inventory = tmp_path / "fleet-jump.yaml"
    jump_inventory.write_text(yaml.safe_dump(inv, sort_keys=False))
    pytest_run(tmp_path / "jump", "-p", "no:pytest11.testinfra", f"{BENCH_CHECKS}::test_uname_linux",
               inventory=jump_inventory)
    verdicts = case_verdicts(tmp_path / "jump" / "latest.xml")
    assert len(verdicts) == JUMP_FLEET
    assert {name: v for name, v in verdicts.items() if v != "passed"} == {}
