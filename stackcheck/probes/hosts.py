"""/etc/hosts and the hostname: does the node's name resolve to the node's address?"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from stackcheck.probes import batch
from stackcheck.verdicts import CannotCheck

READ_COMMAND = batch.script(
    batch.part("hostname", "hostname"),
    batch.part("fqdn", "hostname -f"),  # exit 1: the name does not resolve (then the FQDN is the hostname)
    batch.file("/etc/hosts"),
    batch.part("getent", 'getent ahostsv4 "$(hostname)"'),  # exit 2: the name resolves to nothing
)


@dataclass
class Names:
    hostname: str
    fqdn: str
    hosts: str | None  # /etc/hosts, None when it does not exist
    first: str | None  # the first address the hostname resolves to


def names_from(parts: batch.Batch) -> Names:
    hostname = parts.output("hostname", "the hostname (`hostname`)").strip()
    if not hostname:
        raise CannotCheck("could not read the hostname: `hostname` printed nothing")
    fqdn = parts.output("fqdn", "the FQDN (`hostname -f`)", ok=(0, 1)).strip()  # exit 1 prints nothing on stdout
    return Names(hostname, fqdn or hostname, parts.file("/etc/hosts"),
                 first_getent(parts.output("getent", f"what {hostname} resolves to (`getent ahostsv4`)", ok=(0, 2))))


def read(transport) -> Names:
    return names_from(batch.run(transport, READ_COMMAND))


def parse_hosts(text: str) -> list[tuple[str, list[str]]]:
    """(address, names) per line, comments removed."""
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) >= 2:
            out.append((parts[0], parts[1:]))
    return out


def lookup(entries: list[tuple[str, list[str]]], name: str, family: int = 4) -> list[str]:
    """Addresses /etc/hosts gives for `name`, in file order (the first one is what resolvers return)."""
    found = []
    for addr, names in entries:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            continue
        if ip.version == family and name in names and addr not in found:
            found.append(addr)
    return found


def first_getent(text: str) -> str | None:
    """The first address `getent ahostsv4 NAME` printed (what a program connecting to NAME uses)."""
    for line in text.splitlines():
        parts = line.split()
        if parts:
            return parts[0]
    return None


def problems(hostname: str, fqdn: str, entries, getent_first: str | None, address: str) -> list[str]:
    """What is wrong, in words; empty when the hostname resolves to `address` through /etc/hosts."""
    found = []
    names = [n for n in dict.fromkeys([hostname, fqdn, hostname.split(".")[0]]) if n]
    for name in names:
        addrs = lookup(entries, name)
        if not addrs:
            found.append(f"/etc/hosts has no line for {name}")
        elif addrs[0] != address:
            found.append(f"/etc/hosts maps {name} to {addrs[0]} first (expected {address})")
        wrong = [a for a in addrs[1:] if a != address]
        if wrong:
            found.append(f"/etc/hosts also maps {name} to {', '.join(wrong)}")
    if getent_first != address:
        found.append(f"{hostname} resolves to {getent_first or 'nothing'} (expected {address})")
    return found


def fixed_hosts(text: str, hostname: str, fqdn: str, address: str) -> str:
    """/etc/hosts with the node's names only on a line of `address` (other names on other lines are kept)."""
    names = [n for n in dict.fromkeys([fqdn, hostname, hostname.split(".")[0]]) if n]
    out = []
    placed = False
    for line in text.splitlines():
        body, hash_, comment = line.partition("#")
        parts = body.split()
        if len(parts) >= 2 and any(n in parts[1:] for n in names):
            if parts[0] == address and not placed:
                rest = [p for p in parts[1:] if p not in names]
                out.append(" ".join([address] + names + rest))
                placed = True
                continue
            rest = [p for p in parts[1:] if p not in names]
            if not rest:
                continue  # the line only named this node with a wrong address: gone
            line = " ".join([parts[0]] + rest) + (f" #{comment}" if hash_ else "")
        out.append(line)
    if not placed:
        # after the loopback lines, so the file stays readable
        at = max((i + 1 for i, l in enumerate(out) if l.split()[:1] and l.split()[0].startswith("127.")), default=0)
        out.insert(at, " ".join([address] + names))
    return "\n".join(out) + "\n"
