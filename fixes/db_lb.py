"""LB fixers for HAProxy: the service, the VIP's pool (TCP, round robin, the DB nodes, weight 1, checked) and a
Galera-aware health check. Every new haproxy.cfg is validated with `haproxy -c` before it replaces the old one;
HAProxy is reloaded (no dropped connections), never restarted, to apply it."""
from __future__ import annotations

from stackcheck.fixing import fixer
from stackcheck.probes import haproxy

VALIDATE = "haproxy -c -q -f {path}"


def _pool(ctx):
    text = ctx.read(ctx.lab.get("lb.config"))
    if text is None:
        return None, None
    return text, haproxy.vip_pool(haproxy.parse_config(text), ctx.lab.get("lb.port"), ctx.lab.get("lb.vip"))


@fixer("LB-1", risk="restart", checks=["test_haproxy_running_and_enabled"], roles=["lb"])
def start_haproxy(ctx):
    """Enable HAProxy at boot and start it (after `haproxy -c` accepts its configuration)."""
    if not ctx.host.service("haproxy").is_enabled:
        ctx.command("systemctl enable haproxy", undo="systemctl disable haproxy")
    if not ctx.host.service("haproxy").is_running:
        cfg = ctx.lab.get("lb.config")
        ctx.command(f"haproxy -c -q -f {cfg} && systemctl start haproxy", undo="systemctl stop haproxy",
                    description="check the configuration and start haproxy")


@fixer("LB-3", risk="config", checks=["test_haproxy_pool_tcp_roundrobin_members"], roles=["lb"])
def rewrite_vip_pool(ctx):
    """Rewrite the VIP's pool: mode tcp, balance roundrobin, one `server ... check weight 1` per DB node."""
    text, pool = _pool(ctx)
    if pool is None:
        ctx.note(f"no frontend/listen on port {ctx.lab.get('lb.port')}: writing a whole VIP is left to the operator")
        return
    port = ctx.lab.get("db.port")
    servers = [(str(n.vars.get("wsrep_node_name") or n.name), n.address, port) for n in ctx.lab.hosts("dbnode")]
    new = haproxy.rewrite_pool(text, pool, servers)
    if haproxy.pool_problems(haproxy.vip_pool(haproxy.parse_config(new), ctx.lab.get("lb.port"), ctx.lab.get("lb.vip")),
                             [a for _, a, _ in servers], port) and not pool.monitor:
        ctx.note("the pool has no health check at all: the LB-6 fixer adds the Galera-aware one")
    ctx.edit(ctx.lab.get("lb.config"), new, validate=VALIDATE)
    ctx.command("systemctl reload haproxy")


@fixer("LB-6", risk="config", checks=["test_haproxy_health_check_judges_galera_state"], roles=["lb"])
def galera_aware_health_check(ctx):
    """Replace the VIP's health check by a clustercheck-style external check (Synced and wsrep_ready=ON)."""
    text, pool = _pool(ctx)
    if pool is None:
        return
    script = ctx.read(haproxy.GALERA_CHECK)
    aware, _ = haproxy.galera_aware(pool, ctx.read(pool.monitor_detail.split()[0]) if pool.monitor == "external-check"
                                    and pool.monitor_detail else None)
    if aware:
        return  # the configuration is right; what is UP while unhealthy is a runtime matter
    if not ctx.run(f"test -f {haproxy.GALERA_CHECK_CNF}").ok:  # it holds a password: never read it
        ctx.note(f"{haproxy.GALERA_CHECK_CNF} (the check's DB account) is missing: create a DB user with no "
                 f"privileges for the LB and write it there ([client] user=, password=), then run --fix again")
        return
    if script is None or not haproxy.GALERA_STATE.search(script):
        ctx.edit(haproxy.GALERA_CHECK, haproxy.GALERA_CHECK_SCRIPT, mode="0755")
    ctx.edit(ctx.lab.get("lb.config"), haproxy.with_galera_check(text, pool), validate=VALIDATE)
    ctx.command("systemctl reload haproxy")
    ctx.command(haproxy.wait_checks_command(pool.name), description="wait until the new health check judged every server")
