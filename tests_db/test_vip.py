"""LB: the round-robin VIP in front of the Galera cluster: seen from a client (new connections through the VIP)
and from the load balancer's own configuration (HAProxy here; Octavia / LBaaS v1 through their API)."""
from __future__ import annotations

from collections import Counter

import pymysql
import pytest

from stackcheck.probes import haproxy, lbaas
from stackcheck.probes.sql import Database
from stackcheck.transport import HostUnreachable

ROUNDS = 3  # LB-2: 3 connections per DB node; each node must answer ROUNDS times (+-1)


def _vip(lab) -> str:
    vip = lab.get("lb.vip")
    if not vip:
        pytest.skip("not applicable: the inventory names no VIP (stackcheck.lb.vip, or a host with role lb)")
    return vip


def _vip_answers(lab, connections, count: int) -> tuple[list[str], list[str]]:
    """`count` NEW connections through the VIP (round robin is per connection): the node names that answered,
    and the errors of the connections that failed."""
    vip = _vip(lab)
    names, errors = [], []
    for _ in range(count):
        try:
            conn = connections.sql_connect(vip)
        except HostUnreachable as exc:
            errors.append(str(exc))
            continue
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT @@wsrep_node_name")
                names.append(cur.fetchone()[0])
        except pymysql.MySQLError as exc:
            errors.append(f"query failed: {exc.args[-1] if exc.args else exc}")
        finally:
            conn.close()
    return names, errors


def _node_health(lab, connections) -> dict[str, tuple[str | None, bool, str]]:
    """{inventory name: (wsrep_node_name, healthy, why)}: healthy = Synced and ready, read on the node itself."""
    out = {}
    for node in lab.hosts("dbnode"):
        name = node.vars.get("wsrep_node_name")
        try:
            conn = connections.sql_connect(node.address)
        except HostUnreachable as exc:
            out[node.name] = (name, False, str(exc))
            continue
        try:
            st = dict(Database(lambda c=conn: c).query(
                "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state_comment', 'wsrep_ready')"))
            name = Database(lambda c=conn: c).scalar("SELECT @@wsrep_node_name") or name
        finally:
            conn.close()
        ok = st.get("wsrep_local_state_comment") == "Synced" and st.get("wsrep_ready") == "ON"
        out[node.name] = (name, ok, f"{st.get('wsrep_local_state_comment')}/ready={st.get('wsrep_ready')}")
    return out


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
def test_haproxy_running_and_enabled(host, lab, target, evidence):
    if lab.get("lb.kind") != "haproxy":
        pytest.skip(f"not applicable: the load balancer is {lab.get('lb.kind')}, not HAProxy")
    svc = host.service("haproxy")
    evidence["running"], evidence["enabled"] = svc.is_running, svc.is_enabled
    problems = [p for p, bad in (("not running", not svc.is_running), ("not enabled at boot", not svc.is_enabled)) if bad]
    assert not problems, f"{target.name}: haproxy is {' and '.join(problems)}"


# --- LB-2 ---------------------------------------------------------------------------------------------------------
@pytest.mark.requirement("LB-2")
@pytest.mark.role("lb", "dbnode")
@pytest.mark.severity("high")
def test_vip_rotates_over_every_node(lab, connections, evidence):
    nodes = lab.hosts("dbnode")
    expected_names = [n.vars.get("wsrep_node_name") for n in nodes]
    for _attempt in range(3):  # other clients of the VIP (e.g. checks running in parallel) shift the rotation
        names, errors = _vip_answers(lab, connections, ROUNDS * len(nodes))
        problems = _rotation_problems(names, errors, expected_names, len(nodes))
        if not problems:
            break
    evidence["answers"] = " ".join(names)
    evidence["failed_connections"] = len(errors)
    assert not problems, (f"{ROUNDS * len(nodes)} new connections through the VIP should reach each of the "
                          f"{len(nodes)} DB nodes {ROUNDS} times (+-1): " + "; ".join(problems)
                          + f" (sequence: {' '.join(names)}; 3 tries)")


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
def _haproxy_pool(transport, lab, target):
    text = transport.run(f"cat {lab.get('lb.config')}")
    assert text.ok, f"{target.name}: cannot read {lab.get('lb.config')}: {text.stderr.strip()}"
    pool = haproxy.vip_pool(haproxy.parse_config(text.stdout), lab.get("lb.port"), lab.get("lb.vip"))
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
    if lab.get("lb.kind") != "haproxy":
        pytest.skip(f"not applicable: the load balancer is {lab.get('lb.kind')}, not HAProxy")
    pool = _haproxy_pool(transport, lab, target)
    _pool_evidence(evidence, pool)
    problems = haproxy.pool_problems(pool, [n.address for n in lab.hosts("dbnode")], lab.get("db.port"))
    assert not problems, f"{target.name}: pool {pool.name}: " + "; ".join(problems)


