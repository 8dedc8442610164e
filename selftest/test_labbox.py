"""The lab in a box itself: the door into a host passes output and exit codes through, status names every
host, Keystone answers concurrent writers (the suite and the Swift proxy write at once), and `down` leaves
nothing behind (no namespace, link, mount, route, process, cgroup or file but the image cache), after which `up`
brings back a lab that passes its own readiness probes."""
import os
import subprocess
from pathlib import Path

import pytest

from labbox import hosts as hostctl
from labbox.topology import BRIDGE, GUARD, HOSTS, KEPT_BY_DOWN, PREFIX, STATE
from selftest.faultlib import REPO, labbox, lab_exec


def test_exec_passes_output_and_exit_code(lab_up):
    proc = lab_exec("dbnode2", "hostname; exit 7", check=False)
    assert proc.returncode == 7 and proc.stdout.strip() == "dbnode2", (proc.returncode, proc.stdout, proc.stderr)


def test_each_host_has_its_own_etc_and_network(lab_up):
    seen = {}
    for h in HOSTS:
        out = lab_exec(h.name, "cat /etc/hostname; ip -4 -o addr show dev eth0").stdout.split("\n", 1)
        seen[h.name] = (out[0].strip(), h.ip in out[1])
    assert seen == {h.name: (h.name, True) for h in HOSTS}


def test_status_names_every_host(lab_up):
    proc = labbox("status")
    for h in HOSTS:
        assert f"{h.name} " in proc.stdout and "down" not in proc.stdout.split(h.name, 1)[1].split("\n", 1)[0]


def test_keystone_answers_concurrent_writers(lab_up):
    """Four clients creating and deleting EC2 credentials at once all get answers. Keystone on SQLite under more
    than one uwsgi worker or thread raised 'database is locked' and the connection was dropped unanswered
    (RemoteDisconnected in a fault test, and 40 of 160 DELETEs here)."""
    import threading

    import openstack.config
    import openstack.connection

    from labbox.inventory import CLOUD, CLOUDS_YAML
    from stackcheck.s3 import create_ec2_credential

    clients, rounds = 4, 10
    region = openstack.config.OpenStackConfig(config_files=[str(CLOUDS_YAML)]).get_one(cloud=CLOUD, api_timeout=30)
    failures: list[str] = []

    def create_and_delete() -> None:
        conn = openstack.connection.Connection(config=region)  # one per thread: a Connection is not thread-safe
        for _ in range(rounds):
            try:
                cred_id, _access, _secret = create_ec2_credential(conn)
                conn.identity.delete_credential(cred_id)
            except Exception as exc:  # noqa: BLE001 - every failure is the finding
                failures.append(f"{type(exc).__name__}: {str(exc)[-120:]}")

    threads = [threading.Thread(target=create_and_delete) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, (f"{len(failures)} of {clients * rounds} credential create+delete rounds failed, "
                          f"e.g. {failures[:3]}")


def _leftovers() -> list[str]:
    found = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [f"netns {n.split()[0]}" for n in netns.splitlines() if n.startswith(PREFIX)]
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    found += [f"link {line.split(':')[1].strip()}" for line in links.splitlines()
              if line.split(":")[1].strip().split("@")[0].startswith(PREFIX)]
    routes = subprocess.run(["ip", "route", "show", GUARD], capture_output=True, text=True).stdout
    found += [f"route {r}" for r in routes.splitlines() if r.strip()]
    found += [f"mount {line.split()[1]}" for line in Path("/proc/mounts").read_text().splitlines()
              if str(STATE) in line.split()[1]]
    found += [f"cgroup {c}" for h in ("systemd", "unified") for c in os.listdir(f"/sys/fs/cgroup/{h}")
              if c.startswith(PREFIX)] if Path("/sys/fs/cgroup/unified").exists() else []
    found += [f"process {h.name}" for h in HOSTS if hostctl.nspawn_pid(h) is not None]
    if STATE.exists():
        found += [f"file {STATE / n}" for n in os.listdir(STATE) if n not in KEPT_BY_DOWN]
    if (REPO / "inventories" / "labbox.yaml").exists():
        found.append("file inventories/labbox.yaml")
    return found


@pytest.mark.lifecycle
def test_down_leaves_nothing_and_up_comes_back(lab_up):
    labbox("down", timeout=300)
    assert _leftovers() == [], "labbox down left these behind"
    assert not subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode == 0
    labbox("up", timeout=1800)
    status = labbox("status", check=False)
    assert status.returncode == 0, status.stdout
