"""DBK: the running Galera cluster, seen from each node over SQL (and its service over SSH)."""
from __future__ import annotations

import secrets

import pymysql
import pytest

from stackcheck.probes import galera, galera_components
from stackcheck.probes.sql import SYSTEM_SCHEMAS, Database, NodeNotReady, sql_error
from stackcheck.transport import HostUnreachable
from stackcheck.verdicts import CannotCheck, Finding



@pytest.mark.requirement("DBK-1")
@pytest.mark.role("dbnode")
@pytest.mark.severity("critical")
def test_cluster_size_matches_inventory(db, lab, target, evidence):
    expected = len(lab.hosts("dbnode"))
    size = db.status("wsrep_cluster_size")
    evidence["wsrep_cluster_size"] = size
    assert size is not None, f"{target.name}: no wsrep_cluster_size: the server runs without Galera (wsrep_on/provider)"
    assert int(size) == expected, (
        f"{target.name}: wsrep_cluster_size is {size}, expected {expected} (the DB nodes of the inventory)")


@pytest.mark.requirement("DBK-2")
@pytest.mark.role("dbnode")
@pytest.mark.severity("critical")
def test_node_primary_ready_connected_synced(db, connections, target, evidence):
    try:
        status, _ = galera.read_state(db)
    except NodeNotReady as exc:  # this check is about exactly that state: refusing queries is its finding
        raise Finding(f"{target.name}: {exc}", remediation=NON_PRIMARY) from None
    wanted = {"wsrep_cluster_status": "Primary", "wsrep_ready": "ON", "wsrep_connected": "ON",
              "wsrep_local_state_comment": "Synced"}
    evidence.update({k: status.get(k) for k in wanted})
    wrong = [f"{k}={status.get(k)} (expected {v})" for k, v in wanted.items() if status.get(k) != v]
    if status.get("wsrep_cluster_status") not in (None, "Primary"):
        raise Finding(f"{target.name}: " + ", ".join(wrong), remediation=NON_PRIMARY)
    assert not wrong, f"{target.name}: " + ", ".join(wrong)


NON_PRIMARY = ("The node is outside every Primary component. If other nodes are Primary, it is cut off from them: "
               "restore its network to the others (it rejoins by itself). If no node is Primary, the cluster lost "
               "quorum: `pytest --fix --fix-recover` bootstraps the node with the most recent committed write "
               "(pc.bootstrap=YES, or a bootstrap start) and starts the others one at a time; it refuses while any "
               "node's state is unknown. Never bootstrap a node while another may be Primary.")


@pytest.mark.requirement("DBK-3")
@pytest.mark.role("dbnode")
@pytest.mark.severity("critical")
def test_one_primary_component_of_every_node(lab, connections, evidence):
    """ONE Primary component whose members are exactly the inventory's DB nodes, with one state UUID: a node
    bootstrapped a second time keeps the UUID, so the members each node reports are compared, not only the UUID."""
    nodes = lab.hosts("dbnode")
    views, unread = galera_components.read_views(connections, nodes)
    evidence["components"] = galera_components.describe_views(views, nodes)
    problems = galera_components.component_problems(views, nodes)
    if problems:
        raise Finding("; ".join(problems) + (f" (not read: {'; '.join(unread)})" if unread else ""),
                      remediation=galera_components.REMEDIATION)
    if unread:
        raise CannotCheck("cannot tell whether the DB nodes form one Primary component: " + "; ".join(unread))


@pytest.mark.requirement("DBK-4")
@pytest.mark.role("dbnode")
@pytest.mark.severity("high")
def test_normal_service_running_not_bootstrap(transport, connections, target, evidence):
    state = galera.read_service(transport)
    unit = state.service
    evidence["unit"] = unit.name if unit else None
    evidence["active"] = unit.active_state if unit else None
    evidence["enabled"] = unit.unit_file_state if unit else None
    evidence["bootstrap"] = state.in_bootstrap_mode
    assert unit is not None, f"{target.name}: no DB service unit ({', '.join(galera.SERVICE_UNITS)}) exists"
    problems = []
    if state.bootstrap_units_active:
        problems.append(f"the bootstrap unit {', '.join(state.bootstrap_units_active)} is still running")
    elif state.new_cluster_flag:
        problems.append(f"{unit.name} runs in bootstrap mode (started with "
                        f"{' '.join(galera.start_position_args(state.cmdline)) or '--wsrep-new-cluster'})")
    if not unit.active and not state.bootstrap_units_active:
        problems.append(f"{unit.name} is {unit.active_state or 'not running'}, expected active")
    if not unit.enabled:
        problems.append(f"{unit.name} is {unit.unit_file_state or 'not enabled'} at boot, expected enabled")
    assert not problems, f"{target.name}: " + "; ".join(problems)


