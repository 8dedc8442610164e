"""ARP filter rules from whichever backend a host uses, judged by meaning: an evaluator tells what happens to an
ARP request (outgoing with a source address, incoming for a target address) on an interface.

Backends and how they are read (the notes say "bridge filter rules"; operators use any of these):
- nft `arp` family tables (arptables-nft keeps its rules there as native expressions, and hand-written nft
  tables live there too): `nft -j list ruleset`, every table of family arp, every base chain of the hook;
- arptables-legacy: `arptables-legacy -L -n` (its `-save` prints no rules on Debian 12), only when the kernel
  has legacy ARP tables (/proc/net/arp_tables_names), since merely listing them creates them;
- ebtables (nft or legacy): `ebtables-save`; it applies only when the NIC is a bridge port (frames of a
  routed NIC never traverse the bridge hooks). `nft list ruleset` hides ebtables' ARP IP matches
  (`xt match arp`), hence ebtables-save.
All the backends see the packet in turn, so a request is dropped when any of them certainly drops it.
Unknown matches make a rule "maybe" match; a check wants a certain verdict.
"""
from __future__ import annotations

import ipaddress
import json
import shlex
from dataclasses import dataclass, field
from typing import Callable

from stackcheck.probes import batch
from stackcheck.verdicts import CannotCheck

DENY = {"DROP"}


@dataclass(frozen=True)
class ArpPacket:
    direction: str  # "in" (arriving) or "out" (sent by the host)
    iface: str  # the device the ARP stack sees (the bridge when the NIC is a bridge port)
    sip: str
    tip: str
    op: int = 1  # 1 request, 2 reply
    port: str | None = None  # the bridge port (ebtables -i/-o) when the NIC is enslaved
    bridge: str | None = None

    def describe(self) -> str:
        kind = "request" if self.op == 1 else "reply"
        if self.direction == "out":
            return f"outgoing ARP {kind} on {self.port or self.iface} from {self.sip} for {self.tip}"
        return f"incoming ARP {kind} on {self.port or self.iface} from {self.sip} for {self.tip}"


Cond = Callable[[ArpPacket], "bool | None"]


@dataclass
class ArpRule:
    text: str
    conds: list[Cond]
    target: str | None
    goto: bool = False


@dataclass
class ArpTable:
    """One table of one backend: chains with rules, base chains with their hook and policy."""

    backend: str
    name: str
    chains: dict[str, list[ArpRule]] = field(default_factory=dict)
    policies: dict[str, str] = field(default_factory=dict)  # chain -> ACCEPT/DROP/RETURN ("-" user chain)
    hooks: dict[str, list[str]] = field(default_factory=dict)  # "in"/"out" -> base chains in priority order


# --- match helpers ---------------------------------------------------------------------------------------------
def _iface(pattern: str) -> Callable[[str | None], bool | None]:
    def m(name):
        if name is None:
            return None
        if pattern.endswith("+") or pattern.endswith("*"):
            return name.startswith(pattern[:-1])
        return name == pattern
    return m


def _net(spec: str) -> Callable[[str], bool]:
    nets = [ipaddress.ip_network(s.strip(), strict=False) for s in spec.split(",") if s.strip()]
    return lambda ip: any(ipaddress.ip_address(ip) in n for n in nets)


def _neg(f: Cond, negated: bool) -> Cond:
    if not negated:
        return f

    def g(p):
        r = f(p)
        return None if r is None else not r
    return g


def _opcode(value: str) -> int | None:
    v = value.strip().lower()
    return {"request": 1, "reply": 2, "1": 1, "2": 2}.get(v)


# --- arptables listing (-L -n; legacy and nft print the same) -------------------------------------------------
def parse_arptables_list(text: str, backend: str = "arptables") -> ArpTable:
    table = ArpTable(backend, "filter")
    chain = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("Chain "):
            parts = line.split()
            chain = parts[1]
            table.chains.setdefault(chain, [])
            if "(policy" in line:
                table.policies[chain] = parts[3].rstrip(")")
            else:
                table.policies[chain] = "-"
            continue
        if chain is None or not line.startswith("-"):
            continue
        line = line.split(" , pcnt=")[0].split(", pcnt=")[0]
        table.chains[chain].append(_arptables_rule(line))
    for name, hook in (("INPUT", "in"), ("OUTPUT", "out")):
        if name in table.chains:
            table.hooks.setdefault(hook, []).append(name)
    return table


