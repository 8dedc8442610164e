"""sysctl: the running value (/proc/sys) and the value a reboot would apply (sysctl.d files), in the order
systemd-sysctl applies them: files from /etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d, /usr/lib/sysctl.d
and /lib/sysctl.d, a name in an earlier directory masking the same name in a later one, all sorted by file name,
later assignments winning; /etc/sysctl.conf last (as Debian's 99-sysctl.conf link and procps do)."""
from __future__ import annotations

import fnmatch
import os

from stackcheck.probes import batch

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


def _proc_path(key: str) -> str:
    return "/proc/sys/" + key.replace(".", "/")


def file_parts() -> list[str]:
    """The batch parts that read every sysctl file a boot applies (an unreadable directory or file is a failure)."""
    return [batch.file("/etc/sysctl.conf")] + [batch.files_in(d, "*.conf") for d in DIRS]


def files_from(parts: batch.Batch) -> dict[str, str]:
    """path -> content of every sysctl file (CannotCheck when a directory or a file could not be read)."""
    for d in DIRS:
        parts.output(f"dir {d}", f"the directory {d} (its sysctl files)")
    return {name: text for name in parts if name.startswith("/") and not name.startswith("/proc/")
            and (text := parts.file(name)) is not None}


def running_from(parts: batch.Batch, key: str) -> str | None:
    """The running value of `key`, None when the kernel has no such key (e.g. an interface that does not exist)."""
    text = parts.file(_proc_path(key))
    return None if text is None else text.strip()


def read(transport, keys) -> tuple[dict[str, str | None], dict[str, str]]:
    """({key: running value or None}, {path: content of each sysctl file}) in one round trip."""
    parts = batch.run(transport, batch.script(*(batch.file(_proc_path(k)) for k in keys), *file_parts()))
    return {k: running_from(parts, k) for k in keys}, files_from(parts)


def read_files(transport) -> dict[str, str]:
    return files_from(batch.run(transport, batch.script(*file_parts())))


def running(transport, key: str) -> str | None:
    return read(transport, [key])[0][key]
