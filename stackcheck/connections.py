"""Every connection a run needs, each made once (per host) and reused: SSH transports (and the testinfra
`host` over them), SQL sessions to DB nodes, the openstacksdk Connection and the boto3 S3 client.

Failures are remembered (transport.RunBudget): a host or service that timed out, refused or was unreachable
once is not waited for again by each of its checks, whether they ask for a fresh connection or not."""
from __future__ import annotations

import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pymysql
import requests
import urllib3

from stackcheck import sqlreach
from stackcheck.backend import testinfra_host
from stackcheck.inventory import Host, Lab
from stackcheck.transport import (HANG, MAX_CONNECTS_DEFAULT, HostUnreachable, LocalTransport, RunBudget, SSHTransport,
                                  Transport, failure_kind, set_max_connects)
from stackcheck.verdicts import CannotCheck, need


class _SQLConnection(pymysql.connections.Connection):
    """PyMySQL under the run's budget: the server's greeting is awaited for the connect timeout (a port that
    accepts and never answers is a connect problem, not a slow query), a read that times out marks the endpoint
    hung for the rest of the run, and no query is sent to an endpoint that failed earlier."""

    budget: RunBudget
    service: str
    where: str

    def connect(self, sock=None):
        read_timeout = self._read_timeout
        if self.connect_timeout:
            self._read_timeout = min(read_timeout or self.connect_timeout, self.connect_timeout)
        try:
            super().connect(sock)
        finally:
            self._read_timeout = read_timeout
        if self._sock is not None:
            self._sock.settimeout(read_timeout)
            self._current_timeout = read_timeout

    def query(self, sql, unbuffered=False):
        self.budget.check(self.service)
        return super().query(sql, unbuffered)

    def ping(self, reconnect=True):
        self.budget.check(self.service)
        return super().ping(reconnect)

    def _read_bytes(self, num_bytes):
        try:
            return super()._read_bytes(num_bytes)
        except pymysql.err.OperationalError as exc:
            if failure_kind(exc) == HANG:
                self.budget.record(self.service, f"unreachable: {self.where}: the SQL server did not answer within "
                                                 f"{self._current_timeout} s ({exc.args[-1]})")
            raise


