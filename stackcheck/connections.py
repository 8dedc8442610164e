"""Every connection a run needs, each made once (per host) and reused: SSH transports (and the testinfra
`host` over them), SQL sessions to DB nodes, the openstacksdk Connection and the boto3 S3 client.

Failures are remembered: a host that did not answer is not waited for again by each of its checks."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pymysql

from stackcheck.backend import testinfra_host
from stackcheck.inventory import Host, Lab
from stackcheck.transport import HostUnreachable, LocalTransport, SSHTransport, Transport
from stackcheck.verdicts import need


class Connections:
    def __init__(self, lab: Lab, connect_timeout: float | None = None, probe_timeout: float | None = None):
        self.lab = lab
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
        user = user or self.lab.get("db.user")
        password = self.lab.secret("db.password") if password is None else password
        port = self.lab.get("db.port") if address != self.lab.get("lb.vip") else self.lab.get("lb.port")
        try:
            return pymysql.connect(
                host=address, port=port, user=user, password=password or "",
                connect_timeout=self.connect_timeout, read_timeout=self.probe_timeout,
                write_timeout=self.probe_timeout, autocommit=True, **kw,
            )
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else 0
            if code == 1045:
                hint = "" if password else ": stackcheck.db.password is not set (a reference {env: ...} or {file: ...})"
                reason = f"unreachable: {address}:{port}: SQL login refused for user {user}{hint}"
            else:
                reason = f"unreachable: {address}:{port}: SQL connection failed: {exc.args[-1] if exc.args else exc}"
            self._failures[address] = reason
            raise HostUnreachable(reason) from None

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
