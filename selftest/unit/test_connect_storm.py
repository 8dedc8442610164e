"""A connect storm (stackcheck/transport.py): which failed handshakes are tried again. The messages are the
transport's own, as runs printed them; the first is a bastion's sshd dropping handshakes past MaxStartups
(128 hosts behind one fleet host, before one connection per bastion)."""
import pytest

from stackcheck.transport import HostUnreachable, MAX_CONNECTS_DEFAULT, dropped_handshake

DROPPED = ("unreachable: fleet001 (root@198.18.1.11:22): accepted TCP but the SSH handshake timed out after 0.1 s "
           "(Error reading SSH protocol banner)")
ANSWERS = [
    "unreachable: fleet007 (root@198.18.1.17:22): SSH authentication failed (key refused)",
    "unreachable: fleet007 (root@198.18.1.17:22): Connection refused after 0.0 s",
    "unreachable: fleet007 (root@198.18.1.17:22): No route to host after 3.0 s",
    "unreachable: fleet002 (root@198.18.1.12:22): jump host fleet001 could not open a channel: "
    "ChannelException(2, 'Connect failed') after 0.0 s",
    "unreachable since 16:28:44: fleet001 (root@198.18.1.11:22): accepted TCP but the SSH handshake timed out after "
    "0.1 s (Error reading SSH protocol banner) (not retried within this run; the next run tries again)",
]


def test_a_handshake_dropped_at_once_is_tried_again():
    assert dropped_handshake(HostUnreachable(DROPPED), took=0.1, connect_timeout=10)
    assert dropped_handshake(HostUnreachable("unreachable: x (root@a:22): Connection reset by peer after 0.0 s"),
                             took=0.0, connect_timeout=10)


def test_a_hang_is_not_tried_again():
    """A frozen sshd (accepts TCP, says nothing) would cost the connect timeout once per attempt."""
    assert not dropped_handshake(HostUnreachable(DROPPED.replace("0.1 s", "10.0 s")), took=10.0, connect_timeout=10)


@pytest.mark.parametrize("message", ANSWERS)
def test_an_answer_is_not_tried_again(message):
    assert not dropped_handshake(HostUnreachable(message), took=0.0, connect_timeout=10)


def test_default_stays_under_sshds_maxstartups():
    assert MAX_CONNECTS_DEFAULT < 10


def test_a_bastion_connected_for_a_host_uses_that_hosts_slot():
    """Host connects (one slot), its bastion connects inside that (no second slot): with every slot held by hosts
    waiting for their bastion, asking for a second one would wait forever."""
    import threading

    from stackcheck import transport

    transport.set_max_connects(1)
    done = threading.Event()

    def host_then_bastion():
        with transport._connect_slot():
            with transport._connect_slot():
                done.set()

    try:
        worker = threading.Thread(target=host_then_bastion, daemon=True)
        worker.start()
        assert done.wait(5), "the bastion's connect waited for a second slot while its host held the only one"
        worker.join(5)
        with transport._connect_slot():  # and the slot was given back
            pass
    finally:
        transport.set_max_connects(transport.MAX_CONNECTS_DEFAULT)
