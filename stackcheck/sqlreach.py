"""How SQL reaches a DB node or the VIP: TLS (`stackcheck.db.tls`) and, with `stackcheck.db.via: ssh`, through
the SSH connection of a host of the inventory (and so through `stackcheck_jump_host`), so that the runner needs
no route to port 3306.

Through SSH, the DB node's own SSH session opens a `direct-tcpip` channel to the node's address (the server sees
the node itself as the client, as it sees the runner's address otherwise); the VIP is reached from the load
balancer's host. PyMySQL gets a real socket (one end of a socketpair, the other end copied to and from the
channel by two threads), so TLS works over the tunnel exactly as over TCP, the certificate checked against the
node's (or the VIP's) address.
"""
from __future__ import annotations

import socket
import threading

import pymysql

from stackcheck.verdicts import CannotCheck


def tls_options(lab) -> dict:
    """PyMySQL's TLS arguments from `db.tls` ({} without it). The server's certificate and its name (the address
    connected to) are verified unless `verify: false` is set explicitly."""
    tls = lab.get("db.tls")
    if not tls:
        return {}
    verify = tls.get("verify", True) is not False
    out = {"ssl_verify_cert": verify, "ssl_verify_identity": verify}
    for key in ("ca", "cert", "key"):
        if tls.get(key):
            out[f"ssl_{key}"] = str(tls[key])
    if verify and "ssl_ca" not in out:
        raise CannotCheck("stackcheck.db.tls needs `ca` (the CA that signed the DB servers' certificates) to verify "
                          "them; set `verify: false` only to accept any certificate")
    return out


def tunnel_socket(transport, address: str, port: int, timeout: float) -> socket.socket:
    """A local socket whose bytes go to address:port as seen from `transport`'s host."""
    ssh = transport.client.get_transport()
    try:
        channel = ssh.open_channel("direct-tcpip", (address, port), ("127.0.0.1", 0), timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - paramiko's ChannelException and SSHException: the port refused
        raise pymysql.err.OperationalError(2003, f"through SSH on {transport.name}: cannot open {address}:{port}: "
                                                 f"{exc}") from None
    ours, theirs = socket.socketpair()
    for source, sink in ((theirs, channel), (channel, theirs)):
        threading.Thread(target=_copy, args=(source, sink), daemon=True).start()
    return ours


def _copy(source, sink) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (sink, source):
            try:
                end.close()
            except OSError:
                pass
