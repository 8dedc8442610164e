"""The storage checks' verdicts where their inputs are missing or unreadable (tests_storage/, stackcheck/s3.py):
each test is a false verdict of the old code (a pass, a finding, or "not applicable" where the check could not
read or judge), now an error that says what could not be read and what to set.

The proxy node's probe gets the output captured on the lab's storage node (as root and as `nobody`) through a
transport that replays it for exactly the command the probe sends; S3 and s3tokens requests go to a real closed
local port."""
from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest

import tests_storage.test_catalog as catalog_checks
import tests_storage.test_proxy_node as proxy_checks
import tests_storage.test_s3 as s3_checks
from stackcheck import s3 as s3mod
from stackcheck.inventory import Host
from stackcheck.probes import catalog, swift
from stackcheck.traces import Traces
from stackcheck.transport import Result, Transport
from stackcheck.verdicts import CannotCheck, MissingExpectation, NotApplicable
from tests_storage import node as node_reader

DATA = Path(__file__).parent / "data" / "storage"
CONF, CACHE, SERVICE = "/etc/swift/proxy-server.conf", "/var/cache/swift", "swift-proxy"
STORAGE = Host("storage", "198.18.0.13", ("storage",))


class Replay(Transport):
    """Answers the proxy node's batched read with what the lab's storage node printed for it."""

    name = "storage"

    def __init__(self, captured: str):
        self.captured = captured

    def run(self, command, stdin=None, timeout=None):
        assert command == swift.collect_command(CONF, CACHE, SERVICE), "the capture is of another command"
        return Result(0, self.captured, "")


class Lab:
    """The inventory's keys the storage checks read."""

    def __init__(self, hosts=(STORAGE,), **values):
        self._hosts = list(hosts)
        self.values = {"swift.proxy_conf": CONF, "swift.cache_dir": CACHE, "swift.proxy_service": SERVICE,
                       "swift.port": 8080, "connect_timeout": 2, "s3.region": "RegionOne", **values}

    def get(self, key):
        return self.values.get(key)

    def secret(self, key):
        return self.values.get(key)

    def hosts(self, *roles):
        return [h for h in self._hosts if set(roles) & set(h.roles)]


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --- the proxy node read as a user that may not read proxy-server.conf ---------------------------------------
def test_swf3_with_an_unreadable_configuration_is_an_error_not_a_finding():
    transport = Replay((DATA / "collect.labbox-storage.nobody.txt").read_text())
    with pytest.raises(CannotCheck, match="could not read /etc/swift/proxy-server.conf: permission denied") as exc:
        proxy_checks.test_proxy_authenticates_against_keystone(STORAGE, transport, Lab(), {})
    assert not isinstance(exc.value, AssertionError)


def test_s3_1_with_an_unreadable_configuration_is_an_error_not_a_finding():
    transport = Replay((DATA / "collect.labbox-storage.nobody.txt").read_text())
    with pytest.raises(CannotCheck, match="permission denied"):
        proxy_checks.test_s3_middleware_in_the_order_the_release_needs(STORAGE, transport, Lab(), {})


def test_swf5_reads_its_port_without_the_configuration():
    # the old reader failed every proxy check (SWF-5 too) when proxy-server.conf could not be read
    node = node_reader.read_proxy_node(Replay((DATA / "collect.labbox-storage.nobody.txt").read_text()), Lab())
    assert node.listening(8080) == ["0.0.0.0:8080"]


def test_an_absent_configuration_is_a_finding_that_names_the_key():
    # captured for /etc/swift/proxy-server.conf.absent: absent is observed, so it stays a finding
    node = swift.ProxyNode.parse((DATA / "collect.labbox-storage.absent-paths.txt").read_text(), CONF + ".absent")
    with pytest.raises(AssertionError, match="does not exist.*stackcheck.swift.proxy_conf"):
        node_reader.proxy_conf(node, STORAGE)


# --- SWF-1 / SWF-2 / OS-3: what the catalog shows, and what it cannot show ------------------------------------
def _cannot_list_services():
    raise CannotCheck("listing Keystone's services failed (ForbiddenException: 403)")


def test_swf1_s3_unknown_when_services_cannot_be_listed():
    # the old check took "not allowed to list services" as "no s3 service registered" and passed
    gaps = catalog_checks.catalog_gaps({("object-store", "public"), ("identity", "public")}, _cannot_list_services)
    assert not gaps.problems and "403" in gaps.s3_unknown


