"""Apache httpd on the dashboard host: which MPM is enabled (Debian mods-enabled/ or RHEL conf.modules.d/), which
one the RUNNING server loaded (its shared objects in /proc/PID/maps: a config switched without a restart shows
here), and how PHP is served (mod_php or php-fpm through proxy_fcgi). One SSH round trip: `read_command()`."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

DEBIAN = "debian"
RHEL = "rhel"
UNITS = {DEBIAN: "apache2", RHEL: "httpd"}


def read_command() -> str:
    return r"""
if [ -d /etc/apache2 ]; then echo "== family debian"; echo "== enabled"; ls -1 /etc/apache2/mods-enabled/ 2>/dev/null
  echo "== conf-enabled"; ls -1 /etc/apache2/conf-enabled/ 2>/dev/null
  echo "== handlers"; grep -Rhsi 'SetHandler.*proxy:' /etc/apache2/conf-enabled/ /etc/apache2/sites-enabled/ 2>/dev/null
  echo "== a2query"; a2query -M 2>&1; pidf=/run/apache2/apache2.pid
elif [ -d /etc/httpd ]; then echo "== family rhel"; echo "== loadmodule"
  grep -HE '^[[:space:]]*LoadModule[[:space:]]' /etc/httpd/conf.modules.d/*.conf /etc/httpd/conf/httpd.conf 2>/dev/null
  echo "== handlers"; grep -Rhsi 'SetHandler.*proxy:' /etc/httpd/conf.d/ 2>/dev/null; pidf=/run/httpd/httpd.pid
else echo "== family none"; fi
echo "== fpm"; systemctl list-units --no-legend --plain --state=active 'php*-fpm.service' 2>/dev/null | awk '{print $1}'
echo "== running"; [ -n "$pidf" ] && [ -r "$pidf" ] && grep -ho 'mod_mpm_[a-z]*\.so\|libphp[0-9.]*\.so\|mod_php[0-9]*\.so' /proc/$(cat $pidf)/maps 2>/dev/null | sort -u
true
"""


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
    s = _sections(text)
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
        if m := re.fullmatch(r"mod_mpm_(\w+)\.so", so):
            state.running_mpm = m.group(1)
        elif "php" in so:
            state.running_php = True
    return state


def mpm_problems(state: ApacheState, wanted: str = "event") -> list[str]:
    if state.family == "none":
        return ["no Apache configuration found (/etc/apache2 or /etc/httpd)"]
    out = []
    if state.enabled_mpms != [wanted]:
        found = ", ".join(state.enabled_mpms) or "none"
        out.append(f"enabled MPM modules: {found} (expected exactly one: {wanted})")
    if state.running_mpm is None:
        out.append("Apache is not running (no server process with an MPM loaded)")
    elif state.running_mpm != wanted:
        out.append(f"the running server uses the {state.running_mpm} MPM (expected {wanted}; restart after a switch)")
    return out


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
