"""The storage node and catalog parsers (stackcheck/probes/swift.py, catalog.py) on output captured from the lab in a
box (Swift 2.30.1, Keystone 22 from Debian bookworm): the one-SSH-command collection of the proxy node, Swift's
/info, Keystone's version documents and its answers on /v3/s3tokens."""
import json
from pathlib import Path

from stackcheck.probes import catalog, paste, swift

DATA = Path(__file__).parent / "data" / "storage"
COLLECT = (DATA / "collect.labbox-storage.txt").read_text()


def test_collect_output_splits_into_its_parts():
    node = swift.ProxyNode.parse(COLLECT)
    assert node.version == "2.30.1" and node.service == "active" and node.conf_error == ""
    assert node.cache_dir == "swift swift 755 directory"
    assert node.paste.pipeline_names()[-1] == "proxy-server"
    assert paste.s3_pipeline_verdict(node.paste, node.version).ok


def test_listeners_of_the_proxy_port():
    node = swift.ProxyNode.parse(COLLECT)
    assert node.listening(8080) == ["0.0.0.0:8080"]
    assert node.listening(6202) == ["198.18.0.13:6202"]
    assert node.listening(9999) == []
    # (the node's firewall is judged by the one evaluator: selftest/unit/test_firewall_evaluator.py)


def test_missing_configuration_is_reported_not_parsed():
    text = COLLECT.replace(COLLECT.split("@@stackcheck-section conf\n")[1].split("@@stackcheck-section")[0],
                           "cat: /etc/swift/proxy-server.conf: No such file or directory\n")
    node = swift.ProxyNode.parse(text)
    assert node.conf_error.startswith("cat: /etc/swift/proxy-server.conf") and node.paste.pipeline() == []


def test_fetch_output_and_keystone_documents():
    root = (DATA / "keystone-root.json").read_text()
    v3 = (DATA / "keystone-v3.json").read_text()
    out = json.dumps({"http://k:5000": [300, root], "http://k:5000/v3": [200, v3],
                      "http://k:35357/": [0, "URLError: [Errno 111] Connection refused"]})
    answers = swift.parse_fetch("noise before\n" + out + "\n")
    assert catalog.keystone_version(*answers["http://k:5000"]) == "v3.14"
    assert catalog.keystone_version(*answers["http://k:5000/v3"]) == "v3.14"
    assert catalog.keystone_version(*answers["http://k:35357/"]) is None
    info = (DATA / "swift-info.2.30.1.json").read_text()
    assert catalog.keystone_version(200, info) is None, "Swift's /info is not Keystone"


def test_swift_info_says_what_answered():
    info, why = catalog.parse_swift_info(200, (DATA / "swift-info.2.30.1.json").read_text())
    assert info["swift"]["version"] == "2.30.1" and why == ""
    assert catalog.parse_swift_info(300, (DATA / "keystone-root.json").read_text()) == (None, "HTTP 300 on /info")
    assert catalog.parse_swift_info(200, (DATA / "keystone-v3.json").read_text())[1] == \
        "/info has no 'swift' section (not a Swift proxy)"
    assert catalog.parse_swift_info(200, "<html>It works!</html>")[1] == "/info is not JSON (not a Swift proxy)"


def test_s3tokens_answers_tell_whether_service_auth_is_required():
    unauth = (DATA / "s3tokens-unauthenticated.keystone22.json").read_text()
    assert catalog.s3tokens_requires_auth(401, unauth) is True
    # what the s3tokens handler answers for an unknown key once it is reached (an authenticated call here; a
    # Keystone without the 2025 fix reached it unauthenticated and answered exactly this)
    unknown = (DATA / "s3tokens-unknown-access.keystone22.json").read_text()
    assert catalog.s3tokens_requires_auth(404, unknown) is False
    assert catalog.s3tokens_requires_auth(404, "<html>Not Found</html>") is None


def test_catalog_urls():
    url = "http://198.18.0.11:8080/v1/AUTH_%(project_id)s"
    assert catalog.expand(url, "p1") == "http://198.18.0.11:8080/v1/AUTH_p1"
    assert catalog.expand("http://h:8080/v1/AUTH_%(tenant_id)s", "p1") == "http://h:8080/v1/AUTH_p1"
    assert catalog.host_port(url) == ("198.18.0.11", 8080)
    assert catalog.host_port("https://keystone.example/v3") == ("keystone.example", 443)
    assert catalog.with_netloc(url, "198.18.0.13", 8080) == "http://198.18.0.13:8080/v1/AUTH_%(project_id)s"
    assert catalog.base_url(url) == "http://198.18.0.11:8080"
    assert catalog.root_of("http://198.18.0.11:5000/v3/") == "http://198.18.0.11:5000"


def test_token_catalog_shape():
    token = [{"type": "object-store", "name": "swift", "id": "s1", "endpoints": [
        {"id": "e1", "interface": "public", "region_id": "RegionOne", "region": "RegionOne",
         "url": "http://198.18.0.13:8080/v1/AUTH_p1"}]}]
    (ep,) = catalog.from_token(token)
    assert (ep.service_type, ep.interface, ep.region, ep.service_id) == ("object-store", "public", "RegionOne", "s1")


def test_tcp_reason_on_a_closed_local_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # bound then closed: nothing listens there
    assert "refused" in catalog.tcp_reason("127.0.0.1", port, 2)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert catalog.tcp_reason("127.0.0.1", listener.getsockname()[1], 2) is None
