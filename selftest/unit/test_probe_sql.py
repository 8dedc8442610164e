"""What a failed SQL read means (stackcheck/probes/sql.py), on the errors MariaDB 10.11 really returned to a
user without grants on the lab's dbnode1 (PyMySQL's exception classes and arguments as raised), and a node
that refuses queries because it is not Primary. None of them may become an empty answer a check could pass."""
import pymysql
import pytest

from stackcheck.probes.sql import Database, MissingGrant, NodeNotReady, sql_error
from stackcheck.transport import HostUnreachable
from stackcheck.verdicts import CannotCheck

TABLE_DENIED = pymysql.err.OperationalError(
    1142, "SELECT command denied to user 'stackcheck_lowpriv'@'198.18.0.1' for table `mysql`.`user`")
PRIVILEGE_DENIED = pymysql.err.OperationalError(
    1227, "Access denied; you need (at least one of) the PROCESS privilege(s) for this operation")
DATABASE_DENIED = pymysql.err.OperationalError(
    1044, "Access denied for user 'stackcheck_lowpriv'@'%' to database 'stackcheck_probe_x'")
NOT_PRIMARY = pymysql.err.OperationalError(1047, "WSREP has not yet prepared node for application use")
LOST = pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")


@pytest.mark.parametrize("error", [TABLE_DENIED, PRIVILEGE_DENIED, DATABASE_DENIED])
def test_missing_grant_names_it_and_the_key(error):
    exc = sql_error(error, "the accounts (mysql.user)", "dbnode1")
    assert isinstance(exc, MissingGrant)
    assert str(exc).startswith("could not read the accounts (mysql.user) on dbnode1: the DB user lacks")
    assert error.args[1] in str(exc) and "stackcheck.db.user" in str(exc)


def test_non_primary_and_lost_connection():
    assert isinstance(sql_error(NOT_PRIMARY, "x", "dbnode3"), NodeNotReady)
    assert "not Primary or not ready" in str(sql_error(NOT_PRIMARY, "x", "dbnode3"))
    assert isinstance(sql_error(LOST, "x", "dbnode3"), HostUnreachable)


class _Cursor:
    def __init__(self, error):
        self.error = error

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql, args=None):
        raise self.error


class _Connection:
    def __init__(self, error):
        self.error = error

    def cursor(self):
        return _Cursor(self.error)


def test_database_query_raises_cannot_check_not_the_driver_error():
    db = Database(lambda: _Connection(TABLE_DENIED), "dbnode1")
    with pytest.raises(MissingGrant, match="1142"):
        db.query("SELECT User FROM mysql.user", what="the accounts")
    with pytest.raises(CannotCheck, match="SQL error 1146"):
        Database(lambda: _Connection(pymysql.err.ProgrammingError(1146, "Table 'x.t' doesn't exist")), "n").scalar("x")
