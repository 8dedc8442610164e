"""The database VIP's pool, read from the load balancer's own configuration, in one shape whatever the LB is:
HAProxy (haproxy.cfg + `show stat` on its admin socket), Octavia or Neutron LBaaS v1 (their API objects).

    Pool(protocol, algorithm, port, members[address, port, weight, checked], monitor, monitor_detail)

The pure parsers are unit-tested on real files and API documents (selftest/unit/test_probe_haproxy.py).
"""
from __future__ import annotations

import csv
import io
import re
import shlex
from dataclasses import dataclass, field

from stackcheck.probes import healthscript
from stackcheck.verdicts import CannotCheck


@dataclass
class Member:
    name: str
    address: str
    port: int | None
    weight: int = 1
    checked: bool = False  # the health monitor watches this member
    disabled: bool = False
    check_port: int | None = None  # HAProxy `port N` on the server line (e.g. clustercheck on 9200)


@dataclass
class Pool:
    kind: str  # haproxy | octavia | lbaas-v1
    name: str
    protocol: str  # TCP, HTTP ...
    algorithm: str  # ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP ...
    port: int | None  # the VIP's port
    vip: str | None
    members: list[Member] = field(default_factory=list)
    monitor: str | None = None  # mysql-check | external-check | httpchk | tcp-check | tcp | TCP | HTTP | PING ...
    monitor_detail: str = ""  # external-check command, httpchk request, health monitor url ...
    monitor_path: str = ""  # HAProxy `external-check path` (where a relative external-check command is found)


# --- HAProxy configuration ---------------------------------------------------------------------------------------
SECTION_KINDS = ("global", "defaults", "frontend", "backend", "listen", "peers", "resolvers", "userlist", "program",
                 "mailers", "cache", "http-errors", "ring")
BALANCE = {"roundrobin": "ROUND_ROBIN", "static-rr": "ROUND_ROBIN", "leastconn": "LEAST_CONNECTIONS",
           "source": "SOURCE_IP", "first": "FIRST", "uri": "URI", "random": "RANDOM"}


@dataclass
class Section:
    kind: str
    name: str
    lines: list[str] = field(default_factory=list)
    start: int = 0  # 1-based line of the section header

    def options(self, keyword: str) -> list[list[str]]:
        """Every line starting with `keyword` (one or more words), as word lists after the keyword."""
        words = keyword.split()
        out = []
        for line in self.lines:
            parts = _split(line)
            if parts[: len(words)] == words:
                out.append(parts[len(words):])
        return out

    def first(self, keyword: str) -> list[str] | None:
        found = self.options(keyword)
        return found[-1] if found else None


def _split(line: str) -> list[str]:
    line = re.sub(r"(^|\s)#.*$", "", line).strip()
    if not line:
        return []
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


@dataclass
class HaproxyConfig:
    sections: list[Section]

    def named(self, kind: str, name: str) -> Section | None:
        return next((s for s in self.sections if s.kind == kind and s.name == name), None)

    def defaults_for(self, section: Section) -> Section | None:
        """The last `defaults` section before `section` (HAProxy's inheritance)."""
        found = None
        for s in self.sections:
            if s is section:
                break
            if s.kind == "defaults":
                found = s
        return found

    def global_section(self) -> Section | None:
        return next((s for s in self.sections if s.kind == "global"), None)


def parse_config(text: str) -> HaproxyConfig:
    sections: list[Section] = []
    current: Section | None = None
    for no, raw in enumerate(text.splitlines(), 1):
        parts = _split(raw)
        if not parts:
            continue
        if parts[0] in SECTION_KINDS:  # section keywords never start a line inside a section
            current = Section(parts[0], parts[1] if len(parts) > 1 else "", start=no)
            sections.append(current)
        elif current is not None:
            current.lines.append(raw.strip())
    return HaproxyConfig(sections)


