"""LB: the round-robin VIP in front of the Galera cluster: seen from a client (new connections through the VIP)
and from the load balancer's own configuration (HAProxy here; Octavia / LBaaS v1 through their API)."""
from __future__ import annotations

from collections import Counter

import pymysql
import pytest

from stackcheck.probes import galera, galera_components, haproxy, hostconf, lbaas
from stackcheck.probes.sql import Database, MissingGrant, sql_error
from stackcheck.transport import HostUnreachable
from stackcheck.verdicts import CannotCheck, NotApplicable, need

ROUNDS = 3  # LB-2: 3 connections per DB node; each node must answer ROUNDS times (+-1)


def _vip(lab) -> str:
    return need(lab, "lb.vip", "the VIP in front of the DB nodes (or a host with role lb, whose address is used)")


def _require_haproxy(lab) -> None:
    """The load balancer's kind is a declared platform fact: HAProxy's own checks do not apply to another."""
    kind = lab.get("lb.kind")
    if kind != "haproxy":
        raise NotApplicable(f"the load balancer is {kind} (stackcheck.lb.kind), not HAProxy: its pool is checked "
                            "through its API")


def _require_openstack_lb(lab) -> None:
    if lab.get("lb.kind") == "haproxy":
        raise NotApplicable("the load balancer is haproxy (stackcheck.lb.kind): its pool is checked from its config")


def _unless_login_refused(exc: HostUnreachable) -> None:
    """The VIP answering and refusing our credentials proves the VIP works and our DB user does not: the check
    could not be made (stackcheck.db.user / db.password), which is no finding about the VIP."""
    if "login refused" in str(exc):
        raise CannotCheck(f"{exc}: set stackcheck.db.user and stackcheck.db.password to an account the DB nodes "
                          "accept from this machine") from None


def _vip_answers(lab, connections, count: int, components: list | None = None) -> tuple[list[str], list[str]]:
    """`count` NEW connections through the VIP (round robin is per connection): the node names that answered,
    and the errors of the connections that failed; `components`, when given, gets the members (client addresses)
    of the Galera component of each node that answered."""
    vip = _vip(lab)
    names, errors = [], []
    for _ in range(count):
        try:
            conn = connections.sql_connect(vip)
        except HostUnreachable as exc:
            _unless_login_refused(exc)
            errors.append(str(exc))
            continue
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT @@wsrep_node_name")
                names.append(cur.fetchone()[0])
                if components is not None:
                    cur.execute("SHOW GLOBAL STATUS LIKE 'wsrep_incoming_addresses'")
                    row = cur.fetchone()
                    components.append(frozenset(a.strip() for a in (row[1] if row else "").split(",") if a.strip()))
        except pymysql.MySQLError as exc:
            errors.append(f"query failed: {exc.args[-1] if exc.args else exc}")
        finally:
            conn.close()
    return names, errors


def _node_health(lab, connections) -> dict[str, tuple[str | None, bool | None, str]]:
    """{inventory name: (wsrep_node_name, healthy, why)}, read on each node itself: healthy = Synced and ready;
    False too when its DB port refuses connections (the server is down); None when its state could not be read
    (a login refused, a timeout): then nothing may be concluded about that node."""
    out = {}
    for node in lab.hosts("dbnode"):
        name = node.vars.get("wsrep_node_name")
        try:
            conn = connections.sql_connect(node.address)
        except HostUnreachable as exc:
            down = "connection refused" in str(exc).lower()
            out[node.name] = (name, False if down else None,
                              f"not accepting SQL connections: {exc}" if down else f"state unknown: {exc}")
            continue
        db = Database(lambda c=conn: c, node.name)
        try:
            st = dict(db.query("SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment', 'wsrep_ready')",
                               what="its Galera state"))
            name = db.scalar("SELECT @@wsrep_node_name", what="its wsrep_node_name") or name
        except CannotCheck as exc:
            out[node.name] = (name, None, f"state unknown: {exc}")
            continue
        finally:
            conn.close()
        ok = st.get("wsrep_local_state_comment") == "Synced" and st.get("wsrep_ready") == "ON"
        out[node.name] = (name, ok, f"{st.get('wsrep_local_state_comment')}/ready={st.get('wsrep_ready')}")
    return out


def _unknown_health(health) -> list[str]:
    return [f"{n} ({why})" for n, (_, ok, why) in health.items() if ok is None]