def test_swf1_missing_object_store_is_a_finding_even_when_s3_is_unknown():
    gaps = catalog_checks.catalog_gaps({("identity", "public")}, _cannot_list_services)
    assert gaps.problems == ["object-store (no public endpoint)"] and gaps.s3_unknown


def test_swf1_s3_observed_registered_or_not():
    present = {("object-store", "public")}
    assert catalog_checks.catalog_gaps(present, lambda: True).problems == [
        "s3 (registered, but no endpoint in the catalog)"]
    assert catalog_checks.catalog_gaps(present, lambda: False).problems == []
    assert catalog_checks.catalog_gaps(present | {("s3", "public")}, _cannot_list_services).s3_unknown == ""


def test_swf2_without_an_object_store_endpoint_is_an_error():
    identity = catalog.Endpoint("identity", "keystone", "public", "http://198.18.0.11:5000/v3")
    disabled = catalog.Endpoint("object-store", "swift", "public", "http://198.18.0.13:8080/v1", enabled=False)
    with pytest.raises(CannotCheck, match="no enabled object-store endpoint"):
        catalog_checks.no_store_endpoint([identity], "identity API")
    with pytest.raises(CannotCheck, match="disabled: object-store public"):
        catalog_checks.no_store_endpoint([identity, disabled], "identity API")
    catalog_checks.no_store_endpoint([identity, dataclasses.replace(disabled, enabled=True)], "identity API")


# --- the S3 fixture: no endpoint, no credentials ---------------------------------------------------------------
def _no_cloud():
    raise MissingExpectation("cloud.name", "the OpenStack API checks need the cloud of your clouds.yaml")


def test_s3_without_endpoint_is_an_error_not_not_applicable():
    try:
        s3mod.s3_endpoint(Lab(hosts=()), None)
    except NotApplicable as exc:  # caught here: the plugin would turn it into a skip of this test
        pytest.fail(f"missing data reported as not applicable: {exc}")
    except CannotCheck as exc:
        assert "no host of the inventory has role storage" in str(exc)
    else:
        pytest.fail("an S3 endpoint out of nothing")


def test_s3_without_credentials_or_cloud_names_the_key():
    with pytest.raises(MissingExpectation) as exc:
        s3mod.open_s3(Lab(), _no_cloud, Traces(read_only=False))
    assert exc.value.key == "cloud.ec2_access" and "cloud.name" in str(exc.value)


def test_s3_half_a_credential_names_the_other_half():
    with pytest.raises(MissingExpectation) as exc:
        s3mod.open_s3(Lab(**{"cloud.ec2_access": "AKIA-not-a-secret"}), _no_cloud, Traces(read_only=False))
    assert exc.value.key == "cloud.ec2_secret"


def test_s3_with_inventory_credentials_needs_no_cloud():
    # the old fixture let the missing cloud name end every S3 check although the S3 API itself could be judged
    access = s3mod.open_s3(Lab(**{"cloud.ec2_access": "a", "cloud.ec2_secret": "s"}), _no_cloud,
                           Traces(read_only=False))
    assert access.endpoint == "http://198.18.0.13:8080" and access.source == "inventory"
    assert access.endpoint_source.startswith("inventory (storage host; no cloud to read the catalog from")


# --- S3-5 / S3-3 where nothing answers or the client cannot be built ------------------------------------------
def _s3_at_closed_port() -> s3mod.S3Access:
    return s3mod.S3Access(f"http://127.0.0.1:{closed_port()}", "RegionOne", "inventory", "a", "s")


def test_s3_5_without_an_answer_is_an_error_not_a_finding():
    # nothing answered: that says nothing about whether a wrong secret is refused (old: "expected 403" finding)
    with pytest.raises(CannotCheck, match="cannot tell whether .* refuses a wrong secret"):
        s3_checks.test_wrong_secret_is_refused(_s3_at_closed_port(), {})


def test_s3_call_turns_only_s3_errors_into_findings():
    s3 = _s3_at_closed_port()
    with pytest.raises(AssertionError, match="ListBuckets .* failed"):
        s3_checks._call(s3, "ListBuckets", lambda: s3.client().list_buckets())

    def broken():
        raise ImportError("No module named 'boto3'")

    with pytest.raises(ImportError):  # not an observation of the S3 API: an error, never a finding
        s3_checks._call(s3, "ListBuckets", broken)
