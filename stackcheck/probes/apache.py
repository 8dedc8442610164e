"""Apache httpd on the dashboard host: which MPM is enabled (Debian mods-enabled/ or RHEL conf.modules.d/), which
one the RUNNING server loaded (its shared objects in /proc/PID/maps: a config switched without a restart shows
here), and how PHP is served (mod_php or php-fpm through proxy_fcgi). One SSH round trip: `read(transport)`.

Every part of that round trip is judged by its exit code (stackcheck/probes/batch.py): a listing that could not
be read is CannotCheck, never "no module enabled"; a running server whose memory map this user may not read
(only root may read another user's /proc/PID/maps) is `running_error`, never "Apache is not running"."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from stackcheck.probes import batch

DEBIAN = "debian"
RHEL = "rhel"
UNITS = {DEBIAN: "apache2", RHEL: "httpd"}
_SO = r"'mod_mpm_[a-z]*\.so\|libphp[0-9.]*\.so\|mod_php[0-9]*\.so'"
# the server's main process: systemd's MainPID, else the pid file; "not-running" only when neither names a live
# process; a memory map that cannot be read fails the part (exit code and reason)
_RUNNING = (
    "unit=apache2; [ -d /etc/apache2 ] || unit=httpd\n"
    "pid=$(systemctl show -p MainPID --value $unit 2>/dev/null)\n"
    "if [ -z \"$pid\" ] || [ \"$pid\" = 0 ]; then for f in /run/apache2/apache2.pid /run/httpd/httpd.pid; do\n"
    "  if [ -e $f ]; then pid=$(cat $f) || exit; break; fi; done; fi\n"
    "if [ -z \"$pid\" ] || [ \"$pid\" = 0 ] || [ ! -d /proc/$pid ]; then echo not-running\n"
    f"else maps=$(cat /proc/$pid/maps) || exit; echo \"pid $pid\"; printf '%s\\n' \"$maps\" | grep -o {_SO} | sort -u; fi")
READ_PARTS = {
    "family": "if [ -d /etc/apache2 ]; then echo debian; elif [ -d /etc/httpd ]; then echo rhel; else echo none; fi",
    "enabled": "[ ! -d /etc/apache2 ] || ls -1 /etc/apache2/mods-enabled/",
    "loadmodule": "[ -d /etc/apache2 ] || [ ! -d /etc/httpd ] || grep -HE '^[[:space:]]*LoadModule[[:space:]]' "
                  "/dev/null /etc/httpd/conf.modules.d/*.conf /etc/httpd/conf/httpd.conf",
    "handlers": "grep -Rhi 'SetHandler.*proxy:' /dev/null $(for d in /etc/apache2/conf-enabled "
                "/etc/apache2/sites-enabled /etc/httpd/conf.d; do [ -d $d ] && echo $d; done)",
    "a2query": "[ ! -d /etc/apache2 ] || PATH=\"$PATH:/usr/sbin:/sbin\" a2query -M",
    "fpm": "u=$(systemctl list-units --no-legend --plain --state=active 'php*-fpm.service') || exit; "
           "printf '%s\\n' \"$u\" | awk '{print $1}'",
    "running": _RUNNING,
}
# a2query only adds evidence; grep's exit code 1 is "no line matched"
_OK = {"loadmodule": (0, 1), "handlers": (0, 1)}
_WHAT = {"family": "whether Apache is configured (/etc/apache2 or /etc/httpd)",
         "enabled": "Apache's enabled modules (/etc/apache2/mods-enabled)",
         "loadmodule": "Apache's LoadModule lines (/etc/httpd/conf.modules.d)",
         "handlers": "Apache's PHP handlers (SetHandler proxy:...)",
         "fpm": "the running php-fpm services (systemctl list-units)"}


def read_command() -> str:
    return batch.of_parts(READ_PARTS)


def read(transport) -> "ApacheState":
    """The dashboard host's Apache, every read judged (CannotCheck when a listing could not be read)."""
    return from_parts(batch.run(transport, read_command()))


def from_parts(found: batch.Batch) -> "ApacheState":
    """ApacheState from the judged parts of read_command's output."""
    lines = {name: found.output(name, what, _OK.get(name, (0,))).splitlines() for name, what in _WHAT.items()}
    a2q = found.part("a2query", "a2query -M")
    lines["a2query"] = a2q.output("a2query").splitlines() if a2q.ok else []  # evidence only
    running = found.part("running", "the running server's memory map")
    if running.ok:
        lines["running"] = running.output("the running server's memory map").splitlines()
    state = state_from({name: [l.strip() for l in ls if l.strip()] for name, ls in lines.items()}
                       | {"family": [l.strip() for l in lines["family"] if l.strip()][:1] or ["none"]})
    if not a2q.ok:
        state.a2query = f"unavailable: {a2q.reason()}"
    if not running.ok:
        state.running_error = f"could not read which MPM the running Apache uses: {running.reason()}"
    return state


@dataclass
class ApacheState:
    family: str  # debian | rhel | none
    enabled_mpms: list[str] = field(default_factory=list)  # ["event"], ["event", "prefork"] ...
    running_mpm: str | None = None  # from the running server's memory map; None when not running
    mod_php: list[str] = field(default_factory=list)  # enabled mod_php modules ("php8.2", "php5_module")
    running_php: bool = False  # the running server has libphp loaded
    fpm_handlers: list[str] = field(default_factory=list)  # SetHandler "proxy:unix:...php-fpm.sock|fcgi://..."
    proxy_fcgi: bool = False
    fpm_active: list[str] = field(default_factory=list)  # running php-fpm units
    a2query: str = ""
    running_pid: int | None = None  # the main process, when the probe found one
    running_error: str = ""  # why the running server's modules could not be read (empty: they were)

    @property
    def serves_php(self) -> bool:
        return bool(self.mod_php or self.running_php or self.fpm_handlers)


