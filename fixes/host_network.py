"""Fixers of the physical host's public side: proxy_arp (HOST-2), the ARP filters (HOST-3), the public NIC's
drop rule (HOST-4) and the hop-0 reject (HOST-5), each both running and persisted.

Our rules live in chains of our own (`public-arp-in/out` for ARP, `public-nic-in` in the raw table), so a fix
replaces exactly what it owns and leaves libvirt's, Nova's and the operator's rules alone; the running change
uses targeted commands (never a full restore, which would flush libvirt's chains).

Safety: before anything, each fixer simulates the SSH session it runs over (its packets, and the ARP it needs)
against the rules it is about to install, and refuses, saying so, when they would cut it."""
from __future__ import annotations

import fnmatch
import ipaddress
import os
import shlex

from stackcheck.fixing import FixRefused, fixer
from stackcheck.probes import arp, hostnet, sysctl
from stackcheck.probes import iptables as ipt

ARP_FILES = ("/etc/sysconfig/arptables", "/etc/iptables/arptables.rules")
ARP_PLUGIN = "/usr/share/netfilter-persistent/plugins.d/35-arptables"
IPT_FILES = ("/etc/sysconfig/iptables", "/etc/iptables/rules.v4")


def _nic(ctx, facts) -> str:
    return ctx.target.vars.get("stackcheck_public_nic") or facts.iface_of(ctx.target.address) or "eth0"


def _facts(ctx) -> hostnet.NetFacts:
    return hostnet.read(ctx.transport)


# --- HOST-2 --------------------------------------------------------------------------------------------------------
@fixer("HOST-2", risk="config", roles=["compute"], checks=["test_proxy_arp_on_public_nic"])
def enable_proxy_arp(ctx):
    """Turn proxy_arp on for the public NIC, now and in sysctl.d."""
    facts = _facts(ctx)
    nic = _nic(ctx, facts)
    key = f"net.ipv4.conf.{nic}.proxy_arp"
    now = sysctl.running(ctx.transport, key)
    if now is None:
        raise FixRefused(f"{nic} does not exist on {ctx.target.name}; set stackcheck_public_nic in the inventory")
    if now != "1" and sysctl.running(ctx.transport, "net.ipv4.conf.all.proxy_arp") != "1":
        ctx.command(f"sysctl -q -w {key}=1", undo=f"sysctl -q -w {key}={now}")
    files = sysctl.read_files(ctx.transport)
    value, where = sysctl.persisted(files, key)
    all_value, _ = sysctl.persisted(files, "net.ipv4.conf.all.proxy_arp")
    if value == "1" or all_value == "1":
        return
    if where and where.startswith("/etc/"):
        # the file that wins turns it off (its own line, or a glob such as a hardening file's
        # net.ipv4.conf.*.proxy_arp = 0): set it there, after that line (a new, earlier file would lose)
        ctx.edit(where, sysctl_set(files[where], key, "1"))
        return
    # no file, or a vendor file (/usr/lib/sysctl.d) wins: a file of ours in /etc/sysctl.d sorting after it
    path = "/etc/sysctl.d/60-public-nic.conf"
    if where and os.path.basename(where) >= os.path.basename(path):
        path = "/etc/sysctl.d/zz-public-nic.conf"
    old = files.get(path, "")
    ctx.edit(path, sysctl_set(old, key, "1", f"# stackcheck HOST-2: the public block is reached by proxy ARP on {nic}"))


def sysctl_set(text: str, key: str, value: str, comment: str | None = None) -> str:
    """`text` (a sysctl.d file) with `key = value` as the last word on `key`: its own lines replaced by one
    placed after the last line that sets it (glob lines included), or appended."""
    lines = text.splitlines()
    last = None
    keep = []
    for line in lines:
        k, sep, _ = line.partition("=")
        if sep and not line.lstrip().startswith(("#", ";")):
            name = sysctl.normalise(k)
            if name == key:
                last = len(keep)  # drop it; ours goes here unless a glob comes later
                continue
            if "*" in name and fnmatch.fnmatchcase(key, name):
                last = len(keep) + 1
        keep.append(line)
    new = ([comment] if comment else []) + [f"{key} = {value}"]
    at = len(keep) if last is None else last
    return "\n".join(keep[:at] + new + keep[at:]) + "\n"


