"""The same data on every Galera node: table checksums compared across nodes, read-only (in the spirit of
pt-table-checksum, which writes its checksums into the cluster; this never writes).

Which tables: every base table of the application schemas (not the system schemas, not the suite's own
`stackcheck_probe_*`), and the `mysql` tables that replicate (accounts, grants, routines), each read through a
projection that leaves out what every node writes for itself (a routine's `created` time, an account's
`password_last_changed`).

When: each node first waits until it has applied every write the cluster committed before the read
(`wsrep_sync_wait`), then checksums. A table written while it is read can differ for a moment, so a difference
only counts once it is the same in two rounds in a row (every node's checksum of that table unchanged); a table
that keeps changing is reported as not compared, never as equal.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from stackcheck.probes.sql import SYSTEM_SCHEMAS, Database
from stackcheck.verdicts import CannotCheck

# mysql tables that replicate, each with the columns that must agree (a projection: node-local columns left out)
MYSQL_TABLES = {
    "global_priv": "CONCAT_WS(':', Host, User, JSON_VALUE(Priv, '$.plugin'), JSON_VALUE(Priv, '$.authentication_string'), "
                   "JSON_VALUE(Priv, '$.access'))",
    "user": "CONCAT_WS(':', Host, User)",  # servers before MariaDB 10.4 (a view on 10.4+: not a base table there)
    "db": "CONCAT_WS(':', Host, Db, User)",
    "tables_priv": "CONCAT_WS(':', Host, Db, User, Table_name, Table_priv, Column_priv)",
    "columns_priv": "CONCAT_WS(':', Host, Db, User, Table_name, Column_name, Column_priv)",
    "procs_priv": "CONCAT_WS(':', Host, Db, User, Routine_name, Routine_type, Proc_priv)",
    "roles_mapping": "CONCAT_WS(':', Host, User, Role, Admin_option)",
    "proc": "CONCAT_WS(':', db, name, type, definer, security_type, param_list, returns, MD5(body))",
    "event": "CONCAT_WS(':', db, name, definer, status, MD5(body))",
}
ROUNDS = 4  # the first read and up to three more for the tables that differ


@dataclass
class Comparison:
    differing: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> {node: checksum}, confirmed
    unsettled: dict[str, dict[str, str]] = field(default_factory=dict)  # kept changing while read
    tables: int = 0


def table_list(db: Database) -> list[str]:
    """The tables to compare on one node: `schema`.`table`, quoted."""
    placeholders = ",".join(["%s"] * len(SYSTEM_SCHEMAS))
    rows = db.query(
        "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND ("
        f"(TABLE_SCHEMA NOT IN ({placeholders}) AND TABLE_SCHEMA NOT LIKE 'stackcheck\\_probe\\_%%') "
        f"OR (TABLE_SCHEMA = 'mysql' AND TABLE_NAME IN ({','.join(['%s'] * len(MYSQL_TABLES))})))",
        (*SYSTEM_SCHEMAS, *MYSQL_TABLES), what="the tables to compare (information_schema.TABLES)")
    return sorted(f"{schema}.{table}" for schema, table in rows)


def checksums(db: Database, tables: list[str]) -> dict[str, str]:
    """{table: checksum} on one node after a causal wait (a table missing there has the checksum 'missing')."""
    db.execute("SET SESSION wsrep_sync_wait = 1", what="a causal read (wsrep_sync_wait)")
    db.query("SELECT 1", what="the causal wait")  # returns once this node applied what the cluster committed
    out = {}
    plain = [t for t in tables if not _projection(t)]
    if plain:
        rows = db.query("CHECKSUM TABLE " + ", ".join(_quoted(t) for t in plain), what="the table checksums")
        out.update({_unquoted(name): "missing" if value is None else str(value) for name, value in rows})
    for table in tables:
        expr = _projection(table)
        if expr:
            count, crc = db.query(f"SELECT COUNT(*), COALESCE(SUM(CRC32({expr})), 0) FROM {_quoted(table)}",
                                  what=f"the checksum of {table}")[0]
            out[table] = f"{count}/{crc}"
    return out


def _projection(table: str) -> str | None:
    schema, _, name = table.partition(".")
    return MYSQL_TABLES.get(name) if schema == "mysql" else None


def _quoted(table: str) -> str:
    schema, _, name = table.partition(".")
    return f"`{schema.replace('`', '``')}`.`{name.replace('`', '``')}`"


def _unquoted(name: str) -> str:
    return name.replace("`", "")


def differing(by_node: dict[str, dict[str, str]], tables) -> dict[str, dict[str, str]]:
    """{table: {node: checksum}} for the tables whose checksum is not the same on every node."""
    out = {}
    for table in tables:
        values = {node: sums.get(table, "missing") for node, sums in by_node.items()}
        if len(set(values.values())) > 1:
            out[table] = values
    return out


def compare(read_round) -> Comparison:
    """`read_round(tables or None)` -> {node: {table: checksum}}; None means every table. Differences confirmed by
    a second identical read, see the module's doc."""
    first = read_round(None)
    result = Comparison(tables=len(set().union(*(s.keys() for s in first.values()))) if first else 0)
    suspects = differing(first, set().union(*(s.keys() for s in first.values())) if first else ())
    for _ in range(ROUNDS - 1):
        if not suspects:
            break
        again = read_round(sorted(suspects))
        still = differing(again, suspects)
        for table, values in still.items():
            if values == suspects[table]:
                result.differing[table] = values  # the same difference twice: no write in flight explains it
        suspects = {t: v for t, v in still.items() if t not in result.differing}
    result.unsettled = suspects
    return result


