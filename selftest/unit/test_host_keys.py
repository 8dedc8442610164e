"""The SSH host key policy (stackcheck/hostkeys.py) on real keys of the lab in a box: what strict, accept-new and
off decide, what accept-new writes (once, under concurrent connects from threads and processes, never over a
changed key), and how the inventory names them."""
import json
import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

import paramiko
import pytest

from stackcheck import hostkeys
from stackcheck.inventory import InventoryError, load
from stackcheck.report import Redactor, write_reports

# two lines of the lab's known_hosts (labbox/provision.py writes them from the hosts' own key files)
CONTROLLER = "198.18.0.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK+Vn161Eo6A1RDc+TXzzQR6L0qpOYI370Wc0d4PCqYh"
LB = "198.18.0.18 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG7VG0YeN4M80vYtSG+YoyiJ4MMSwxPq+cBFqpVWzT3k"


def key_of(line: str) -> paramiko.PKey:
    return paramiko.hostkeys.HostKeyEntry.from_line(line).key


def keys_from(tmp_path, *lines: str) -> paramiko.HostKeys:
    path = tmp_path / "known_hosts"
    path.write_text("".join(line + "\n" for line in lines))
    return hostkeys.load(str(path))


@pytest.mark.parametrize("raw, mode", [(None, "strict"), ("strict", "strict"), ("accept-new", "accept-new"),
                                       ("Accept-New", "accept-new"), ("off", "off"),
                                       (False, "off"), (True, "strict")])  # YAML's off/no and yes/on
def test_modes(raw, mode):
    assert hostkeys.mode_of(raw) == mode


@pytest.mark.parametrize("raw", ["yes please", "accept", "no-check", 0])
def test_an_unknown_mode_is_refused(raw):
    with pytest.raises(ValueError, match="strict, accept-new, off"):
        hostkeys.mode_of(raw)


def test_known_unknown_and_changed(tmp_path):
    keys = keys_from(tmp_path, CONTROLLER)
    assert hostkeys.judge(keys, "198.18.0.11", key_of(CONTROLLER)) == "known"
    assert hostkeys.judge(keys, "198.18.0.18", key_of(LB)) == "unknown"
    # the lb's key presented at the controller's address: a replaced host, or someone in the middle
    assert hostkeys.judge(keys, "198.18.0.11", key_of(LB)) == "changed"
    # another port is another endpoint (OpenSSH writes it as [addr]:port)
    assert hostkeys.judge(keys, hostkeys.known_name("198.18.0.11", 2222), key_of(CONTROLLER)) == "unknown"


def test_hashed_names_are_matched(tmp_path):
    hashed = paramiko.HostKeys.hash_host("198.18.0.11")  # ssh-keygen -H / HashKnownHosts yes
    keys = keys_from(tmp_path, CONTROLLER.replace("198.18.0.11", hashed, 1))
    assert hostkeys.judge(keys, "198.18.0.11", key_of(CONTROLLER)) == "known"
    assert hostkeys.judge(keys, "198.18.0.11", key_of(LB)) == "changed"


def test_a_missing_file_knows_nobody(tmp_path):
    assert hostkeys.judge(hostkeys.load(str(tmp_path / "absent")), "198.18.0.11", key_of(CONTROLLER)) == "unknown"


def test_strict_refuses_an_unknown_key_naming_what_to_do(tmp_path):
    policy = hostkeys.Policy("strict", str(tmp_path / "kh"), "controller", "198.18.0.11")
    with pytest.raises(hostkeys.HostKeyRejected) as exc:
        policy.missing_host_key(None, "198.18.0.11", key_of(CONTROLLER))
    assert str(exc.value) == (f"unknown host key for controller (198.18.0.11), {key_of(CONTROLLER).fingerprint}: "
                              f"add it to {tmp_path / 'kh'} or set stackcheck_host_key_checking: accept-new")
    assert key_of(CONTROLLER).fingerprint.startswith("SHA256:") and not (tmp_path / "kh").exists()


def test_off_accepts_and_writes_nothing(tmp_path):
    hostkeys.Policy("off", str(tmp_path / "kh"), "controller", "198.18.0.11").missing_host_key(
        None, "198.18.0.11", key_of(CONTROLLER))
    assert not (tmp_path / "kh").exists()


def test_accept_new_records_once_and_says_so(tmp_path):
    path = tmp_path / "ssh" / "known_hosts"  # neither the file nor its directory exists yet
    recorded: list[str] = []
    policy = hostkeys.Policy("accept-new", str(path), "controller", "198.18.0.11", recorded)
    policy.missing_host_key(None, "198.18.0.11", key_of(CONTROLLER))
    policy.missing_host_key(None, "198.18.0.11", key_of(CONTROLLER))  # a second connect: already there
    assert path.read_text() == CONTROLLER + "\n"
    assert oct(path.stat().st_mode & 0o777) == "0o600" and oct(path.parent.stat().st_mode & 0o777) == "0o700"
    assert len(recorded) == 1 and "recorded the host key of controller (198.18.0.11)" in recorded[0]
    assert hostkeys.judge(hostkeys.load(str(path)), "198.18.0.11", key_of(CONTROLLER)) == "known"


