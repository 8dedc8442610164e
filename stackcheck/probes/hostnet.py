"""The physical host's network as facts (addresses, routes, bridges, its firewalls, the SSH connection we came
in on), read in one round trip, and the packets that decide HOST-1 ... HOST-5.

The requirement packets are chosen from the host's own facts, not from a fixed list: for HOST-4 the addresses
the host really has or routes to behind other interfaces (what proxy ARP and routing would expose), the edges
of the public block outside the floating range, and an address from nowhere; and, so that "drop everything"
does not pass, the floating range and the NIC's own address must still get through.
"""
from __future__ import annotations

import ipaddress
import json

from stackcheck.probes import arp as arpmod
from stackcheck.probes import batch
from stackcheck.probes import iptables as ipt
from stackcheck.verdicts import CannotCheck

NOWHERE = "192.0.2.77"  # TEST-NET-1: an address no site owns, as "anything else"

IPT_FILES = ("/etc/sysconfig/iptables", "/etc/iptables/rules.v4")
ARP_FILES = ("/etc/sysconfig/arptables", "/etc/iptables/arptables.rules")
NFT_CONF = "/etc/nftables.conf"

# Every read is a part with its own exit code (probes/batch.py): iptables-save run by a user who is not root
# ("Permission denied (you must be root)") or missing from the PATH is an unreadable ruleset, never an empty one.
PARTS = (
    batch.part("addr", "ip -j -4 addr show 2>/dev/null || { echo '#text'; ip -4 -o addr show; }"),
    batch.part("route", "ip -j -4 route show table main 2>/dev/null || { echo '#text'; ip -4 route show table main; }"),
    batch.part("link", "ip -j link show 2>/dev/null || { echo '#text'; ip -o link show; }"),
    batch.part("ssh", 'echo "${SSH_CONNECTION:-}"'),
    batch.part("iptables", "iptables-save"),
    # legacy tables beside nft ones (grep, not `test -s`: /proc files have size 0)
    batch.part("iptables-legacy",
               "[ -e /proc/net/ip_tables_names ] || exit 0; grep -q . /proc/net/ip_tables_names; rc=$?; "
               "[ $rc -eq 1 ] && exit 0; [ $rc -eq 0 ] || exit $rc; "
               "command -v iptables-legacy-save >/dev/null || exit 0; iptables-legacy-save"),
    *(batch.file(f) for f in IPT_FILES + ARP_FILES),
    # native nft ARP tables persisted in nftables.conf: load the file into a throwaway network namespace and list
    # it as JSON (what a boot would load, read by the same parser as the running rules; the host is not touched)
    batch.part("nftables.conf arp",
               f"[ -e {NFT_CONF} ] || exit 0; grep -q 'table arp' {NFT_CONF}; rc=$?; [ $rc -eq 1 ] && exit 0; "
               f"[ $rc -eq 0 ] || exit $rc; unshare -n sh -c 'nft -f {NFT_CONF} >/dev/null && nft -j list ruleset'"),
)
READ_COMMAND = batch.script(*PARTS, *arpmod.PARTS)  # the ARP filters too: one round trip for everything


def _judged(name: str):
    """A fact that raises CannotCheck, saying what could not be read and why, when its read failed."""
    def get(self):
        if name in self.unreadable:
            raise CannotCheck(self.unreadable[name])
        return self.__dict__["_" + name]

    def put(self, value):
        self.unreadable.pop(name, None)
        self.__dict__["_" + name] = value
    return property(get, put)