def _bind_ports(section: Section) -> list[tuple[str, int]]:
    out = []
    for args in section.options("bind"):
        if not args:
            continue
        for spec in args[0].split(","):
            addr, _, port = spec.rpartition(":")
            if "-" in port:
                lo, hi = port.split("-", 1)
                out += [(addr or "*", p) for p in range(int(lo), int(hi) + 1)]
            elif port.isdigit():
                out.append((addr or "*", int(port)))
    return out


def _setting(cfg: HaproxyConfig, sections: list[Section], keyword: str) -> list[str] | None:
    """A keyword's value from the first section that has it (backend/listen, then its frontend, then defaults)."""
    for s in sections:
        if s is None:
            continue
        value = s.first(keyword)
        if value is not None:
            return value
    return None


def vip_pool(cfg: HaproxyConfig, port: int, vip: str | None = None) -> Pool | None:
    """The pool behind the frontend/listen that binds `port` (on `vip`, `*`, `0.0.0.0` or `::`)."""
    for front in cfg.sections:
        if front.kind not in ("frontend", "listen"):
            continue
        binds = _bind_ports(front)
        if not any(p == port and (vip is None or a in ("*", "0.0.0.0", "::", "", vip)) for a, p in binds):
            continue
        backend = front
        if front.kind == "frontend":
            target = front.first("default_backend") or (front.first("use_backend") or [None])[:1]
            if not target or target[0] is None:
                continue
            backend = cfg.named("backend", target[0]) or cfg.named("listen", target[0])
            if backend is None:
                continue
        chain = [backend, front if front is not backend else None, cfg.defaults_for(backend)]
        mode = (_setting(cfg, chain, "mode") or ["tcp"])[0]  # HAProxy's default mode is tcp
        balance = (_setting(cfg, [backend, cfg.defaults_for(backend)], "balance") or ["roundrobin"])[0]
        monitor, detail = _health_check(cfg, backend)
        default_server = _setting(cfg, [backend, cfg.defaults_for(backend)], "default-server") or []
        members = [_server(args, default_server) for args in backend.options("server") if len(args) >= 2]
        path = " ".join(_setting(cfg, [backend, cfg.defaults_for(backend)], "external-check path") or [])
        return Pool("haproxy", backend.name, mode.upper(), BALANCE.get(balance, balance.upper()), port,
                    vip, members, monitor, detail, path)
    return None


def _health_check(cfg: HaproxyConfig, backend: Section) -> tuple[str | None, str]:
    chain = [backend, cfg.defaults_for(backend)]
    for s in chain:
        if s is None:
            continue
        for args in reversed(s.options("option")):
            if not args:
                continue
            name = args[0]
            if name == "mysql-check":
                return "mysql-check", " ".join(args[1:])
            if name == "external-check":
                cmd = _setting(cfg, chain, "external-check command")
                return "external-check", " ".join(cmd or [])
            if name == "httpchk":
                return "httpchk", " ".join(args[1:])
            if name == "tcp-check":  # what it sends and what it expects back (e.g. clustercheck's "is synced")
                steps = [" ".join(["tcp-check", *a]) for a in s.options("tcp-check")]
                return name, "; ".join(steps)
            if name in ("pgsql-check", "redis-check", "smtpchk", "ldap-check", "ssl-hello-chk"):
                return name, ""
    return ("tcp", "") if any("check" in a for a in backend.options("server")) else (None, "")


def _server(args: list[str], default_server: list[str]) -> Member:
    name, target = args[0], args[1]
    opts = default_server + args[2:]
    addr, _, port = target.rpartition(":")
    if not addr:
        addr, port = target, ""
    weight = 1
    check_port = None
    for i, word in enumerate(opts):
        if word == "weight" and i + 1 < len(opts):
            weight = int(opts[i + 1])
        if word == "port" and i + 1 < len(opts) and opts[i + 1].isdigit():
            check_port = int(opts[i + 1])
    checked = "check" in args[2:] or ("check" in default_server and "no-check" not in args[2:])
    return Member(name, addr, int(port) if port.isdigit() else None, weight, checked,
                  "disabled" in args[2:], check_port)


