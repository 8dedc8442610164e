"""How stackcheck reaches a host: one SSH connection per host for the whole run (or a local shell).

Speed: connecting once per host and reusing it is what makes a nightly gate over every host fast. paramiko
leaves Nagle on, and Nagle + delayed ACK adds ~40 ms to every command; TCP_NODELAY on the transport's socket
takes it to a few ms (measured in shared/recipes/lab-hosts). Of those, most is sshd starting a session and a
login shell for every exec (`true`: 5.8 ms), so commands go to one long-lived shell on the connection instead
(`true`: 0.3 ms, `systemctl is-active ssh`: 7.7 ms instead of 14.1; measured on the lab in a box).

Honesty: a host that cannot be reached, refuses our key or does not answer in time raises HostUnreachable /
ProbeTimeout; the plugin turns those into errors of that host's checks, never into passes.

Privilege: with become (inventory `ansible_become`), every command runs through `sudo` as the become user, the
long-lived shell included (as Ansible's become does for every module); sudo is never allowed to prompt. Without
it, commands run as the login user, and a read that needs privilege fails with a reason that says so
(Result.reason), which checks turn into errors.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import random
import secrets
import select
import shlex
import socket
import subprocess
import threading
import time
from dataclasses import dataclass

import paramiko

from stackcheck import hostkeys
from stackcheck.verdicts import CannotCheck


class HostUnreachable(CannotCheck):
    """The host could not be reached or logged into; the message says why (no secrets in it)."""


class ProbeTimeout(CannotCheck):
    """A remote command did not finish within the probe timeout."""


class BecomeFailed(CannotCheck):
    """sudo refused to run commands as the become user: every check of the host errors with why."""


# Commands get the sbin directories in their PATH: a login user's PATH often lacks them (Debian's), and
# `iptables-save`, `sysctl` or `ss` would be "command not found" for no reason but the PATH.
SBIN_PATH = 'PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"; export PATH'


@dataclass(frozen=True)
class Become:
    """Run every command as `user` through sudo (inventory ansible_become, ansible_become_user,
    ansible_become_password: a credential reference, resolved by the inventory)."""

    user: str = "root"
    password: str | None = None

    def sudo(self, with_password: bool) -> str:
        """The sudo invocation: `-n` never prompts; with a password, `-k -S -p ''` always reads exactly one
        password line from stdin (-k: a cached credential would otherwise leave that line to the command)."""
        how = "-k -S -p ''" if with_password else "-n"
        return f"sudo {how} -H -u {shlex.quote(self.user)} --"


# what paramiko raises when the connection under a channel is gone
_CONNECTION_ERRORS = (paramiko.SSHException, EOFError, OSError)


def _connection_lost(host: str, exc: BaseException) -> HostUnreachable:
    return HostUnreachable(f"unreachable: {host}: connection lost: {exc}")


def _timed_out(host: str, command: str, timeout: float) -> ProbeTimeout:
    return ProbeTimeout(f"{host}: `{_short(command)}` did not finish within {timeout} s")


class _QuietNetworkErrors(logging.Filter):
    """paramiko logs the traceback of every failed connection (a banner timeout: 40 lines) at ERROR level before
    raising; we turn that exception into the one-line reason of HostUnreachable, so the traceback is only noise in
    a check's captured log and the report. Lines under ERROR (debug logging an operator asked for) pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


logging.getLogger("paramiko.transport").addFilter(_QuietNetworkErrors())


HANG, REFUSED = "hang", "refused"


class RunBudget:
    """What a run may still spend waiting: one failure per host and service, and the run's deadline.

    Each service (`ssh ADDR:PORT`, `sql ADDR:PORT`, `http ADDR:PORT`) fails at most once per run: after its first
    timeout, refusal or unreachability, every later use of it in the run (by any check, on a fresh connection or
    not) raises HostUnreachable at once with that reason and when it was seen. It is not retried within the run
    (a hung host would otherwise cost a full timeout per check); the next run starts clean. With
    `count_refusals` off (a fix run), a refused SQL or HTTP connection is not remembered: it costs nothing to try
    again, and a fixer may have started the service in between. After `deadline` (a run.Deadline, enforced
    while `enforce_deadline`), every use raises CannotCheck saying the run's deadline was reached."""

    def __init__(self, count_refusals: bool = True, deadline=None):
        self.count_refusals = count_refusals
        self.deadline = deadline
        self.enforce_deadline = True
        self._seen: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def check(self, service: str) -> None:
        """Raise at once if `service` failed earlier in the run, or the run's deadline was reached."""
        if self.deadline is not None and self.enforce_deadline and self.deadline.reached():
            raise CannotCheck(self.deadline.message)
        seen = self._seen.get(service)
        if seen is not None:
            when, reason = seen
            raise HostUnreachable(f"unreachable since {time.strftime('%H:%M:%S', time.localtime(when))}: "
                                  f"{reason.removeprefix('unreachable: ')} (not retried within this run; the next "
                                  "run tries again)")

    def record(self, service: str, reason: str, kind: str = HANG) -> None:
        """Remember the first failure of `service` (a refusal only while refusals count)."""
        if kind == REFUSED and not self.count_refusals:
            return
        with self._lock:
            self._seen.setdefault(service, (time.time(), reason))

    def failed(self) -> dict[str, str]:
        return {service: reason for service, (_, reason) in self._seen.items()}


