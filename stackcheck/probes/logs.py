"""Can the logs overflow? Filesystem usage (`df -P`) and logrotate coverage of the OpenStack service logs (CEIL-4),
and the metering database's filesystem (CEIL-3). Pure parsers plus the one command that reads it all."""
from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass

OPENSTACK_LOG_DIRS = ("nova", "neutron", "keystone", "ceilometer", "aodh", "gnocchi", "glance", "cinder", "swift",
                      "heat", "horizon", "openstack-dashboard", "octavia", "placement", "panko", "mongodb")


@dataclass
class Usage:
    mount: str
    used_percent: int
    size_kb: int


def parse_df(text: str) -> Usage | None:
    """`df -P PATH` -> its filesystem's usage (None when df printed no data line)."""
    lines = [l for l in text.splitlines() if l.strip() and not l.startswith("Filesystem")]
    if not lines:
        return None
    parts = lines[-1].split()
    if len(parts) < 6 or not parts[4].endswith("%"):
        return None
    return Usage(parts[5], int(parts[4].rstrip("%")), int(parts[1]))


def logrotate_patterns(config: str) -> list[str]:
    """The log paths/globs of logrotate configuration text (what stands before each `{`)."""
    patterns: list[str] = []
    depth = 0
    pending: list[str] = []
    in_script = False
    for raw in config.splitlines():
        line = raw.split("#", 1)[0].strip() if not in_script else raw.strip()
        if in_script:
            if line == "endscript":
                in_script = False
            continue
        if not line:
            continue
        if depth > 0 and re.match(r"^(postrotate|prerotate|firstaction|lastaction|preremove)\b", line):
            in_script = True
            continue
        if depth == 0:
            head, brace, _ = line.partition("{")
            pending += shlex.split(head) if head.strip() else []
            if brace:
                patterns += [p for p in pending if p.startswith("/")]
                pending = []
                depth = 1
            elif not line.startswith("/") and not line.startswith('"'):
                pending = []  # a global directive (weekly, include ...), not a path
            if "}" in line.partition("{")[2]:
                depth = 0
        elif "}" in line:
            depth = 0
    return patterns


def covered(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, p) for p in patterns)


def read_command(extra_paths=()) -> str:
    dirs = " ".join(f"/var/log/{d}" for d in OPENSTACK_LOG_DIRS)
    extra = "".join(f"echo '== df {p}'; df -P {shlex.quote(p)} 2>&1\n" for p in extra_paths)
    return (f"echo '== df /var/log'; df -P /var/log 2>&1\n{extra}"
            f"echo '== dirs'; for d in {dirs}; do [ -d $d ] && echo $d; done\n"
            f"echo '== logs'; for d in {dirs}; do [ -d $d ] && find $d -maxdepth 1 -type f -name '*.log'; done\n"
            "echo '== logrotate'; command -v logrotate || echo 'missing'\n"
            "echo '== scheduled'; (systemctl is-enabled logrotate.timer 2>/dev/null | grep -qx enabled && echo timer)"
            " || ([ -x /etc/cron.daily/logrotate ] && echo cron.daily) || echo none\n"
            "echo '== config'; cat /etc/logrotate.conf /etc/logrotate.d/* 2>/dev/null\n"
            "true")


def sections(text: str) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("== "):
            current = line[3:].strip()
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def rotation_problems(sec: dict[str, str]) -> tuple[list[str], list[str]]:
    """(the OpenStack log dirs found, problems): every *.log there (or the dir's *.log when it has none yet) is
    matched by a logrotate rule, logrotate is installed and scheduled."""
    dirs = [d for d in sec.get("dirs", "").split() if d]
    logs = [l for l in sec.get("logs", "").split() if l]
    patterns = logrotate_patterns(sec.get("config", ""))
    problems = []
    for d in dirs:
        files = [l for l in logs if l.startswith(d + "/")] or [f"{d}/example.log"]
        loose = [f for f in files if not covered(f, patterns)]
        if loose:
            problems.append(f"{d}: no logrotate rule covers {', '.join(sorted(loose)[:3])}")
    if dirs and sec.get("logrotate", "").strip() in ("", "missing"):
        problems.append("logrotate is not installed")
    elif dirs and sec.get("scheduled", "").strip() == "none":
        problems.append("logrotate is not scheduled (no enabled logrotate.timer, no /etc/cron.daily/logrotate)")
    return dirs, problems
