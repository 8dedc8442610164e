"""Does an iptables ruleset (iptables-save text: the running rules, or a persisted file such as RHEL's
/etc/sysconfig/iptables or Debian's /etc/iptables/rules.v4) accept a NEW TCP connection to a port from anywhere?

Judged by meaning, as the kernel would walk the filter table's INPUT chain: the first rule whose matches cover
such a packet decides (ACCEPT, or REJECT/DROP); jumps into user chains are followed, RETURN comes back; when no
rule decides, the chain policy does. Rules that only match some of that traffic (a source address, an input
interface, lo, ESTABLISHED state, another port or protocol) are stepped over: they neither open nor close the
port for everybody. iptables-save's rule lines are stable across backends (nft/legacy), its headers and counters
are not, so those are ignored (shared/recipes/compute-network/REPORT.md section 3)."""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

SPICE_COMMENT = "Allow SPICE connections for console access"


@dataclass
class Rule:
    chain: str
    argv: list[str]
    line: str  # as written, for messages and for the fixer
    number: int  # position in its chain, 1-based (as `iptables -I CHAIN N` counts)

    def opt(self, *names: str) -> str | None:
        for i, a in enumerate(self.argv[:-1]):
            if a in names:
                return self.argv[i + 1]
        return None

    @property
    def target(self) -> str | None:
        return self.opt("-j", "--jump", "-g", "--goto")


@dataclass
class Table:
    policies: dict[str, str] = field(default_factory=dict)
    rules: dict[str, list[Rule]] = field(default_factory=dict)


def parse(text: str) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    table: Table | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            table = tables.setdefault(line[1:], Table())
        elif line == "COMMIT":
            table = None
        elif table is None:
            continue
        elif line.startswith(":"):
            name, policy = line[1:].split()[:2]
            table.policies[name] = policy
            table.rules.setdefault(name, [])
        else:
            line = re.sub(r"^\[\d+:\d+\]\s+", "", line)  # iptables-save -c counters
            argv = shlex.split(line)
            if len(argv) >= 2 and argv[0] in ("-A", "--append"):
                chain = table.rules.setdefault(argv[1], [])
                chain.append(Rule(argv[1], argv[2:], line, len(chain) + 1))
    return tables


def _ports(spec: str) -> list[tuple[int, int]]:
    out = []
    for part in spec.split(","):
        lo, _, hi = part.partition(":")
        out.append((int(lo or 0), int(hi or 65535) if _ else int(lo)))
    return out


def covers(rule: Rule, port: int) -> bool:
    """True when the rule matches EVERY new TCP connection to `port` (from any address, on any interface)."""
    a = rule.argv
    proto = rule.opt("-p", "--protocol")
    if proto is not None and proto.lower() not in ("tcp", "6", "all", "0"):
        return False
    if "!" in a:  # negations: do not guess, the rule does not cover everybody for sure
        return False
    for opt in ("-s", "--source", "-d", "--destination", "-i", "--in-interface", "--src-range", "--dst-range",
                "--uid-owner", "--mac-source", "--sports", "--sport", "--source-port", "--source-ports"):
        if opt in a:
            return False
    state = rule.opt("--state", "--ctstate")
    if state is not None and "NEW" not in state.upper().split(","):
        return False
    for opt in ("--dport", "--destination-port", "--dports", "--destination-ports"):
        spec = rule.opt(opt)
        if spec is not None and not any(lo <= port <= hi for lo, hi in _ports(spec)):
            return False
    for mod in ("recent", "limit", "hashlimit", "connlimit", "set", "string", "time", "addrtype", "mark",
                "owner", "u32", "length", "tcpmss", "iprange", "physdev", "policy"):
        for i in range(len(a) - 1):
            if a[i] in ("-m", "--match") and a[i + 1] == mod:
                return False
    return True


@dataclass
class Verdict:
    accepted: bool
    decided_by: str  # the rule line, or "policy DROP"
    chain_path: list[str]

    def describe(self) -> str:
        via = " -> ".join(self.chain_path)
        return f"{'ACCEPT' if self.accepted else 'not accepted'} by `{self.decided_by}` ({via})"


def _walk(table: Table, name: str, port: int, path: list[str], depth: int = 0) -> Verdict | None:
    """The verdict of chain `name` for the traffic, or None when it falls through (or RETURNs)."""
    for rule in table.rules.get(name, []):
        if not covers(rule, port):
            continue
        target = rule.target
        if target == "ACCEPT":
            return Verdict(True, rule.line, path + [name])
        if target in ("REJECT", "DROP"):
            return Verdict(False, rule.line, path + [name])
        if target == "RETURN":
            return None
        if target in table.rules and depth < 8:
            found = _walk(table, target, port, path + [name], depth + 1)
            if found is not None:
                return found
    return None


def verdict(tables: dict[str, Table], port: int, chain: str = "INPUT") -> Verdict:
    table = tables.get("filter", Table())
    found = _walk(table, chain, port, [])
    if found is not None:
        return found
    policy = table.policies.get(chain, "ACCEPT")
    return Verdict(policy == "ACCEPT", f"policy {policy}", [chain])


def accepts(text: str, port: int) -> Verdict:
    return verdict(parse(text), port)


def accept_rule(port: int, comment: str = SPICE_COMMENT) -> str:
    """The notes' rule, as iptables-save prints it (without -A CHAIN)."""
    return f'-p tcp -m multiport --dports {port} -m comment --comment "{comment}" -j ACCEPT'


def insert_position(tables: dict[str, Table], port: int, chain: str = "INPUT") -> int:
    """Where `iptables -I CHAIN N` must put the ACCEPT: before the first rule of CHAIN that decides this traffic
    (REJECT/DROP/ACCEPT, or a jump into a chain that decides it); last+1 when no rule does. 1-based."""
    table = tables.get("filter", Table())
    for rule in table.rules.get(chain, []):
        if not covers(rule, port):
            continue
        if rule.target in ("REJECT", "DROP", "ACCEPT"):
            return rule.number
        if rule.target in table.rules and _walk(table, rule.target, port, [chain]) is not None:
            return rule.number
    return len(table.rules.get(chain, [])) + 1


def with_rule_inserted(text: str, port: int, comment: str = SPICE_COMMENT, chain: str = "INPUT") -> str:
    """The persisted file with the ACCEPT rule inserted in *filter before the first rule that would refuse the
    port (a *filter table with the chain is created when the file has none)."""
    tables = parse(text)
    rule_line = f"-A {chain} {accept_rule(port, comment)}"
    if "filter" not in tables or chain not in tables["filter"].rules:
        block = f"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{rule_line}\nCOMMIT\n"
        return (text.rstrip("\n") + "\n" if text.strip() else "") + block
    position = insert_position(tables, port, chain)
    lines = text.splitlines()
    in_filter, seen, insert_at, last_rule_at, commit_at = False, 0, None, None, None
    for i, raw in enumerate(lines):
        line = raw.strip()
        if line.startswith("*"):
            in_filter = line == "*filter"
        elif in_filter and line == "COMMIT":
            commit_at = i
            in_filter = False
        elif in_filter and re.sub(r"^\[\d+:\d+\]\s+", "", line).startswith(f"-A {chain} "):
            seen += 1
            last_rule_at = i
            if seen == position and insert_at is None:
                insert_at = i
    if insert_at is None:
        insert_at = (last_rule_at + 1) if last_rule_at is not None else commit_at
    lines.insert(insert_at, rule_line)
    return "\n".join(lines) + "\n"