def parse_arptables_save(text: str, backend: str = "arptables") -> ArpTable:
    """arptables-save (-A CHAIN ...) into the same model."""
    table = ArpTable(backend, "filter")
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(":"):
            name, policy = (line[1:].split() + ["-"])[:2]
            table.chains.setdefault(name, [])
            table.policies[name] = policy
        elif line.startswith("-A "):
            _, chain, rest = line.split(" ", 2)
            table.chains.setdefault(chain, []).append(_arptables_rule(rest))
    for name, hook in (("INPUT", "in"), ("OUTPUT", "out")):
        if name in table.chains:
            table.hooks.setdefault(hook, []).append(name)
    return table


def _arptables_rule(line: str) -> ArpRule:
    args = shlex.split(line)
    conds: list[Cond] = []
    target = None
    goto = False
    i = 0
    neg = False
    while i < len(args):
        a = args[i]
        v = args[i + 1] if i + 1 < len(args) else ""
        if a == "!":
            neg = True
            i += 1
            continue
        if v == "!" and a.startswith("-"):  # old syntax: -s ! ADDR
            neg, v = True, args[i + 2] if i + 2 < len(args) else ""
            i += 1
        if a in ("-j", "--jump", "-g", "--goto"):
            target, goto = v, a in ("-g", "--goto")
        elif a in ("-i", "--in-interface"):
            if v != "*":
                f = _iface(v)
                conds.append(_neg(lambda p, f=f: f(p.iface) if p.direction == "in" else False, neg))
        elif a in ("-o", "--out-interface"):
            if v != "*":
                f = _iface(v)
                conds.append(_neg(lambda p, f=f: f(p.iface) if p.direction == "out" else False, neg))
        elif a in ("-s", "--source-ip"):
            f = _net(v)
            conds.append(_neg(lambda p, f=f: f(p.sip), neg))
        elif a in ("-d", "--destination-ip"):
            f = _net(v)
            conds.append(_neg(lambda p, f=f: f(p.tip), neg))
        elif a == "--opcode":
            op = _opcode(v)
            conds.append(_neg(lambda p, op=op: None if op is None else p.op == op, neg))
        elif a in ("--h-length", "--h-type", "--proto-type", "-l"):
            pass  # Ethernet/IPv4 ARP: what every request on these NICs is
        elif a in ("-c", "--set-counters", "--mangle-ip-s", "--mangle-ip-d", "--mangle-mac-s", "--mangle-mac-d",
                   "--mangle-target"):
            pass  # counters and target options do not change the match
        elif a.startswith("-"):
            conds.append(lambda p: None)  # e.g. MAC matches: not decided for an abstract request
        neg = False
        i += 2
    return ArpRule(line, conds, target, goto)


# --- ebtables-save ---------------------------------------------------------------------------------------------
def parse_ebtables_save(text: str, backend: str = "ebtables") -> list[ArpTable]:
    tables: list[ArpTable] = []
    table = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            table = ArpTable(backend, line[1:])
            tables.append(table)
        elif table is None:
            continue
        elif line.startswith(":"):
            name, policy = (line[1:].split() + ["ACCEPT"])[:2]
            table.chains.setdefault(name, [])
            table.policies[name] = policy
        elif line.startswith("-A "):
            _, chain, rest = line.split(" ", 2)
            table.chains.setdefault(chain, []).append(_ebtables_rule(rest))
    for t in tables:
        if t.name == "filter":
            # INPUT: frames to the host (ARP requests for it); FORWARD: bridged through; OUTPUT: sent by the host
            t.hooks = {"in": [c for c in ("INPUT",) if c in t.chains], "out": [c for c in ("OUTPUT",) if c in t.chains]}
        elif t.name == "nat":
            t.hooks = {"in": [c for c in ("PREROUTING",) if c in t.chains],
                       "out": [c for c in ("OUTPUT", "POSTROUTING") if c in t.chains]}
        elif t.name == "broute":
            t.hooks = {"in": [c for c in ("BROUTING",) if c in t.chains], "out": []}
    return tables


