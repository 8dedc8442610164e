"""The storage node and catalog parsers (stackcheck/probes/swift.py, catalog.py) on output captured from the lab in a
box (Swift 2.30.1, Keystone 22 from Debian bookworm): the one-SSH-command collection of the proxy node (as root, as
`nobody`, and with paths that do not exist), Swift's /info, Keystone's version documents and its answers on
/v3/s3tokens. A part that could not be read is CannotCheck where it is used, never "missing" or "nothing"."""
import json
import socket
from pathlib import Path

import pytest

from stackcheck.probes import batch, catalog, paste, swift
from stackcheck.transport import Result
from stackcheck.verdicts import CannotCheck

DATA = Path(__file__).parent / "data" / "storage"
# swift.collect_command('/etc/swift/proxy-server.conf', '/var/cache/swift', 'swift-proxy') on the lab's storage
# node, as root (`labbox exec storage -- sh -c CMD`) and as nobody (`... su nobody -s /bin/sh -c CMD`), captured
# with `python -m selftest.capture raw storage USER "swift.collect_command(...)" FILE`
COLLECT = (DATA / "collect.labbox-storage.txt").read_text()
NOBODY = (DATA / "collect.labbox-storage.nobody.txt").read_text()
# the same as nobody for /etc/swift/proxy-server.conf.absent and /var/cache/swift-absent
ABSENT = (DATA / "collect.labbox-storage.absent-paths.txt").read_text()


def parse(text: str) -> swift.ProxyNode:
    return swift.ProxyNode.parse(text, "/etc/swift/proxy-server.conf", "/var/cache/swift")


def with_part(text: str, name: str, rc: int, stderr: str) -> swift.ProxyNode:
    """The captured node with one part's outcome replaced by another (its exit code and what it printed)."""
    node = parse(text)
    node.parts[name] = batch.Part(name, "", rc, stderr.splitlines())
    return node


def test_collect_output_splits_into_its_parts():
    node = parse(COLLECT)
    assert node.version == "2.30.1" and node.service == "active" and not node.conf_missing
    assert node.cache_dir == "swift swift 755 directory"
    assert node.conf_text.startswith("# Swift 2.30 proxy") and node.conf_text.endswith("allow_versioned_writes = true\n")
    assert node.paste.pipeline_names()[-1] == "proxy-server"
    assert paste.s3_pipeline_verdict(node.paste, node.version).ok


def test_listeners_of_the_proxy_port():
    node = swift.ProxyNode.parse(COLLECT)
    assert node.listening(8080) == ["0.0.0.0:8080"]
    assert node.listening(6202) == ["198.18.0.13:6202"]
    assert node.listening(9999) == []
    # (the node's firewall is judged by the one evaluator: selftest/unit/test_firewall_evaluator.py)


def test_absent_configuration_and_cache_dir_are_observed_absent():
    node = parse(ABSENT)
    assert node.conf_missing and node.conf_text == "" and node.paste.pipeline() == []
    assert node.cache_dir == "missing"


# --- false verdicts of the old probe: an unreadable part judged as if it had been read ---------------------------
def test_configuration_unreadable_as_nobody_is_cannot_check_not_absent():
    # `cat: /etc/swift/proxy-server.conf: Permission denied` (root:swift 0640); the old probe made it "cannot
    # read" *findings* of SWF-3/S3-1 (and of SWF-5, which does not even need the file)
    node = parse(NOBODY)
    assert not node.conf_missing
    with pytest.raises(CannotCheck, match="could not read /etc/swift/proxy-server.conf: permission denied"):
        node.paste


def test_port_parts_are_read_as_nobody_without_the_configuration():
    node = parse(NOBODY)  # ss and systemctl need no root: SWF-5's own inputs are there
    assert node.listening(8080) == ["0.0.0.0:8080"] and node.service == "active"


def test_no_socket_lister_is_cannot_check_not_nothing_listening():
    # ss absent and netstat absent (captured on the storage node with the names that are not there)
    node = with_part(NOBODY, "listen", 127, "sh: 1: netstatx: not found")
    with pytest.raises(CannotCheck, match="could not list the listening sockets.*command not found"):
        node.listening(8080)


def test_cache_dir_behind_an_unsearchable_directory_is_cannot_check_not_missing():
    # `stat` as nobody on a signing dir under /root (drwx------): the old check said "does not exist"
    denied = "stat: cannot statx '/root/keystone-signing': Permission denied\n"
    with pytest.raises(CannotCheck, match="permission denied"):
        swift.dir_state(Result(1, "", denied), "/root/keystone-signing")
    with pytest.raises(CannotCheck, match="could not look at /var/cache/swift"):
        with_part(NOBODY, "cache_dir", 1, denied).cache_dir
    absent = "stat: cannot statx '/etc/swift/nonexistent/x': No such file or directory\n"
    assert swift.dir_state(Result(1, "", absent), "/etc/swift/nonexistent/x") == "missing"


def test_unknown_release_is_cannot_check_not_any_release():
    # neither `import swift` nor a package answered: S3-1's order depends on the release, the old probe gave ""
    # and the order check then accepted whatever the middleware was
    with pytest.raises(CannotCheck, match="could not read the installed Swift release.*command not found"):
        with_part(COLLECT, "version", 127, "/bin/sh: 3: rpm: not found").version


def test_output_cut_short_is_cannot_check():
    text = COLLECT[:COLLECT.index("### listen")] + "### listen\nLISTEN 0 4096 0.0.0.0:8080"
    with pytest.raises(CannotCheck, match="did not reach it"):
        parse(text).listening(8080)
    with pytest.raises(CannotCheck):
        parse(text).cache_dir


def test_url_probe_without_a_result_is_cannot_check():
    with pytest.raises(CannotCheck, match="printed no result"):
        swift.parse_fetch("", ["http://k:5000"])
    with pytest.raises(CannotCheck, match="no answer for http://k:5000"):
        swift.parse_fetch("{}", ["http://k:5000"])


def test_s3tokens_without_an_answer_is_cannot_check_not_not_keystone():
    # the old probe returned (None, "no answer ...") and S3-1 reported "does not answer as Keystone's s3tokens
    # API" as a finding: nothing was learnt about Keystone
    port = _closed_port()
    with pytest.raises(CannotCheck, match="could not ask"):
        catalog.probe_s3tokens(f"http://127.0.0.1:{port}", 2)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # bound then closed: nothing listens there
    return port


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