class NetFacts:
    """The host's network facts. A fact whose read failed raises CannotCheck when used (and only then: a check
    that needs the routes is not stopped by an unreadable ebtables)."""

    addrs: dict[str, list[ipaddress.IPv4Interface]] = _judged("addrs")
    routes: list[dict] = _judged("routes")
    masters: dict[str, str] = _judged("masters")  # bridge port -> bridge
    ssh: tuple[str, int, str, int] | None = _judged("ssh")  # client ip, client port, server ip, server port
    iptables: dict[str, ipt.Table] = _judged("iptables")
    iptables_text: str = _judged("iptables_text")
    persisted_iptables: dict[str, str] = _judged("persisted_iptables")  # path -> text
    persisted_arp: dict[str, str] = _judged("persisted_arp")
    arp: arpmod.ArpRuleset | None = _judged("arp")

    def __init__(self, addrs=None, routes=None, masters=None, ssh=None, iptables=None, iptables_text="",
                 persisted_iptables=None, persisted_arp=None, arp=None):
        self.unreadable: dict[str, str] = {}  # fact -> why it could not be read
        self.addrs, self.routes, self.masters = addrs or {}, routes or [], masters or {}
        self.ssh = ssh
        self.iptables, self.iptables_text = iptables or {}, iptables_text
        self.persisted_iptables, self.persisted_arp = persisted_iptables or {}, persisted_arp or {}
        self.arp = arp

    def local_ips(self) -> set[str]:
        return {str(i.ip) for ifs in self.addrs.values() for i in ifs}

    def iface_of(self, ip: str) -> str | None:
        for name, ifs in self.addrs.items():
            if any(str(i.ip) == ip for i in ifs):
                return name
        return None

    def route_dev(self, dst: str) -> str | None:
        """The output interface of the longest-prefix route for `dst` (main table)."""
        best, dev = -1, None
        ip = ipaddress.ip_address(dst)
        for r in self.routes:
            d = r.get("dst", "")
            if r.get("type", "unicast") not in ("unicast",):
                continue
            net = ipaddress.ip_network("0.0.0.0/0" if d == "default" else (d if "/" in d else f"{d}/32"), strict=False)
            if ip in net and net.prefixlen > best:
                best, dev = net.prefixlen, r.get("dev")
        return dev

    def nic_networks(self, nic: str) -> list[ipaddress.IPv4Network]:
        return [i.network for i in self.addrs.get(nic, [])]


# iproute2 before 4.13 (CentOS 7, the notes' host) has no -j: the one-line text forms are parsed instead
def _text_addrs(text: str) -> list[dict]:
    out: dict[str, dict] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "inet":
            name = parts[1].split("@")[0]
            local, _, plen = parts[3].partition("/")
            out.setdefault(name, {"ifname": name, "addr_info": []})["addr_info"].append(
                {"family": "inet", "local": local, "prefixlen": int(plen or 32)})
    return list(out.values())


def _text_routes(text: str) -> list[dict]:
    routes = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0] in ("broadcast", "local", "multicast"):
            continue
        r: dict = {}
        if parts[0] in ("unreachable", "blackhole", "prohibit", "throw"):
            r["type"] = parts[0]
            parts = parts[1:]
        r["dst"] = parts[0]
        for key, field in (("via", "gateway"), ("dev", "dev"), ("metric", "metric"), ("src", "prefsrc")):
            if key in parts[1:-1]:
                r[field] = parts[parts.index(key, 1) + 1]
        routes.append(r)
    return routes


def _text_links(text: str) -> list[dict]:
    links = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[0].endswith(":"):
            link = {"ifname": parts[1].rstrip(":").split("@")[0]}
            if "master" in parts:
                link["master"] = parts[parts.index("master") + 1]
            links.append(link)
    return links


def _load(section: str | None, text_parser) -> list[dict]:
    section = section or ""
    if section.startswith("#text"):
        return text_parser(section.split("\n", 1)[1] if "\n" in section else "")
    return json.loads(section or "[]")


def _set(facts: NetFacts, name: str, read) -> None:
    """facts.<name> = read(), or the reason it could not be read (raised when the fact is used)."""
    try:
        setattr(facts, name, read())
    except CannotCheck as exc:
        facts.unreadable[name] = str(exc)


