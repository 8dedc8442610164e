"""Whose host is this? The SSH host key policy of every connection (hosts and bastions), as OpenSSH's
StrictHostKeyChecking and Ansible's host_key_checking: verified by default.

`stackcheck_host_key_checking` (host var, default `strict`):
- strict      the key must be in the known hosts file (`stackcheck_known_hosts`, else ~/.ssh/known_hosts): an
              unknown key, or one that differs from the file's, makes that host's checks errors;
- accept-new  an unknown host's key is recorded in that file (never a changed one: that stays an error);
- off         no verification at all; only when set explicitly, and every run says so in its summary and report.

The policy runs inside paramiko's handshake, before authentication: nothing is sent to an unverified host.
"""
from __future__ import annotations

import fcntl
import os
import threading

import paramiko

MODES = ("strict", "accept-new", "off")
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
# YAML 1.1 reads `off`/`no`/`false` as False and `yes`/`on`/`true` as True (Ansible's host_key_checking is a bool)
_BOOLEANS = {True: "strict", False: "off"}
_record_lock = threading.Lock()  # flock serialises processes; this keeps two threads of one from interleaving


class HostKeyRejected(paramiko.SSHException):
    """The host's key is not the one we know (or not known at all, under strict): do not log in."""


def mode_of(raw) -> str:
    """The checking mode from an inventory value (ValueError when it is none of MODES)."""
    if raw is None:
        return "strict"
    if isinstance(raw, bool):
        return _BOOLEANS[raw]
    value = str(raw).strip().lower()
    if value in MODES:
        return value
    raise ValueError(f"{raw!r} is not one of {', '.join(MODES)}")


def known_name(address: str, port: int) -> str:
    """The name a known_hosts line carries for this endpoint (OpenSSH: `[addr]:port` off port 22)."""
    return address if port == 22 else f"[{address}]:{port}"


def describe(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.fingerprint}"


def unknown_message(name: str, address: str, key: paramiko.PKey, known_hosts: str) -> str:
    return (f"unknown host key for {name} ({address}), {key.fingerprint}: add it to {known_hosts} or set "
            f"stackcheck_host_key_checking: accept-new")


def changed_message(name: str, address: str, presented: paramiko.PKey, known: paramiko.PKey | None,
                    known_hosts: str) -> str:
    was = f", {known_hosts} has {describe(known)}" if known is not None else ""
    return (f"host key of {name} ({address}) has CHANGED (not the one in {known_hosts}): a rebuilt host or "
            f"someone in the middle; it presents {describe(presented)}{was}: verify it out of band, then replace "
            f"its line in {known_hosts}")


def load(known_hosts: str) -> paramiko.HostKeys:
    """The file's keys; a missing file has none (every host is then unknown)."""
    keys = paramiko.HostKeys()
    if os.path.exists(known_hosts):
        keys.load(known_hosts)
    return keys


def judge(keys: paramiko.HostKeys, name: str, key: paramiko.PKey) -> str:
    """`known` (the file has this key for this name), `unknown` (no key for this name) or `changed` (keys for
    this name, none of them this one: a key of another type counts as changed, as paramiko's connect does)."""
    entry = keys.lookup(name)
    if not entry:
        return "unknown"
    return "known" if entry.get(key.get_name()) == key else "changed"


def record(known_hosts: str, name: str, key: paramiko.PKey) -> str:
    """accept-new: append `name keytype base64` to the file unless another connection (a thread, an xdist worker)
    recorded it meanwhile; returns the judgement made under the lock (`unknown` = recorded now, `known`, or
    `changed`: someone recorded another key for it first, which is never replaced)."""
    directory = os.path.dirname(os.path.abspath(known_hosts))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    with _record_lock:
        fd = os.open(known_hosts, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "r+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # released when the file is closed
            verdict = judge(load(known_hosts), name, key)
            if verdict == "unknown":
                f.seek(0, os.SEEK_END)
                needs_newline = f.tell() > 0 and _last_byte(known_hosts) != b"\n"
                f.write(("\n" if needs_newline else "") + f"{name} {key.get_name()} {key.get_base64()}\n")
                f.flush()
                os.fsync(f.fileno())
            return verdict


def _last_byte(path: str) -> bytes:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1)


class Policy(paramiko.MissingHostKeyPolicy):
    """Called by paramiko for a key the client's loaded keys do not have (a key that differs from a loaded one
    raises BadHostKeyException in paramiko itself). `recorded` collects what accept-new wrote."""

    def __init__(self, mode: str, known_hosts: str, name: str, address: str, recorded: list[str] | None = None):
        self.mode, self.known_hosts, self.name, self.address = mode, known_hosts, name, address
        self.recorded = recorded if recorded is not None else []

    def missing_host_key(self, client, hostname, key):
        if self.mode == "off":
            return
        if self.mode == "strict":
            raise HostKeyRejected(unknown_message(self.name, self.address, key, self.known_hosts))
        verdict = record(self.known_hosts, hostname, key)
        if verdict == "changed":
            known = load(self.known_hosts).lookup(hostname)
            raise HostKeyRejected(changed_message(self.name, self.address, key,
                                                  next(iter(known.values()), None) if known else None,
                                                  self.known_hosts))
        if verdict == "unknown":
            self.recorded.append(f"recorded the host key of {self.name} ({hostname}), {describe(key)}, in "
                                 f"{self.known_hosts} (stackcheck_host_key_checking: accept-new)")


def prepare(client: paramiko.SSHClient, mode: str, known_hosts: str, name: str, address: str,
            recorded: list[str] | None = None) -> None:
    """Give `client` the known keys (paramiko then offers the known key type first and refuses a different
    key) and the policy for a key it does not know."""
    if mode != "off" and os.path.exists(known_hosts):
        client.load_host_keys(known_hosts)  # never saved back by us: only record() writes the file
    client.set_missing_host_key_policy(Policy(mode, known_hosts, name, address, recorded))


def summary(modes: dict[str, str]) -> str:
    """The run's host key checking for its report, e.g. `strict` (every host) or `off: lb; strict: dbnode1, ...`."""
    by_mode: dict[str, list[str]] = {}
    for name, mode in modes.items():
        by_mode.setdefault(mode, []).append(name)
    if len(by_mode) <= 1:
        return next(iter(by_mode), "strict")
    return "; ".join(f"{mode}: {', '.join(names)}" for mode, names in sorted(by_mode.items()))


def off_notice(names: list[str]) -> str:
    return (f"SSH host keys NOT verified for {', '.join(names)} (stackcheck_host_key_checking: off): a host "
            f"impersonating them would be checked, and with --fix changed, as if it were them")
