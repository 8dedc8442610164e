"""The SPICE console probe's pure parts: the websocket frame it sends, how it reads the proxy's frame header, how
it judges the relayed bytes, and that the console token never reaches a report."""
import struct

from stackcheck.probes import spice_console as sc


def test_link_request_is_a_spice_2_2_main_channel_link():
    req = sc.LINK_REQUEST
    assert req[:4] == b"REDQ" and struct.unpack("<III", req[4:16]) == (2, 2, 18) and len(req) == 16 + 18
    assert req[16 + 4] == 1  # channel type main


def test_client_frame_is_masked_binary_and_unmasks_to_the_payload():
    mask = b"\x01\x02\x03\x04"
    frame = sc.ws_frame(sc.LINK_REQUEST, mask)
    assert frame[0] == 0x82 and frame[1] == 0x80 | len(sc.LINK_REQUEST) and frame[2:6] == mask
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(frame[6:])) == sc.LINK_REQUEST
    long = sc.ws_frame(b"x" * 300, mask)
    assert long[1] == 0x80 | 126 and struct.unpack("!H", long[2:4]) == (300,)


def test_server_frame_header():
    assert sc.parse_ws_header(bytes([0x82, 100])) == (2, 100, 0)
    assert sc.parse_ws_header(bytes([0x82, 126])) == (2, 126, 2)
    assert sc.parse_ws_header(bytes([0x88, 2])) == (8, 2, 0)  # close


def test_link_reply_judged_by_its_magic():
    ok = sc.judge_link_reply(b"REDQ" + struct.pack("<II", 2, 2))
    assert ok.ok and ok.detail == "SPICE link reply, protocol 2.2"
    bad = sc.judge_link_reply(b"RFB 003.008\n")
    assert not bad.ok and "not a SPICE link reply" in bad.detail


def test_token_redacted_and_url_without_token_refused():
    url = "http://198.18.0.11:6082/spice_auto.html?token=3399d9bc-4371"
    assert sc.without_token(url) == "http://198.18.0.11:6082/spice_auto.html?token=<redacted>"
    assert not sc.reach("http://198.18.0.11:6082/spice_auto.html", timeout=1).ok


def test_https_console_is_an_error_not_a_finding():
    import pytest

    from stackcheck.verdicts import CannotCheck

    with pytest.raises(CannotCheck, match="over https"):
        sc.reach("https://console.example:6082/spice_auto.html?token=abc", timeout=1)