# --- HOST-3 --------------------------------------------------------------------------------------------------------
def _public_list(ctx, facts, nic) -> list[str]:
    given = ctx.lab.get("host.public_ips")
    if given:
        return list(given)
    own = [str(i.ip) for i in facts.addrs.get(nic, [])]
    block = ctx.lab.get("host.public_block")
    return own + ([block] if block else [])


def _arp_rules(nic: str, allowed: list[str]) -> tuple[list[str], list[str]]:
    """(chain rules, jumps) in arptables-save syntax (ranges are not arptables syntax: they become their CIDRs)."""
    nets = []
    for spec in allowed:
        if "-" in spec:
            lo, hi = (ipaddress.ip_address(x.strip()) for x in spec.split("-", 1))
            nets += [str(n) for n in ipaddress.summarize_address_range(lo, hi)]
        else:
            nets.append(spec)
    rules = [f"-A public-arp-in -j ACCEPT -d {n}" for n in nets] + ["-A public-arp-in -j DROP"]
    rules += [f"-A public-arp-out -j ACCEPT -s {n}" for n in nets] + ["-A public-arp-out -j DROP"]
    jumps = [f"-A INPUT -j public-arp-in -i {nic} --opcode 1", f"-A OUTPUT -j public-arp-out -o {nic} --opcode 1"]
    return rules, jumps


def _arp_file_with(text: str, rules: list[str], jumps: list[str]) -> str:
    """An arptables-save file with our chains replaced and our jumps first in INPUT/OUTPUT."""
    lines = [l for l in (text or "").splitlines()
             if not l.startswith(("-A public-arp-in ", "-A public-arp-out ", ":public-arp-in", ":public-arp-out"))
             and "-j public-arp-" not in l and l.strip() != "COMMIT" and not l.startswith("# Completed")]
    if not any(l.strip() == "*filter" for l in lines):
        lines = ["*filter", ":INPUT ACCEPT", ":OUTPUT ACCEPT"] + lines
    at = max(i for i, l in enumerate(lines) if l.startswith((":", "*"))) + 1
    lines = lines[:at] + [":public-arp-in -", ":public-arp-out -"] + jumps + lines[at:] + rules
    return "\n".join(lines) + "\n"