def _openstack_pool(lab, cloud):
    kind = lab.get("lb.kind")
    read = lbaas.octavia_pool if kind == "octavia" else lbaas.lbaas_v1_pool
    try:
        return read(cloud, lab.get("lb.name"), lab.get("lb.port"), lab.get("lb.vip"))
    except lbaas.PoolNotFound as exc:
        raise AssertionError(str(exc)) from None


@pytest.mark.requirement("LB-3")
@pytest.mark.role("dbnode")
@pytest.mark.severity("high")
def test_openstack_pool_tcp_roundrobin_members(lab, request, evidence):
    if lab.get("lb.kind") == "haproxy":
        pytest.skip("not applicable: the load balancer is HAProxy (stackcheck.lb.kind), checked from its config")
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
    down = [f"{n} ({why})" for n, (_, ok, why) in health.items() if not ok]
    count = ROUNDS * len(health)
    names, errors = _vip_answers(lab, connections, count)
    evidence["unhealthy_nodes"] = ", ".join(down) or "none"
    evidence["answers"] = " ".join(names)
    problems = []
    if errors:
        problems.append(f"{len(errors)} of {count} connections through the VIP failed ({errors[0]})")
    wrong = Counter(n for n in names if n not in healthy_names)
    if wrong:
        problems.append("routed to nodes that are down or not Synced: "
                        + ", ".join(f"{n} {c} times" for n, c in wrong.items()))
    assert not problems, "; ".join(problems) + f" (unhealthy nodes: {', '.join(down) or 'none'})"


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
                rows, error = None, exc.args[-1] if exc.args else exc
            assert error is None, f"through the VIP, `{query}` failed: {error}"
    finally:
        conn.close()
    evidence["rows"] = len(rows)
    assert rows, f"through the VIP, `{query}` returned no rows (expected the application's data)"


# --- LB-6 ---------------------------------------------------------------------------------------------------------
@pytest.mark.requirement("LB-6")
@pytest.mark.role("lb")
@pytest.mark.severity("high")
def test_haproxy_health_check_judges_galera_state(transport, lab, connections, target, evidence):
    if lab.get("lb.kind") != "haproxy":
        pytest.skip(f"not applicable: the load balancer is {lab.get('lb.kind')}, not HAProxy")
    pool = _haproxy_pool(transport, lab, target)
    script = None
    if pool.monitor == "external-check" and pool.monitor_detail:
        r = transport.run(f"cat {pool.monitor_detail.split()[0]}")
        script = r.stdout if r.ok else None
    aware, why = haproxy.galera_aware(pool, script)
    evidence["health_check"] = why
    assert aware, f"{target.name}: pool {pool.name}: {why}: a node that is up but not Synced would stay in rotation"
    # and the running HAProxy agrees: no unhealthy node is UP
    states = haproxy.server_states(haproxy.parse_show_stat(transport.run(haproxy.STAT_COMMAND).stdout), pool.name)
    health = _node_health(lab, connections)
    by_address = {m.address: m.name for m in pool.members}
    evidence["haproxy_states"] = ", ".join(f"{k}={v}" for k, v in states.items()) or "(no stats socket)"
    wrong = []
    for node in lab.hosts("dbnode"):
        server = by_address.get(node.address)
        _, ok, why_node = health[node.name]
        if server and not ok and states.get(server, "").startswith("UP"):
            wrong.append(f"{server} ({node.name}: {why_node}) is UP in HAProxy")
    assert not wrong, f"{target.name}: " + "; ".join(wrong)


@pytest.mark.requirement("LB-6")
@pytest.mark.role("dbnode")
@pytest.mark.severity("high")
def test_openstack_health_monitor_judges_galera_state(lab, request, evidence):
    if lab.get("lb.kind") == "haproxy":
        pytest.skip("not applicable: the load balancer is HAProxy (stackcheck.lb.kind), checked from its config")
    pool = _openstack_pool(lab, request.getfixturevalue("cloud"))
    aware, why = haproxy.galera_aware(pool)
    evidence["health_monitor"] = why
    assert aware, f"{pool.kind} pool {pool.name}: {why}"