def _running_iptables(parts: batch.Batch) -> tuple[dict[str, ipt.Table], str]:
    text = arpmod.without_warnings(parts.output("iptables", "the running iptables rules (`iptables-save`)"))
    legacy = parts.output("iptables-legacy", "the legacy iptables tables (/proc/net/ip_tables_names, "
                                             "`iptables-legacy-save`)")
    tables = ipt.parse_save(text)
    for name, table in ipt.parse_save(legacy).items():  # both stacks see the packet; legacy keeps its own name
        tables[f"legacy-{name}"] = table
    return tables, text + legacy


def _files(parts: batch.Batch, paths) -> dict[str, str]:
    """path -> content of the files that exist (CannotCheck when one exists and cannot be read)."""
    return {p: text for p in paths if (text := parts.file(p)) is not None}


def _persisted_arp(parts: batch.Batch) -> dict[str, str]:
    found = _files(parts, ARP_FILES)
    nft = parts.output("nftables.conf arp", f"the ARP tables persisted in {NFT_CONF} (loaded with `nft -f` in a "
                                            "throwaway network namespace)")
    if nft.strip():
        found[NFT_CONF] = nft
    return found


def _ssh(words: list[str]) -> tuple[str, int, str, int] | None:
    return (words[0], int(words[1]), words[2], int(words[3])) if len(words) == 4 else None


def facts_from(parts: batch.Batch) -> NetFacts:
    facts = NetFacts()
    _set(facts, "addrs", lambda: {
        link["ifname"]: [ipaddress.IPv4Interface(f"{a['local']}/{a['prefixlen']}") for a in link.get("addr_info", [])
                         if a.get("family") == "inet"]
        for link in _load(parts.output("addr", "the addresses (`ip -4 addr show`)"), _text_addrs)})
    _set(facts, "routes", lambda: _load(parts.output("route", "the routing table (`ip -4 route show`)"), _text_routes))
    _set(facts, "masters", lambda: {link["ifname"]: link["master"] for link in
                                    _load(parts.output("link", "the links (`ip link show`)"), _text_links)
                                    if link.get("master")})
    _set(facts, "ssh", lambda: _ssh(parts.output("ssh", "the SSH session ($SSH_CONNECTION)").split()))
    try:
        facts.iptables, facts.iptables_text = _running_iptables(parts)
    except CannotCheck as exc:
        facts.unreadable["iptables"] = facts.unreadable["iptables_text"] = str(exc)
    _set(facts, "persisted_iptables", lambda: _files(parts, IPT_FILES))
    _set(facts, "persisted_arp", lambda: _persisted_arp(parts))
    _set(facts, "arp", lambda: arpmod.ruleset_from_parts(parts))
    return facts


def parse(text: str) -> NetFacts:
    return facts_from(batch.parse(text))


def read(transport) -> NetFacts:
    """Everything in one round trip: addresses, routes, links, the SSH session, iptables, ARP filters, and the
    persisted rule files; each fact judged on its own read."""
    return facts_from(batch.run(transport, READ_COMMAND))


def inbound_path(tables: dict[str, ipt.Table], local: bool) -> list[tuple[str, str]]:
    path = ipt.inbound_path(local)
    if any(name.startswith("legacy-") for name in tables):
        path += [(f"legacy-{t}", c) for t, c in path]
    return path


def verdict(facts_tables: dict[str, ipt.Table], facts: NetFacts, pkt: ipt.Packet) -> ipt.Verdict:
    local = pkt.dst in facts.local_ips()
    if not local and pkt.oif is None:
        pkt = ipt.Packet(pkt.src, pkt.dst, pkt.iif, facts.route_dev(pkt.dst), pkt.proto, pkt.dport, pkt.state)
    return ipt.evaluate(facts_tables, inbound_path(facts_tables, local), pkt)


# --- HOST-4 ------------------------------------------------------------------------------------------------------
def floating_bounds(floating: str) -> list[str]:
    return arpmod.representative(floating)


def in_floating(addr: str, floating: str) -> bool:
    return arpmod.in_list(addr, [floating])