@fixer("HOST-3", risk="config", roles=["compute"], checks=["test_arp_filters_keep_to_the_public_list"])
def install_arp_filters(ctx):
    """Drop ARP requests on the public NIC from/for addresses outside the public list, now and persisted."""
    facts = _facts(ctx)
    nic = _nic(ctx, facts)
    allowed = _public_list(ctx, facts, nic)
    if nic in facts.masters:
        raise FixRefused(f"{nic} is a port of bridge {facts.masters[nic]}: its ARP is filtered with ebtables on the "
                         f"port (-i/-o {nic} -p ARP --arp-ip-src/--arp-ip-dst); arptables would see the bridge and "
                         f"filter every port of it, so this is left to the operator")
    rules, jumps = _arp_rules(nic, allowed)
    ours = arp.parse_arptables_save(_arp_file_with("", rules, jumps), "planned")
    for pkt in hostnet.ssh_arp_packets(facts):
        if not arp.ArpRuleset([ours]).verdict(pkt).passes:
            raise FixRefused(f"the ARP filter for {', '.join(allowed)} would drop the {pkt.describe()} that this "
                             f"SSH session needs; add the address to stackcheck.host.public_ips")
    if not ctx.run("command -v arptables").ok:
        raise FixRefused("arptables is not installed on this host")
    running_ok = not hostnet.arp_wrong(facts, facts.arp, nic, allowed)
    before = ctx.run("arptables-save").output("the running ARP rules (`arptables-save`, kept for the undo)")
    live = ["arptables -N public-arp-in 2>/dev/null || true", "arptables -N public-arp-out 2>/dev/null || true",
            "arptables -F public-arp-in", "arptables -F public-arp-out"]
    live += [f"arptables {r}" for r in rules]
    for j in jumps:
        chain, rest = j.split(" ", 2)[1], j.split(" ", 2)[2]
        live.append(f"arptables -D {chain} {rest} 2>/dev/null || true")
        live.append(f"arptables -I {chain} 1 {rest}")
    restore = f"arptables-restore <<'STACKCHECK_ARP'\n{before}STACKCHECK_ARP"
    if not running_ok:
        ctx.command(" && ".join(live), undo=restore,
                    description=f"ARP requests on {nic}: accept from/for {', '.join(allowed)}, drop the rest "
                                f"(chains public-arp-in/out, running)")
    path = next((p for p in ARP_FILES if p in facts.persisted_arp), None)
    if path is None:
        if ctx.run(f"test -x {ARP_PLUGIN}").ok:
            path = "/etc/iptables/arptables.rules"
        elif ctx.run("systemctl cat arptables.service >/dev/null 2>&1").ok:
            path = "/etc/sysconfig/arptables"
        else:
            ctx.note("no ARP rule persistence on this host (no arptables.service, no netfilter-persistent plugin): "
                     "the running rules do not survive a reboot")
            return
    if path in facts.persisted_arp:
        kept = hostnet.NetFacts(persisted_arp={path: facts.persisted_arp[path]})
        if not hostnet.arp_wrong(facts, hostnet.persisted_arp_ruleset(kept), nic, allowed):
            return  # what a reboot loads is right already
    ctx.edit(path, _arp_file_with(facts.persisted_arp.get(path, ""), rules, jumps), mode="0640")


# --- HOST-4 / HOST-5: iptables ---------------------------------------------------------------------------------------
def _strip(text: str, predicate) -> str:
    return "\n".join(l for l in text.splitlines() if not predicate(l)) + ("\n" if text else "")


def _insert_first(text: str, table: str, chain: str, rule: str) -> str:
    """`rule` as the first -A line of `chain` in `table`'s block (the block is created when missing)."""
    text = ipt.ensure_rules(text, table, [], [])  # make sure the block exists
    lines = text.splitlines()
    start = lines.index(f"*{table}")
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == "COMMIT")
    at = next((i for i in range(start, end) if lines[i].startswith(f"-A {chain} ")), None)
    if at is None:
        at = max(i for i in range(start, end + 1) if i == start or lines[i].startswith((":", "-A"))) + 1
    builtin = ipt.BUILTIN.get(table, ())
    if chain in builtin and not any(l.startswith(f":{chain} ") for l in lines[start:end]):
        lines.insert(start + 1, f":{chain} ACCEPT [0:0]")
        at += 1
    lines.insert(at, rule)
    return "\n".join(lines) + "\n"


def _persisted_path(ctx, facts) -> str | None:
    path = next((p for p in IPT_FILES if p in facts.persisted_iptables), None)
    if path:
        return path
    if ctx.run("test -d /usr/share/netfilter-persistent/plugins.d").ok:
        return "/etc/iptables/rules.v4"
    if ctx.run("systemctl cat iptables.service >/dev/null 2>&1").ok:
        return "/etc/sysconfig/iptables"
    return None


def _refuse_if_cuts_ssh(facts, new_save_text: str, what: str) -> None:
    pkt = hostnet.ssh_packet(facts)
    if pkt is None:
        return
    v = hostnet.verdict(ipt.parse_save(new_save_text), facts, pkt)
    if not v.allowed:
        raise FixRefused(f"{what} would cut this SSH session ({pkt.describe()}: {v}); fix it from the console")