_NO_ROUTE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN}


def failure_kind(exc: BaseException) -> str | None:
    """What a network error means for the budget: HANG (a timeout), REFUSED, or None when it is neither (the
    caller then decides; e.g. a login refused is not the endpoint's failure)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (socket.timeout, TimeoutError)):
            return HANG
        if isinstance(seen, ConnectionRefusedError):
            return REFUSED
        if isinstance(seen, OSError) and seen.errno in _NO_ROUTE:
            return HANG  # each try waits for ARP to give up: as costly as a hang for every later check
        seen = getattr(seen, "original_exception", None) or seen.__cause__ or seen.__context__
    return None


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def output(self, what: str, ok: tuple[int, ...] = (0,)) -> str:
        """stdout when the exit code is one of `ok`; else CannotCheck saying that `what` could not be read and why
        (a missing command or a permission denied is a reason, never an empty answer a check could judge)."""
        if self.rc in ok:
            return self.stdout
        raise CannotCheck(f"could not read {what}: {self.reason()}")

    def reason(self) -> str:
        """Why the command did not succeed, in one line."""
        err = (self.stderr or self.stdout).strip().splitlines()
        last = err[-1][:300] if err else ""
        if self.rc == 127:
            return f"command not found ({last or 'exit 127'}): install it, or run as a user whose PATH has it"
        if self.rc == 126 or "permission denied" in last.lower() or "operation not permitted" in last.lower():
            return f"permission denied ({last or f'exit {self.rc}'}): run as root or with become"
        return f"exit code {self.rc}" + (f": {last}" if last else "")


class Transport:
    """Runs shell commands on one host."""

    name: str

    def open(self) -> None:
        """Be ready to run commands (HostUnreachable if the host cannot be reached); commands also open lazily."""

    def run(self, command: str, stdin: bytes | str | None = None, timeout: float | None = None) -> Result:
        raise NotImplementedError

    def close(self) -> None:
        pass


class LocalTransport(Transport):
    """This machine, through /bin/sh (inventory `ansible_connection: local`, and the fix engine's selftests)."""

    def __init__(self, name: str = "localhost", probe_timeout: float = 30):
        self.name = name
        self.probe_timeout = probe_timeout

    def run(self, command, stdin=None, timeout=None):
        data = stdin.encode() if isinstance(stdin, str) else stdin
        try:
            proc = subprocess.run(
                ["/bin/sh", "-c", f"{SBIN_PATH}; {command}"], input=data, capture_output=True, timeout=timeout or self.probe_timeout
            )
        except subprocess.TimeoutExpired:
            raise ProbeTimeout(f"{self.name}: command did not finish within {timeout or self.probe_timeout} s") from None
        return Result(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))