def _ebtables_rule(line: str) -> ArpRule:
    args = shlex.split(line)
    conds: list[Cond] = []
    target = None
    i = 0
    neg = False
    while i < len(args):
        a = args[i]
        if a == "!":
            neg = True
            i += 1
            continue
        v = args[i + 1] if i + 1 < len(args) else ""
        if v == "!":  # ebtables-save prints `--arp-ip-src ! ADDR`
            neg = True
            i += 1
            v = args[i + 1] if i + 1 < len(args) else ""
        if a in ("-j", "--jump"):
            target = v
        elif a in ("-p", "--protocol"):
            is_arp = v.upper() in ("ARP", "0X0806")
            conds.append(_neg(lambda p, r=is_arp: r, neg))
        elif a in ("-i", "--in-interface", "--in-if"):
            f = _iface(v)
            conds.append(_neg(lambda p, f=f: f(p.port) if p.direction == "in" else False, neg))
        elif a in ("-o", "--out-interface", "--out-if"):
            f = _iface(v)
            conds.append(_neg(lambda p, f=f: f(p.port) if p.direction == "out" else False, neg))
        elif a in ("--logical-in",):
            f = _iface(v)
            conds.append(_neg(lambda p, f=f: f(p.bridge) if p.direction == "in" else False, neg))
        elif a in ("--logical-out",):
            f = _iface(v)
            conds.append(_neg(lambda p, f=f: f(p.bridge) if p.direction == "out" else False, neg))
        elif a == "--arp-op":
            op = _opcode(v)
            conds.append(_neg(lambda p, op=op: None if op is None else p.op == op, neg))
        elif a in ("--arp-ip-src",):
            f = _net(v)
            conds.append(_neg(lambda p, f=f: f(p.sip), neg))
        elif a in ("--arp-ip-dst",):
            f = _net(v)
            conds.append(_neg(lambda p, f=f: f(p.tip), neg))
        elif a in ("--arp-htype", "--arp-ptype"):
            pass
        elif a in ("-c", "--set-counters"):
            i += 3
            neg = False
            continue
        elif a.startswith("-"):
            conds.append(lambda p: None)
        neg = False
        i += 2
    return ArpRule(line, conds, target)


# --- nft JSON: family arp --------------------------------------------------------------------------------------
def parse_nft_json(text: str) -> list[ArpTable]:
    """Every table of family arp in `nft -j list ruleset`."""
    data = json.loads(text or '{"nftables": []}').get("nftables", [])
    tables: dict[str, ArpTable] = {}
    sets: dict[tuple[str, str], list] = {}
    base: dict[str, list[tuple[int, str, str]]] = {}
    for item in data:
        if "table" in item and item["table"].get("family") == "arp":
            tables[item["table"]["name"]] = ArpTable("nft", item["table"]["name"])
        elif "set" in item and item["set"].get("family") == "arp":
            s = item["set"]
            sets[(s["table"], s["name"])] = s.get("elem", [])
        elif "chain" in item and item["chain"].get("family") == "arp":
            c = item["chain"]
            t = tables.setdefault(c["table"], ArpTable("nft", c["table"]))
            t.chains.setdefault(c["name"], [])
            if "hook" in c:
                t.policies[c["name"]] = c.get("policy", "accept").upper()
                hook = {"input": "in", "output": "out"}.get(c["hook"])
                if hook:
                    base.setdefault(c["table"], []).append((int(c.get("prio", 0)), hook, c["name"]))
            else:
                t.policies[c["name"]] = "-"
    for item in data:
        if "rule" in item and item["rule"].get("family") == "arp":
            r = item["rule"]
            t = tables[r["table"]]
            t.chains.setdefault(r["chain"], []).append(_nft_rule(r, lambda name, tb=r["table"]: sets.get((tb, name))))
    for name, entries in base.items():
        for _prio, hook, chain in sorted(entries):
            tables[name].hooks.setdefault(hook, []).append(chain)
    return list(tables.values())