# --- LB-1 ---------------------------------------------------------------------------------------------------------
@pytest.mark.requirement("LB-1")
@pytest.mark.role("lb", "dbnode")
@pytest.mark.severity("critical")
def test_vip_accepts_mysql_connections(lab, connections, evidence):
    vip = _vip(lab)
    evidence["vip"] = f"{vip}:{lab.get('lb.port')}"
    try:
        conn, refused = connections.sql_connect(vip), ""
    except HostUnreachable as exc:  # here the refusal IS the finding (a failure, not an error of the check)
        _unless_login_refused(exc)
        conn, refused = None, str(exc)
    assert conn is not None, f"the VIP {vip}:{lab.get('lb.port')} does not accept MySQL connections: {refused}"
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@wsrep_node_name")
            evidence["answered_by"] = cur.fetchone()[0]
    finally:
        conn.close()


@pytest.mark.requirement("LB-1")
@pytest.mark.role("lb")
@pytest.mark.severity("critical")
def test_haproxy_running_and_enabled(transport, lab, target, evidence):
    _require_haproxy(lab)
    unit = galera.read_unit(transport, "haproxy")
    evidence["running"], evidence["enabled"] = unit.active_state, unit.unit_file_state
    assert unit.exists, f"{target.name}: there is no haproxy service (haproxy.service not found)"
    problems = [p for p, bad in (("not running", not unit.active), ("not enabled at boot", not unit.enabled)) if bad]
    assert not problems, f"{target.name}: haproxy is {' and '.join(problems)}"


# --- LB-2 ---------------------------------------------------------------------------------------------------------
@pytest.mark.requirement("LB-2")
@pytest.mark.role("lb", "dbnode")
@pytest.mark.severity("high")
def test_vip_rotates_over_every_node(lab, connections, evidence):
    nodes = lab.hosts("dbnode")
    expected_names = [n.vars.get("wsrep_node_name") for n in nodes]
    for _attempt in range(3):  # other clients of the VIP (e.g. checks running in parallel) shift the rotation
        components: list[frozenset[str]] = []
        names, errors = _vip_answers(lab, connections, ROUNDS * len(nodes), components)
        problems = _component_problems(lab, components) + _rotation_problems(names, errors, expected_names, len(nodes))
        if not problems:
            break
    evidence["answers"] = " ".join(names)
    evidence["failed_connections"] = len(errors)
    assert not problems, (f"{ROUNDS * len(nodes)} new connections through the VIP should reach each of the "
                          f"{len(nodes)} DB nodes {ROUNDS} times (+-1): " + "; ".join(problems)
                          + f" (sequence: {' '.join(names)}; 3 tries)")


def _component_problems(lab, components: list[frozenset[str]]) -> list[str]:
    """The VIP must lead to ONE Galera component: answers from nodes of different components are a split brain
    seen by the application (each connection may land in another history)."""
    distinct = sorted(set(components), key=lambda c: (len(c), sorted(c)))
    if len(distinct) < 2:
        return []
    nodes = lab.hosts("dbnode")
    named = [galera_components.braces(galera_components.names_of([galera_components.Member(address=a) for a in c],
                                                                 nodes)) for c in distinct]
    return [f"the VIP routes to {len(distinct)} Galera components (split brain): {' and '.join(named)}"]


def _rotation_problems(names, errors, expected_names, n_nodes) -> list[str]:
    counts = Counter(names)
    problems = []
    if errors:
        problems.append(f"{len(errors)} of {ROUNDS * n_nodes} connections failed ({errors[0]})")
    if all(expected_names):
        for name in expected_names:
            if abs(counts.get(name, 0) - ROUNDS) > 1:
                problems.append(f"{name} answered {counts.get(name, 0)} times")
        strangers = sorted(set(counts) - set(expected_names))
        if strangers:
            problems.append(f"answers from nodes not in the inventory: {', '.join(strangers)}")
    elif len(counts) != n_nodes or any(abs(c - ROUNDS) > 1 for c in counts.values()):
        problems.append(f"answers by node: {dict(counts)}")  # the inventory does not name the nodes: the spread
    return problems


# --- LB-3 ---------------------------------------------------------------------------------------------------------
def _haproxy_config(transport, lab, target) -> haproxy.HaproxyConfig:
    path = lab.get("lb.config")
    text = hostconf.read(transport, [path]).files[path]  # CannotCheck when it exists but cannot be read
    if text is None:
        raise CannotCheck(f"could not read HAProxy's configuration: {target.name} has no {path} (set "
                          "stackcheck.lb.config to the file HAProxy runs with)")
    return haproxy.parse_config(text)


