"""The Keystone catalog as clients see it, and whether each endpoint really answers (SWF-1, SWF-2, OS-3).

Two views: the token's catalog (what every client gets when it authenticates: the truth for "is the service in
the catalog") and the identity API's endpoint list (complete, with ids: what a repair works on; needs the
admin role, so the token's catalog is the fallback). Reachability is tested from the machine running the
checks, which is where the operators' clients sit.
"""
from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from stackcheck.verdicts import CannotCheck

# Catalog URL templates: Keystone v3 substitutes %(project_id)s / %(tenant_id)s; some deployments write $(...)s.
_TEMPLATES = ("%(project_id)s", "%(tenant_id)s", "$(project_id)s", "$(tenant_id)s")


@dataclass(frozen=True)
class Endpoint:
    service_type: str
    service_name: str
    interface: str
    url: str
    region: str = ""
    id: str = ""
    service_id: str = ""
    enabled: bool = True

    @property
    def label(self) -> str:
        return f"{self.service_type} {self.interface} {self.url}"


def expand(url: str, project_id: str) -> str:
    for t in _TEMPLATES:
        url = url.replace(t, project_id)
    return url


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname or "", port


def base_url(url: str) -> str:
    """scheme://host:port of an endpoint URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def with_netloc(url: str, host: str, port: int) -> str:
    """The same URL (path and templates untouched) on another host:port."""
    parts = urlsplit(url)
    rest = url[len(f"{parts.scheme}://{parts.netloc}"):]
    return f"{parts.scheme}://{host}:{port}{rest}"


def from_token(catalog: list[dict]) -> list[Endpoint]:
    """The token's catalog (keystoneauth AccessInfo.service_catalog.catalog) as Endpoints."""
    out = []
    for svc in catalog or []:
        for ep in svc.get("endpoints", []):
            out.append(Endpoint(svc.get("type", ""), svc.get("name", ""), ep.get("interface", ""), ep.get("url", ""),
                                ep.get("region_id") or ep.get("region") or "", ep.get("id", ""), svc.get("id", "")))
    return out


def token_catalog(conn) -> list[Endpoint]:
    """What a client of this cloud gets in its token right now (a fresh token: after a repair the catalog must
    not be the one cached before it)."""
    access = conn.session.auth.get_access(conn.session)
    return from_token(access.service_catalog.catalog)


def identity_endpoints(conn) -> list[Endpoint]:
    """Every endpoint registered in Keystone (identity API; admin only), with its service type and name."""
    services = {s.id: s for s in conn.identity.services()}
    out = []
    for ep in conn.identity.endpoints():
        svc = services.get(ep.service_id)
        out.append(Endpoint(getattr(svc, "type", "") or "", getattr(svc, "name", "") or "", ep.interface, ep.url,
                            ep.region_id or "", ep.id, ep.service_id,
                            bool(ep.is_enabled) and bool(getattr(svc, "is_enabled", True))))
    return out


def all_endpoints(conn) -> tuple[list[Endpoint], str]:
    """(endpoints, source): the identity API's list when allowed, else the token's catalog."""
    try:
        return identity_endpoints(conn), "identity API"
    except Exception as exc:  # noqa: BLE001 - a non-admin checking user: fall back to what its token shows
        if "403" in str(exc) or "Forbidden" in type(exc).__name__ or "forbidden" in str(exc).lower():
            return token_catalog(conn), "token catalog (no admin role to list endpoints)"
        raise


def project_id(conn) -> str:
    return conn.session.get_project_id() or ""


