"""The rows that only a set-aside datadir holds: what a node wrote while it ran a component of its own.

A temporary server reads the copy: InnoDB read-only, no networking, no grant tables (so no password is needed),
its socket in a directory only root and the DB user may enter; it is stopped afterwards (a killed run's is
stopped by the next comparison, or by `timeout` within an hour) and the copy stays where it is. Each application table's rows are compared with the node's live data (which came from the majority by a
full state transfer) by a digest of the whole row: a row of the copy whose digest the live table lacks exists
only in the copy (written there, or changed there). Rows are named by their primary key, never by their content.
"""
from __future__ import annotations

import shlex

from stackcheck.probes.sql import SYSTEM_SCHEMAS
from stackcheck.verdicts import CannotCheck

RUN_DIR = "/run/stackcheck-aside"
SOCKET = f"{RUN_DIR}/mysqld.sock"
SEP = "\x1f"


LIFETIME = 3600  # seconds: a run killed while it reads the copy leaves the temporary server for at most this long


def start_command(aside: str) -> str:
    """Stop what an earlier, killed comparison left, then start the temporary server (ended by `timeout` at the
    latest after LIFETIME) and wait until it answers."""
    q = shlex.quote(aside)
    return (f"{STOP_COMMAND}; install -d -o mysql -g mysql -m 700 {RUN_DIR} && "
            f"(setsid timeout {LIFETIME} mariadbd --no-defaults --user=mysql --datadir={q} --socket={SOCKET} "
            f"--pid-file={RUN_DIR}/mysqld.pid --log-error={RUN_DIR}/error.log --skip-networking --skip-grant-tables "
            "--wsrep-on=OFF --skip-log-bin --innodb-read-only=1 --innodb-buffer-pool-size=32M "
            "</dev/null >/dev/null 2>&1 &) && "
            f"for i in $(seq 60); do mariadb -S {SOCKET} -N -B -e 'SELECT 1' >/dev/null 2>&1 && exit 0; sleep 1; done; "
            f"tail -n 5 {RUN_DIR}/error.log >&2; exit 1")


STOP_COMMAND = (f"[ -f {RUN_DIR}/mysqld.pid ] && kill $(cat {RUN_DIR}/mysqld.pid) 2>/dev/null; "
                f"for i in $(seq 60); do [ -S {SOCKET} ] || break; sleep 1; done; rm -rf {RUN_DIR}")

TABLES = ("SELECT c.TABLE_SCHEMA, c.TABLE_NAME, GROUP_CONCAT(c.COLUMN_NAME ORDER BY c.ORDINAL_POSITION SEPARATOR ','), "
          "GROUP_CONCAT(IF(c.COLUMN_KEY = 'PRI', c.COLUMN_NAME, NULL) ORDER BY c.ORDINAL_POSITION SEPARATOR ',') "
          "FROM information_schema.COLUMNS c JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA "
          "AND t.TABLE_NAME = c.TABLE_NAME WHERE t.TABLE_TYPE = 'BASE TABLE' AND c.TABLE_SCHEMA NOT IN ("
          + ",".join(f"'{s}'" for s in SYSTEM_SCHEMAS) + ") AND c.TABLE_SCHEMA NOT LIKE 'stackcheck\\\\_probe\\\\_%' "
          "GROUP BY c.TABLE_SCHEMA, c.TABLE_NAME")


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def rows_query(schema: str, table: str, columns: list[str], key: list[str]) -> str:
    """Each row's key (or '-' without a primary key) and a digest of the whole row."""
    cols = ", ".join(f"IFNULL(HEX({_ident(c)}), 'NULL')" for c in columns)
    keys = ", ".join(f"IFNULL({_ident(c)}, 'NULL')" for c in key) if key else "'-'"
    return (f"SELECT CONCAT_WS(',', {keys}), MD5(CONCAT_WS('|', {cols})) "
            f"FROM {_ident(schema)}.{_ident(table)}")


def parse_tables(text: str) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    out = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            schema, table, cols, keys = parts
            out[(schema, table)] = (cols.split(","), [] if keys == "NULL" else keys.split(","))
    return out


def parse_rows(text: str) -> list[tuple[str, str]]:
    return [tuple(line.split("\t", 1)) for line in text.splitlines() if "\t" in line]


def only_in_copy(copy_rows: list[tuple[str, str]], live_rows: list[tuple[str, str]]) -> list[str]:
    """The keys of the copy's rows whose digest the live table lacks (a multiset: duplicates count)."""
    live: dict[str, int] = {}
    for _, digest in live_rows:
        live[digest] = live.get(digest, 0) + 1
    out = []
    for key, digest in copy_rows:
        if live.get(digest, 0):
            live[digest] -= 1
        else:
            out.append(key)
    return out


def describe(schema: str, table: str, keys: list[str], has_key: bool, limit: int) -> str:
    name = f"{schema}.{table}"
    if not has_key:
        return f"{name}: {len(keys)} row(s) only in the set-aside copy (no primary key to name them)"
    shown = ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")
    return f"{name}: {len(keys)} row(s) only in the set-aside copy (primary key: {shown})"


def rows_only_in_copy(transport, aside: str, limit: int = 20) -> list[str]:
    """Lines for the fix log: per table, the rows only the copy holds; one line when it holds none."""
    transport.run(start_command(aside), timeout=120).output(f"a temporary read-only server on {aside}")
    try:
        def sql(statement: str, copy: bool) -> str:
            sock = f"-S {SOCKET} " if copy else ""
            return transport.run(f"mariadb {sock}-N -B -e {shlex.quote(statement)}", timeout=600).output(
                f"{'the set-aside copy' if copy else 'the live data'}: {statement[:60]}")
        copy_tables = parse_tables(sql(TABLES, copy=True))
        live_tables = parse_tables(sql(TABLES, copy=False))
        lines = []
        for (schema, table), (columns, key) in sorted(copy_tables.items()):
            copy_rows = parse_rows(sql(rows_query(schema, table, columns, key), copy=True))
            if (schema, table) not in live_tables:
                if copy_rows:
                    lines.append(f"{schema}.{table}: the table exists only in the set-aside copy "
                                 f"({len(copy_rows)} row(s))")
                continue
            if live_tables[(schema, table)][0] != columns:
                lines.append(f"{schema}.{table}: its columns differ from the live table's: compare it by hand")
                continue
            keys = only_in_copy(copy_rows, parse_rows(sql(rows_query(schema, table, columns, key), copy=False)))
            if keys:
                lines.append(describe(schema, table, keys, bool(key), limit))
        return lines or [f"no row exists only in the set-aside copy {aside} (every row it holds is in the live data)"]
    except CannotCheck as exc:
        return [f"could not compare the set-aside copy {aside} with the live data ({exc}): it is kept; compare it "
                "by hand"]
    finally:
        transport.run(STOP_COMMAND, timeout=120)
