"""SQL probes: read a DB node's status and variables over PyMySQL (reconnecting after a restart).

A query that fails is never an empty answer a check could judge: it raises CannotCheck saying why
(`sql_error`): a missing grant (1044/1142/1143/1227) names the privilege the DB user lacks, a node that refuses
queries because it is not Primary/ready (1047) says so, a lost connection is HostUnreachable. A check that is
exactly about one of those states (DBK-2 reading a non-Primary node) catches that kind and judges it itself.
"""
from __future__ import annotations

from typing import Any, Callable

import pymysql

from stackcheck.transport import HostUnreachable
from stackcheck.verdicts import CannotCheck

# server error codes a read can end with, by what they mean for a check
GRANT_ERRORS = {1044: "access to the database", 1142: "the table privilege", 1143: "the column privilege",
                1227: "the privilege"}
SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")  # the server's, not the application's
NOT_READY = 1047  # ER_UNKNOWN_COM_ERROR: "WSREP has not yet prepared node for application use"
CONNECTION_LOST = {2003, 2006, 2013, 2055}


class MissingGrant(CannotCheck):
    """The DB user lacks a privilege the read needs."""


class NodeNotReady(CannotCheck):
    """The node refuses queries: it is not Primary or not ready (wsrep_ready=OFF)."""


def error_code(exc: BaseException) -> int:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else 0


def error_text(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    return str(args[-1]) if args else str(exc)


def sql_error(exc: BaseException, what: str, node: str = "", verb: str = "read") -> CannotCheck:
    """What a failed read (or write: verb) means, as the error of the check (what could not be done, why, what
    to do)."""
    code, text = error_code(exc), error_text(exc)
    error = _sql_error(code, text, exc, what, node, verb)
    error.code = code  # the server's error code, for a caller that must tell one failure from another
    return error


def _sql_error(code: int, text: str, exc: BaseException, what: str, node: str, verb: str) -> CannotCheck:
    where = f" on {node}" if node else ""
    if code in GRANT_ERRORS:
        return MissingGrant(f"could not {verb} {what}{where}: the DB user lacks {GRANT_ERRORS[code]} it needs "
                            f"(error {code}: {text}): grant it to the account of stackcheck.db.user, or set "
                            "stackcheck.db.user to an account that has it")
    if code == NOT_READY:
        return NodeNotReady(f"could not {verb} {what}{where}: the node refuses queries (error {code}: {text}): it is "
                            "not Primary or not ready (wsrep_ready=OFF); its state is DBK-2's finding")
    if code in CONNECTION_LOST or isinstance(exc, pymysql.err.InterfaceError):
        return HostUnreachable(f"unreachable: {node or 'the DB node'}: the SQL connection failed "
                               f"({verb} {what}): error {code}: {text}")
    return CannotCheck(f"could not {verb} {what}{where}: SQL error {code}: {text}")


class Database:
    """A DB node as checks see it. `connect` returns a live PyMySQL connection (the run's cached one)."""

    def __init__(self, connect: Callable[[], Any], name: str = ""):
        self._connect = connect
        self.name = name

    def query(self, sql: str, args: Any = None, what: str | None = None, verb: str = "read") -> list[tuple]:
        """The rows of `sql`; CannotCheck (see sql_error) when the server refuses or fails it."""
        try:
            with self._connect().cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        except pymysql.MySQLError as exc:
            raise sql_error(exc, what or f"`{' '.join(sql.split())[:120]}`", self.name, verb) from None

    def execute(self, sql: str, args: Any = None, what: str | None = None) -> None:
        """A statement (SET GLOBAL, CREATE ...), with the same error meaning as `query`."""
        self.query(sql, args, what, verb="write")

    def scalar(self, sql: str, args: Any = None, what: str | None = None) -> Any:
        rows = self.query(sql, args, what)
        return rows[0][0] if rows else None

    def status(self, name: str) -> str | None:
        """A global status value (SHOW GLOBAL STATUS), as the server prints it."""
        rows = self.query("SHOW GLOBAL STATUS LIKE %s", (name,), what=f"status {name}")
        return rows[0][1] if rows else None

    def variable(self, name: str) -> str | None:
        """A global variable's effective value (SHOW GLOBAL VARIABLES)."""
        rows = self.query("SHOW GLOBAL VARIABLES LIKE %s", (name,), what=f"variable {name}")
        return rows[0][1] if rows else None

    def statuses(self, prefix: str = "wsrep_") -> dict[str, str]:
        """All status values starting with prefix, in one round trip."""
        return dict(self.query("SHOW GLOBAL STATUS LIKE %s", (prefix + "%",), what=f"status {prefix}*"))

    def require_global_select(self, why: str) -> None:
        """MissingGrant unless the DB user has SELECT on *.*: information_schema silently hides what a user has
        no privilege on, so a check that must see every table cannot judge an empty answer without it."""
        grantee = ("CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', "
                   "SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')")
        found = self.scalar("SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SELECT' "
                            f"AND GRANTEE = {grantee}", what="the DB user's global privileges")
        if not found:
            raise MissingGrant(f"cannot check {why} on {self.name or 'the DB node'}: the DB user has no global SELECT "
                               "privilege, so information_schema hides the tables it has no grant on: GRANT SELECT "
                               "ON *.* to the account of stackcheck.db.user")
