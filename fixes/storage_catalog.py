"""SWF-1 / SWF-2: put the object-store (and s3) endpoints on the storage node's Swift proxy.

What the notes did by hand after the incident: delete the endpoints that point where nothing listens and create
them again on the host that really runs the proxy (the inventory's storage role, the one whose /info answers as
Swift). Through openstacksdk, each step with its undo; every old endpoint is kept in the report so it can be
restored by hand."""
from __future__ import annotations

from stackcheck.cloudtls import cloud_verify
from stackcheck.fixing import FixDeclined, fixer
from stackcheck.probes import catalog

STORE_TYPES = ("object-store", "s3")
DEFAULT_PATHS = {  # the notes' layout: accounts under /v1 on public/internal, the bare proxy on admin
    ("object-store", "public"): "/v1/AUTH_%(project_id)s",
    ("object-store", "internal"): "/v1/AUTH_%(project_id)s",
    ("object-store", "admin"): "",
    ("s3", "public"): "", ("s3", "internal"): "", ("s3", "admin"): "",
}


def _proxy(lab, timeout: float) -> tuple[str, int] | None:
    """The first storage host where a Swift proxy answers."""
    port = int(lab.get("swift.port"))
    for h in lab.hosts("storage"):
        version, _ = catalog.swift_proxy(f"http://{h.address}:{port}", timeout, cloud_verify(lab))
        if version:
            return h.address, port
    return None


def _bad(ep, project: str, timeout: float, reach: dict, verify: str | bool = True) -> str:
    url = catalog.expand(ep.url, project)
    why = reach.get(catalog.host_port(url))
    if why is not None:
        return why
    if ep.service_type == "object-store" and not catalog.swift_proxy(url, timeout, verify)[0]:
        return "not a Swift proxy"
    return ""


@fixer("SWF-1", "SWF-2", risk="config",
       checks=["test_object_store_in_catalog", "test_object_store_endpoints_answer"])
def repoint_object_store_endpoints(ctx):
    """Recreate the object-store/s3 endpoints on the storage node's Swift proxy (old endpoints noted in the report)"""
    conn = ctx.extra.get("cloud")
    if conn is None:
        raise FixDeclined("no cloud connection to repair the catalog through (set stackcheck.cloud.name)")
    timeout = min(5.0, float(ctx.lab.get("connect_timeout")))
    target = _proxy(ctx.lab, timeout)
    if target is None:
        storage = ", ".join(f"{h.name} {h.address}:{ctx.lab.get('swift.port')}" for h in ctx.lab.hosts("storage"))
        raise FixDeclined(f"no storage host of the inventory answers /info as a Swift proxy "
                          f"({storage or 'no host has role storage'}): nothing to point the catalog at; get the "
                          "proxy serving first (SWF-5)")
    host, port = target
    idn = conn.identity
    region = conn.config.region_name or "RegionOne"
    project = catalog.project_id(conn)
    services = {s.type: s for s in idn.services() if s.type in STORE_TYPES}
    store = [e for e in catalog.identity_endpoints(conn) if e.service_type in STORE_TYPES]
    reach = catalog.reachability([catalog.expand(e.url, project) for e in store], timeout)

    if "object-store" not in services:
        created: dict = {}

        def create_service():
            created["svc"] = idn.create_service(name="swift", type="object-store", is_enabled=True,
                                                description="OpenStack Object Storage")
            services["object-store"] = created["svc"]

        ctx.call("create the object-store service 'swift'", create_service,
                 lambda: idn.delete_service(created["svc"], ignore_missing=True))

    for ep in store:
        why = _bad(ep, project, timeout, reach, cloud_verify(ctx.lab))
        if not why:
            continue
        new_url = catalog.with_netloc(ep.url, host, port)
        ctx.note(f"old endpoint {ep.id}: {ep.service_name or ep.service_type} ({ep.service_type}) {ep.interface} "
                 f"{ep.url} region {ep.region or '-'} [{why}]; to restore it: openstack endpoint create --region "
                 f"{ep.region or region} {ep.service_id} {ep.interface} '{ep.url}'")
        ctx.call(f"delete endpoint {ep.id} ({ep.service_type} {ep.interface} {ep.url}) and create it on {new_url}",
                 *_replace(idn, ep, new_url))

    have = {(e.service_type, e.interface) for e in store}
    for stype in ("object-store", "s3") if "s3" in services else ("object-store",):
        for iface in ("public", "internal", "admin"):
            if (stype, iface) in have:
                continue
            url = f"http://{host}:{port}{DEFAULT_PATHS[(stype, iface)]}"
            ctx.call(f"create the missing {stype} {iface} endpoint {url} in {region}",
                     *_create(idn, services, stype, iface, url, region))

    if ctx.empty:
        # the check failed, yet every object-store/s3 endpoint is there and answers as a Swift proxy from here
        raise FixDeclined(f"every object-store/s3 endpoint is registered and reaches a Swift proxy: what the check "
                          f"found (e.g. endpoints outside region {region}, or a disabled service) is not a repair "
                          "this fixer makes; see the check's message")
    # the run's token still carries the old catalog: the re-check and later checks need a new one
    ctx.call("authenticate again (a token with the new catalog)", conn.session.auth.invalidate)


def _replace(idn, ep, new_url):
    state: dict = {}

    def do():
        idn.delete_endpoint(ep.id, ignore_missing=True)
        state["new"] = idn.create_endpoint(service_id=ep.service_id, interface=ep.interface, url=new_url,
                                           region_id=ep.region or None, is_enabled=True)

    def undo():
        if state.get("new") is not None:
            idn.delete_endpoint(state["new"], ignore_missing=True)
        idn.create_endpoint(service_id=ep.service_id, interface=ep.interface, url=ep.url,
                            region_id=ep.region or None, is_enabled=ep.enabled)

    return do, undo


def _create(idn, services, stype, iface, url, region):
    state: dict = {}

    def do():
        state["new"] = idn.create_endpoint(service_id=services[stype].id, interface=iface, url=url,
                                           region_id=region, is_enabled=True)

    def undo():
        if state.get("new") is not None:
            idn.delete_endpoint(state["new"], ignore_missing=True)

    return do, undo