def _haproxy_pool(transport, lab, target, cfg=None):
    cfg = cfg or _haproxy_config(transport, lab, target)
    pool = haproxy.vip_pool(cfg, lab.get("lb.port"), _vip(lab))
    assert pool is not None, (f"{target.name}: {lab.get('lb.config')} has no frontend/listen on port "
                              f"{lab.get('lb.port')} (the VIP)")
    return pool


def _pool_evidence(evidence, pool):
    evidence["pool"] = (f"{pool.kind} {pool.name}: {pool.protocol} {pool.algorithm} port {pool.port}; members "
                        + ", ".join(f"{m.address}:{m.port} w{m.weight}{' checked' if m.checked else ''}"
                                    for m in pool.members) + f"; monitor {pool.monitor} {pool.monitor_detail}".rstrip())


@pytest.mark.requirement("LB-3")
@pytest.mark.role("lb")
@pytest.mark.severity("high")
def test_haproxy_pool_tcp_roundrobin_members(transport, lab, target, evidence):
    _require_haproxy(lab)
    pool = _haproxy_pool(transport, lab, target)
    _pool_evidence(evidence, pool)
    problems = haproxy.pool_problems(pool, [n.address for n in lab.hosts("dbnode")], lab.get("db.port"))
    assert not problems, f"{target.name}: pool {pool.name}: " + "; ".join(problems)


def _openstack_pool(lab, cloud):
    kind = lab.get("lb.kind")
    read = lbaas.octavia_pool if kind == "octavia" else lbaas.lbaas_v1_pool
    if not lab.get("lb.name"):
        _vip(lab)  # the load balancer is found by its VIP when the inventory does not name it
    try:
        return read(cloud, lab.get("lb.name"), lab.get("lb.port"), lab.get("lb.vip"))
    except lbaas.PoolNotFound as exc:
        raise AssertionError(str(exc)) from None


@pytest.mark.requirement("LB-3")
@pytest.mark.role("dbnode")
@pytest.mark.severity("high")
def test_openstack_pool_tcp_roundrobin_members(lab, request, evidence):
    _require_openstack_lb(lab)
    pool = _openstack_pool(lab, request.getfixturevalue("cloud"))
    _pool_evidence(evidence, pool)
    problems = haproxy.pool_problems(pool, [n.address for n in lab.hosts("dbnode")], lab.get("db.port"))
    assert not problems, f"{pool.kind} pool {pool.name}: " + "; ".join(problems)


# --- LB-4 ---------------------------------------------------------------------------------------------------------
@pytest.mark.requirement("LB-4")
@pytest.mark.role("lb", "dbnode")
@pytest.mark.severity("critical")
def test_vip_answers_and_never_routes_to_unhealthy_node(lab, connections, evidence):
    health = _node_health(lab, connections)
    healthy_names = {name for name, ok, _ in health.values() if ok}
    unknown_names = {name for name, ok, _ in health.values() if ok is None}
    down = [f"{n} ({why})" for n, (_, ok, why) in health.items() if ok is False]
    count = ROUNDS * len(health)
    names, errors = _vip_answers(lab, connections, count)
    evidence["unhealthy_nodes"] = ", ".join(down) or "none"
    evidence["answers"] = " ".join(names)
    # an answer from a node whose state could not be read (or that the inventory does not name) proves nothing
    unjudged = [n for n in names if n not in healthy_names and (n in unknown_names or None in unknown_names)]
    problems = []
    if errors:
        problems.append(f"{len(errors)} of {count} connections through the VIP failed ({errors[0]})")
    wrong = Counter(n for n in names if n not in healthy_names and n not in unjudged)
    if wrong:
        problems.append("routed to nodes that are down or not Synced: "
                        + ", ".join(f"{n} {c} times" for n, c in wrong.items()))
    assert not problems, "; ".join(problems) + f" (unhealthy nodes: {', '.join(down) or 'none'})"
    if unjudged:
        raise CannotCheck(f"the VIP routed to {', '.join(sorted(set(unjudged)))}, whose Galera state could not be "
                          "read: " + "; ".join(_unknown_health(health)))


