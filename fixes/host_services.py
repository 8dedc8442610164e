"""Fixer of HOST-6: the notes' host preparation (NetworkManager and firewalld off, the network service enabled,
the iptables service enabled and running).

Safety: NetworkManager is not stopped while it manages the interface this SSH session uses and no other network
configuration names that interface; the iptables service is not started when the rules it would load drop
this SSH session. Starting the iptables service reloads (flushes) the filter table, which removes libvirt's
own chains: libvirtd is restarted afterwards so it re-adds them (it does so for every active network)."""
from __future__ import annotations

import shlex

from stackcheck.fixing import FixDeclined, FixRefused, fixer
from stackcheck.probes import hostnet, services
from stackcheck.probes import iptables as ipt
from stackcheck.verdicts import CannotCheck


def _nm_would_cut_ssh(ctx, facts) -> str | None:
    pkt = hostnet.ssh_packet(facts)
    if pkt is None or not pkt.iif:
        return None
    dev = pkt.iif
    managed = ctx.run("nmcli -t -f DEVICE,STATE device status").output(
        "the devices NetworkManager manages (`nmcli device status`)")
    if not any(l.split(":")[0] == dev and "connected" in l and "disconnected" not in l for l in managed.splitlines()):
        return None
    q = shlex.quote(dev)
    # grep: 0 a file names it, 1 none does, 2 a candidate is missing (the globs) or could not be read
    other = ctx.run(f"grep -l -E '(^|[[:space:]])DEVICE=\"?{q}\"?|iface {q} |^Name={q}$' "
                    "/etc/sysconfig/network-scripts/ifcfg-* /etc/network/interfaces /etc/network/interfaces.d/* "
                    "/etc/systemd/network/*.network")
    if other.output("the network configuration files that could name " + dev, ok=(0, 1, 2)).strip():
        return None
    if other.rc == 2 and "permission denied" in other.stderr.lower():
        raise CannotCheck(f"could not read the network configuration that could name {dev}: {other.reason()}")
    return f"NetworkManager manages {dev}, the interface of this SSH session, and no other network configuration names it"


@fixer("HOST-6", risk="restart", roles=["compute"],
       checks=["test_network_and_firewall_services_as_prepared_for_packstack"])
def prepare_host_services(ctx):
    """NetworkManager and firewalld off, the network service enabled, the iptables service enabled and running."""
    units = services.read(ctx.transport, services.UNWANTED + services.NETWORK_SERVICES + services.IPTABLES_SERVICES)
    facts = hostnet.read(ctx.transport)
    for name in services.UNWANTED:
        u = units.get(name)
        if not (u and u.exists and (u.running or u.is_enabled)):
            continue
        if name == "NetworkManager":
            why = _nm_would_cut_ssh(ctx, facts)
            if why:
                raise FixRefused(f"{why}: stopping it would cut the connection; write that interface's "
                                 f"configuration for the network service first")
        ctx.command(f"systemctl disable --now {name}.service",
                    undo=f"systemctl enable {name}.service" + (f" && systemctl start {name}.service" if u.running else ""))
    net = [units[n] for n in services.NETWORK_SERVICES if n in units and units[n].exists]
    if net and not any(u.is_enabled for u in net):
        ctx.command(f"systemctl enable {net[0].name}.service", undo=f"systemctl disable {net[0].name}.service")
    fw = [units[n] for n in services.IPTABLES_SERVICES if n in units and units[n].exists]
    if not fw:
        raise FixDeclined("no iptables service is installed: install iptables-services (RHEL) or "
                          "iptables-persistent (Debian), then run the fix again")
    if any(u.is_enabled and u.running for u in fw):
        return
    unit = fw[0]
    path = {"iptables": "/etc/sysconfig/iptables", "netfilter-persistent": "/etc/iptables/rules.v4"}[unit.name]
    saved = facts.persisted_iptables.get(path)
    pkt = hostnet.ssh_packet(facts)
    if saved is not None and pkt is not None:
        v = hostnet.verdict(ipt.parse_save(saved), facts, pkt)
        if not v.allowed:
            raise FixRefused(f"starting {unit.name} loads {path}, which would cut this SSH session "
                             f"({pkt.describe()}: {v})")
    if not unit.is_enabled:
        ctx.command(f"systemctl enable {unit.name}.service", undo=f"systemctl disable {unit.name}.service")
    if not unit.running:
        ctx.command(f"systemctl restart {unit.name}.service", undo=f"systemctl stop {unit.name}.service")
        if ctx.run("systemctl is-active -q libvirtd.service").ok:  # inactive or unknown: nothing to re-add
            ctx.command("systemctl restart libvirtd.service",
                        description="systemctl restart libvirtd.service (re-adds libvirt's firewall rules)")