@pytest.mark.requirement("DBK-5")
@pytest.mark.role("dbnode")
@pytest.mark.severity("critical")
def test_write_on_node_is_read_on_every_other(lab, connections, target, evidence, traces):
    """Write a token on this node, read it on every other node (causal read), clean up whatever happens. The probe
    schema is marked (stackcheck/traces.py): a run killed before its cleanup leaves it to the next run's sweep."""
    from stackcheck.traces import kill_point, sweep_probe_schemas

    traces.refuse_write("DBK-5 is proven by writing a probe schema on this node and reading it on the others "
                        "(no read shows that this node's writes replicate)",
                        "run it without --read-only, or take DBK-5 out of stackcheck.scope")
    traces.sweep_once("probe schemas", lambda say: sweep_probe_schemas(connections, lab, say))
    writer = connections.sql(target, fresh=True)
    schema = None
    try:
        wdb = Database(lambda: writer, target.name)
        token, schema = _claim_probe_schema(wdb)
        wdb.execute(f"CREATE DATABASE `{schema}`", what="a probe schema (CREATE DATABASE)")
        wdb.execute(f"CREATE TABLE `{schema}`.t (id INT PRIMARY KEY, token VARCHAR(32)) ENGINE=InnoDB",
                    what="a probe table (CREATE TABLE)")
        wdb.execute(f"INSERT INTO `{schema}`.t VALUES (1, %s)", (token,), what="a probe row (INSERT)")
        kill_point("probe-schema")
        missing, unread = [], []
        for node in lab.hosts("dbnode"):
            if node.name == target.name:
                continue
            try:
                seen = _read_token(connections, node, schema)
            except CannotCheck as exc:
                unread.append(f"{node.name}: {exc}")
                continue
            if seen != token:
                missing.append(node.name)
        evidence["written_on"] = target.name
        evidence["not_seen_on"] = ", ".join(missing) or "none"
        evidence["not_read_on"] = "; ".join(unread) or "none"
        assert not missing, (f"a row written on {target.name} is not readable on {', '.join(missing)}: "
                             "writes on this node do not replicate")
        if unread:
            raise CannotCheck(f"a row written on {target.name} could not be looked for on every other node: "
                              + "; ".join(unread))
    finally:
        _cleanup(connections, lab, target, writer, schema, traces)


NOT_THERE = (1146, 1049)  # no such table / no such database: the write never arrived


def _read_token(connections, node, schema: str) -> str | None:
    """The probe row's token on `node` (None when the schema or table never arrived there)."""
    reader = connections.sql(node, fresh=True)
    try:
        with reader.cursor() as cur:
            try:
                cur.execute("SET SESSION wsrep_sync_wait = 1")  # a causal read: it cannot race the applier
                cur.execute(f"SELECT token FROM `{schema}`.t WHERE id = 1")
                row = cur.fetchone()
            except pymysql.MySQLError as exc:
                if exc.args and exc.args[0] in NOT_THERE:
                    return None
                raise sql_error(exc, "the probe row", node.name) from None
        return row[0] if row else None
    finally:
        reader.close()