# --- HAProxy runtime: `show stat` ----------------------------------------------------------------------------------
def parse_show_stat(text: str) -> list[dict[str, str]]:
    """The CSV of `show stat` (header line starts with `# `)."""
    text = text.lstrip()
    if text.startswith("# "):
        text = text[2:]
    rows = list(csv.DictReader(io.StringIO(text)))
    return [r for r in rows if r.get("pxname")]


def server_states(rows: list[dict[str, str]], proxy: str) -> dict[str, str]:
    """{server name: status (UP, DOWN, MAINT, UP 1/2 ...)} of one proxy's servers."""
    return {r["svname"]: r.get("status", "") for r in rows
            if r["pxname"] == proxy and r["svname"] not in ("FRONTEND", "BACKEND")}


def stats_sockets(cfg: HaproxyConfig) -> list[str]:
    """socat addresses of the `stats socket` lines of the global section (a UNIX path, or ipv4@/ipv6@ host:port)."""
    g = cfg.global_section()
    out = []
    for args in (g.options("stats socket") if g else []):
        if not args:
            continue
        addr = args[0]
        for prefix in ("unix@", "ipv4@", "ipv6@"):
            if addr.startswith(prefix):
                addr = addr[len(prefix):] if prefix == "unix@" else addr[len(prefix):]
                break
        out.append(f"UNIX-CONNECT:{addr}" if addr.startswith("/") else f"TCP:{addr}")
    return out


def stat_command(socket: str) -> str:
    """`show stat` on one stats socket (a socat address from stats_sockets)."""
    return f"echo 'show stat' | socat -t 2 stdio {shlex.quote(socket)}"


def runtime_states(cfg: HaproxyConfig, config_path: str, run, proxy: str) -> dict[str, str]:
    """{server: status} of `proxy` in the running HAProxy, from its stats socket. CannotCheck (saying what to set
    or enable) when the configuration declares no stats socket, or it cannot be read (HAProxy not running,
    permission denied to this user, socat missing), or the answer is not `show stat`'s CSV."""
    sockets = stats_sockets(cfg)
    if not sockets:
        raise CannotCheck(f"could not read HAProxy's runtime state: {config_path} declares no `stats socket` in its "
                          "global section: add `stats socket /run/haproxy/admin.sock mode 660 level admin` (and "
                          "reload HAProxy), so the running servers' states can be read")
    socket = sockets[0]
    r = run(stat_command(socket))
    if r.rc != 0:
        reason = r.reason()
        if "permission denied" in reason.lower():
            reason += f" (or as a member of the group that owns {socket.split(':', 1)[1]})"
        raise CannotCheck(f"could not read HAProxy's runtime state (`show stat` on {socket}): {reason}")
    text = r.output(f"HAProxy's runtime state (show stat on {socket})")
    if not text.lstrip().startswith("# pxname"):
        first = (text.strip().splitlines() or ["nothing"])[0][:200]
        raise CannotCheck(f"could not read HAProxy's runtime state: `show stat` on {socket} answered `{first}`")
    rows = parse_show_stat(text)
    if not any(row["pxname"] == proxy for row in rows):
        raise CannotCheck(f"could not read the runtime state of {proxy}: the running HAProxy has no such proxy "
                          f"(is {config_path} the file it runs with? reload it after editing)")
    return server_states(rows, proxy)


# --- Octavia and LBaaS v1 (API documents as openstacksdk returns them, as dicts) ----------------------------------
def _up(m: dict) -> bool:
    """admin_state_up (API JSON) or is_admin_state_up (openstacksdk's to_dict())."""
    return bool(m.get("admin_state_up", m.get("is_admin_state_up", True)))


