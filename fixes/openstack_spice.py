"""Fixers for SPICE console access (SPC-1..5): nova.conf settings, the 6082 firewall rule (running and persisted,
before any reject rule), the proxy service. Each only reads and describes; the engine backs up, validates,
applies, re-checks and rolls back."""
from __future__ import annotations

import shlex

from fixes.openstack_units import try_restart
from stackcheck.fixing import fixer
from stackcheck.probes import ini, spice
from stackcheck.probes.spice import PERSISTED_RULES, proxy_unit
from stackcheck.probes import port_verdict as pv
from stackcheck.probes import release as rel

NOVA_UNITS = "nova-compute openstack-nova-compute nova-spicehtml5proxy openstack-nova-spicehtml5proxy"


def _nova(ctx):
    path = ctx.lab.get("spice.nova_conf")
    text = ctx.read(path)
    if text is None:
        raise RuntimeError(f"{path} does not exist: install and configure Nova first")
    return path, text


def _restart_nova(ctx, description):
    # try-restart: only what runs here is restarted (the control node has no nova-compute and vice versa);
    # a restarted SPICE proxy takes a moment before it listens again
    ctx.command(try_restart(NOVA_UNITS), description=description)
    port = ctx.lab.get("spice.proxy_port")
    units = " ".join(spice.PROXY_UNITS)
    ctx.command(f"systemctl is-active {units} 2>/dev/null | grep -qx active || exit 0; {_wait_listening(port)}",
                description=f"wait until the SPICE proxy listens on {port} again (if it runs here)")


@fixer("SPC-1", risk="restart", checks=["test_spice_enabled_and_vnc_off"])
def enable_spice_disable_vnc(ctx):
    """Switch SPICE and its agent on and VNC off (Kilo's and today's option) in nova.conf, restart Nova here."""
    path, text = _nova(ctx)
    version = ctx.run(rel.version_command("nova")).stdout
    release = rel.release_of("nova", rel.parse_version_output(version)[1])
    changes = {("spice", "enabled"): "true", ("spice", "agent_enabled"): "true",
               ("vnc", "enabled"): "false", ("DEFAULT", "vnc_enabled"): "False"}
    keymap = ctx.lab.get("spice.keymap")
    if keymap and (release is None or not rel.at_least(release, "rocky")):
        changes[("spice", "keymap")] = keymap
    new = ini.set_values(text, changes)
    ctx.edit(path, new)
    if new != text:
        _restart_nova(ctx, "restart the Nova services of this node (try-restart)")
    for unit in spice.NOVNC_UNITS:
        if ctx.run(f"systemctl is-active --quiet {unit}").ok:
            ctx.command(f"systemctl disable --now {unit}", undo=f"systemctl enable --now {unit}",
                        description=f"stop and disable {unit} (VNC is off)")


@fixer("SPC-2", risk="restart", checks=["test_spice_proxy_binds_all_and_base_url_answers"])
def point_spice_proxy_at_control_node(ctx):
    """Bind the SPICE proxy to all addresses on its port and point html5proxy_base_url at this node."""
    path, text = _nova(ctx)
    port = ctx.lab.get("spice.proxy_port")
    conf = ini.parse(text)
    changes = {("spice", "html5proxy_host"): "0.0.0.0", ("spice", "html5proxy_port"): str(port)}
    names = {ctx.target.address, ctx.target.name}
    if spice.proxy_problems(ini.parse(ini.set_values(text, changes)), names, port):
        changes[("spice", "html5proxy_base_url")] = f"http://{ctx.target.address}:{port}/spice_auto.html"
    ctx.note(f"old html5proxy_base_url: {conf.get('spice', 'html5proxy_base_url')}")
    new = ini.set_values(text, changes)
    ctx.edit(path, new)
    if new != text:
        _restart_nova(ctx, "restart the SPICE proxy (try-restart)")
        ctx.command(_wait_listening(port), description=f"wait until TCP {port} listens (10 s at most)")


@fixer("SPC-3", risk="restart", checks=["test_spice_server_addresses_on_compute"])
def set_spice_server_addresses(ctx):
    """Make the compute node's SPICE server listen on its address and be reached through its internal address."""
    path, text = _nova(ctx)
    internal = str(ctx.target.vars.get("stackcheck_internal_address") or ctx.target.address)
    conf = ini.parse(text)
    changes = {}
    listen = spice.substitute(conf, conf.get("spice", "server_listen"))
    if listen is None or (listen not in spice.ALL_ADDRESSES and listen != ctx.target.address):
        changes[("spice", "server_listen")] = ctx.target.address
    if spice.substitute(conf, conf.get("spice", "server_proxyclient_address")) != internal:
        changes[("spice", "server_proxyclient_address")] = internal
    new = ini.set_values(text, changes)
    ctx.edit(path, new)
    if new != text:
        _restart_nova(ctx, "restart nova-compute (try-restart): new VMs get the addresses")


