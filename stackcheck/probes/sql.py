"""SQL probes: read a DB node's status and variables over PyMySQL (reconnecting after a restart)."""
from __future__ import annotations

from typing import Any, Callable


class Database:
    """A DB node as checks see it. `connect` returns a live PyMySQL connection (the run's cached one)."""

    def __init__(self, connect: Callable[[], Any], name: str = ""):
        self._connect = connect
        self.name = name

    def query(self, sql: str, args: Any = None) -> list[tuple]:
        with self._connect().cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    def scalar(self, sql: str, args: Any = None) -> Any:
        rows = self.query(sql, args)
        return rows[0][0] if rows else None

    def status(self, name: str) -> str | None:
        """A global status value (SHOW GLOBAL STATUS), as the server prints it."""
        rows = self.query("SHOW GLOBAL STATUS LIKE %s", (name,))
        return rows[0][1] if rows else None

    def variable(self, name: str) -> str | None:
        """A global variable's effective value (SHOW GLOBAL VARIABLES)."""
        rows = self.query("SHOW GLOBAL VARIABLES LIKE %s", (name,))
        return rows[0][1] if rows else None

    def statuses(self, prefix: str = "wsrep_") -> dict[str, str]:
        """All status values starting with prefix, in one round trip."""
        return dict(self.query("SHOW GLOBAL STATUS LIKE %s", (prefix + "%",)))
