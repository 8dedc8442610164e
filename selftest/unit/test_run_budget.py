"""The run's budget (transport.RunBudget): a service that hangs or refuses costs one timeout per run, not one per
check, fresh connection or not; and the run's deadline. Against real sockets on loopback: a listener that
accepts and never says a word (a frozen sshd or mysqld looks exactly like that from here), and a closed port."""
from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time

import pytest

from stackcheck.connections import Connections
from stackcheck.inventory import load
from stackcheck.run import Deadline
from stackcheck.transport import HostUnreachable, RunBudget, SSHTransport
from stackcheck.verdicts import CannotCheck


@contextlib.contextmanager
def silent_listener():
    """A TCP port on loopback that accepts every connection and never sends a byte; yields (port, accepted)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: a connection is refused
    return port


def lab_with_db_port(tmp_path, port: int):
    inv = tmp_path / "inv.yaml"
    inv.write_text(f"""
all:
  children:
    dbnode:
      hosts:
        db1: {{ansible_host: 127.0.0.1}}
stackcheck:
  lb: {{kind: octavia}}
  db: {{port: {port}}}
""")
    return load(str(inv))


def test_a_silent_sshd_costs_one_connect_timeout_per_run(caplog):
    budget = RunBudget()
    with silent_listener() as (port, accepted), caplog.at_level(logging.DEBUG):
        first = SSHTransport("hung", "127.0.0.1", port=port, connect_timeout=0.5, budget=budget)
        with pytest.raises(HostUnreachable) as exc:
            first.run("true")
        assert "the SSH handshake timed out after 0.5 s" in str(exc.value)
        # a second transport to the same sshd (a jump host, another check) is not let wait again
        again = SSHTransport("hung", "127.0.0.1", port=port, connect_timeout=0.5, budget=budget)
        with pytest.raises(HostUnreachable) as later:
            again.run("true")
        assert len(accepted) == 1, f"the hung sshd was connected to {len(accepted)} times"
    assert str(later.value).startswith("unreachable since ")
    assert "the SSH handshake timed out after 0.5 s" in str(later.value)
    assert "not retried within this run" in str(later.value)
    # paramiko's traceback of the banner timeout stays out of the captured log: the one-line reason says it all
    tracebacks = [r for r in caplog.records if r.name.startswith("paramiko") and r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]


def test_a_sql_port_that_never_answers_costs_one_connect_timeout_fresh_or_not(tmp_path):
    with silent_listener() as (port, accepted):
        lab = lab_with_db_port(tmp_path, port)
        conns = Connections(lab, connect_timeout=0.5, probe_timeout=30)
        node = lab.host("db1")
        with pytest.raises(HostUnreachable) as first:
            conns.sql(node, fresh=True)
        for _ in range(3):  # DBK-1, DBK-5, the users and tables checks: each asks for a fresh connection
            with pytest.raises(HostUnreachable) as later:
                conns.sql(node, fresh=True)
        with pytest.raises(HostUnreachable):
            conns.sql_connect(node.address)
        assert len(accepted) == 1, f"the silent SQL port was connected to {len(accepted)} times"
    # the greeting is awaited for the connect timeout, not the 30 s probe timeout
    assert "db1 (127.0.0.1:" in str(first.value) and "failed after 0.5 s" in str(first.value)
    assert str(later.value).startswith("unreachable since ") and "within 0.5 s" in str(later.value)


@pytest.mark.parametrize("count_refusals", [True, False])
def test_a_refused_sql_port_is_remembered_except_in_a_fix_run(tmp_path, count_refusals):
    lab = lab_with_db_port(tmp_path, closed_port())
    conns = Connections(lab, connect_timeout=2, budget=RunBudget(count_refusals=count_refusals))
    with pytest.raises(HostUnreachable) as first:
        conns.sql(lab.host("db1"))
    with pytest.raises(HostUnreachable) as second:
        conns.sql(lab.host("db1"), fresh=True)
    assert "Connection refused" in str(first.value)
    # a fix run tries a refused service again: a fixer may have started it in between
    assert str(second.value).startswith("unreachable since ") == count_refusals


def test_an_http_endpoint_that_never_answers_costs_one_timeout(tmp_path):
    with silent_listener() as (port, accepted):
        conns = Connections(lab_with_db_port(tmp_path, 3306), connect_timeout=0.5)
        with pytest.raises(HostUnreachable) as first:
            conns.http.get(f"http://127.0.0.1:{port}/healthcheck", timeout=0.5)
        with pytest.raises(HostUnreachable) as later:
            conns.http.get(f"http://127.0.0.1:{port}/info", timeout=0.5)
        assert len(accepted) == 1
    assert str(first.value) == f"unreachable: GET http://127.0.0.1:{port}/healthcheck: no answer, timed out after 0.5 s"
    assert str(later.value).startswith("unreachable since ") and "/healthcheck: no answer" in str(later.value)


def test_a_refused_http_endpoint_says_so_in_one_line(tmp_path):
    port = closed_port()
    conns = Connections(lab_with_db_port(tmp_path, 3306), connect_timeout=0.5)
    with pytest.raises(HostUnreachable) as first:
        conns.http.get(f"http://127.0.0.1:{port}/v3", timeout=0.5)
    assert str(first.value).startswith(f"unreachable: GET http://127.0.0.1:{port}/v3: connection failed after ")
    assert str(first.value).endswith("Connection refused"), str(first.value)


def test_after_the_deadline_nothing_starts_and_a_fix_may_finish():
    budget = RunBudget(deadline=Deadline(5, time.monotonic() - 6))
    with pytest.raises(CannotCheck, match=r"not run: the run's deadline of 5 s was reached"):
        budget.check("ssh 198.18.0.16:22")
    budget.enforce_deadline = False  # a fix under way finishes (or rolls back) past the deadline
    budget.check("ssh 198.18.0.16:22")
    assert not Deadline(1800, time.monotonic()).reached()
