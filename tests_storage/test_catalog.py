"""SWF-1, SWF-2, OS-3: the Keystone catalog names the object store (and S3), and every URL in it answers.

The notes' real incident: the object-store endpoints pointed at the controller's 8080, where nothing listened;
the proxy was on the storage node. Checked the way a client meets it: the URLs of the catalog, connected to from
here. Repair: fixes/storage_catalog.py (delete and recreate on the storage node's proxy, old endpoints noted)."""
from __future__ import annotations

import pytest

from stackcheck.probes import catalog

STORE_TYPES = ("object-store", "s3")
INTERFACES = ("public", "internal", "admin")


def _timeout(lab) -> float:
    return min(5.0, float(lab.get("connect_timeout")))


def _proxies(lab) -> str:
    hosts = lab.hosts("storage")
    port = lab.get("swift.port")
    return ", ".join(f"{h.name} {h.address}:{port}" for h in hosts) or "no host has role storage"


@pytest.mark.requirement("SWF-1")
@pytest.mark.role("controller")
@pytest.mark.severity("high")
def test_object_store_in_catalog(cloud, evidence):
    # a fresh token: the catalog a client authenticating now gets (not one cached earlier in the run)
    cloud.session.auth.invalidate()
    token = catalog.token_catalog(cloud)
    region = cloud.config.region_name
    in_token = {(e.service_type, e.interface) for e in token if not region or e.region in ("", region)}
    registered, source = catalog.all_endpoints(cloud)
    s3_registered = any(e.service_type == "s3" for e in registered) or _s3_service_exists(cloud)
    evidence["token catalog"] = ", ".join(sorted({f"{t}:{i}" for t, i in in_token}))
    evidence["region"] = region
    missing = []
    if ("object-store", "public") not in in_token:
        missing.append("object-store (no public endpoint)")
    if s3_registered and not any(t == "s3" for t, _ in in_token):
        missing.append("s3 (registered, but no endpoint in the catalog)")
    services = sorted({t for t, _ in in_token}) or ["none"]
    assert not missing, (
        f"missing from the catalog a client's token carries in region {region}: {', '.join(missing)}; "
        f"it has: {', '.join(services)}")


def _s3_service_exists(conn) -> bool:
    try:
        return any(s.type == "s3" for s in conn.identity.services())
    except Exception:  # noqa: BLE001 - not allowed to list services: judged on the endpoints only
        return False


@pytest.mark.requirement("SWF-2")
@pytest.mark.role("controller")
@pytest.mark.severity("critical")
def test_object_store_endpoints_answer(cloud, lab, evidence):
    endpoints, source = catalog.all_endpoints(cloud)
    store = [e for e in endpoints if e.service_type in STORE_TYPES and e.enabled]
    project = catalog.project_id(cloud)
    reach = catalog.reachability([e.url for e in store], _timeout(lab))
    evidence["source"] = source
    evidence["endpoints"] = "; ".join(f"{e.service_type} {e.interface} {e.url}" for e in store) or "none"
    problems = []
    have = {e.interface for e in store if e.service_type == "object-store"}
    for iface in INTERFACES:
        if iface not in have:
            problems.append(f"object-store has no {iface} endpoint")
    infos: dict[str, str] = {}
    for e in store:
        url = catalog.expand(e.url, project)
        host, port = catalog.host_port(url)
        why = reach.get((host, port))
        if why is not None:
            problems.append(f"{e.service_type} {e.interface} {e.url}: {host}:{port} {why}")
            continue
        if e.service_type == "object-store":
            base = catalog.base_url(url)
            if base not in infos:
                version, not_swift = catalog.swift_proxy(url, _timeout(lab))
                infos[base] = not_swift
                if version:
                    evidence[f"swift at {base}"] = version
            if infos[base]:
                problems.append(f"{e.service_type} {e.interface} {e.url}: {host}:{port} accepts connections but "
                                f"is not a Swift proxy ({infos[base]})")
    assert not problems, (
        "object-store/s3 endpoints that do not reach a Swift proxy: " + "; ".join(problems)
        + f". Expected every URL on the storage node's proxy ({_proxies(lab)})")


@pytest.mark.requirement("OS-3")
@pytest.mark.role("controller")
@pytest.mark.severity("high")
def test_every_catalog_endpoint_accepts_connections(cloud, lab, evidence):
    endpoints, source = catalog.all_endpoints(cloud)
    enabled = [e for e in endpoints if e.enabled]
    project = catalog.project_id(cloud)
    urls = {e: catalog.expand(e.url, project) for e in enabled}
    reach = catalog.reachability(urls.values(), _timeout(lab))
    evidence["source"] = source
    evidence["endpoints"] = len(enabled)
    evidence["host:port"] = ", ".join(f"{h}:{p}={'ok' if r is None else r}" for (h, p), r in sorted(reach.items()))
    dead = [f"{e.service_type} {e.interface} {e.url} ({reach[catalog.host_port(u)]})"
            for e, u in urls.items() if reach[catalog.host_port(u)] is not None]
    assert enabled, f"the catalog ({source}) has no enabled endpoint at all"
    assert not dead, f"{len(dead)} of {len(enabled)} catalog endpoints refuse connections: " + "; ".join(dead)