# --- LB-5 ---------------------------------------------------------------------------------------------------------
@pytest.mark.requirement("LB-5")
@pytest.mark.role("lb", "dbnode")
@pytest.mark.severity("critical")
def test_application_query_through_vip_returns_rows(lab, connections, evidence):
    vip = _vip(lab)
    query = lab.get("db.app_query")
    conn = connections.sql_connect(vip)
    try:
        with conn.cursor() as cur:
            try:
                cur.execute(query)
                rows, error = cur.fetchall(), None
            except pymysql.MySQLError as exc:
                _unless_missing_grant(exc, query)
                rows, error = None, exc.args[-1] if exc.args else exc
            # a node that refuses the query (1047: not Primary) behind the VIP is what LB-5 is about: a finding
            assert error is None, f"through the VIP, `{query}` failed: {error}"
    finally:
        conn.close()
    evidence["rows"] = len(rows)
    assert rows, f"through the VIP, `{query}` returned no rows (expected the application's data)"


def _unless_missing_grant(exc, query: str) -> None:
    """A query the DB user has no grant for says nothing about the VIP: the check could not be made."""
    error = sql_error(exc, f"`{query}` through the VIP")
    if isinstance(error, MissingGrant):
        raise error from None


# --- LB-6 ---------------------------------------------------------------------------------------------------------
def _check_script(transport, pool) -> str | None:
    """The external check's script (None when the pool's check is not an external one); a script that does
    not exist is a finding (HAProxy cannot run it), one that cannot be read is an error."""
    if pool.monitor != "external-check":
        return None
    candidates = haproxy.check_script_paths(pool)
    assert candidates, f"pool {pool.name}: `option external-check` without an `external-check command`"
    path, text = hostconf.read(transport, candidates).first(candidates)
    assert path is not None, (f"pool {pool.name}: the external check command {' or '.join(candidates)} does not "
                              "exist: HAProxy cannot run it")
    return text


@pytest.mark.requirement("LB-6")
@pytest.mark.role("lb")
@pytest.mark.severity("high")
def test_haproxy_health_check_judges_galera_state(transport, lab, connections, target, evidence):
    _require_haproxy(lab)
    cfg = _haproxy_config(transport, lab, target)
    pool = _haproxy_pool(transport, lab, target, cfg)
    aware, why = haproxy.galera_aware(pool, _check_script(transport, pool))
    evidence["health_check"] = why
    assert aware, f"{target.name}: pool {pool.name}: {why}: a node that is up but not Synced would stay in rotation"
    # and the running HAProxy agrees: no unhealthy node is UP (its runtime state must be read, never assumed)
    states = haproxy.runtime_states(cfg, lab.get("lb.config"), transport.run, pool.name)
    health = _node_health(lab, connections)
    by_address = {m.address: m.name for m in pool.members}
    evidence["haproxy_states"] = ", ".join(f"{k}={v}" for k, v in states.items())
    wrong, unjudged = [], []
    for node in lab.hosts("dbnode"):
        server = by_address.get(node.address)
        _, ok, why_node = health[node.name]
        if not server or not states.get(server, "").startswith("UP"):
            continue
        if ok is False:
            wrong.append(f"{server} ({node.name}: {why_node}) is UP in HAProxy")
        elif ok is None:
            unjudged.append(f"{server} is UP in HAProxy but {node.name}'s {why_node}")
    up_nodes = [n for n in lab.hosts("dbnode") if states.get(by_address.get(n.address, ""), "").startswith("UP")]
    brain = _split_among(lab, connections, up_nodes)
    if brain:
        wrong.append(f"HAProxy keeps nodes of different Primary components UP ({brain}): its health check does not "
                     "see which component a node is in")
    assert not wrong, f"{target.name}: " + "; ".join(wrong)
    if unjudged:
        raise CannotCheck(f"{target.name}: " + "; ".join(unjudged))


def _split_among(lab, connections, up_nodes) -> str | None:
    """'split brain: two Primary components: ...' when the nodes HAProxy routes to are Primary in different
    components (None otherwise; a node whose view cannot be read is judged by the health part above)."""
    views, _ = galera_components.read_views(connections, up_nodes)
    return galera_components.split_brain(galera_components.components(views, lab.hosts("dbnode")))


@pytest.mark.requirement("LB-6")
@pytest.mark.role("dbnode")
@pytest.mark.severity("high")
def test_openstack_health_monitor_judges_galera_state(lab, request, evidence):
    _require_openstack_lb(lab)
    pool = _openstack_pool(lab, request.getfixturevalue("cloud"))
    aware, why = haproxy.galera_aware(pool)
    evidence["health_monitor"] = why
    assert aware, f"{pool.kind} pool {pool.name}: {why}"
