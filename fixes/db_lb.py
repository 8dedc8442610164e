"""LB fixers for HAProxy: the service, the VIP's pool (TCP, round robin, the DB nodes, weight 1, checked) and a
Galera-aware health check. Every new haproxy.cfg is validated with `haproxy -c` before it replaces the old one;
HAProxy is reloaded (no dropped connections), never restarted, to apply it. None of them creates or widens
access: the pool lists the inventory's DB nodes, and the health check uses an account the site already made."""
from __future__ import annotations

from stackcheck.fixing import FixDeclined, fixer
from stackcheck.probes import galera, haproxy, healthscript

VALIDATE = "haproxy -c -q -f {path}"


def _config(ctx):
    """(text, parsed configuration, the VIP's pool); FixDeclined when there is no configuration or no VIP pool."""
    path = ctx.lab.get("lb.config")
    text = ctx.read(path)
    if text is None:
        raise FixDeclined(f"{path} does not exist: writing a whole HAProxy configuration is left to the operator")
    cfg = haproxy.parse_config(text)
    pool = haproxy.vip_pool(cfg, ctx.lab.get("lb.port"), ctx.lab.get("lb.vip"))
    if pool is None:
        raise FixDeclined(f"{path} has no frontend/listen on port {ctx.lab.get('lb.port')}: writing a whole VIP is "
                          "left to the operator")
    return text, cfg, pool


@fixer("LB-1", risk="restart", checks=["test_haproxy_running_and_enabled"], roles=["lb"])
def start_haproxy(ctx):
    """Enable HAProxy at boot and start it (after `haproxy -c` accepts its configuration)."""
    unit = galera.read_unit(ctx.transport, "haproxy")
    if not unit.exists:
        raise FixDeclined("haproxy is not installed: installing the load balancer is left to the operator")
    if not unit.enabled:
        ctx.command("systemctl enable haproxy", undo="systemctl disable haproxy")
    if not unit.active:
        cfg = ctx.lab.get("lb.config")
        ctx.command(f"haproxy -c -q -f {cfg} && systemctl start haproxy", undo="systemctl stop haproxy",
                    description="check the configuration and start haproxy")


@fixer("LB-3", risk="config", checks=["test_haproxy_pool_tcp_roundrobin_members"], roles=["lb"])
def rewrite_vip_pool(ctx):
    """Rewrite the VIP's pool: mode tcp, balance roundrobin, one `server ... check weight 1` per DB node."""
    text, _, pool = _config(ctx)
    port = ctx.lab.get("db.port")
    servers = [(str(n.vars.get("wsrep_node_name") or n.name), n.address, port) for n in ctx.lab.hosts("dbnode")]
    new = haproxy.rewrite_pool(text, pool, servers)
    if not pool.monitor:
        ctx.note("the pool has no health check at all: the LB-6 fixer adds the Galera-aware one")
    ctx.edit(ctx.lab.get("lb.config"), new, validate=VALIDATE)
    ctx.command("systemctl reload haproxy")


def _current_script(ctx, pool) -> str | None:
    """The text of the pool's external check script (None: not an external check, or the script is missing)."""
    if pool.monitor != "external-check":
        return None
    return next((t for t in (ctx.read(p) for p in haproxy.check_script_paths(pool)) if t is not None), None)


@fixer("LB-6", risk="config", checks=["test_haproxy_health_check_judges_galera_state"], roles=["lb"])
def galera_aware_health_check(ctx):
    """Replace the VIP's health check by a clustercheck-style external check (Synced and wsrep_ready=ON)."""
    text, cfg, pool = _config(ctx)
    script = _current_script(ctx, pool)
    if pool.monitor == "external-check":  # a missing script is simply not a Galera-aware check
        aware = script is not None and healthscript.judge(script).aware
    else:
        aware = haproxy.galera_aware(pool)[0]
    if aware:
        return  # the configuration is right; what is UP while unhealthy is a runtime matter
    if not ctx.run(f"test -f {haproxy.GALERA_CHECK_CNF}").ok:  # it holds a password: never read it
        raise FixDeclined(f"{haproxy.GALERA_CHECK_CNF} (the health check's DB account) is missing: create a DB user "
                          "with no privileges for the load balancer, write it there ([client] user=, password=, "
                          "readable by haproxy only), then run --fix again")
    installed = ctx.read(haproxy.GALERA_CHECK)
    if installed is None or not healthscript.judge(installed).aware:
        ctx.edit(haproxy.GALERA_CHECK, haproxy.GALERA_CHECK_SCRIPT, mode="0755")
    ctx.edit(ctx.lab.get("lb.config"), haproxy.with_galera_check(text, pool), validate=VALIDATE)
    ctx.command("systemctl reload haproxy")
    sockets = haproxy.stats_sockets(cfg)
    if sockets:
        ctx.command(haproxy.wait_checks_command(pool.name, sockets[0]),
                    description="wait until the new health check judged every server")
    else:
        ctx.note("no `stats socket` in the configuration: the re-check cannot read HAProxy's runtime state")