def _wait_listening(port: int) -> str:
    return (f"for i in $(seq 1 50); do ss -Hltn 'sport = :{port}' | grep -q . && exit 0; sleep 0.2; done; "
            f"echo 'nothing listens on {port} after 10 s' >&2; exit 1")


@fixer("SPC-4", risk="config", checks=["test_spice_port_open_in_running_firewall"])
def insert_spice_rule_running(ctx):
    """Insert the notes' SPICE rule into the running INPUT chain before the first rule that would refuse it."""
    port = ctx.lab.get("spice.proxy_port")
    r = ctx.run("iptables-save -t filter")
    if not r.ok:
        raise RuntimeError(f"iptables-save failed: {r.stderr.strip()[:200]}")
    tables = pv.parse(r.stdout)
    if pv.verdict(tables, port).accepted:
        return
    rule = pv.accept_rule(port)
    # an identical rule in the wrong place (appended after the REJECT) goes first, so the chain has one copy
    misplaced = [x for x in tables.get("filter", pv.Table()).rules.get("INPUT", []) if x.line == f"-A INPUT {rule}"]
    position = pv.insert_position(tables, port)
    for _ in misplaced:
        ctx.command(f"iptables -D INPUT {rule}", undo=f"iptables -A INPUT {rule}",
                    description=f"delete the misplaced copy of the SPICE rule (after the reject rule)")
    position -= sum(1 for x in misplaced if x.number < position)
    ctx.command(f"iptables -I INPUT {position} {rule}", undo=f"iptables -D INPUT {rule}",
                description=f"iptables -I INPUT {position} {rule}")


@fixer("SPC-4", risk="config", checks=["test_spice_port_open_in_persisted_firewall"])
def insert_spice_rule_persisted(ctx):
    """Add the SPICE rule to the persisted rules file, before the reject rules (validated by iptables-restore)."""
    port = ctx.lab.get("spice.proxy_port")
    path = ctx.lab.get("spice.persisted_rules")
    text = None
    if path:
        text = ctx.read(path)
    else:
        for candidate in PERSISTED_RULES:
            text = ctx.read(candidate)
            if text is not None:
                path = candidate
                break
    if text is None:
        # none yet: persist the running rules (which the running-rules fixer has made right) the distribution's way
        path = path or (PERSISTED_RULES[0] if ctx.run("test -d /etc/sysconfig").ok else PERSISTED_RULES[1])
        text = ctx.run("iptables-save").stdout
    if pv.accepts(text, port).accepted:
        ctx.edit(path, text, validate="iptables-restore --test {path}", mode="0600")
        return
    ctx.edit(path, pv.with_rule_inserted(text, port), validate="iptables-restore --test {path}", mode="0600")


@fixer("SPC-5", risk="restart", checks=["test_spice_proxy_service_enabled_running_listening"])
def enable_and_start_spice_proxy(ctx):
    """Enable the SPICE proxy at boot and (re)start it, then wait until it listens."""
    unit = proxy_unit(ctx.transport, ctx.lab)
    if unit is None:
        raise RuntimeError("no SPICE proxy unit is installed: install nova-consoleproxy / "
                           "openstack-nova-spicehtml5proxy (not done automatically)")
    port = ctx.lab.get("spice.proxy_port")
    state = ctx.run(f"systemctl is-enabled {unit}; systemctl is-active {unit}; "
                    f"ss -Hltn 'sport = :{port}' | wc -l").stdout.split()
    enabled, active, listening = (state + ["", "", "0"])[:3]
    if enabled != "enabled":
        ctx.command(f"systemctl enable {shlex.quote(unit)}", undo=f"systemctl disable {shlex.quote(unit)}")
    if active != "active" or listening == "0":
        undo = None if active == "active" else f"systemctl stop {shlex.quote(unit)}"
        ctx.command(f"systemctl restart {shlex.quote(unit)}", undo=undo)
        ctx.command(_wait_listening(port), description=f"wait until TCP {port} listens (10 s at most)")