def _nft_value_matcher(right, lookup_set) -> Callable[[str], bool | None]:
    """A predicate for an address value: plain, prefix, range, anonymous or named set."""
    if isinstance(right, str) and right.startswith("@"):
        elems = lookup_set(right[1:])
        if elems is None:
            return lambda ip: None
        return _nft_value_matcher({"set": elems}, lookup_set)
    if isinstance(right, dict) and "set" in right:
        parts = [_nft_value_matcher(e, lookup_set) for e in right["set"]]

        def in_set(ip):
            rs = [p(ip) for p in parts]
            return True if True in rs else (None if None in rs else False)
        return in_set
    if isinstance(right, dict) and "prefix" in right:
        net = ipaddress.ip_network(f"{right['prefix']['addr']}/{right['prefix']['len']}", strict=False)
        return lambda ip: ipaddress.ip_address(ip) in net
    if isinstance(right, dict) and "range" in right:
        lo, hi = (ipaddress.ip_address(x) for x in right["range"])
        return lambda ip: lo <= ipaddress.ip_address(ip) <= hi
    if isinstance(right, str):
        try:
            addr = ipaddress.ip_address(right)
        except ValueError:
            return lambda ip: None
        return lambda ip: ipaddress.ip_address(ip) == addr
    return lambda ip: None


def _nft_rule(rule: dict, lookup_set) -> ArpRule:
    conds: list[Cond] = []
    target = None
    goto = False
    for expr in rule.get("expr", []):
        if "match" in expr:
            m = expr["match"]
            op = m.get("op", "==")
            negated = op == "!="
            left, right = m.get("left", {}), m.get("right")
            if "meta" in left and left["meta"].get("key") in ("iifname", "iif", "oifname", "oif"):
                key = left["meta"]["key"]
                names = right["set"] if isinstance(right, dict) and "set" in right else [right]
                fs = [_iface(str(n).replace("*", "+")) for n in names]
                want_dir = "in" if key.startswith("i") else "out"
                conds.append(_neg(lambda p, fs=fs, d=want_dir: any(f(p.iface) for f in fs) if p.direction == d else False,
                                  negated))
            elif "payload" in left and left["payload"].get("protocol") == "arp":
                fld = left["payload"].get("field")
                if fld == "operation":
                    ops = right["set"] if isinstance(right, dict) and "set" in right else [right]
                    wanted = {_opcode(str(o)) for o in ops}
                    conds.append(_neg(lambda p, w=wanted: p.op in w, negated))
                elif fld in ("saddr ip", "daddr ip"):
                    f = _nft_value_matcher(right, lookup_set)
                    attr = "sip" if fld.startswith("s") else "tip"
                    conds.append(_neg(lambda p, f=f, a=attr: f(getattr(p, a)), negated))
                elif fld in ("htype", "hlen", "plen", "ptype"):
                    pass  # Ethernet/IPv4 ARP (arptables-nft adds these to every rule)
                else:
                    conds.append(lambda p: None)
            else:
                conds.append(lambda p: None)
        elif "accept" in expr:
            target = "ACCEPT"
        elif "drop" in expr:
            target = "DROP"
        elif "return" in expr:
            target = "RETURN"
        elif "jump" in expr:
            target = expr["jump"]["target"]
        elif "goto" in expr:
            target, goto = expr["goto"]["target"], True
        elif any(k in expr for k in ("counter", "log", "limit", "comment")):
            continue
        else:
            conds.append(lambda p: None)  # xt compat and anything we do not model
    return ArpRule(f"{rule['table']} {rule['chain']}: {_nft_text(rule.get('expr', []))}", conds, target, goto)


def _nft_text(exprs: list) -> str:
    """A short nft-like rendering of a rule for messages (the Ethernet/IPv4 header matches left out)."""
    def val(v):
        if isinstance(v, dict) and "prefix" in v:
            return f"{v['prefix']['addr']}/{v['prefix']['len']}"
        if isinstance(v, dict) and "set" in v:
            return "{ " + ", ".join(val(x) for x in v["set"]) + " }"
        if isinstance(v, dict) and "range" in v:
            return "-".join(str(x) for x in v["range"])
        return str(v)
    parts = []
    for e in exprs:
        if "match" in e:
            left = e["match"].get("left", {})
            name = left.get("meta", {}).get("key") or ("arp " + left.get("payload", {}).get("field", "?"))
            if name in ("arp htype", "arp hlen", "arp plen", "arp ptype"):
                continue
            op = e["match"].get("op", "==")
            parts.append(f"{name} {'' if op == '==' else op + ' '}{val(e['match'].get('right'))}")
        elif any(k in e for k in ("accept", "drop", "return")):
            parts.append(next(k for k in ("accept", "drop", "return") if k in e))
        elif "jump" in e or "goto" in e:
            k = "jump" if "jump" in e else "goto"
            parts.append(f"{k} {e[k]['target']}")
        elif "counter" in e:
            continue
        else:
            parts.append(next(iter(e)))
    return " ".join(parts)