def public_nic_probes(facts: NetFacts, nic: str, floating: str, public_block: str | None) -> list[tuple[ipt.Packet, bool, str]]:
    """(packet, must_be_denied, why) for HOST-4."""
    nets = facts.nic_networks(nic)
    own = lambda a: any(ipaddress.ip_address(a) in n for n in nets)  # noqa: E731
    allowed = lambda a: own(a) or in_floating(a, floating)  # noqa: E731
    # the sender: a neighbour on the NIC's network (the upstream gateway when there is one)
    gw = next((r.get("gateway") for r in facts.routes if r.get("dst") == "default" and r.get("dev") == nic), None)
    src = gw or (str(nets[0].network_address + 1) if nets else NOWHERE)
    probes: list[tuple[ipt.Packet, bool, str]] = []
    seen: set[str] = set()

    def add(dst, deny, why):
        if dst in seen:
            return
        seen.add(dst)
        probes.append((ipt.Packet(src, dst, iif=nic), deny, why))

    for ifname, ifs in sorted(facts.addrs.items()):
        if ifname in (nic, "lo"):
            continue
        for i in ifs:
            if not allowed(str(i.ip)):
                add(str(i.ip), True, f"the host's address on {ifname}")
            behind = str(i.network.network_address + 2) if i.network.num_addresses > 4 else None
            if behind and not allowed(behind) and behind != str(i.ip):
                add(behind, True, f"an address behind {ifname}")
    if public_block:
        for a in arpmod.representative(public_block):
            if not allowed(a):
                add(a, True, f"in the public block {public_block} but outside the floating range")
    add(NOWHERE, True, "an address the site does not own")
    for a in floating_bounds(floating):
        add(a, False, f"in the floating range {floating}")
    for i in facts.addrs.get(nic, []):
        add(str(i.ip), False, f"the NIC's own address")
    return probes


# --- HOST-5 ------------------------------------------------------------------------------------------------------
# what an instance would try on its gateway: log in, reach the VM consoles, ping it. (libvirt's own INPUT rules
# accept DNS/DHCP on every network bridge; those are libvirt's service to the networks, not judged here.)
INSTANCE_TRAFFIC = (("tcp", 22, "ssh"), ("tcp", 5900, "the consoles"), ("icmp", None, "ping"))


def hop0_probes(facts: NetFacts, bridge: str, floating: str) -> list[tuple[ipt.Packet, str]]:
    """New traffic from an instance (a floating address) to each address of the external bridge."""
    src = floating_bounds(floating)[0]
    out = []
    for i in facts.addrs.get(bridge, []):
        for proto, port, what in INSTANCE_TRAFFIC:
            out.append((ipt.Packet(src, str(i.ip), iif=bridge, proto=proto, dport=port), what))
    return out


# --- SSH safety ----------------------------------------------------------------------------------------------------
def ssh_packet(facts: NetFacts) -> ipt.Packet | None:
    """The packets of the SSH session a fix runs over, as the host's INPUT sees them (None: not over SSH)."""
    if not facts.ssh:
        return None
    client, _cport, server, sport = facts.ssh
    iif = facts.route_dev(client)
    return ipt.Packet(client, server, iif=iif, proto="tcp", dport=sport, state="ESTABLISHED")


def ssh_arp_packets(facts: NetFacts) -> list[arpmod.ArpPacket]:
    """The ARP the SSH session needs: the host asking for its peer (or gateway), and the peer asking for it."""
    if not facts.ssh:
        return []
    client, _cport, server, _sport = facts.ssh
    dev = facts.route_dev(client) or facts.iface_of(server)
    gw = next((r.get("gateway") for r in facts.routes
               if r.get("dev") == dev and r.get("gateway") and r.get("dst") == "default"), None)
    neighbour = client if any(ipaddress.ip_address(client) in n for n in facts.nic_networks(dev or "")) else (gw or client)
    bridge = dev if dev in facts.masters.values() else None
    port = None
    return [arpmod.ArpPacket("out", dev, server, neighbour, port=port, bridge=bridge),
            arpmod.ArpPacket("in", dev, neighbour, server, port=port, bridge=bridge)]