def pool_from_octavia(lb: dict, listener: dict, pool: dict, members: list[dict], monitor: dict | None) -> Pool:
    return Pool(
        "octavia", pool.get("name") or pool.get("id", ""), (listener.get("protocol") or pool.get("protocol") or ""),
        pool.get("lb_algorithm") or "", listener.get("protocol_port"), lb.get("vip_address"),
        [Member(m.get("name") or m.get("id", ""), m.get("address", ""), m.get("protocol_port"),
                int(m.get("weight", 1)), bool(monitor) and _up(m), not _up(m))
         for m in members],
        (monitor or {}).get("type"),
        " ".join(str(x) for x in ((monitor or {}).get("http_method"), (monitor or {}).get("url_path")) if x),
    )


def pool_from_lbaas_v1(vip: dict, pool: dict, members: list[dict], monitors: list[dict]) -> Pool:
    monitor = monitors[0] if monitors else None
    return Pool(
        "lbaas-v1", pool.get("name") or pool.get("id", ""), vip.get("protocol") or pool.get("protocol") or "",
        pool.get("lb_method") or "", vip.get("protocol_port"), vip.get("address"),
        [Member(m.get("id", ""), m.get("address", ""), m.get("protocol_port"), int(m.get("weight", 1)),
                bool(monitor) and _up(m), not _up(m)) for m in members],
        (monitor or {}).get("type"),
        " ".join(str(x) for x in ((monitor or {}).get("http_method"), (monitor or {}).get("url_path")) if x),
    )


# --- judgements --------------------------------------------------------------------------------------------------
def pool_problems(pool: Pool, addresses: list[str], port: int) -> list[str]:
    """LB-3: TCP, round robin, the VIP on `port`, members = `addresses` on `port` with weight 1, monitored."""
    problems = []
    if pool.protocol.upper() != "TCP":
        problems.append(f"protocol {pool.protocol}, expected TCP")
    if pool.algorithm.upper() != "ROUND_ROBIN":
        problems.append(f"balancing {pool.algorithm}, expected ROUND_ROBIN")
    if pool.port != port:
        problems.append(f"VIP port {pool.port}, expected {port}")
    got = {m.address for m in pool.members if not m.disabled}
    missing = [a for a in addresses if a not in got]
    extra = sorted(got - set(addresses))
    if missing:
        problems.append(f"members missing: {', '.join(missing)}")
    if extra:
        problems.append(f"members that are not DB nodes: {', '.join(extra)}")
    for m in pool.members:
        if m.disabled:
            problems.append(f"member {m.name} ({m.address}) is disabled")
        if m.port != port:
            problems.append(f"member {m.name} on port {m.port}, expected {port}")
        if m.weight != 1:
            problems.append(f"member {m.name} has weight {m.weight}, expected 1")
    if not pool.monitor:
        problems.append("no health monitor")
    else:
        unchecked = [m.name for m in pool.members if not m.checked]
        if unchecked:
            problems.append(f"health monitor not applied to: {', '.join(unchecked)}")
    return problems


def check_script_paths(pool: Pool) -> list[str]:
    """Where HAProxy finds the external-check command: itself when absolute, else each `external-check path`
    directory (HAProxy's default PATH is empty)."""
    command = (pool.monitor_detail.split() or [""])[0]
    if not command or command.startswith("/"):
        return [command] if command else []
    return [f"{d.rstrip('/')}/{command}" for d in pool.monitor_path.split(":") if d]