class _HTTPAdapter(requests.adapters.HTTPAdapter):
    """requests under the run's budget: an endpoint (address and port) that timed out or refused once is not
    tried again in the run. Its failures are HostUnreachable with a one-line reason (the checks' *error*), not a
    library's exception and traceback (keystoneauth's ConnectTimeout was reported as `session.py:1194`)."""

    def __init__(self, budget: RunBudget):
        super().__init__()
        self.budget = budget

    def send(self, request, *args, **kwargs):
        url = urllib3.util.parse_url(request.url)
        endpoint = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
        service, where = f"http {endpoint}", f"{request.method} {url.scheme}://{endpoint}{url.path or ''}"
        self.budget.check(service)
        started = time.monotonic()
        try:
            return super().send(request, *args, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:  # ConnectTimeout is both
            took = time.monotonic() - started
            if isinstance(exc, requests.Timeout):
                kind, what = HANG, f"no answer, timed out after {took:.1f} s"
            else:
                kind, what = failure_kind(exc), f"connection failed after {took:.1f} s: {_last_words(exc)}"
            reason = f"unreachable: {where}: {what}"
            if kind:
                self.budget.record(service, reason, kind)
            raise HostUnreachable(reason) from None


def _last_words(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, e.g. `[Errno 111] Connection refused`."""
    text = str(exc)
    return text.rsplit(": ", 1)[-1].rstrip("'))\"") if ": " in text else text


class Connections:
    def __init__(self, lab: Lab, connect_timeout: float | None = None, probe_timeout: float | None = None,
                 budget: RunBudget | None = None, account: str = "check"):
        self.lab = lab
        self.account = account  # "fix": SQL as db.fix_user (fixers write), else as db.user (checks read)
        self.connect_timeout = connect_timeout or lab.get("connect_timeout")
        self.probe_timeout = probe_timeout or lab.get("probe_timeout")
        self.budget = budget or RunBudget()
        set_max_connects(self._max_connects(lab))
        self._transports: dict[str, Transport] = {}
        self._jumps: dict[tuple, Transport] = {}  # one connection per bastion, its channels shared by every host
        self._hosts: dict[str, Any] = {}
        self._sql: dict[tuple[str, str | None], Any] = {}
        self._http: requests.Session | None = None
        self._cloud = None
        self._lock = threading.Lock()
        self.recorded_keys: list[str] = []  # host keys that accept-new wrote to a known hosts file in this process

    # --- shell ------------------------------------------------------------------------------------------------
    def transport(self, host: Host) -> Transport:
        with self._lock:
            if host.name not in self._transports:
                self._transports[host.name] = self._make_transport(host)
            return self._transports[host.name]

    @staticmethod
    def _max_connects(lab: Lab) -> int:
        """Inventory `stackcheck_max_connects` (all.vars): SSH handshakes at once (default under MaxStartups)."""
        given = {h.vars.get("stackcheck_max_connects") for h in lab.hosts()} - {None}
        return int(min(given)) if given else MAX_CONNECTS_DEFAULT

    def _make_transport(self, host: Host) -> Transport:
        if host.local:
            return LocalTransport(host.name, self.probe_timeout)
        jump = None
        if host.jump_host:
            jump = self._jump_transport(host.jump_host, host)
        return SSHTransport(
            host.name, host.address, host.user, host.port, host.key_file, host.known_hosts, jump,
            self.connect_timeout, self.probe_timeout, host.host_key_checking, self.recorded_keys, budget=self.budget,
            become=host.become,
        )

    def _jump_transport(self, spec: str, via: Host) -> Transport:
        """The bastion's connection, one for every host behind it (a connection per host would be a connect storm
        on the bastion's sshd, past its MaxStartups); its key is verified like any host's (an inventory host: its
        own settings; else the settings of the host that goes through it). Called with self._lock held."""
        if spec in self.lab.hosts_by_name:
            if spec not in self._transports:
                self._transports[spec] = self._make_transport(self.lab.host(spec))
            return self._transports[spec]
        key = (spec, via.known_hosts, via.host_key_checking)
        if key not in self._jumps:
            self._jumps[key] = self._external_jump(spec, via)
        return self._jumps[key]

    def _external_jump(self, spec: str, via: Host) -> Transport:
        user, _, rest = spec.rpartition("@")
        address, _, port = rest.partition(":")
        return SSHTransport(f"jump:{address}", address, user or "root", int(port or 22),
                            known_hosts=via.known_hosts, connect_timeout=self.connect_timeout,
                            probe_timeout=self.probe_timeout, host_key_checking=via.host_key_checking,
                            recorded_keys=self.recorded_keys, budget=self.budget)

    def warm(self, hosts: list[Host]) -> None:
        """Open the SSH connections (and their shells) of `hosts` in parallel; failures are remembered for their
        checks."""
        def connect(h: Host) -> None:
            try:
                self.transport(h).open()
            except CannotCheck:  # unreachable, or sudo refused the become user
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
        (needed to observe load-balancer rotation); `address` connects elsewhere (the VIP). An endpoint that
        failed earlier in the run raises HostUnreachable at once, fresh or not (RunBudget)."""
        key = address or host.address
        if not fresh and key in self._sql:
            conn = self._sql[key]
            try:
                conn.ping(reconnect=False)  # a dead one is dropped and made anew below
                return conn
            except pymysql.MySQLError:
                del self._sql[key]
        conn = self.sql_connect(key)
        if not fresh:
            self._sql[key] = conn
        return conn

    def sql_connect(self, address: str, user: str | None = None, password: str | None = None, **kw):
        fix_account = self.account == "fix" and self.lab.get("db.fix_user") and user is None
        user = user or self.lab.get("db.fix_user" if fix_account else "db.user")
        if password is None:
            password = self.lab.secret("db.fix_password" if fix_account else "db.password")
        port = self._sql_port(address)
        service, where = f"sql {address}:{port}", f"{self._name_of(address)} ({address}:{port})"
        self.budget.check(service)
        conn = _SQLConnection(
            host=address, port=port, user=user, password=password or "",
            connect_timeout=self.connect_timeout, read_timeout=self.probe_timeout,
            write_timeout=self.probe_timeout, autocommit=True, defer_connect=True, **sqlreach.tls_options(self.lab), **kw,
        )
        conn.budget, conn.service, conn.where = self.budget, service, where
        started = time.monotonic()
        try:
            conn.connect(self._sql_socket(address, port))
            return conn
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else 0
            if code == 1045:
                hint = "" if password else ": stackcheck.db.password is not set (a reference {env: ...} or {file: ...})"
                reason = f"unreachable: {where}: SQL login refused for user {user}{hint}"
            else:
                reason = (f"unreachable: {where}: SQL connection failed after {time.monotonic() - started:.1f} s: "
                          f"{exc.args[-1] if exc.args else exc}")
                kind = failure_kind(exc)
                if kind:
                    self.budget.record(service, reason, kind)
            raise HostUnreachable(reason) from None

    def _sql_socket(self, address: str, port: int):
        """None (PyMySQL connects by TCP) or, with db.via: ssh, a socket through the SSH connection (sqlreach)."""
        if self.lab.get("db.via") != "ssh":
            return None
        return sqlreach.tunnel_socket(self._sql_tunnel(address), address, port, self.connect_timeout)

    def _sql_port(self, address: str) -> int:
        return self.lab.get("db.port") if address != self.lab.get("lb.vip") else self.lab.get("lb.port")

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
        connection, outside the run's budget: a refusal is not remembered as a failure of the node)."""
        port = self._sql_port(address)
        conn = pymysql.Connection(host=address, port=port, user=user, password=password,
                                  connect_timeout=self.connect_timeout, read_timeout=self.probe_timeout,
                                  write_timeout=self.probe_timeout, defer_connect=True, **sqlreach.tls_options(self.lab))
        try:
            conn.connect(self._sql_socket(address, port))
            conn.close()
            return True
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] in (1045, 1698):  # access denied
                return False
            raise HostUnreachable(f"unreachable: {address}:{port}: {exc.args[-1] if exc.args else exc}") from None

    def for_fixes(self) -> "Connections":
        """The same SSH connections, with SQL as the fix account (db.fix_user; db.user when it is not set)."""
        other = Connections(self.lab, self.connect_timeout, self.probe_timeout, self.budget, account="fix")
        other._transports, other._hosts, other._lock, other._cloud = (self._transports, self._hosts, self._lock,
                                                                      self._cloud)
        other.recorded_keys, other._jumps = self.recorded_keys, self._jumps
        return other

    def _name_of(self, address: str) -> str:
        if address == self.lab.get("lb.vip"):
            return "the VIP"
        return next((h.name for h in self.lab.hosts() if h.address == address), address)

    # --- HTTP -------------------------------------------------------------------------------------------------
    @property
    def http(self) -> requests.Session:
        """A requests Session under the run's budget: use it (`connections.http.get(url, timeout=...)`) for an
        HTTP endpoint, so that one that hangs costs one timeout per run, not one per check."""
        if self._http is None:
            self._http = requests.Session()
            adapter = _HTTPAdapter(self.budget)
            self._http.mount("http://", adapter)
            self._http.mount("https://", adapter)
        return self._http

    # --- OpenStack APIs ---------------------------------------------------------------------------------------
    def cloud(self):
        """openstacksdk Connection for the inventory's cloud (MissingExpectation when it names none)."""
        name = need(self.lab, "cloud.name", "the OpenStack API checks need the cloud of your clouds.yaml")
        if self._cloud is None:
            import openstack.config
            import openstack.connection

            from keystoneauth1 import session as ks_session

            files = [self.lab.get("cloud.clouds_yaml")] if self.lab.get("cloud.clouds_yaml") else None
            # every API request goes through the run's budget: a hung Keystone costs one timeout, not one per check
            budgeted = functools.partial(ks_session.Session, session=self.http)
            config = openstack.config.OpenStackConfig(config_files=files, session_constructor=budgeted) if files \
                else openstack.config.OpenStackConfig(session_constructor=budgeted)
            region = config.get_one(cloud=name, api_timeout=self.probe_timeout)
            self._cloud = openstack.connection.Connection(config=region)
        return self._cloud

    def close(self) -> None:
        for conn in self._sql.values():
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing at exit, nothing to report
                pass
        # hosts behind a bastion first: their connections run inside the bastion's, which must outlive them
        for t in sorted([*self._transports.values(), *self._jumps.values()],
                        key=lambda t: getattr(t, "jump", None) is None):
            t.close()
        if self._http is not None:
            self._http.close()