def _nic_chain(nic: str, facts, floating: str) -> list[str]:
    nets = sorted({str(n) for n in facts.nic_networks(nic)})
    if "-" in floating:
        keep = f"-m iprange --dst-range {floating}"
    else:
        keep = f"-d {floating}"
    return ([f"-A public-nic-in -d {n} -j RETURN" for n in nets]
            + [f"-A public-nic-in {keep} -j RETURN",
               '-A public-nic-in -m comment --comment "not for the floating range or the NIC range" -j DROP'])


@fixer("HOST-4", risk="config", roles=["compute"],
       checks=["test_public_nic_drops_what_is_not_for_the_floating_or_own_range"])
def drop_foreign_traffic_on_public_nic(ctx):
    """Drop what arrives on the public NIC for anything but the floating range and its own range, now and persisted.

    The rules go to the raw table's PREROUTING, before routing: one place for local and forwarded packets,
    ahead of libvirt's FORWARD chains (which accept the whole routed block)."""
    facts = _facts(ctx)
    nic = _nic(ctx, facts)
    floating = ctx.lab.get("host.floating_range")
    if not facts.nic_networks(nic):
        raise FixRefused(f"the public NIC {nic} has no address: its own range is unknown")
    chain = _nic_chain(nic, facts, floating)
    jump = f"-A PREROUTING -i {nic} -j public-nic-in"

    def with_ours(text: str) -> str:
        text = _strip(text, lambda l: l.startswith("-A public-nic-in ") or l.startswith(":public-nic-in")
                      or ("-j public-nic-in" in l and l.startswith("-A PREROUTING")))
        text = ipt.ensure_rules(text, "raw", ["public-nic-in"], chain)
        return _insert_first(text, "raw", "PREROUTING", jump)

    _refuse_if_cuts_ssh(facts, with_ours(facts.iptables_text), f"dropping what {nic} receives")
    before = [l for l in facts.iptables_text.splitlines() if l.startswith("-A public-nic-in ")]
    live = ["iptables -t raw -N public-nic-in 2>/dev/null || true", "iptables -t raw -F public-nic-in"]
    live += [f"iptables -t raw {r}" for r in chain]
    live += [f"iptables -t raw -D PREROUTING -i {nic} -j public-nic-in 2>/dev/null || true",
             f"iptables -t raw -I PREROUTING 1 -i {nic} -j public-nic-in"]
    had_jump = any(l.startswith("-A PREROUTING") and "-j public-nic-in" in l for l in facts.iptables_text.splitlines())
    undo = [f"iptables -t raw -D PREROUTING -i {nic} -j public-nic-in", "iptables -t raw -F public-nic-in"]
    undo += [f"iptables -t raw {r}" for r in before]
    if had_jump:
        undo.append(f"iptables -t raw -I PREROUTING 1 -i {nic} -j public-nic-in")
    elif not before:
        undo.append("iptables -t raw -X public-nic-in")
    keep = ", ".join(sorted({str(n) for n in facts.nic_networks(nic)} | {floating}))
    block = ctx.lab.get("host.public_block")
    if hostnet.host4_wrong(facts.iptables, facts, nic, floating, block):
        ctx.command(" && ".join(live), undo=" ; ".join(undo),
                    description=f"raw PREROUTING -i {nic} -> public-nic-in: RETURN for {keep}, DROP the rest (running)")
    path = _persisted_path(ctx, facts)
    if path in facts.persisted_iptables and not hostnet.host4_wrong(
            ipt.parse_save(facts.persisted_iptables[path]), facts, nic, floating, block):
        return  # what a reboot loads is right already
    if path is None:
        ctx.note("no iptables persistence on this host (no iptables service, no netfilter-persistent)")
        return
    ctx.edit(path, with_ours(facts.persisted_iptables.get(path, "")), validate="iptables-restore --test {path}",
             mode="0640")


