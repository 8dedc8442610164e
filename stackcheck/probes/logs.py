"""Can the logs overflow? Filesystem usage (`df -P`) and logrotate coverage of the OpenStack service logs (CEIL-4),
and the metering database's filesystem (CEIL-3). Pure parsers plus the one command that reads it all."""
from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass

from stackcheck.probes import batch

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


_DIRS = " ".join(f"/var/log/{d}" for d in OPENSTACK_LOG_DIRS)
# each part judged by its exit code (stackcheck/probes/batch.py): a log directory this user may not list, or a
# logrotate rule file it may not read, fails its part instead of looking like "no log files" / "no rule"
READ_PARTS = {
    "dirs": f"[ -x /var/log ] || {{ echo 'cannot search /var/log: permission denied' >&2; exit 1; }}; "
            f"for d in {_DIRS}; do [ -d $d ] && echo $d; done; true",
    "logs": f"for d in {_DIRS}; do if [ -d $d ]; then find $d -maxdepth 1 -type f -name '*.log' || exit; fi; done",
    # logrotate lives in /usr/sbin, which a non-root user's PATH often lacks: "not found in PATH" is no fact
    "logrotate": "PATH=\"$PATH:/usr/sbin:/sbin\" command -v logrotate || echo missing",
    "scheduled": "(systemctl is-enabled logrotate.timer 2>/dev/null | grep -qx enabled && echo timer)"
                 " || ([ -x /etc/cron.daily/logrotate ] && echo cron.daily) || echo none",
    "config": "for f in /etc/logrotate.conf /etc/logrotate.d/*; do [ -e \"$f\" ] || continue; cat \"$f\" || exit; "
              "echo; done",
}
_WHAT = {"dirs": "which OpenStack log directories exist under /var/log",
         "logs": "the OpenStack log files (find /var/log/<service> -name '*.log')",
         "logrotate": "whether logrotate is installed", "scheduled": "whether logrotate is scheduled",
         "config": "the logrotate rules (/etc/logrotate.conf, /etc/logrotate.d/*)"}


def read_command() -> str:
    return batch.of_parts(READ_PARTS)


def read(transport) -> dict[str, str]:
    """name -> output of each part of read_command, every exit code judged (CannotCheck when one failed)."""
    found = batch.run(transport, read_command())
    return {name: found.output(name, what) for name, what in _WHAT.items()}


def no_log_dirs(target) -> str:
    """CEIL-4's error when none of the known log directories exists: what was looked for, and what to do."""
    return (f"cannot check: none of the OpenStack log directories /var/log/{{{','.join(OPENSTACK_LOG_DIRS)}}} "
            f"exists on {target}, so there is nothing this check knows how to judge (kolla keeps its logs in the "
            f"kolla_logs volume and rotates them in its cron container; a journald-only host keeps them in the "
            f"journal): find where {target}'s OpenStack services log and check their rotation there, then waive "
            f"CEIL-4's test_openstack_logs_rotated for {target} with that reason (stackcheck.waivers, hosts: "
            f"[{target}]), or narrow stackcheck.scope")


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
        problems.append("logrotate is not installed (not in PATH, /usr/sbin or /sbin)")
    elif dirs and sec.get("scheduled", "").strip() == "none":
        problems.append("logrotate is not scheduled (no enabled logrotate.timer, no /etc/cron.daily/logrotate)")
    return dirs, problems


def rotation_remediation(sec: dict[str, str]) -> str | None:
    """What to do when the paired fixer (which adds logrotate rules) cannot help; None when it can."""
    if sec.get("logrotate", "").strip() in ("", "missing"):
        return "install logrotate (apt install logrotate / dnf install logrotate): its package schedules it"
    if sec.get("scheduled", "").strip() == "none":
        return "schedule logrotate: systemctl enable --now logrotate.timer (or restore /etc/cron.daily/logrotate)"
    return None
