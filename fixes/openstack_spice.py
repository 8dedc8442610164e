"""Fixers for SPICE console access (SPC-1..5): nova.conf settings, the 6082 firewall rule (running and persisted,
before any reject rule), the proxy service. Each only reads and describes; the engine backs up, validates,
applies, re-checks and rolls back."""
from __future__ import annotations

import shlex

from fixes import firewall
from fixes.openstack_units import try_restart
from stackcheck.fixing import FixDeclined, fixer
from stackcheck.probes import batch, hostconf, ini, spice
from stackcheck.probes.spice import PERSISTED_RULES, proxy_unit
from stackcheck.probes import iptables as ipt
from stackcheck.probes import release as rel

NOVA_UNITS = "nova-compute openstack-nova-compute nova-spicehtml5proxy openstack-nova-spicehtml5proxy"


def _nova(ctx):
    path = ctx.lab.get("spice.nova_conf")
    text = ctx.read(path)
    if text is None:
        raise FixDeclined(f"{path} does not exist: install and configure Nova first (stackcheck.spice.nova_conf)")
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
    release = hostconf.read(ctx.transport, projects=["nova"]).release("nova")
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


SPICE_COMMENT = "Allow SPICE connections for console access"


def _spice_traffic(ctx) -> ipt.Traffic:
    return ipt.Traffic(ctx.lab.get("spice.proxy_port"), interfaces=firewall.interfaces(ctx))


@fixer("SPC-4", risk="access", checks=["test_spice_port_open_in_running_firewall"])
def insert_spice_rule_running(ctx):
    """Insert the notes' SPICE rule into the running INPUT chain, before the first rule that would refuse it.

    Declined when a rule may match only part of the traffic. Risk `access`: it opens 6082 to sources the
    firewall refused until now, so it runs only with --fix-access."""
    traffic = _spice_traffic(ctx)
    firewall.open_running(ctx, firewall.running_rules(ctx), [traffic], ipt.accept_rule(traffic.port, SPICE_COMMENT),
                          f"the running firewall of {ctx.target}")


@fixer("SPC-4", risk="access", checks=["test_spice_port_open_in_persisted_firewall"])
def insert_spice_rule_persisted(ctx):
    """Add the SPICE rule to the persisted rules file, before the reject rules (validated by iptables-restore).

    Declined when a rule may match only part of the traffic. Risk `access`: from the next boot on it opens 6082
    to sources the firewall refused until now, so it runs only with --fix-access."""
    traffic = _spice_traffic(ctx)
    path, text = _persisted_rules(ctx)
    firewall.open_in_file(ctx, path, text, [traffic], ipt.accept_rule(traffic.port, SPICE_COMMENT))


def _persisted_rules(ctx) -> tuple[str, str]:
    """(path, text) of the persisted rules; none yet: the running rules (which the running-rules fixer has made
    right), to be saved the distribution's way."""
    candidates = [ctx.lab.get("spice.persisted_rules")] if ctx.lab.get("spice.persisted_rules") else PERSISTED_RULES
    for candidate in candidates:
        text = ctx.read(candidate)
        if text is not None:
            return candidate, text
    sysconfig = ctx.run("test -d /etc/sysconfig")
    if sysconfig.rc not in (0, 1):
        raise FixDeclined(f"cannot tell whether /etc/sysconfig exists: {sysconfig.reason()}")
    path = candidates[0] if len(candidates) == 1 else PERSISTED_RULES[0 if sysconfig.rc == 0 else 1]
    saved = ctx.run("iptables-save")
    if saved.rc != 0:
        raise FixDeclined(f"cannot read the running rules to persist them (iptables-save): {saved.reason()}")
    return path, saved.stdout  # rc judged: exit 0 above


@fixer("SPC-5", risk="restart", checks=["test_spice_proxy_service_enabled_running_listening"])
def enable_and_start_spice_proxy(ctx):
    """Enable the SPICE proxy at boot and (re)start it, then wait until it listens."""
    unit = proxy_unit(ctx.transport, ctx.lab)
    if unit is None:
        raise FixDeclined("no SPICE proxy unit is installed: install nova-consoleproxy / "
                          "openstack-nova-spicehtml5proxy (not done automatically)")
    port = ctx.lab.get("spice.proxy_port")
    found = batch.run(ctx, spice.service_command(unit, port))  # ctx.run: a read while planning
    enabled, active, listening = spice.service_state(found, unit)
    if enabled == "masked":
        raise FixDeclined(f"{unit} is masked: someone switched it off on purpose; unmask it by hand if it should run")
    if enabled != "enabled":
        ctx.command(f"systemctl enable {shlex.quote(unit)}", undo=f"systemctl disable {shlex.quote(unit)}")
    if active != "active" or not listening:
        undo = None if active == "active" else f"systemctl stop {shlex.quote(unit)}"
        ctx.command(f"systemctl restart {shlex.quote(unit)}", undo=undo)
        ctx.command(_wait_listening(port), description=f"wait until TCP {port} listens (10 s at most)")