def galera_aware(pool: Pool, script: str | None = None) -> tuple[bool, str]:
    """LB-6: does the health monitor judge Galera state (Synced and ready), not only a login or a TCP connect?

    - HAProxy external-check: what the script it runs really checks (stackcheck/probes/healthscript.py):
      wsrep_local_state compared with 4 / Synced, and wsrep_ready with ON (or wsrep_cluster_status with Primary);
      the script must have been read (CannotCheck otherwise: not reading it is not a finding);
    - HTTP checks (HAProxy httpchk, Octavia/LBaaS HTTP monitors) are clustercheck-style when they target a
      check port other than the DB port (clustercheck/galera health port, usually 9200);
    - tcp-check counts when it expects clustercheck's "synced" answer;
    - mysql-check, TCP, PING only prove that something answers."""
    kind = (pool.monitor or "").lower()
    if kind == "external-check":
        if script is None:
            raise CannotCheck(f"could not judge the external check {pool.monitor_detail or '(no command)'}: its "
                              "script was not read")
        verdict = healthscript.judge(script)
        return verdict.aware, f"external check {pool.monitor_detail}: {verdict.why}"
    if kind in ("httpchk", "http", "https"):
        ports = {m.check_port for m in pool.members}
        if kind == "httpchk" and (None in ports or ports & {pool.port}):
            return False, "HTTP check on the DB port itself (not a clustercheck service)"
        return True, f"HTTP health check ({pool.monitor_detail or 'GET /'}) of a clustercheck-style service"
    if kind == "tcp-check":
        expects = [step for step in pool.monitor_detail.split("; ") if step.startswith("tcp-check expect")]
        if any(re.search(r"\bsynced\b", e, re.I) and " ! " not in f" {e} " for e in expects):
            return True, "tcp-check expects a clustercheck-style \"synced\" answer"
        return False, "tcp-check does not expect a Galera state answer (only a connection or a reply)"
    if not kind:
        return False, "no health monitor at all"
    return False, f"health monitor `{pool.monitor}` only proves a login/connection, not that the node is Synced"


# --- edits for fixers (line-preserving: only the VIP's section and `global` change) ------------------------------
CHECK_KEYWORDS = ("option mysql-check", "option httpchk", "option tcp-check", "option external-check",
                  "option pgsql-check", "option redis-check", "option ldap-check", "option ssl-hello-chk",
                  "tcp-check ", "http-check ", "external-check ")
GALERA_CHECK = "/usr/local/bin/galera-check"
GALERA_CHECK_CNF = "/etc/haproxy/galera-check.cnf"
GALERA_CHECK_SCRIPT = f"""#!/bin/sh
# HAProxy external check (installed by stackcheck, LB-6): healthy only when the node is Synced
# (wsrep_local_state=4) and wsrep_ready=ON. A node that is up but non-Primary still accepts logins, so a plain
# login check (option mysql-check) keeps routing to it. argv: proxy_addr proxy_port server_addr server_port.
# The check account is in {GALERA_CHECK_CNF} ([client] user=... password=..., readable by haproxy only).
out=$(/usr/bin/mysql --defaults-extra-file={GALERA_CHECK_CNF} --protocol=tcp -h "$3" -P "$4" \\
      --connect-timeout=1 -N -B -e "SELECT MAX(IF(VARIABLE_NAME='wsrep_local_state',VARIABLE_VALUE,NULL)),
      MAX(IF(VARIABLE_NAME='wsrep_ready',VARIABLE_VALUE,NULL)) FROM information_schema.GLOBAL_STATUS
      WHERE VARIABLE_NAME IN ('wsrep_local_state','wsrep_ready')" 2>/dev/null) || exit 1
[ "$out" = "$(printf '4\\tON')" ]
"""


def _section_span(lines: list[str], kind: str, name: str) -> tuple[int, int] | None:
    """[start, end) line indexes of a section (header included)."""
    start = None
    for i, raw in enumerate(lines):
        parts = _split(raw)
        if not parts or parts[0] not in SECTION_KINDS:
            continue
        if start is not None:
            return start, i
        if parts[0] == kind and (len(parts) > 1 and parts[1] == name or kind == "global"):
            start = i
    return (start, len(lines)) if start is not None else None


def _pool_section(cfg_text: str, pool: Pool) -> tuple[list[str], tuple[int, int]]:
    lines = cfg_text.splitlines()
    span = _section_span(lines, "listen", pool.name) or _section_span(lines, "backend", pool.name)
    if span is None:
        raise ValueError(f"no listen/backend section {pool.name}")
    return lines, span


def _body_end(lines: list[str], start: int, end: int) -> int:
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return end