# --- does it answer? --------------------------------------------------------------------------------------------
def tcp_reason(host: str, port: int, timeout: float) -> str | None:
    """None when host:port accepts a TCP connection, else why not (refused, no route, timed out ...)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.timeout:
        return f"timed out after {timeout:g} s"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()


def reachability(urls, timeout: float) -> dict[tuple[str, int], str | None]:
    """host:port -> None (accepts) or the reason, each distinct host:port probed once, in parallel."""
    targets = sorted({host_port(u) for u in urls})
    if not targets:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(targets))) as pool:
        reasons = list(pool.map(lambda hp: tcp_reason(hp[0], hp[1], timeout), targets))
    return dict(zip(targets, reasons))


def swift_info(url: str, timeout: float, verify: str | bool = True) -> tuple[dict | None, str]:
    """GET {scheme://host:port}/info: Swift's capabilities document ({"swift": {"version": ...}, ...}).
    (info, '') when it answers as a Swift proxy, else (None, what answered instead)."""
    try:
        resp = requests.get(base_url(url) + "/info", timeout=timeout, verify=verify)
    except requests.RequestException as exc:
        return None, f"no answer: {type(exc).__name__}"
    return parse_swift_info(resp.status_code, resp.text)


def swift_proxy(url: str, timeout: float, verify: str | bool = True) -> tuple[str | None, str]:
    """Is there a Swift proxy behind this URL? (version or 'unknown', '') from /info; when /info is refused (a
    proxy whose authtoken rejects anonymous requests), its /healthcheck answering OK still says so; else
    (None, what answered)."""
    info, why = swift_info(url, timeout, verify)
    if info:
        return str(info["swift"].get("version", "unknown")), ""
    try:
        resp = requests.get(base_url(url) + "/healthcheck", timeout=timeout, verify=verify)
    except requests.RequestException as exc:
        return None, f"{why}; /healthcheck: no answer ({type(exc).__name__})"
    if resp.status_code == 200 and resp.text.strip() == "OK":
        return f"unknown ({why})", ""
    return None, f"{why}; /healthcheck: HTTP {resp.status_code}"


def parse_swift_info(status: int, body: str) -> tuple[dict | None, str]:
    if status != 200:
        return None, f"HTTP {status} on /info"
    try:
        info = json.loads(body)
    except ValueError:
        return None, "/info is not JSON (not a Swift proxy)"
    if not isinstance(info, dict) or "swift" not in info:
        return None, "/info has no 'swift' section (not a Swift proxy)"
    return info, ""


def keystone_version(status: int, body: str) -> str | None:
    """The identity API version a Keystone URL answers with (root: versions list, /v3: one version), or None
    when what answered is not Keystone."""
    if status not in (200, 300):
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("version"), dict):
        return doc["version"].get("id")
    values = (doc.get("versions") or {}).get("values") if isinstance(doc, dict) else None
    if isinstance(values, list) and values:
        ids = [v.get("id", "") for v in values if isinstance(v, dict)]
        v3 = [i for i in ids if i.startswith("v3")]
        return (v3 or ids)[0] or None
    return None


def s3tokens_requires_auth(status: int, body: str) -> bool | None:
    """Keystone's answer to an unauthenticated POST /v3/s3tokens with an unknown access key: 401 "requires
    authentication" means it enforces identity:s3tokens_validate (service credentials needed in s3token: Keystone
    22 with the 2025 security fix); 404/403 about the credential means it still serves unauthenticated callers.
    None: neither (not Keystone, or no s3tokens API)."""
    try:
        err = (json.loads(body) or {}).get("error") or {}
    except ValueError:
        err = {}
    message = str(err.get("message", "")).lower()
    if status == 401 and "requires authentication" in message:
        return True
    if status in (401, 403, 404) and ("credential" in message or "signature" in message or "access" in message):
        return False
    return None


def probe_s3tokens(keystone: str, timeout: float, verify: str | bool = True) -> tuple[bool | None, str]:
    """(requires service auth?, what Keystone answered) for the Keystone at `keystone` (root URL), asked from
    this machine; no answer at all is CannotCheck (it says nothing about what Keystone requires)."""
    url = keystone.rstrip("/")
    url = url if url.endswith("/v3") else url + "/v3"
    body = {"credentials": {"access": "stackcheck-probe-unknown", "token": "c3RhY2tjaGVjaw==", "signature": "x"}}
    try:
        resp = requests.post(url + "/s3tokens", json=body, timeout=timeout, verify=verify)
    except requests.RequestException as exc:
        raise CannotCheck(f"could not ask {url}/s3tokens from this machine whether Keystone requires service "
                          f"credentials: {type(exc).__name__}: {exc}") from None
    return s3tokens_requires_auth(resp.status_code, resp.text), f"HTTP {resp.status_code}"


# --- where Keystone is, as the inventory's cloud says --------------------------------------------------------
def root_of(auth_url: str) -> str:
    """http://k:5000/v3 -> http://k:5000 (the root a Keystone URL option should name)."""
    url = auth_url.rstrip("/")
    for suffix in ("/v3", "/v2.0"):
        if url.endswith(suffix):
            return url[: -len(suffix)]
    return url


def keystone_root(lab) -> str | None:
    """Keystone's root URL: the auth_url of the inventory's cloud (clouds.yaml), else the first controller on
    5000; None when the inventory has neither."""
    name = lab.get("cloud.name")
    if name:
        import openstack.config

        files = [lab.get("cloud.clouds_yaml")] if lab.get("cloud.clouds_yaml") else None
        config = openstack.config.OpenStackConfig(config_files=files) if files else openstack.config.OpenStackConfig()
        auth_url = (config.get_one(cloud=name).auth or {}).get("auth_url")
        if auth_url:
            return root_of(auth_url)
    controllers = lab.hosts("controller")
    return f"http://{controllers[0].address}:5000" if controllers else None