def test_accept_new_never_replaces_a_changed_key(tmp_path):
    path = tmp_path / "known_hosts"
    path.write_text(CONTROLLER + "\n")
    policy = hostkeys.Policy("accept-new", str(path), "controller", "198.18.0.11")
    with pytest.raises(hostkeys.HostKeyRejected, match=r"host key of controller \(198.18.0.11\) has CHANGED"):
        policy.missing_host_key(None, "198.18.0.11", key_of(LB))
    assert path.read_text() == CONTROLLER + "\n"


def test_accept_new_appends_after_a_last_line_without_newline(tmp_path):
    path = tmp_path / "known_hosts"
    path.write_text(CONTROLLER)
    assert hostkeys.record(str(path), "198.18.0.18", key_of(LB)) == "unknown"
    assert path.read_text() == f"{CONTROLLER}\n{LB}\n"


def _record_in_process(path: str, line: str, results) -> None:
    results.put(hostkeys.record(path, "198.18.0.11", key_of(line)))


def test_accept_new_under_concurrent_connects_records_one_key(tmp_path):
    """pytest-xdist workers and `warm`'s threads connect at once: whatever the interleaving, the file ends with
    one line for the host, and a second key offered meanwhile for it is refused as changed, never written."""
    path = str(tmp_path / "known_hosts")
    with ThreadPoolExecutor(max_workers=8) as pool:
        verdicts = list(pool.map(lambda _: hostkeys.record(path, "198.18.0.11", key_of(CONTROLLER)), range(16)))
    assert sorted(set(verdicts)) == ["known", "unknown"] and verdicts.count("unknown") == 1
    other = str(tmp_path / "known_hosts2")
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_record_in_process, args=(other, line, results)) for line in [CONTROLLER, LB] * 4]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    verdicts = [results.get(timeout=5) for _ in procs]
    lines = open(other).read().splitlines()
    assert len(lines) == 1 and verdicts.count("unknown") == 1, (lines, verdicts)
    winner = CONTROLLER if lines[0] == CONTROLLER else LB
    assert verdicts.count("known") == 3 and verdicts.count("changed") == 4, (winner, verdicts)


def test_inventory_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    kh = tmp_path / "kh"
    kh.write_text(CONTROLLER + "\n")
    inv = tmp_path / "inv.yaml"
    inv.write_text(f"""
all:
  children:
    controller: {{hosts: {{controller: {{ansible_host: 198.18.0.11}}}}}}
    lb: {{hosts: {{lb: {{ansible_host: 198.18.0.18, stackcheck_host_key_checking: off}}}}}}
    network: {{hosts: {{network: {{ansible_host: 198.18.0.12, stackcheck_known_hosts: {kh}}}}}}}
""")
    lab = load(str(inv))
    assert lab.host("controller").known_hosts == str(tmp_path / ".ssh" / "known_hosts")  # the user's, as ssh
    assert lab.host("controller").host_key_checking == "strict"
    assert lab.host("lb").host_key_checking == "off"  # YAML `off` is False: explicit, so honoured
    assert lab.host("network").known_hosts == str(kh)
    assert lab.unverified_hosts() == ["lb"]


@pytest.mark.parametrize("hostvars, message", [
    ("stackcheck_host_key_checking: maybe", "host lb: stackcheck_host_key_checking: 'maybe' is not one of"),
    ("stackcheck_known_hosts: /nonexistent/kh", "host lb: stackcheck_known_hosts /nonexistent/kh does not exist"),
])
def test_inventory_mistakes_stop_the_run(tmp_path, hostvars, message):
    inv = tmp_path / "inv.yaml"
    inv.write_text(f"all:\n  children:\n    lb:\n      hosts:\n        lb: {{ansible_host: 198.18.0.18, {hostvars}}}\n")
    with pytest.raises(InventoryError, match=message):
        load(str(inv))


def test_accept_new_may_name_a_file_it_will_create(tmp_path):
    inv = tmp_path / "inv.yaml"
    inv.write_text("all:\n  children:\n    lb:\n      hosts:\n        lb: {ansible_host: 198.18.0.18, "
                   f"stackcheck_known_hosts: {tmp_path}/new_kh, stackcheck_host_key_checking: accept-new}}\n")
    assert load(str(inv)).host("lb").host_key_checking == "accept-new"


def test_summary_and_the_report_say_it(tmp_path):
    assert hostkeys.summary({"a": "strict", "b": "strict"}) == "strict"
    assert hostkeys.summary({"a": "strict", "lb": "off", "b": "accept-new"}) == "accept-new: b; off: lb; strict: a"
    run = {"run_id": "20261203T000000Z-abcd", "host_key_checking": "off: lb; strict: a",
           "host_key_warning": hostkeys.off_notice(["lb"])}
    path = write_reports([], [], tmp_path, Redactor(), "inv", None, run=run)
    doc = json.loads(path.with_suffix(".json").read_text())
    assert doc["run"]["run_id"] == run["run_id"] and "NOT verified for lb" in doc["run"]["host_key_warning"]
    xml = path.read_text()
    assert 'name="run_id" value="20261203T000000Z-abcd"' in xml and 'name="host_key_warning"' in xml