def _sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("== "):
            current = line[3:].strip()
            if current.startswith("family "):
                out["family"] = [current.split()[1]]
                current = None
                continue
            out.setdefault(current, [])
        elif current and line.strip():
            out[current].append(line.strip())
    return out


def parse(text: str) -> ApacheState:
    """ApacheState from `== name` sections (captured output of the probe's parts, already judged)."""
    return state_from(_sections(text))


def state_from(s: dict[str, list[str]]) -> ApacheState:
    state = ApacheState(family=(s.get("family") or ["none"])[0])
    if state.family == DEBIAN:
        enabled = s.get("enabled", [])
        state.enabled_mpms = sorted(m.group(1) for f in enabled if (m := re.fullmatch(r"mpm_(\w+)\.load", f)))
        state.mod_php = sorted(f[: -len(".load")] for f in enabled if re.fullmatch(r"php[\d.]*\.load", f))
        state.proxy_fcgi = "proxy_fcgi.load" in enabled
        state.a2query = " ".join(s.get("a2query", []))
    elif state.family == RHEL:
        for line in s.get("loadmodule", []):
            body = line.split(":", 1)[1] if ":" in line.split()[0] else line
            parts = body.split()
            if len(parts) < 3 or parts[0].startswith("#"):
                continue
            name = parts[1]
            if m := re.fullmatch(r"mpm_(\w+)_module", name):
                state.enabled_mpms.append(m.group(1))
            elif re.fullmatch(r"php\d*_module", name):
                state.mod_php.append(name)
            elif name == "proxy_fcgi_module":
                state.proxy_fcgi = True
        state.enabled_mpms.sort()
    state.fpm_handlers = [h for h in s.get("handlers", []) if "fcgi" in h.lower() and not h.startswith("#")]
    state.fpm_active = [u.removesuffix(".service") for u in s.get("fpm", [])]
    for so in s.get("running", []):
        if so.startswith("pid ") and so[4:].isdigit():
            state.running_pid = int(so[4:])
        elif m := re.fullmatch(r"mod_mpm_(\w+)\.so", so):
            state.running_mpm = m.group(1)
        elif "php" in so:
            state.running_php = True
    return state


def mpm_problems(state: ApacheState, wanted: str = "event") -> list[str]:
    """HZN-1's findings: what was read and found wrong (see `mpm_unknowns` for what could not be read)."""
    if state.family == "none":
        return ["no Apache configuration found (/etc/apache2 or /etc/httpd)"]
    out = []
    if state.enabled_mpms != [wanted]:
        found = ", ".join(state.enabled_mpms) or "none"
        out.append(f"enabled MPM modules: {found} (expected exactly one: {wanted})")
    if state.running_error or (state.running_mpm is None and state.running_pid is not None):
        pass  # not known: mpm_unknowns says why
    elif state.running_mpm is None:
        out.append("Apache is not running (no main process: systemd's MainPID and the pid file name none)")
    elif state.running_mpm != wanted:
        out.append(f"the running server uses the {state.running_mpm} MPM (expected {wanted}; restart after a switch)")
    return out


def mpm_unknowns(state: ApacheState) -> list[str]:
    """What HZN-1 could not read: the running server's MPM."""
    if state.family == "none":
        return []
    if state.running_error:
        return [state.running_error]
    if state.running_mpm is None and state.running_pid is not None:
        return [f"the running server (pid {state.running_pid}) has no mod_mpm_*.so in its memory map (an MPM built "
                f"into httpd?): which MPM it runs cannot be read there"]
    return []


def php_unknowns(state: ApacheState) -> list[str]:
    """What HZN-2 could not read: whether the running server still has mod_php loaded."""
    if state.running_error and not state.mod_php:
        reason = state.running_error.split(": ", 1)[-1]
        return [f"could not read whether the running Apache still has mod_php loaded: {reason}"]
    return []


def mpm_remediation(state: ApacheState, wanted: str = "event") -> str | None:
    """What to do about HZN-1's finding when its fixer cannot (None: the fixer's own description applies)."""
    if state.family == "none":
        return "install Apache (apache2 / httpd) to serve the dashboard, with the event MPM as its only MPM"
    if state.mod_php and wanted != "prefork":
        return (f"move PHP from mod_php ({', '.join(state.mod_php)}) to php-fpm first (HZN-2's fixer, pytest --fix), "
                f"then switch to the {wanted} MPM (HZN-1's fixer, a second pytest --fix)")
    return None


def php_remediation(state: ApacheState) -> str | None:
    """What to do about HZN-2's finding when its fixer cannot (None: the fixer's own description applies)."""
    if state.family == RHEL and state.mod_php:
        return ("comment out LoadModule php*_module in /etc/httpd/conf.modules.d/, enable the php-fpm handler of "
                "/etc/httpd/conf.d/php.conf, start php-fpm, apachectl configtest, restart httpd (not automatic on RHEL)")
    return None


def php_problems(state: ApacheState) -> list[str]:
    out = []
    if state.mod_php:
        out.append(f"PHP is served by mod_php ({', '.join(state.mod_php)}), which needs the prefork MPM; "
                   f"expected php-fpm through proxy_fcgi")
    elif state.running_php:
        out.append("the running server has mod_php loaded (restart after disabling it)")
    if state.fpm_handlers and not state.proxy_fcgi:
        out.append("a php-fpm handler is configured but proxy_fcgi is not enabled")
    if state.fpm_handlers and not state.fpm_active:
        out.append("a php-fpm handler is configured but no php-fpm service is running")
    return out
