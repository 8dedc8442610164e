"""sysctl: the running value (/proc/sys) and the value a reboot would apply (sysctl.d files), in the order
systemd-sysctl applies them: files from /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d, /usr/lib/sysctl.d
and /lib/sysctl.d, a name in an earlier directory masking the same name in a later one, all sorted by file name,
later assignments winning; /etc/sysctl.conf last (as Debian's 99-sysctl.conf link and procps do)."""
from __future__ import annotations

import fnmatch
import os
import shlex

from stackcheck.probes import sections

DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")


def normalise(key: str) -> str:
    """`net/ipv4/conf/eth0/proxy_arp` and `net.ipv4.conf.eth0.proxy_arp` are the same key."""
    key = key.strip().lstrip("-")
    return key.replace("/", ".") if "/" in key and "." not in key.split("/")[0] else key


def parse(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out.append((normalise(key), value.strip()))
    return out


def order(files: dict[str, str]) -> list[str]:
    """Paths in the order they are applied."""
    chosen: dict[str, str] = {}
    for d in DIRS:
        for path in files:
            if os.path.dirname(path) == d and path.endswith(".conf"):
                chosen.setdefault(os.path.basename(path), path)
    ordered = [chosen[name] for name in sorted(chosen)]
    if "/etc/sysctl.conf" in files:  # last (Debian's 99-sysctl.conf links to it: applying it twice changes nothing)
        ordered.append("/etc/sysctl.conf")
    return ordered


def persisted(files: dict[str, str], key: str) -> tuple[str | None, str | None]:
    """(value, file) a boot would set for `key`; glob keys (net.ipv4.conf.*.x) count too."""
    value = where = None
    for path in order(files):
        for k, v in parse(files[path]):
            if k == key or ("*" in k and fnmatch.fnmatchcase(key, k)):
                value, where = v, path
    return value, where


READ_COMMAND = ("for f in /etc/sysctl.conf " + " ".join(f"{d}/*.conf" for d in DIRS) +
                "; do [ -f \"$f\" ] && { echo \"### $f\"; cat \"$f\"; }; done; true")


def read_files(transport) -> dict[str, str]:
    # a header names an absolute path: a `### comment` line inside a sysctl file is content
    return sections.split(transport.run(READ_COMMAND).stdout, is_name=lambda name: name.startswith("/"))


def running(transport, key: str) -> str | None:
    r = transport.run(f"cat /proc/sys/{shlex.quote(key.replace('.', '/'))}")
    return r.stdout.strip() if r.ok else None