# --- evaluation --------------------------------------------------------------------------------------------------
def _rule_matches(rule: ArpRule, pkt: ArpPacket) -> bool | None:
    result: bool | None = True
    for c in rule.conds:
        r = c(pkt)
        if r is False:
            return False
        if r is None:
            result = None
    return result


def _eval_chain(table: ArpTable, chain: str, pkt: ArpPacket, depth=0) -> tuple[set[str], list[str]]:
    if depth > 32:
        return {"ACCEPT", "DROP"}, ["jump depth exceeded"]
    outcomes: set[str] = set()
    because: list[str] = []
    for rule in table.chains.get(chain, []):
        m = _rule_matches(rule, pkt)
        if m is False or rule.target is None:
            continue
        t = rule.target
        if t in ("ACCEPT", "DROP", "RETURN"):
            res, why = {t}, [f"{table.backend} {chain}: {rule.text}"]
        elif t in table.chains:
            sub, why = _eval_chain(table, t, pkt, depth + 1)
            res = sub if rule.goto else {("CONTINUE" if o == "RETURN" else o) for o in sub}
        else:
            continue  # mangle / CONTINUE / unknown non-terminating target
        if m is None or "CONTINUE" in res:
            outcomes |= res - {"CONTINUE"}
            because += why
            continue
        return outcomes | res, because + why
    policy = table.policies.get(chain, "-")
    if policy in ("-", "RETURN"):
        return outcomes | {"RETURN"}, because
    return outcomes | {policy}, because + [f"{table.backend} {chain} policy {policy}"]


@dataclass
class ArpVerdict:
    outcomes: set[str]
    because: list[str]

    @property
    def dropped(self) -> bool:
        return self.outcomes == {"DROP"}

    @property
    def passes(self) -> bool:
        return "DROP" not in self.outcomes

    def __str__(self) -> str:
        what = "dropped" if self.dropped else ("passes" if self.passes else "may be dropped")
        return f"{what} ({'; '.join(self.because[-2:]) or 'no rule matches'})"


@dataclass
class ArpRuleset:
    """Every ARP filter table of a host, from every backend it uses."""

    tables: list[ArpTable]
    bridge_tables: list[ArpTable] = field(default_factory=list)  # ebtables: only for a NIC that is a bridge port
    bridge_unreadable: str | None = None  # why ebtables could not be read (judged only for a bridge port)

    def verdict(self, pkt: ArpPacket) -> ArpVerdict:
        if pkt.port and self.bridge_unreadable:
            raise CannotCheck(f"{self.bridge_unreadable} (the NIC {pkt.port} is a bridge port: ebtables filter its ARP)")
        possible: set[str] = {"ACCEPT"}
        because: list[str] = []
        tables = list(self.tables) + (list(self.bridge_tables) if pkt.port else [])
        for table in tables:
            for chain in table.hooks.get(pkt.direction, []):
                out, why = _eval_chain(table, chain, pkt)
                out = {"ACCEPT" if o == "RETURN" else o for o in out}
                if out == {"DROP"}:
                    return ArpVerdict({"DROP"}, why)
                if "DROP" in out:
                    possible.add("DROP")
                because += why
        return ArpVerdict(possible, because)

    @property
    def rule_count(self) -> int:
        return sum(len(r) for t in self.tables + self.bridge_tables for r in t.chains.values())


# --- one round trip: everything a host has -------------------------------------------------------------------
# Each backend is a part of its own (probes/batch.py): a backend that is not installed is an empty part, one that
# cannot be read (not root: "Permission denied (you must be root)") makes the ruleset unreadable, never empty.
# /proc/net/arp_tables_names is read with grep, not `test -s`: /proc files have size 0, so -s is always false.
PARTS = (
    batch.part("nft", "command -v nft >/dev/null || exit 0; nft -j list ruleset"),
    # without the nft tool, arptables-nft's rules (nf_tables, family arp) are read through arptables-nft itself
    batch.part("arptables-nft", "command -v nft >/dev/null && exit 0; "
                                "command -v arptables-nft >/dev/null || exit 0; arptables-nft -L -n"),
    batch.part("arptables-legacy",
               "[ -e /proc/net/arp_tables_names ] || exit 0; grep -q . /proc/net/arp_tables_names; rc=$?; "
               "[ $rc -eq 1 ] && exit 0; [ $rc -eq 0 ] || exit $rc; "
               "if command -v arptables-legacy >/dev/null; then arptables-legacy -L -n; else arptables -L -n; fi"),
    batch.part("ebtables", "command -v ebtables-save >/dev/null || exit 0; ebtables-save"),
)
READ_COMMAND = batch.script(*PARTS)