def describe(table: str, values: dict[str, str]) -> str:
    """'my_test_db.t: dbnode1 differs from dbnode2, dbnode3' (the majority is the reference)."""
    counts = Counter(values.values())
    majority, n = counts.most_common(1)[0]
    if n == 1 or list(counts.values()).count(n) > 1:  # no majority: name every node's value
        return f"{table}: " + ", ".join(f"{node}={v}" for node, v in sorted(values.items()))
    odd = sorted(node for node, v in values.items() if v != majority)
    same = sorted(node for node, v in values.items() if v == majority)
    missing = [node for node in odd if values[node] == "missing"]
    what = "lacks it" if missing == odd else "differs"
    return f"{table}: {', '.join(odd)} {what} (compared with {', '.join(same)})"


def odd_nodes(comparison: Comparison) -> set[str]:
    """The nodes whose data differs from the majority's in some table."""
    out = set()
    for values in comparison.differing.values():
        majority, n = Counter(values.values()).most_common(1)[0]
        if n > 1:
            out |= {node for node, v in values.items() if v != majority}
    return out


def compare_cluster(connections, nodes) -> Comparison:
    """Read every node (fresh connections: the session's wsrep_sync_wait stays out of the run's shared ones)."""
    conns = {}
    try:
        def read_round(tables):
            out = {}
            for node in nodes:
                if node.name not in conns:
                    conns[node.name] = connections.sql(node, fresh=True)
                db = Database(lambda c=conns[node.name]: c, node.name)
                if tables is None:  # information_schema hides what the account may not read: an incomplete list
                    db.require_global_select("DBK-9 (every table on every node)")  # would compare as equal
                out[node.name] = checksums(db, tables if tables is not None else table_list(db))
            if tables is None:  # a table one node lacks is compared as "missing" there
                every = sorted(set().union(*(s.keys() for s in out.values())))
                for node in nodes:
                    missing = [t for t in every if t not in out[node.name]]
                    if missing:
                        db = Database(lambda c=conns[node.name]: c, node.name)
                        out[node.name].update(checksums(db, missing))
            return out
        return compare(read_round)
    finally:
        for conn in conns.values():
            try:
                conn.close()
            except Exception:  # noqa: BLE001 (closing a connection to a node that went away)
                pass


def require_comparable(comparison: Comparison) -> None:
    if comparison.unsettled and not comparison.differing:
        raise CannotCheck("could not compare the data of the DB nodes: these tables changed on every read "
                          f"({ROUNDS} rounds): " + ", ".join(sorted(comparison.unsettled))
                          + ": run the check when they are written less, or waive them")