class SSHTransport(Transport):
    """paramiko with TCP_NODELAY, connected lazily once, reused by every check of the run."""

    def __init__(
        self,
        name: str,
        address: str,
        user: str = "root",
        port: int = 22,
        key_file: str | None = None,
        known_hosts: str = hostkeys.DEFAULT_KNOWN_HOSTS,
        jump: SSHTransport | None = None,
        connect_timeout: float = 10,
        probe_timeout: float = 30,
        host_key_checking: str = "strict",
        recorded_keys: list[str] | None = None,
        budget: RunBudget | None = None,
        become: Become | None = None,
    ):
        self.name, self.address, self.user, self.port = name, address, user, port
        self.become = become
        self._become_password: bool | None = None  # None: not probed yet; then whether sudo needs the password
        self._become_failure: str | None = None
        self._become_lock = threading.Lock()
        self.key_file, self.known_hosts, self.jump = key_file, os.path.expanduser(known_hosts), jump
        self.host_key_checking = host_key_checking
        self.recorded_keys = recorded_keys if recorded_keys is not None else []  # what accept-new wrote
        self.connect_timeout, self.probe_timeout = connect_timeout, probe_timeout
        self.budget = budget or RunBudget()
        self.service = f"ssh {address}:{port}"
        self._client: paramiko.SSHClient | None = None
        self._lock = threading.Lock()
        self._shell: _Shell | None = None
        self._shell_lock = threading.Lock()
        self._shell_unavailable = False

    @property
    def client(self) -> paramiko.SSHClient:
        with self._lock:
            self.budget.check(self.service)  # a host that failed once is not waited for again by every check
            if self._client is not None and self._client.get_transport() and self._client.get_transport().is_active():
                return self._client
            try:
                self._client = connect_throttled(self)
            except HostUnreachable as exc:
                self.budget.record(self.service, str(exc))  # every SSH failure: a key refused is refused again
                raise
            return self._client

    def _connect(self) -> paramiko.SSHClient:
        where = f"{self.name} ({self.user}@{self.address}:{self.port})"
        started = time.monotonic()
        client = paramiko.SSHClient()
        try:
            sock = self._open_socket()
            hostkeys.prepare(client, self.host_key_checking, self.known_hosts, self.name, self.address,
                             self.recorded_keys)
            client.connect(
                self.address,
                port=self.port,
                username=self.user,
                key_filename=self.key_file,
                sock=sock,
                timeout=self.connect_timeout,
                banner_timeout=self.connect_timeout,
                auth_timeout=self.connect_timeout,
                allow_agent=self.key_file is None,
                look_for_keys=self.key_file is None,
            )
        except paramiko.AuthenticationException:
            raise HostUnreachable(f"unreachable: {where}: SSH authentication failed (key refused)") from None
        except paramiko.BadHostKeyException as exc:
            client.close()  # the handshake's transport is open: nothing more goes to this host
            raise HostUnreachable(hostkeys.changed_message(self.name, self.address, exc.key, exc.expected_key,
                                                           self.known_hosts)) from None
        except hostkeys.HostKeyRejected as exc:
            client.close()
            raise HostUnreachable(str(exc)) from None
        except paramiko.SSHException as exc:
            took = time.monotonic() - started
            if "banner" in str(exc).lower() or took >= 0.95 * self.connect_timeout:
                # something accepted TCP and then said nothing (a frozen sshd): paramiko's words for it vary
                # with where the handshake stalled ("Error reading SSH protocol banner", "No existing session")
                raise HostUnreachable(f"unreachable: {where}: accepted TCP but the SSH handshake timed out after "
                                      f"{took:.1f} s ({exc})") from None
            raise HostUnreachable(f"unreachable: {where}: SSH error after {took:.1f} s: {exc}") from None
        except (OSError, EOFError) as exc:
            took = time.monotonic() - started
            reason = "timed out" if isinstance(exc, (socket.timeout, TimeoutError)) else (exc.strerror or str(exc))
            raise HostUnreachable(f"unreachable: {where}: {reason} after {took:.1f} s") from None
        client.get_transport().set_keepalive(15)
        return client

    def _open_socket(self):
        if self.jump is not None:  # bastion: a direct-tcpip channel through the jump host's connection
            try:
                return self.jump.client.get_transport().open_channel(
                    "direct-tcpip", (self.address, self.port), ("127.0.0.1", 0), timeout=self.connect_timeout
                )
            except paramiko.ChannelException as exc:
                raise OSError(f"jump host {self.jump.name} could not open a channel: {exc}") from None
        sock = socket.create_connection((self.address, self.port), timeout=self.connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def open(self) -> None:
        self._check_become()
        with self._shell_lock:
            self._long_lived_shell()

    def run(self, command, stdin=None, timeout=None):
        timeout = timeout or self.probe_timeout
        self.budget.check(self.service)
        self._check_become()
        try:
            return self._run(command, stdin, timeout)
        except ProbeTimeout as exc:
            self._judge_timeout(exc)
            raise

    def _judge_timeout(self, exc: ProbeTimeout) -> None:
        """A command that timed out: a slow command, or a host that stopped answering (frozen, D state, packets
        dropped)? sshd of a live host opens a new session at once; one that does not within the connect timeout
        is hung, and the host's later checks end at once instead of each waiting for the probe timeout."""
        try:
            chan = self.client.get_transport().open_session(timeout=self.connect_timeout)
        except _CONNECTION_ERRORS:
            reason = f"unreachable: {self.name}: {exc}, and sshd did not open a session within {self.connect_timeout} s"
            self.budget.record(self.service, reason)
            raise HostUnreachable(reason) from None
        chan.close()

    def _run(self, command, stdin, timeout) -> Result:
        # the shared shell serves one command at a time; stdin data, or a second thread, gets a session of its own
        if stdin is None and self._shell_lock.acquire(blocking=False):
            try:
                shell = self._long_lived_shell()
                if shell is not None:
                    try:
                        return shell.run(command, timeout)
                    except BaseException:
                        shell.close()  # a timeout or an interrupt: the next command starts a fresh shell
                        self._shell = None
                        raise
            finally:
                self._shell_lock.release()
        return self._run_in_own_session(command, stdin, timeout)

    def _long_lived_shell(self) -> _Shell | None:
        """The connection's shell, started (again) when needed; None when the login shell cannot serve as one
        (it does not speak sh): then every command gets a session of its own, as plain sshd gives."""
        if self._shell_unavailable:
            return None
        if self._shell is None or not self._shell.alive:
            if self._shell is not None:
                self._shell.close()
            try:
                self._shell = _Shell.start(self.client, self.name, self.connect_timeout, *self._shell_launch())
            except _ShellUnavailable:
                self._shell, self._shell_unavailable = None, True
        return self._shell

    def _shell_launch(self) -> tuple[str, str]:
        """How the long-lived shell starts, and the lines it is sent before the first command."""
        if self.become is None:  # the language commands had under `sshd -> $SHELL -c`
            return 'exec "${SHELL:-/bin/sh}"', f"{SBIN_PATH}\n"
        password = f"{self.become.password}\n" if self._become_password else ""
        return f"exec {self.become.sudo(self._become_password)} /bin/sh", f"{password}{SBIN_PATH}\n"

    def session(self, command: str, timeout: float | None = None) -> paramiko.Channel:
        """A new SSH session running `command` (as the become user, sbin in its PATH), its stdin open for the
        caller: for commands that take data on stdin, and streams such as the libvirt relay."""
        self._check_become()
        if self.become is None:
            return self._exec(f"{SBIN_PATH}; {command}", timeout)
        chan = self._exec(f"{self.become.sudo(self._become_password)} /bin/sh -c "
                          f"{shlex.quote(f'{SBIN_PATH}; {command}')}", timeout)
        if self._become_password:
            try:
                chan.sendall(f"{self.become.password}\n".encode())
            except BaseException:
                chan.close()
                raise
        return chan

    def _exec(self, command: str, timeout: float | None) -> paramiko.Channel:
        """A new SSH session running `command` exactly as given."""
        try:
            chan = self.client.get_transport().open_session(timeout=self.connect_timeout)
        except _CONNECTION_ERRORS as exc:
            raise _connection_lost(self.name, exc) from None
        chan.settimeout(timeout)  # bounds every read: a command silent for `timeout` seconds is a timeout
        try:
            chan.exec_command(command)
        except BaseException:
            chan.close()
            raise
        return chan

    def _check_become(self) -> None:
        """Once per connection's life: can sudo run commands as the become user, and does it need the password?
        BecomeFailed (for every later command too) with sudo's reason and what to set, when it cannot."""
        if self.become is None:
            return
        if self._become_failure is None and self._become_password is None:
            with self._become_lock:
                if self._become_failure is None and self._become_password is None:
                    self._probe_become()
        if self._become_failure is not None:
            raise BecomeFailed(self._become_failure)

    def _probe_become(self) -> None:
        become, where = self.become, f"{self.name} ({self.user}@{self.address})"
        plain = self._exec_raw(f"{become.sudo(False)} true", None)
        if plain.rc == 0:
            self._become_password = False
            return
        if plain.rc == 127:
            self._become_failure = (f"become failed on {where}: sudo is not installed ({_said(plain)}): install it, "
                                    "or log in as root")
            return
        if "password is required" not in _said(plain):
            self._become_failure = self._refused(where, plain)
        elif become.password is None:  # sudo asks before it looks at the rules: the user may have none at all
            self._become_failure = (f"become failed on {where}: sudo asks {self.user} for a password: allow NOPASSWD "
                                    "in sudoers, or set ansible_become_password ({env: NAME} or {file: PATH})")
        else:
            with_password = self._exec_raw(f"{become.sudo(True)} true", f"{become.password}\n")
            if with_password.rc == 0:
                self._become_password = True
            elif "incorrect password" in _said(with_password) or "try again" in _said(with_password):
                self._become_failure = (f"become failed on {where}: sudo did not accept ansible_become_password for "
                                        f"{self.user} ({_said(with_password)}): check the password")
            else:
                self._become_failure = self._refused(where, with_password)

    def _refused(self, where: str, result: Result) -> str:
        return (f"become failed on {where}: sudo refused {self.user} as {self.become.user}: {_said(result)}: allow it "
                "in sudoers, or log in as root")

    def _exec_raw(self, command: str, stdin: str | None) -> Result:
        """`command` in a session of its own, exactly as given (no become): the become probe."""
        return _finish(self._exec(command, self.probe_timeout), self.name, command, stdin, self.probe_timeout)

    def _run_in_own_session(self, command, stdin, timeout) -> Result:
        chan = self.session(command, timeout)
        return _finish(chan, self.name, command, stdin, timeout)

    def close(self) -> None:
        if self._shell is not None:
            self._shell.close()
            self._shell = None
        if self._client is not None:
            self._client.close()
            self._client = None


def _said(result: Result) -> str:
    """What a command said on failure, on one line (sudo's reasons)."""
    return " ".join((result.stderr or result.stdout).split())[:200] or f"exit {result.rc}"


def _finish(chan: paramiko.Channel, host: str, command: str, stdin, timeout: float) -> Result:
    """Send `stdin` to a session's command, read its output to the end, and close it."""
    try:
        if stdin is not None:
            chan.sendall(stdin.encode() if isinstance(stdin, str) else stdin)
        chan.shutdown_write()
        out = chan.makefile("rb").read()
        err = chan.makefile_stderr("rb").read()
        if not chan.status_event.wait(timeout):
            raise socket.timeout()
        rc = chan.recv_exit_status()
    except socket.timeout:
        raise _timed_out(host, command, timeout) from None
    finally:
        chan.close()
    return Result(rc, out.decode(errors="replace"), err.decode(errors="replace"))


class _ShellUnavailable(Exception):
    """The login shell did not answer the handshake (not an sh-like shell): commands get sessions of their own."""


class _Shell:
    """One long-lived login shell on an open SSH connection, reading commands from its stdin: a command costs
    one round trip on the channel instead of a new SSH session (see the module docstring for the figures).

    Each command runs as `( eval 'COMMAND' ) </dev/null` and is followed by a marker carrying `$?` on stdout and
    a marker on stderr (a per-shell random nonce and a counter, so no output can fake one): the subshell keeps
    `cd`, `exit`, `set -e` or `exec` of one command from touching the next, `eval` makes a syntax error that
    command's exit status 2 instead of the end of the shell, and /dev/null keeps a command from reading the
    next command as its input. Output is exact: the marker is preceded by one newline of our own, removed."""

    def __init__(self, chan: paramiko.Channel, host: str):
        self.chan, self.host = chan, host
        self.nonce = secrets.token_hex(8)
        self.count = 0
        self.out, self.err = bytearray(), bytearray()

    @classmethod
    def start(cls, client: paramiko.SSHClient, host: str, timeout: float, launch: str, preamble: str) -> _Shell:
        try:
            chan = client.get_transport().open_session(timeout=timeout)
            chan.exec_command(launch)
            chan.sendall(preamble.encode())  # not a command: its output, if any, is discarded by the handshake
        except _CONNECTION_ERRORS as exc:
            raise _connection_lost(host, exc) from None
        shell = cls(chan, host)
        try:  # the handshake; whatever a profile printed before it is discarded with its output
            ok = shell.run("true", timeout).rc == 0
        except ProbeTimeout:
            ok = False
        if not ok:
            shell.close()
            raise _ShellUnavailable()
        return shell

    @property
    def alive(self) -> bool:
        return not (self.chan.closed or self.chan.eof_received)

    def run(self, command: str, timeout: float) -> Result:
        self.count += 1
        mark = f"__stackcheck_{self.nonce}_{self.count}"
        try:
            self.chan.sendall(f"( eval {shlex.quote(command)} ) </dev/null; printf '\\n%s %d\\n' {mark} \"$?\"; "
                              f"printf '\\n%s\\n' {mark} >&2\n".encode())
        except _CONNECTION_ERRORS as exc:
            raise _connection_lost(self.host, exc) from None
        out_mark, err_mark = f"\n{mark} ".encode(), f"\n{mark}\n".encode()
        deadline = time.monotonic() + timeout
        out_at = err_at = rc_end = -1
        out_from = err_from = 0  # where to search next: only what arrived since, plus a marker's length
        while rc_end < 0 or err_at < 0:
            if self.chan.recv_ready():
                self.out += self.chan.recv(65536)
            elif self.chan.recv_stderr_ready():
                self.err += self.chan.recv_stderr(65536)
            elif not self.alive:  # the shell ended during the command: as a session closed without a status
                return Result(-1, self.out.decode(errors="replace"), self.err.decode(errors="replace"))
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _timed_out(self.host, command, timeout)
                select.select([self.chan], [], [], min(left, 1.0))
                continue
            if out_at < 0:
                out_at = self.out.find(out_mark, out_from)
                out_from = max(0, len(self.out) - len(out_mark))
            if out_at >= 0:
                rc_end = self.out.find(b"\n", out_at + len(out_mark))
            if err_at < 0:
                err_at = self.err.find(err_mark, err_from)
                err_from = max(0, len(self.err) - len(err_mark))
        rc = int(self.out[out_at + len(out_mark):rc_end])
        out, err = bytes(self.out[:out_at]), bytes(self.err[:err_at])
        del self.out[:rc_end + 1]
        del self.err[:err_at + len(err_mark)]
        return Result(rc, out.decode(errors="replace"), err.decode(errors="replace"))

    def close(self) -> None:
        self.chan.close()


def _short(command: str, limit: int = 80) -> str:
    command = " ".join(command.split())
    return command if len(command) <= limit else command[: limit - 3] + "..."


def quote(*args: str) -> str:
    return " ".join(shlex.quote(a) for a in args)


# --- connect storms: bounded concurrent handshakes, and a dropped handshake tried again -------------------------
# sshd drops unauthenticated connections beyond MaxStartups (default 10:30:100: from the 11th, 30 % of them, more
# as they pile up); the client sees the connection closed or reset before or during the banner. A run opens at most
# MAX_CONNECTS handshakes at once (inventory `stackcheck_max_connects`), and one dropped that way is tried again
# after a short pause. A TCP refusal, a key refused, a changed host key or a hang are not retried: they are answers.
MAX_CONNECTS_DEFAULT = 8  # under MaxStartups' 10
CONNECT_RETRY_PAUSES = (0.2, 0.5, 1.0)  # seconds before the 2nd, 3rd and 4th attempt (plus up to 50 % jitter)
_NOT_RETRIED = ("authentication failed", "host key", "Connection refused", "No route to host", "Network is unreachable",
                "could not open a channel", "not retried within this run")  # the last: a bastion that failed
_connect_slots = threading.BoundedSemaphore(MAX_CONNECTS_DEFAULT)


def set_max_connects(n: int) -> None:
    """At most `n` SSH handshakes at once in this process (each run sets it from its inventory)."""
    global _connect_slots
    _connect_slots = threading.BoundedSemaphore(max(1, int(n)))


def dropped_handshake(exc: HostUnreachable, took: float, connect_timeout: float) -> bool:
    """A handshake sshd dropped (closed or reset at once), not a host that refused, rejected or hung."""
    text = str(exc)
    return took < 0.5 * connect_timeout and not any(words in text for words in _NOT_RETRIED)


def connect_throttled(transport: SSHTransport) -> paramiko.SSHClient:
    attempt = 0
    while True:
        with _connect_slot():
            started = time.monotonic()
            try:
                return transport._connect()
            except HostUnreachable as exc:
                took = time.monotonic() - started
                if attempt >= len(CONNECT_RETRY_PAUSES) or not dropped_handshake(exc, took, transport.connect_timeout):
                    raise
                reason = str(exc)
        pause = CONNECT_RETRY_PAUSES[attempt]
        logging.getLogger(__name__).info("%s: handshake dropped (%s); again in %.1f s", transport.name, reason, pause)
        time.sleep(pause * (1 + random.random() / 2))
        attempt += 1


_in_slot = threading.local()


@contextlib.contextmanager
def _connect_slot():
    """One of the run's handshake slots; a bastion connected on behalf of a host behind it uses that host's slot
    (waiting for a second one while holding the first could leave every slot held by hosts waiting for it)."""
    if getattr(_in_slot, "held", False):
        yield
        return
    with _connect_slots:
        _in_slot.held = True
        try:
            yield
        finally:
            _in_slot.held = False