def _cleanup(connections, lab, target, writer, schema: str | None, traces) -> None:
    """Drop the probe schema on the writer, and on any node where it exists on its own (no replication); what
    could not be dropped is said (the next run sweeps it: it is marked)."""
    try:
        if schema is not None:
            with writer.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{schema}`")
    except pymysql.MySQLError as exc:  # the check's own outcome must stand
        traces.say(f"could not drop the probe schema {schema} on {target.name} ({exc}): a later run sweeps it")
    finally:
        writer.close()  # and with it the schema's lock
    if schema is None:
        return
    for node in lab.hosts("dbnode"):
        if node.name == target.name:
            continue
        try:
            with connections.sql(node).cursor() as cur:
                cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (schema,))
                if cur.fetchone()[0]:
                    cur.execute(f"DROP DATABASE IF EXISTS `{schema}`")
        except (HostUnreachable, pymysql.MySQLError) as exc:
            traces.say(f"could not look for the probe schema {schema} on {node.name} ({exc}): a later run sweeps it")


def _claim_probe_schema(wdb) -> tuple[str, str]:
    """(token, schema name): the name carries the server's time, and its node-local lock is held on the writer's
    connection until the check closes it, so a sweep never drops the schema of a live run (stackcheck/traces.py)."""
    from stackcheck.traces import probe_schema_name

    token = secrets.token_hex(4)
    schema = probe_schema_name(wdb.scalar("SELECT UNIX_TIMESTAMP()", what="the server's clock"), token)
    if wdb.scalar("SELECT GET_LOCK(%s, 0)", (schema,), what="the probe schema's lock (GET_LOCK)") != 1:
        raise CannotCheck(f"could not take the lock {schema} on {wdb.name} (GET_LOCK): the probe schema would look "
                          "abandoned to another run's sweep")
    return token, schema


@pytest.mark.requirement("DBK-6")
@pytest.mark.role("dbnode")
@pytest.mark.severity("critical")
def test_root_has_password_and_no_anonymous_user(db, lab, connections, target, evidence):
    user = lab.get("db.user")
    anonymous = db.query("SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user WHERE User = ''",
                         what="the anonymous accounts (mysql.user)")
    passwordless_root = db.query(
        "SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user WHERE User = 'root' "
        f"AND {_auth_expr(db)} = '' AND plugin IN ('', 'mysql_native_password', 'mysql_old_password')",
        what="root's accounts (mysql.user)")
    # the definitive test: a login as root with an empty password over TCP, from here
    empty_login = connections.try_login(target.address, "root", "")
    evidence["anonymous_users"] = len(anonymous)
    evidence["passwordless_root_accounts"] = len(passwordless_root)
    evidence["root_login_with_empty_password"] = empty_login
    problems = []
    if empty_login:
        problems.append("root can log in over TCP with an empty password")
    if passwordless_root:
        problems.append("root accounts without a password: " + ", ".join(r[0] for r in passwordless_root))
    if anonymous:
        problems.append("anonymous users: " + ", ".join(r[0] for r in anonymous))
    assert not problems, f"{target.name}: " + "; ".join(problems) + f" (checked as {user})"


@pytest.mark.requirement("DBK-7")
@pytest.mark.role("dbnode")
@pytest.mark.severity("high")
def test_same_users_on_every_node(lab, connections, evidence):
    accounts: dict[str, set[str]] = {}
    credentials: dict[str, dict[str, str]] = {}  # a digest of plugin + hash: compared, never shown
    for node in lab.hosts("dbnode"):
        db = _db(connections, node)
        rows = db.query(f"SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)), MD5(CONCAT(plugin, ':', {_auth_expr(db)})) "
                        "FROM mysql.user", what="the accounts (mysql.user)")
        accounts[node.name] = {r[0] for r in rows}
        credentials[node.name] = dict(rows)
    everywhere = set.intersection(*accounts.values()) if accounts else set()
    anywhere = set.union(*accounts.values()) if accounts else set()
    evidence["accounts"] = len(anywhere)
    differences = []
    for account in sorted(anywhere - everywhere):
        on = [n for n, a in accounts.items() if account in a]
        differences.append(f"{account} only on {', '.join(on)}")
    for account in sorted(everywhere):
        digests = {n: c[account] for n, c in credentials.items()}
        if len(set(digests.values())) > 1:
            odd = [n for n, d in digests.items() if list(digests.values()).count(d) == 1] or sorted(digests)
            differences.append(f"{account} has another password or auth plugin on {', '.join(odd)}")
    assert not differences, ("accounts differ between DB nodes (created outside CREATE USER, so not replicated): "
                             + "; ".join(differences))


@pytest.mark.requirement("DBK-8")
@pytest.mark.role("dbnode")
@pytest.mark.severity("high")
def test_user_tables_innodb_with_primary_key(db, target, evidence):
    db.require_global_select("DBK-8 (every user table)")
    placeholders = ",".join(["%s"] * len(SYSTEM_SCHEMAS))
    rows = db.query(
        # the primary key from STATISTICS: TABLE_CONSTRAINTS shows a SELECT-only account no constraint at all
        # (MariaDB 10.11), which would read as "no primary key" for every table
        "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, t.ENGINE, "
        "  COUNT(s.INDEX_NAME) AS pk "
        "FROM information_schema.TABLES t LEFT JOIN information_schema.STATISTICS s "
        "  ON s.TABLE_SCHEMA = t.TABLE_SCHEMA AND s.TABLE_NAME = t.TABLE_NAME AND s.INDEX_NAME = 'PRIMARY' "
        f"WHERE t.TABLE_TYPE = 'BASE TABLE' AND t.TABLE_SCHEMA NOT IN ({placeholders}) "
        "  AND t.TABLE_SCHEMA NOT LIKE 'stackcheck\\_probe\\_%%' "
        "GROUP BY t.TABLE_SCHEMA, t.TABLE_NAME, t.ENGINE", SYSTEM_SCHEMAS, what="the user tables (information_schema)")
    evidence["user_tables"] = len(rows)
    problems = []
    for schema, table, engine, pk in rows:
        if (engine or "").lower() != "innodb":
            problems.append(f"{schema}.{table} uses {engine}")
        if not pk:
            problems.append(f"{schema}.{table} has no primary key")
    assert not problems, (f"{target.name}: tables Galera cannot replicate safely (InnoDB with a primary key "
                          f"expected): " + "; ".join(problems))


def _auth_expr(db) -> str:
    """The account's credential column(s): MySQL/PXC 5.6 keep native hashes in `Password` (authentication_string
    empty), MariaDB 10.4+ shows both, MySQL 5.7+ has only authentication_string."""
    cols = {r[0].lower() for r in db.query(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'mysql' AND TABLE_NAME = 'user'")}
    if "password" in cols:
        return "COALESCE(NULLIF(authentication_string, ''), Password, '')"
    return "COALESCE(authentication_string, '')"


def _db(connections, node):
    return Database(lambda: connections.sql(node), name=node.name)
