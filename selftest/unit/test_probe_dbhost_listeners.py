"""DBH-3's short-lived listeners, judged before any peer connects (issue 11: as a non-root SSH user the check
reported "Galera ports not reachable ... 873: refused", because socat cannot bind below 1024 without root and the
listener command never said it had failed; the peer's "refused" came from the node itself, not a firewall).

The outputs are `listen_command('198.18.0.16', GALERA_PORTS)` captured on the lab's dbnode2 (3306 and 4567 are
served by MariaDB there): as root, as nobody (`labbox exec dbnode2 -- su nobody -s /bin/sh -c '<command>'`), and
as nobody with a PATH that holds ss and timeout but no socat."""
from pathlib import Path

from stackcheck.probes import dbhost

DATA = Path(__file__).parent / "data" / "db"


def _listeners(name: str) -> dbhost.Listeners:
    return dbhost.parse_listeners((DATA / name).read_text(), "dbnode2")


def test_as_root_every_sst_ist_port_gets_a_listener():
    got = _listeners("dbnode2-listeners-root.txt")
    assert got.failures == []
    assert got.pids == [9999, 10007, 10015]  # 873, 4444, 4568: stopped after the peers connected


def test_as_non_root_port_873_cannot_be_listened_on_which_is_an_error_not_refused():
    got = _listeners("dbnode2-listeners-nobody.txt")
    assert got.failures == ["could not listen on 873 on dbnode2 to test reachability: permission denied (ports "
                            "below 1024 need root or become)"]
    assert got.pids == [9970, 9978]  # 4444 and 4568 did start: they are stopped all the same


def test_without_socat_nothing_is_started_and_that_is_said():
    got = _listeners("dbnode2-listeners-nobody-no-socat.txt")
    assert got.pids == []
    assert got.failures == ["could not start listeners on dbnode2 to test reachability: socat not found on the PATH "
                            "(install socat)"]


def test_output_cut_short_is_not_taken_for_listeners_that_started():
    text = (DATA / "dbnode2-listeners-root.txt").read_text().split("PID 10007")[0]  # cut after the first listener
    got = dbhost.parse_listeners(text, "dbnode2")
    assert got.pids == [9999]
    assert len(got.failures) == 1 and "the listener command stopped before it finished" in got.failures[0]


def test_a_listener_that_could_not_be_run_or_did_not_listen():
    # constructed from the formats above (timeout's and socat's own messages): not reproducible on the lab
    text = ("BUSY 3306\nFAILED 873 127 timeout: failed to run command 'socat': No such file or directory \n"
            "PID 812 4444 slow\nFAILED 4568 1 2026/12/03 09:50:04 socat[9966] E bind(6, {AF=2 198.18.0.16:4568}, "
            "16): Address already in use \nEND\n")
    got = dbhost.parse_listeners(text, "dbnode2")
    assert got.pids == [812]
    assert got.failures == [
        "could not listen on 873 on dbnode2 to test reachability: socat could not be run (exit 127: timeout: "
        "failed to run command 'socat': No such file or directory)",
        "could not listen on 4444 on dbnode2 to test reachability: the listener did not listen within 3 s",
        "could not listen on 4568 on dbnode2 to test reachability: the port is in use (something started "
        "listening on it meanwhile)"]


def test_the_command_captured_is_the_command_the_check_runs():
    """The captured files are only evidence while the command is the one they were captured with."""
    command = dbhost.listen_command("198.18.0.16", dbhost.GALERA_PORTS)
    assert "2>\"$d/$p\"" in command and "kill -0 $pid" in command and "echo END" in command
    assert "TCP-LISTEN:$p,bind=198.18.0.16" in command and "for p in 873 3306 4444 4567 4568" in command