def rewrite_pool(cfg_text: str, pool: Pool, servers: list[tuple[str, str, int]]) -> str:
    """The VIP's section with `mode tcp`, `balance roundrobin` and exactly `servers` (name, address, port), each
    `check weight 1` (other options of an existing line for the same address are kept)."""
    lines, (start, end) = _pool_section(cfg_text, pool)
    indent = "    "
    body = lines[start + 1:end]
    old_servers = {}
    for raw in body:
        parts = _split(raw)
        if parts[:1] == ["server"] and len(parts) >= 3:
            old_servers[parts[2].rpartition(":")[0] or parts[2]] = parts[3:]
    new_body, server_at = [], None
    for raw in body:
        parts = _split(raw)
        if parts[:1] == ["server"]:
            server_at = len(new_body) if server_at is None else server_at
            continue
        if parts[:1] == ["mode"]:
            raw = f"{indent}mode tcp"
        elif parts[:1] == ["balance"]:
            raw = f"{indent}balance roundrobin"
        new_body.append(raw)
    server_lines = []
    for name, address, port in servers:
        opts = [o for o in old_servers.get(address, []) if o not in ("check", "disabled", "no-check")]
        while "weight" in opts:
            i = opts.index("weight")
            del opts[i:i + 2]
        server_lines.append(f"{indent}server {name} {address}:{port} " + " ".join(opts + ["check", "weight", "1"]))
    if server_at is None:
        server_at = _body_end(new_body, -1, len(new_body))
    new_body[server_at:server_at] = server_lines
    if not any(_split(r)[:1] == ["mode"] for r in new_body):
        new_body.insert(0, f"{indent}mode tcp")
    if not any(_split(r)[:1] == ["balance"] for r in new_body):
        new_body.insert(1, f"{indent}balance roundrobin")
    return "\n".join(lines[:start + 1] + new_body + lines[end:]) + "\n"


def with_galera_check(cfg_text: str, pool: Pool) -> str:
    """The VIP's section with its health check replaced by the Galera-aware external check (and `global` given
    `external-check` + `insecure-fork-wanted`, which HAProxy 2.x requires for it)."""
    lines, (start, end) = _pool_section(cfg_text, pool)
    indent = "    "
    body = [raw for raw in lines[start + 1:end] if not raw.strip().startswith(CHECK_KEYWORDS)]
    at = next((i + 1 for i, raw in enumerate(body) if _split(raw)[:1] == ["balance"]), 0)
    body[at:at] = [f"{indent}option external-check", f'{indent}external-check path "/usr/bin:/bin"',
                   f"{indent}external-check command {GALERA_CHECK}"]
    out = lines[:start + 1] + body + lines[end:]
    gspan = _section_span(out, "global", "")
    if gspan is None:
        out = ["global", f"{indent}external-check", f"{indent}insecure-fork-wanted", ""] + out
    else:
        have = {" ".join(_split(r)) for r in out[gspan[0] + 1:gspan[1]]}
        add = [f"{indent}{k}" for k in ("external-check", "insecure-fork-wanted") if k not in have]
        pos = _body_end(out, gspan[0], gspan[1])
        out[pos:pos] = add
    return "\n".join(out) + "\n"


def wait_checks_command(proxy: str, socket: str, timeout: int = 15) -> str:
    """After a reload servers start from their initial state: wait until no server of `proxy` still shows
    check_status INI (field 37 of `show stat`), then two more check intervals so `fall` can take effect.
    Fails (exit 1) when the states could not be read within `timeout` seconds."""
    return (f"for i in $(seq 1 {timeout * 2}); do s=$({stat_command(socket)} | awk -F, '$1==\"{proxy}\" && "
            "$2!=\"FRONTEND\" && $2!=\"BACKEND\" {print $37}'); "
            "[ -n \"$s\" ] && ! echo \"$s\" | grep -q INI && { sleep 2.5; exit 0; }; sleep 0.5; done; exit 1")
