"""The SSH transport on a real lab host: every command goes to one long-lived shell on the host's one
connection, and each must behave exactly as if it had an SSH session of its own (exit status, exact stdout and
stderr, no state carried over to the next command, no stdin); commands with stdin data, or from a second
thread, get a session of their own."""
from __future__ import annotations

import threading

import pytest

from labbox.topology import BY_NAME
from stackcheck.connections import Connections
from stackcheck.inventory import load
from stackcheck.transport import ProbeTimeout, SSHTransport

HOST = "dbnode2"


@pytest.fixture
def ssh(lab_up):
    lab = load("labbox")
    connections = Connections(lab, 10, 30)
    t = connections.transport(lab.host(HOST))
    assert isinstance(t, SSHTransport)
    yield t
    connections.close()


def test_commands_share_one_shell(ssh):
    # `$$` in a subshell is the shell that started it: one shell for every command, not one session each
    pids = {ssh.run("echo $$").stdout for _ in range(5)}
    assert len(pids) == 1 and pids.pop().strip().isdigit()
    assert ssh.run("hostname").stdout == f"{HOST}\n"


def test_exit_status_and_exact_output(ssh):
    assert (ssh.run("exit 7").rc, ssh.run("false").rc, ssh.run("true").rc) == (7, 1, 0)
    assert ssh.run("printf abc").stdout == "abc"  # no newline of ours is left behind
    assert ssh.run("printf 'a\\n\\n'").stdout == "a\n\n"
    r = ssh.run("echo out; echo err >&2; exit 3")
    assert (r.rc, r.stdout, r.stderr) == (3, "out\n", "err\n")


def test_no_state_carried_to_the_next_command(ssh):
    home = ssh.run("pwd").stdout
    ssh.run("cd /tmp; export STACKCHECK_PROBE=1; set -e; ulimit -n 64; exec >/dev/null")
    assert ssh.run("pwd; echo ${STACKCHECK_PROBE:-unset}; ulimit -n").stdout.split("\n")[:2] == [home.strip(), "unset"]
    assert ssh.run("ulimit -n").stdout.strip() != "64"


def test_syntax_error_is_that_commands_failure_only(ssh):
    r = ssh.run("if then fi (")
    assert r.rc == 2 and r.stderr
    assert ssh.run("echo still here").stdout == "still here\n"


def test_a_command_never_reads_the_next_one(ssh):
    r = ssh.run("cat; echo rc=$?")  # stdin is empty, as in a session of its own
    assert r.stdout == "rc=0\n"
    assert ssh.run("cat", stdin="from stdin\n").stdout == "from stdin\n"


def test_output_that_looks_like_a_marker_and_large_output(ssh):
    assert ssh.run("echo '__stackcheck_0123456789abcdef_1 0'").stdout == "__stackcheck_0123456789abcdef_1 0\n"
    r = ssh.run("head -c 3000000 /dev/zero | tr '\\0' a; head -c 200000 /dev/zero | tr '\\0' b >&2")
    assert (len(r.stdout), set(r.stdout), len(r.stderr), set(r.stderr)) == (3000000, {"a"}, 200000, {"b"})


def test_background_process_does_not_hold_the_command(ssh):
    # a daemon started by hand keeps stdout open: a session of its own would wait for it to exit
    assert ssh.run("sleep 20 >/dev/null 2>&1 & echo started", timeout=5).stdout == "started\n"
    assert ssh.run("sleep 20 & echo started", timeout=5).stdout == "started\n"
    ssh.run("pkill -x -f 'sleep 20'")


def test_timeout_then_a_fresh_shell(ssh):
    with pytest.raises(ProbeTimeout, match="did not finish within 1"):
        ssh.run("sleep 5", timeout=1)
    assert ssh.run("echo again").stdout == "again\n"


def test_threads_each_get_their_own_answer(ssh):
    answers: dict[int, str] = {}

    def ask(i: int) -> None:
        answers[i] = ssh.run(f"sleep 0.2; echo {i}").stdout

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == {i: f"{i}\n" for i in range(6)}


def test_the_host_really_is_reached(ssh):
    assert ssh.run("hostname -I").stdout.split()[0] == BY_NAME[HOST].ip