# --- the judgements, shared by the checks and their fixers (a fixer edits a persisted file only when it is wrong) --
def host4_wrong(tables, facts: NetFacts, nic: str, floating: str, block: str | None, seen=None) -> list[str]:
    wrong = []
    for pkt, deny, why in public_nic_probes(facts, nic, floating, block):
        v = verdict(tables, facts, pkt)
        if seen is not None:
            seen.append(f"{pkt.dst} {'/'.join(sorted(v.outcomes))}")
        if deny and not v.denied:
            wrong.append(f"{pkt.describe()} ({why}): {v}, expected dropped")
        if not deny and v.denied:
            wrong.append(f"{pkt.describe()} ({why}): {v}, expected to get through")
    return wrong


def host5_wrong(tables, facts: NetFacts, bridge: str, floating: str, seen=None) -> list[str]:
    wrong = []
    for pkt, what in hop0_probes(facts, bridge, floating):
        v = verdict(tables, facts, pkt)
        if seen is not None:
            seen.append(f"{pkt.describe()}: {'/'.join(sorted(v.outcomes))}")
        if not v.denied:
            wrong.append(f"{pkt.describe()} ({what}): {v}, expected rejected")
    return wrong


def public_list(given: list[str] | None, block: str | None, facts: NetFacts, nic: str) -> list[str]:
    """The addresses the host may ARP for on the public NIC: the inventory's host.public_ips, else the public
    block and the NIC's own addresses."""
    if given:
        return list(given)
    return [str(i.ip) for i in facts.addrs.get(nic, [])] + ([block] if block else [])


def outside_addresses(facts: NetFacts, nic: str, allowed: list[str]) -> list[tuple[str, str]]:
    """Addresses the host has or routes to behind other interfaces (what proxy ARP would answer for), its own
    NIC address when the list leaves it out, and one from nowhere: those not in the public list."""
    out = [(str(i.ip), "the NIC's own address, left out of the public list")
           for i in facts.addrs.get(nic, []) if not arpmod.in_list(str(i.ip), allowed)]
    for ifname, ifs in sorted(facts.addrs.items()):
        if ifname in (nic, "lo"):
            continue
        for i in ifs:
            for a, why in ((str(i.ip), f"the host's address on {ifname}"),
                           (str(i.network.network_address + 2), f"an address behind {ifname}")):
                if not arpmod.in_list(a, allowed) and a not in [o[0] for o in out]:
                    out.append((a, why))
    out.append((NOWHERE, "an address the site does not own"))
    return out


def arp_wrong(facts: NetFacts, ruleset: arpmod.ArpRuleset, nic: str, allowed: list[str]) -> list[str]:
    # the neighbour asking / being asked: the default gateway, else the first address of the NIC's network
    peer = next((r.get("gateway") for r in facts.routes if r.get("dst") == "default" and r.get("gateway")), None)
    if peer is None:
        peer = str(facts.addrs[nic][0].network.network_address + 1) if facts.addrs.get(nic) else NOWHERE
    probes = arpmod.filter_probes(nic, [a for spec in allowed for a in arpmod.representative(spec)],
                                  outside_addresses(facts, nic, allowed), peer=peer, bridge=facts.masters.get(nic))
    wrong = []
    for p in probes:
        v = ruleset.verdict(p.packet)
        if p.want_dropped and not v.dropped:
            wrong.append(f"{p.packet.describe()} ({p.why}) {v}; expected dropped")
        elif not p.want_dropped and not v.passes:
            wrong.append(f"{p.packet.describe()} ({p.why}) {v}; expected to pass")
    return wrong


def persisted_arp_ruleset(facts: NetFacts) -> arpmod.ArpRuleset:
    tables: list[arpmod.ArpTable] = []
    for path, text in facts.persisted_arp.items():
        if path.endswith("nftables.conf"):
            tables += arpmod.parse_nft_json(text.strip() or '{"nftables": []}')
        else:
            tables.append(arpmod.parse_arptables_save(text, f"file {path}"))
    return arpmod.ArpRuleset(tables)
