"""Every connection a run needs, each made once (per host) and reused: SSH transports (and the testinfra
`host` over them), SQL sessions to DB nodes, the openstacksdk Connection and the boto3 S3 client.

Failures are remembered: a host that did not answer is not waited for again by each of its checks."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pymysql

from stackcheck import sqlreach
from stackcheck.backend import testinfra_host
from stackcheck.inventory import Host, Lab
from stackcheck.transport import HostUnreachable, LocalTransport, SSHTransport, Transport
from stackcheck.verdicts import need


class Connections:
    def __init__(self, lab: Lab, connect_timeout: float | None = None, probe_timeout: float | None = None,
                 account: str = "check"):
        self.lab = lab
        self.account = account  # "fix": SQL as db.fix_user (fixers write), else as db.user (checks read)
        self.connect_timeout = connect_timeout or lab.get("connect_timeout")
        self.probe_timeout = probe_timeout or lab.get("probe_timeout")
        self._transports: dict[str, Transport] = {}
        self._hosts: dict[str, Any] = {}
        self._sql: dict[tuple[str, str | None], Any] = {}
        self._failures: dict[str, str] = {}
        self._cloud = None
        self._lock = threading.Lock()
        self.recorded_keys: list[str] = []  # host keys that accept-new wrote to a known hosts file in this process

    # --- shell ------------------------------------------------------------------------------------------------
    def transport(self, host: Host) -> Transport:
        with self._lock:
            if host.name not in self._transports:
                self._transports[host.name] = self._make_transport(host)
            return self._transports[host.name]

    def _make_transport(self, host: Host) -> Transport:
        if host.local:
            return LocalTransport(host.name, self.probe_timeout)
        jump = None
        if host.jump_host:
            jump = self._jump_transport(host.jump_host, host)
        return SSHTransport(
            host.name, host.address, host.user, host.port, host.key_file, host.known_hosts, jump,
            self.connect_timeout, self.probe_timeout, host.host_key_checking, self.recorded_keys,
        )

    def _jump_transport(self, spec: str, via: Host) -> Transport:
        """The bastion's connection; its key is verified like any host's (an inventory host: its own settings;
        else the settings of the host that goes through it)."""
        if spec in self.lab.hosts_by_name:
            return self._make_transport(self.lab.host(spec))
        user, _, rest = spec.rpartition("@")
        address, _, port = rest.partition(":")
        return SSHTransport(f"jump:{address}", address, user or "root", int(port or 22),
                            known_hosts=via.known_hosts, connect_timeout=self.connect_timeout,
                            probe_timeout=self.probe_timeout, host_key_checking=via.host_key_checking,
                            recorded_keys=self.recorded_keys)

    def warm(self, hosts: list[Host]) -> None:
        """Open the SSH connections (and their shells) of `hosts` in parallel; failures are remembered for their
        checks."""
        def connect(h: Host) -> None:
            try:
                self.transport(h).open()
            except HostUnreachable:
                pass  # each of this host's checks reports it as an error

        if len(hosts) > 1:
            with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
                list(pool.map(connect, hosts))

    def host(self, host: Host):
        """testinfra's Host API over our transport."""
        if host.name not in self._hosts:
            self._hosts[host.name] = testinfra_host(self.transport(host))
        return self._hosts[host.name]

    # --- SQL --------------------------------------------------------------------------------------------------
    def sql(self, host: Host, address: str | None = None, fresh: bool = False):
        """A PyMySQL connection (autocommit) to a DB node as the inventory's DB user. `fresh` makes a new one
        (needed to observe load-balancer rotation); `address` connects elsewhere (the VIP)."""
        key = address or host.address
        if not fresh and key in self._sql:
            conn = self._sql[key]
            try:
                conn.ping(reconnect=False)  # a dead one is dropped and made anew below
                return conn
            except pymysql.MySQLError:
                del self._sql[key]
        if key in self._failures and not fresh:
            raise HostUnreachable(self._failures[key])
        conn = self.sql_connect(key)
        if not fresh:
            self._sql[key] = conn
        return conn

    def sql_connect(self, address: str, user: str | None = None, password: str | None = None, **kw):
        fix_account = self.account == "fix" and self.lab.get("db.fix_user") and user is None
        user = user or self.lab.get("db.fix_user" if fix_account else "db.user")
        if password is None:
            password = self.lab.secret("db.fix_password" if fix_account else "db.password")
        port = self.lab.get("db.port") if address != self.lab.get("lb.vip") else self.lab.get("lb.port")
        try:
            return self._open_sql(address, port, user, password, **kw)
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else 0
            if code == 1045:
                hint = "" if password else ": stackcheck.db.password is not set (a reference {env: ...} or {file: ...})"
                reason = f"unreachable: {address}:{port}: SQL login refused for user {user}{hint}"
            else:
                reason = f"unreachable: {address}:{port}: SQL connection failed: {exc.args[-1] if exc.args else exc}"
            self._failures[address] = reason
            raise HostUnreachable(reason) from None

    def _open_sql(self, address: str, port: int, user: str, password: str | None, **kw):
        """TLS as db.tls says, and through SSH with db.via: ssh (stackcheck/sqlreach.py)."""
        tunnel = self._sql_tunnel(address) if self.lab.get("db.via") == "ssh" else None
        return sqlreach.connect(address, port, self.connect_timeout, self.probe_timeout,
                                sqlreach.tls_options(self.lab), tunnel=tunnel, user=user, password=password or "", **kw)

    def _sql_tunnel(self, address: str) -> Transport:
        """The SSH connection SQL to `address` goes through: the DB node's own, the load balancer's for the VIP."""
        for node in self.lab.hosts("dbnode"):
            if node.address == address:
                return self.transport(node)
        through = (self.lab.hosts("lb") or self.lab.hosts("dbnode"))[:1]
        if not through:
            raise HostUnreachable(f"unreachable: {address}: stackcheck.db.via is ssh but no lb or dbnode host to "
                                  "reach it through")
        return self.transport(through[0])

    def try_login(self, address: str, user: str, password: str) -> bool:
        """Whether `user` can log in with `password` (a throwaway attempt, by the same way as every SQL
        connection; a refusal is not remembered as a failure of the node)."""
        port = self.lab.get("db.port") if address != self.lab.get("lb.vip") else self.lab.get("lb.port")
        try:
            self._open_sql(address, port, user, password).close()
            return True
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] in (1045, 1698):  # access denied
                return False
            raise HostUnreachable(f"unreachable: {address}:{port}: {exc.args[-1] if exc.args else exc}") from None

    def for_fixes(self) -> "Connections":
        """The same SSH connections, with SQL as the fix account (db.fix_user; db.user when it is not set)."""
        other = Connections(self.lab, self.connect_timeout, self.probe_timeout, account="fix")
        other._transports, other._hosts, other._lock, other._cloud = (self._transports, self._hosts, self._lock,
                                                                      self._cloud)
        return other

    # --- OpenStack APIs ---------------------------------------------------------------------------------------
    def cloud(self):
        """openstacksdk Connection for the inventory's cloud (MissingExpectation when it names none)."""
        name = need(self.lab, "cloud.name", "the OpenStack API checks need the cloud of your clouds.yaml")
        if self._cloud is None:
            import openstack.config
            import openstack.connection

            files = [self.lab.get("cloud.clouds_yaml")] if self.lab.get("cloud.clouds_yaml") else None
            config = openstack.config.OpenStackConfig(config_files=files) if files else openstack.config.OpenStackConfig()
            region = config.get_one(cloud=name, api_timeout=self.probe_timeout)
            self._cloud = openstack.connection.Connection(config=region)
        return self._cloud

    def close(self) -> None:
        for conn in self._sql.values():
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing at exit, nothing to report
                pass
        for t in self._transports.values():
            t.close()
