"""Does a SPICE console URL really reach its instance? Nova hands out `html5proxy_base_url?token=...`; the page
it names is static, so fetching it proves nothing. This opens the console's websocket at the proxy (the way
spice-html5 does: `ws://HOST:PORT/?token=...`, subprotocol binary) and sends a SPICE link request for the main
channel. The proxy validates the token, connects to the compute node's SPICE server and relays its link reply,
which starts with the SPICE magic "REDQ". Anything else says where the chain broke; a console it cannot open
(https) is CannotCheck."""
from __future__ import annotations

import base64
import os
import socket
import struct
import urllib.parse
from dataclasses import dataclass

from stackcheck.verdicts import CannotCheck

SPICE_MAGIC = b"REDQ"
# SpiceLinkHeader (magic, major 2, minor 2, size 18) + SpiceLinkMess (connection id 0, channel type 1 = main,
# channel id 0, no common or channel capabilities, capabilities at offset 18)
LINK_REQUEST = SPICE_MAGIC + struct.pack("<III", 2, 2, 18) + struct.pack("<IBBIII", 0, 1, 0, 0, 0, 18)


@dataclass
class ConsoleReach:
    ok: bool
    detail: str  # what answered, or where it stopped


def ws_frame(payload: bytes, mask: bytes) -> bytes:
    """One masked binary websocket frame (RFC 6455 5.2: every client frame is masked)."""
    head = bytes([0x82]) + (bytes([0x80 | len(payload)]) if len(payload) < 126
                            else bytes([0x80 | 126]) + struct.pack("!H", len(payload)))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def parse_ws_header(head: bytes) -> tuple[int, int, int]:
    """(opcode, payload length or 126/127 marker, header bytes still to read for the length)."""
    opcode, length = head[0] & 0x0F, head[1] & 0x7F
    return opcode, length, {126: 2, 127: 8}.get(length, 0)


def judge_link_reply(data: bytes) -> ConsoleReach:
    if data[:4] != SPICE_MAGIC:
        return ConsoleReach(False, f"the proxy relayed {data[:16]!r}, not a SPICE link reply")
    major, minor = struct.unpack("<II", data[4:12]) if len(data) >= 12 else (0, 0)
    return ConsoleReach(True, f"SPICE link reply, protocol {major}.{minor}")


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"the proxy closed the connection after {len(data)} of {n} bytes")
        data += chunk
    return data


def without_token(console_url: str) -> str:
    """The URL as reports may show it: the token opens the console for minutes, it is a secret."""
    return console_url.split("?", 1)[0] + ("?token=<redacted>" if "token=" in console_url else "")


def reach(console_url: str, timeout: float) -> ConsoleReach:
    """Open the console of `console_url` through its proxy and judge what comes back."""
    url = urllib.parse.urlsplit(console_url)
    token = (urllib.parse.parse_qs(url.query).get("token") or [""])[0]
    if not token or not url.hostname:
        return ConsoleReach(False, f"console URL {console_url} has no host or token")
    if url.scheme == "https":  # not a finding: nothing was judged
        raise CannotCheck(f"cannot open the console at {url.netloc}: a console proxy over https (websocket over TLS) "
                          "is not probed yet")
    port = url.port or 80
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout) as sock:
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall((f"GET /?token={token} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                          f"Sec-WebSocket-Protocol: binary\r\nOrigin: {url.scheme}://{url.netloc}\r\n\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 8192:
                chunk = sock.recv(1024)
                if not chunk:
                    break
                head += chunk
            status = head.split(b"\r\n", 1)[0].decode(errors="replace")
            if " 101 " not in status + " ":
                return ConsoleReach(False, f"the proxy at {url.netloc} refused the console's websocket: "
                                           f"{status or 'no answer'}")
            sock.sendall(ws_frame(LINK_REQUEST, os.urandom(4)))
            opcode, length, more = parse_ws_header(_recv_exact(sock, 2))
            if more:
                length = int.from_bytes(_recv_exact(sock, more), "big")
            if opcode == 0x8:
                return ConsoleReach(False, "the proxy closed the console right after the link request (it could "
                                           "not validate the token or reach the instance's SPICE server: see its log)")
            return judge_link_reply(_recv_exact(sock, min(length, 16)))
    except ConnectionRefusedError:
        return ConsoleReach(False, f"nothing accepts connections at {url.netloc} (the console proxy)")
    except (OSError, ConnectionError) as exc:
        return ConsoleReach(False, f"the console through {url.netloc} broke off: {type(exc).__name__}: {exc} (the "
                                   "proxy could not validate the token or reach the instance's SPICE server: see "
                                   "its log)")