def without_warnings(text: str) -> str:
    """A *-save listing without the `# Warning: ...` lines the nft variants print about legacy tables."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("# Warning"))


def ruleset_from_parts(parts: batch.Batch) -> ArpRuleset:
    """The ARP filter tables of every backend; CannotCheck when one that applies to every NIC could not be read
    (ebtables' failure is kept: it matters only for a NIC that is a bridge port, see ArpRuleset.verdict)."""
    tables: list[ArpTable] = []
    nft_text = parts.output("nft", "the nftables ruleset (`nft -j list ruleset`, for its arp tables)").strip()
    if nft_text:
        tables += parse_nft_json(nft_text)
    listed = parts.output("arptables-nft", "the ARP rules of arptables-nft (`arptables-nft -L -n`)").strip()
    if listed:
        tables.append(parse_arptables_list(listed, "arptables-nft"))
    legacy = parts.output("arptables-legacy", "the legacy ARP tables (/proc/net/arp_tables_names, "
                                              "`arptables-legacy -L -n`)").strip()
    if legacy:
        tables.append(parse_arptables_list(legacy, "arptables-legacy"))
    try:
        bridge = parse_ebtables_save(without_warnings(parts.output("ebtables", "the ebtables rules (`ebtables-save`)")))
        unreadable = None
    except CannotCheck as exc:
        bridge, unreadable = [], str(exc)
    return ArpRuleset(tables, bridge, bridge_unreadable=unreadable)


def read_ruleset(transport) -> ArpRuleset:
    return ruleset_from_parts(batch.run(transport, READ_COMMAND))


# --- the requirement: HOST-3 -------------------------------------------------------------------------------------
@dataclass
class Probe:
    packet: ArpPacket
    want_dropped: bool
    why: str


def filter_probes(nic: str, allowed: list[str], outside: list[tuple[str, str]], peer: str,
                  bridge: str | None = None) -> list[Probe]:
    """The ARP requests that decide HOST-3 on `nic`: requests for/from each allowed address must pass, for/from
    each outside address (with the reason it matters) must be dropped. `peer` is a neighbour on the NIC's net."""
    iface = bridge or nic
    port = nic if bridge else None
    probes = []
    for a in allowed:
        probes.append(Probe(ArpPacket("out", iface, a, peer, port=port, bridge=bridge), False,
                            f"{a} is in the public list"))
        probes.append(Probe(ArpPacket("in", iface, peer, a, port=port, bridge=bridge), False,
                            f"{a} is in the public list"))
    for addr, why in outside:
        probes.append(Probe(ArpPacket("out", iface, addr, peer, port=port, bridge=bridge), True, why))
        probes.append(Probe(ArpPacket("in", iface, peer, addr, port=port, bridge=bridge), True, why))
    return probes


def representative(spec: str) -> list[str]:
    """A public-list entry (address, CIDR or a-b range) -> addresses that stand for it (first and last)."""
    if "-" in spec:
        lo, hi = spec.split("-", 1)
        return [lo.strip(), hi.strip()] if lo.strip() != hi.strip() else [lo.strip()]
    net = ipaddress.ip_network(spec, strict=False)
    if net.num_addresses == 1:
        return [str(net.network_address)]
    return [str(net.network_address), str(net.broadcast_address)]


def in_list(addr: str, specs: list[str]) -> bool:
    ip = ipaddress.ip_address(addr)
    for spec in specs:
        if "-" in spec:
            lo, hi = (ipaddress.ip_address(x.strip()) for x in spec.split("-", 1))
            if lo <= ip <= hi:
                return True
        elif ip in ipaddress.ip_network(spec, strict=False):
            return True
    return False
