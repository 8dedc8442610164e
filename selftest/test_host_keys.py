"""Host identity on the lab in a box: a host presenting a key other than the known one (a rebuilt host, or
someone in the middle), or a key nobody recorded, is an error of that host's checks and the run exits non-zero;
`accept-new` records the keys of a first run and verifies against them afterwards; `off` is said by every run.

The lab's hosts keep their real keys: the tests write their own known_hosts files (wrong or empty) beside a
copy of the lab's inventory."""
from __future__ import annotations

import pytest
import yaml

from labbox.provision import KNOWN_HOSTS
from labbox.topology import BY_NAME
from selftest.faultlib import REPO, run_checks

CHECK = "tests_host/test_names.py::test_hostname_resolves_to_the_node_address"  # one quick check on every host


def case(name: str) -> str:
    return f"test_hostname_resolves_to_the_node_address[{name}]"


def lab_lines() -> dict[str, str]:
    """address -> the lab's own known_hosts line (labbox writes it from the host's key file)."""
    return {line.split()[0]: line for line in KNOWN_HOSTS.read_text().splitlines() if line.strip()}


@pytest.fixture
def inventory(lab_up, tmp_path):
    """write(known_hosts text, **all.vars) -> the path of a copy of the lab's inventory using that file."""
    def write(known_hosts: str, **all_vars) -> str:
        kh = tmp_path / "known_hosts"
        kh.write_text(known_hosts)
        inv = yaml.safe_load((REPO / "inventories" / "labbox.yaml").read_text())
        inv["all"]["vars"].update(stackcheck_known_hosts=str(kh), **all_vars)
        path = tmp_path / "labbox-copy.yaml"
        path.write_text(yaml.safe_dump(inv, sort_keys=False))
        return str(path)
    return write


def test_replaced_or_unknown_key_errors_that_host_and_fails_the_run(inventory):
    lines = lab_lines()
    lb, storage, controller = (BY_NAME[n].ip for n in ("lb", "storage", "controller"))
    # lb presents its key, but the file says the controller's key is lb's: as if lb had been replaced
    lines[lb] = lb + " " + lines[controller].split(" ", 1)[1]
    del lines[storage]  # and storage was never recorded
    run = run_checks(CHECK, inventory=inventory("\n".join(lines.values()) + "\n"))
    assert run.returncode == 1, run.output[-3000:]
    assert run.outcome(case("lb")) == "error" and run.outcome(case("storage")) == "error"
    assert f"host key of lb ({lb}) has CHANGED" in run.message(case("lb")), run.message(case("lb"))
    unknown = run.message(case("storage"))
    assert (f"unknown host key for storage ({storage}), SHA256:" in unknown
            and "set stackcheck_host_key_checking: accept-new" in unknown), unknown
    others = {n: o for n, o in run.outcomes().items() if n not in (case("lb"), case("storage"))}
    assert len(others) == 6 and set(others.values()) == {"passed"}, others
    assert run.run["host_key_checking"] == "strict" and "host_key_warning" not in run.run


def test_accept_new_records_the_first_runs_keys_then_verifies_them(inventory, tmp_path):
    path = inventory("", stackcheck_host_key_checking="accept-new")
    known_hosts = tmp_path / "known_hosts"
    # two xdist workers, each connecting to its hosts at once: concurrent writers of the one file
    first = run_checks(CHECK, inventory=path, extra=("-n", "2"))
    assert first.returncode == 0 and set(first.outcomes().values()) == {"passed"}, first.output[-3000:]
    recorded = known_hosts.read_text()
    assert sorted(recorded.splitlines()) == sorted(lab_lines().values()), recorded  # the hosts' real keys, once
    second = run_checks(CHECK, inventory=path)
    assert second.returncode == 0 and set(second.outcomes().values()) == {"passed"}, second.output[-3000:]
    assert known_hosts.read_text() == recorded and "recorded the host key" not in second.output
    # a key changed since it was recorded is never replaced: accept-new still refuses it
    lb, controller = BY_NAME["lb"].ip, BY_NAME["controller"].ip
    lines = lab_lines()
    lines[lb] = lb + " " + lines[controller].split(" ", 1)[1]
    known_hosts.write_text("\n".join(lines.values()) + "\n")
    third = run_checks(f"{CHECK}[lb]", inventory=path)
    assert third.returncode == 1 and "has CHANGED" in third.message(case("lb")), third.output[-3000:]
    assert known_hosts.read_text() == "\n".join(lines.values()) + "\n"


def test_off_is_said_in_the_summary_and_the_report(inventory):
    lines = lab_lines()
    lb, controller = BY_NAME["lb"].ip, BY_NAME["controller"].ip
    lines[lb] = lb + " " + lines[controller].split(" ", 1)[1]  # a wrong key: off does not look
    run = run_checks(f"{CHECK}[lb]", f"{CHECK}[controller]", inventory=inventory(
        "\n".join(lines.values()) + "\n", stackcheck_host_key_checking="off"))
    assert run.returncode == 0, run.output[-3000:]
    assert "stackcheck host keys" in run.output and "WARNING: SSH host keys NOT verified for" in run.output
    assert run.run["host_key_checking"] == "off" and "NOT verified for controller" in run.run["host_key_warning"]


def test_the_bastions_key_is_verified_too(inventory):
    """lb reached through the controller as a bastion (not an inventory name: the settings of lb apply), whose
    key the file does not have: lb's checks are errors naming the bastion, before any login to it."""
    lines = lab_lines()
    controller = BY_NAME["controller"].ip
    del lines[controller]
    path = inventory("\n".join(lines.values()) + "\n")
    inv = yaml.safe_load(open(path))
    inv["all"]["children"]["lb"]["hosts"]["lb"]["stackcheck_jump_host"] = f"root@{controller}"
    open(path, "w").write(yaml.safe_dump(inv, sort_keys=False))
    run = run_checks(f"{CHECK}[lb]", inventory=path)
    assert run.returncode == 1 and run.outcome(case("lb")) == "error", run.output[-3000:]
    assert f"unknown host key for jump:{controller} ({controller}), SHA256:" in run.message(case("lb"))