@fixer("HOST-5", risk="config", roles=["compute"], checks=["test_instances_cannot_reach_the_hop0_gateway"])
def reject_instances_to_hop0(ctx):
    """Reject INPUT from the instances to the external bridge's address (hop 0), first in INPUT, now and persisted."""
    facts = _facts(ctx)
    bridge = ctx.lab.get("host.external_bridge")
    block = ctx.lab.get("host.public_block") or ctx.lab.get("host.floating_range")
    gws = [str(i.ip) for i in facts.addrs.get(bridge, [])]
    if not gws:
        raise FixRefused(f"the external bridge {bridge} has no address (start the external network first)")
    match = f"-m iprange --src-range {block}" if "-" in block else f"-s {block}"  # the instances' addresses
    rules = [f"-i {bridge} {match} -d {gw}/32 -m comment --comment \"instances may not reach hop 0\" "
             f"-j REJECT --reject-with icmp-host-prohibited" for gw in gws]
    new_live = facts.iptables_text
    for r in rules:
        new_live = _insert_first(new_live, "filter", "INPUT", f"-A INPUT {r}")
    _refuse_if_cuts_ssh(facts, new_live, f"rejecting INPUT to {', '.join(gws)}")
    floating = ctx.lab.get("host.floating_range") or block
    if hostnet.host5_wrong(facts.iptables, facts, bridge, floating):
        for r in rules:
            ctx.command(f"while iptables -D INPUT {r} 2>/dev/null; do :; done; iptables -I INPUT 1 {r}",
                        undo=f"iptables -D INPUT {r}", description=f"iptables -I INPUT 1 {r}")
    path = _persisted_path(ctx, facts)
    if path in facts.persisted_iptables and not hostnet.host5_wrong(
            ipt.parse_save(facts.persisted_iptables[path]), facts, bridge, floating):
        return  # what a reboot loads is right already
    if path is None:
        ctx.note("no iptables persistence on this host (no iptables service, no netfilter-persistent)")
        return
    text = facts.persisted_iptables.get(path, "")
    for r in rules:
        norm = " ".join(shlex.split(f"-A INPUT {r}"))
        text = _strip(text, lambda l, n=norm: l.startswith("-A INPUT ") and " ".join(shlex.split(l)) == n)
        text = _insert_first(text, "filter", "INPUT", f"-A INPUT {r}")
    ctx.edit(path, text, validate="iptables-restore --test {path}", mode="0640")


# --- HOST-1 ------------------------------------------------------------------------------------------------------
@fixer("HOST-1", risk="config", roles=["compute"], checks=["test_public_block_routes_to_external_bridge"])
def remove_stray_public_routes(ctx):
    """Remove routes that send part of the public block elsewhere than the external bridge (running)."""
    facts = _facts(ctx)
    block = ctx.lab.get("host.public_block")
    bridge = ctx.lab.get("host.external_bridge")
    if not block or bridge not in facts.addrs:
        return  # the external network is down: starting it is the libvirt fixer's job
    blk = ipaddress.ip_network(block, strict=False)
    client = facts.ssh[0] if facts.ssh else None
    for r in facts.routes:
        dst = r.get("dst", "")
        if dst == "default" or r.get("dev") == bridge:
            continue
        net = ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False)
        if not net.overlaps(blk) or net.prefixlen < blk.prefixlen:
            continue  # a covering route (e.g. the default) loses to the bridge's own, more specific route
        if client and ipaddress.ip_address(client) in net:
            raise FixRefused(f"the route {dst} carries this SSH session (from {client}); remove it from the console")
        spec = f"{dst}" + (f" via {r['gateway']}" if r.get("gateway") else "") + (f" dev {r['dev']}" if r.get("dev") else "")
        spec += f" metric {r['metric']}" if r.get("metric") else ""
        ctx.command(f"ip route del {spec}", undo=f"ip route add {spec}")
        ctx.note(f"the route {spec} was removed from the running table; remove it from the network configuration "
                 f"too (route-* / interfaces / .network files), or it returns at the next boot")
