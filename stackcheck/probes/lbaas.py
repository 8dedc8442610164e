"""The VIP's pool when the load balancer is OpenStack's (lb.kind octavia or lbaas-v1), through openstacksdk,
returned as the same `Pool` as HAProxy's (stackcheck/probes/haproxy.py), so LB-3/LB-6 judge all three alike.

The JSON -> Pool conversion is pure (haproxy.pool_from_octavia / pool_from_lbaas_v1) and unit-tested on the
API reference's documents; this module only fetches them."""
from __future__ import annotations

from stackcheck.probes.haproxy import Pool, pool_from_lbaas_v1, pool_from_octavia


class PoolNotFound(Exception):
    pass


def _plain(obj) -> dict:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def octavia_pool(cloud, name: str | None, port: int, vip: str | None) -> Pool:
    """The pool of the listener on `port` of the load balancer `name` (or the one whose VIP is `vip`)."""
    lbs = [_plain(lb) for lb in cloud.load_balancer.load_balancers()]
    lb = next((x for x in lbs if (name and name in (x.get("name"), x.get("id")))
               or (not name and vip and x.get("vip_address") == vip)), None)
    if lb is None:
        raise PoolNotFound(f"no Octavia load balancer {'named ' + name if name else 'with VIP ' + str(vip)}")
    listeners = [_plain(x) for x in cloud.load_balancer.listeners(loadbalancer_id=lb["id"])]
    listener = next((x for x in listeners if x.get("protocol_port") == port), None)
    if listener is None:
        raise PoolNotFound(f"load balancer {lb.get('name') or lb['id']} has no listener on port {port}")
    pool_id = listener.get("default_pool_id")
    if not pool_id:
        raise PoolNotFound(f"the listener on port {port} has no default pool")
    pool = _plain(cloud.load_balancer.get_pool(pool_id))
    members = [_plain(m) for m in cloud.load_balancer.members(pool_id)]
    hm_id = pool.get("health_monitor_id") or pool.get("healthmonitor_id")
    monitor = _plain(cloud.load_balancer.get_health_monitor(hm_id)) if hm_id else None
    return pool_from_octavia(lb, listener, pool, members, monitor)


def lbaas_v1_pool(cloud, name: str | None, port: int, vip: str | None) -> Pool:
    """Neutron LBaaS v1 (Kilo, the notes' era): /lb/vips, /lb/pools, /lb/members, /lb/health_monitors."""
    net = cloud.network

    def get(path: str) -> dict:
        response = net.get(path)
        response.raise_for_status()
        return response.json()

    vips = get("/lb/vips").get("vips", [])
    the_vip = next((v for v in vips if (name and name in (v.get("name"), v.get("id"))) or
                    (vip and v.get("address") == vip and v.get("protocol_port") == port)), None)
    if the_vip is None:
        raise PoolNotFound(f"no LBaaS v1 VIP {'named ' + name if name else str(vip) + ':' + str(port)}")
    pool = get(f"/lb/pools/{the_vip['pool_id']}").get("pool", {})
    members = [m for m in get("/lb/members").get("members", []) if m.get("pool_id") == pool.get("id")]
    monitors = [get(f"/lb/health_monitors/{hid}").get("health_monitor", {}) for hid in pool.get("health_monitors", [])]
    return pool_from_lbaas_v1(the_vip, pool, members, monitors)
