"""SWF-1, SWF-2, OS-3: the Keystone catalog names the object store (and S3), and every URL in it answers.

The notes' real incident: the object-store endpoints pointed at the controller's 8080, where nothing listened;
the proxy was on the storage node. Checked the way a client meets it: the URLs of the catalog, connected to from
here. Repair: fixes/storage_catalog.py (delete and recreate on the storage node's proxy, old endpoints noted)."""
from __future__ import annotations

import pytest

from stackcheck.cloudtls import cloud_verify
from stackcheck.probes import catalog
from stackcheck.verdicts import CannotCheck

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
    evidence["token catalog"] = ", ".join(sorted({f"{t}:{i}" for t, i in in_token}))
    evidence["region"] = region
    services = sorted({t for t, _ in in_token}) or ["none"]
    missing = catalog_gaps(in_token, lambda: _s3_registered(cloud))
    evidence["s3"] = missing.s3
    assert not missing.problems, (
        f"missing from the catalog a client's token carries in region {region}: {', '.join(missing.problems)}; "
        f"it has: {', '.join(services)}" + (f" ({missing.s3_unknown})" if missing.s3_unknown else ""))
    if missing.s3_unknown:
        raise CannotCheck(missing.s3_unknown)


class CatalogGaps:
    """What SWF-1 found missing, and what it could not tell about the S3 service."""

    def __init__(self):
        self.problems: list[str] = []
        self.s3 = ""           # evidence: how the S3 part was judged
        self.s3_unknown = ""   # why the S3 part could not be judged (CannotCheck when nothing else is missing)


def catalog_gaps(in_token: set[tuple[str, str]], s3_registered) -> CatalogGaps:
    """SWF-1 on the token's (service type, interface) pairs. The object-store must be there: its absence is a
    finding. The S3 service only "if registered": S3 in the token is observed registered and present; S3 absent
    from the token is a finding only when Keystone is seen to have an (enabled) s3 service, nothing to object to
    when it is seen to have none, and missing data when that cannot be seen (`s3_registered()` raises CannotCheck):
    the token alone cannot tell "not registered" from "registered without a usable endpoint"."""
    gaps = CatalogGaps()
    if ("object-store", "public") not in in_token:
        gaps.problems.append("object-store (no public endpoint)")
    if any(t == "s3" for t, _ in in_token):
        gaps.s3 = "in the token's catalog"
        return gaps
    try:
        registered = s3_registered()
    except CannotCheck as exc:
        gaps.s3, gaps.s3_unknown = "unknown", str(exc)
        return gaps
    if registered:
        gaps.problems.append("s3 (registered, but no endpoint in the catalog)")
        gaps.s3 = "registered, not in the token's catalog"
    else:
        gaps.s3 = "no s3 service registered in Keystone"
    return gaps


def _s3_registered(conn) -> bool:
    """Is an enabled s3 service registered in Keystone (identity API)? CannotCheck when the checking user may not
    list services: that is missing data, never "not registered"."""
    try:
        services = list(conn.identity.services())
    except Exception as exc:  # noqa: BLE001 - a 403 (no admin/reader role) or any other failure: cannot tell
        raise CannotCheck(
            "cannot tell whether an s3 service is registered (SWF-1 wants it in the catalog if it is): the token's "
            f"catalog has none and listing Keystone's services failed ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:160]}); run the checks as a user with the admin or reader role") from None
    return any(s.type == "s3" and getattr(s, "is_enabled", True) is not False for s in services)


@pytest.mark.requirement("SWF-2")
@pytest.mark.role("controller")
@pytest.mark.severity("critical")
def test_object_store_endpoints_answer(cloud, lab, evidence):
    endpoints, source = catalog.all_endpoints(cloud)
    store = [e for e in endpoints if e.service_type in STORE_TYPES and e.enabled]
    no_store_endpoint(endpoints, source)
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
                version, not_swift = catalog.swift_proxy(url, _timeout(lab), cloud_verify(lab))
                infos[base] = not_swift
                if version:
                    evidence[f"swift at {base}"] = version
            if infos[base]:
                problems.append(f"{e.service_type} {e.interface} {e.url}: {host}:{port} accepts connections but "
                                f"is not a Swift proxy ({infos[base]})")
    assert not problems, (
        "object-store/s3 endpoints that do not reach a Swift proxy: " + "; ".join(problems)
        + f". Expected every URL on the storage node's proxy ({_proxies(lab)})")


def no_store_endpoint(endpoints, source: str) -> None:
    """SWF-2 judges the object-store's URLs: with no enabled object-store endpoint at all there is no URL to judge
    (CannotCheck; SWF-1 reports the missing service as its finding)."""
    if any(e.service_type == "object-store" and e.enabled for e in endpoints):
        return
    disabled = [e.label for e in endpoints if e.service_type == "object-store"]
    raise CannotCheck(f"cannot check the object-store's URLs: the catalog ({source}) has no enabled object-store "
                      "endpoint" + (f" (disabled: {'; '.join(disabled)})" if disabled else "")
                      + "; SWF-1 reports it: register the endpoints on the storage node's proxy")


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
    if not enabled:  # nothing to judge (and no Keystone to have authenticated with): never a pass
        raise CannotCheck(f"cannot check the catalog's endpoints: the catalog ({source}) has no enabled endpoint")
    assert not dead, f"{len(dead)} of {len(enabled)} catalog endpoints refuse connections: " + "; ".join(dead)
