"""nova.conf's console settings, as the running release reads them (SPC-1..3).

VNC: Kilo reads `[DEFAULT] vnc_enabled`; from Liberty on Nova reads `[vnc] enabled`, with `[DEFAULT] vnc_enabled`
as its deprecated name (used when the new one is not set). Both default to True: VNC is on unless switched off.
When the release is unknown, VNC counts as off only if BOTH readings are off.
Keymap: `[spice] keymap` was deprecated in Rocky and is gone from Zed's nova (Debian 26: no keymap option), so
it is required up to Queens, compared when set on later releases, and required when the release is unknown.
Options may refer to others (`server_proxyclient_address = $my_ip`): oslo substitutes [DEFAULT] values."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from stackcheck.probes import batch
from stackcheck.probes.ini import IniFile
from stackcheck.probes.release import at_least
from stackcheck.verdicts import CannotCheck

ALL_ADDRESSES = ("0.0.0.0", "::", "")
PROXY_UNITS = ("nova-spicehtml5proxy", "openstack-nova-spicehtml5proxy")  # Debian/Ubuntu, RDO
NOVNC_UNITS = ("nova-novncproxy", "openstack-nova-novncproxy")  # the notes: "If novnc is enabled, disable it too"
PERSISTED_RULES = ("/etc/sysconfig/iptables", "/etc/iptables/rules.v4")  # RHEL, Debian (iptables-persistent)


def proxy_unit(transport, lab) -> str | None:
    """The SPICE proxy's systemd unit: the inventory's spice.proxy_service, else whichever is installed (None:
    none is; exit code 1 of list-unit-files is "no unit matched", anything else CannotCheck)."""
    if lab.get("spice.proxy_service"):
        return lab.get("spice.proxy_service")
    names = " ".join(f"{u}.service" for u in PROXY_UNITS)
    listing = transport.run(f"systemctl list-unit-files --no-legend {names}").output(
        "the SPICE proxy's unit files (systemctl list-unit-files)", ok=(0, 1))
    found = [line.split()[0].removesuffix(".service") for line in listing.splitlines() if line.strip()]
    return next((u for u in PROXY_UNITS if u in found), None)


# systemctl's words for a unit's boot and run state: any other answer is an error message, not a state
UNIT_FILE_STATES = {"enabled", "enabled-runtime", "linked", "linked-runtime", "alias", "masked", "masked-runtime",
                    "static", "indirect", "disabled", "generated", "transient", "bad", "not-found"}
ACTIVE_STATES = {"active", "reloading", "inactive", "failed", "activating", "deactivating", "maintenance",
                 "refreshing"}
RUNNING = {"active", "reloading", "activating", "refreshing"}
NOVNC_COMMAND = (f"for u in {' '.join(NOVNC_UNITS)}; do s=$(systemctl is-active $u 2>&1); case \"$s\" in "
                 f"{'|'.join(sorted(RUNNING))}) echo $u;; {'|'.join(sorted(ACTIVE_STATES - RUNNING))}|unknown) ;; "
                 "*) echo \"$u: $s\" >&2; exit 1;; esac; done")


def service_command(unit: str, port: int) -> str:
    """SPC-5's reads, each judged: boot state, run state, what listens on the port."""
    return batch.of_parts({"enabled": f"systemctl is-enabled {unit}", "active": f"systemctl is-active {unit}",
                          "listening": f"ss -Hltn 'sport = :{port}'"})


def service_state(found: batch.Batch, unit: str) -> tuple[str, str, list[str]]:
    """(boot state, run state, listening addresses) from service_command's judged parts; CannotCheck when
    systemctl answered something that is not a state (no systemd, a bus it may not reach) or ss failed."""
    words = {}
    for name, known in (("enabled", UNIT_FILE_STATES), ("active", ACTIVE_STATES | {"unknown"})):
        result = found.part(name, f"systemctl is-{name} {unit}")
        text = result.output(f"systemctl is-{name} {unit}", ok=tuple(range(0, 5))).strip()
        word = text.splitlines()[-1].strip() if text else ""
        if word not in known:
            raise CannotCheck(f"could not read whether {unit} is {name}: {result.reason()}")
        words[name] = word
    listening = [line.split()[3] for line in found.output("listening", "the listening sockets (ss -ltn)").splitlines()
                 if len(line.split()) >= 4]
    return words["enabled"], words["active"], listening


def package_state(result) -> tuple[bool, str]:
    """(installed, what was read) from PACKAGE_COMMAND's result. dpkg: "install ok installed 0.3.0-2" is
    installed, any other status (deinstall, half-configured ...) or "no packages found matching" is not; rpm:
    a version, or "package ... is not installed". Anything else (a missing tool, an error) is CannotCheck."""
    out = (result.output("the spice-html5 package's state", ok=(0, 1)) + result.stderr).strip()
    dpkg_status = re.match(r"^(install|deinstall|purge|hold|unknown) (ok|reinstreq) (\S+)", out)
    if result.rc == 0 and dpkg_status:
        return dpkg_status.group(1) in ("install", "hold") and dpkg_status.group(3) == "installed", out
    if result.rc == 0 and re.fullmatch(r"\d[\w.+~:-]*", out):
        return True, out  # rpm: the version
    if result.rc == 1 and ("no packages found matching" in out or "is not installed" in out):
        return False, out
    raise CannotCheck(f"could not read whether spice-html5 is installed: {result.reason()} ({out[:160]!r})")


PACKAGE_COMMAND = ("if command -v dpkg-query >/dev/null; then dpkg-query -W -f='${Status} ${Version}' spice-html5; "
                   "elif command -v rpm >/dev/null; then rpm -q --qf '%{VERSION}' spice-html5; "
                   "else echo 'neither dpkg-query nor rpm found' >&2; exit 127; fi")


def substitute(ini: IniFile, value: str | None) -> str | None:
    """oslo.config's `$name` / `${name}` substitution from [DEFAULT] (one level is what nova.conf uses)."""
    if value is None:
        return None
    return re.sub(r"\$\{?(\w+)\}?", lambda m: ini.get("DEFAULT", m.group(1), m.group(0)), value)


def vnc_state(ini: IniFile, release: str | None) -> tuple[bool, str]:
    """(vnc_on, which option(s) decided it, for the report)."""
    legacy = ini.get_bool("DEFAULT", "vnc_enabled")
    modern = ini.get_bool("vnc", "enabled")
    kilo_reading = True if legacy is None else legacy
    modern_reading = modern if modern is not None else kilo_reading
    def shown(v, name):
        return f"{name} = {str(v).lower()}" if v is not None else f"{name} not set (default true)"
    if release is not None and not at_least(release, "liberty"):
        return kilo_reading, f"{release}: {shown(legacy, '[DEFAULT] vnc_enabled')}"
    if release is not None:
        src = shown(modern, "[vnc] enabled") if modern is not None else \
            f"[vnc] enabled not set, deprecated {shown(legacy, '[DEFAULT] vnc_enabled')}"
        return modern_reading, f"{release}: {src}"
    return kilo_reading or modern_reading, \
        f"release unknown: {shown(modern, '[vnc] enabled')}, {shown(legacy, '[DEFAULT] vnc_enabled')}"


def spice_problems(ini: IniFile, release: str | None, keymap: str | None) -> list[str]:
    """SPC-1 on one node."""
    out = []
    enabled = ini.get_bool("spice", "enabled", False)
    if not enabled:
        out.append(f"[spice] enabled is {ini.get('spice', 'enabled') or 'not set (default false)'} (expected true)")
    if ini.get_bool("spice", "agent_enabled", True) is not True:
        out.append(f"[spice] agent_enabled = {ini.get('spice', 'agent_enabled')} (expected true)")
    vnc_on, src = vnc_state(ini, release)
    if vnc_on:
        out.append(f"VNC is on ({src}); expected it switched off")
    if keymap:
        have = ini.get("spice", "keymap")
        required = release is None or not at_least(release, "rocky")
        if have is None and required:
            out.append(f"[spice] keymap is not set (expected {keymap})")
        elif have is not None and have != keymap:
            out.append(f"[spice] keymap = {have} (expected {keymap})")
    return out


def proxy_problems(ini: IniFile, names: set[str], port: int) -> list[str]:
    """SPC-2 on the control node: the proxy binds all addresses on `port`; the base URL points at this node
    (one of `names`: its address or host names) and that port."""
    out = []
    host = ini.get("spice", "html5proxy_host", "0.0.0.0")
    if host not in ALL_ADDRESSES:
        out.append(f"[spice] html5proxy_host = {host} (expected all addresses: 0.0.0.0)")
    have_port = ini.get_int("spice", "html5proxy_port", 6082)
    if have_port != port:
        out.append(f"[spice] html5proxy_port = {have_port} (expected {port})")
    url = substitute(ini, ini.get("spice", "html5proxy_base_url"))
    if not url:
        out.append("[spice] html5proxy_base_url is not set (default http://127.0.0.1:6082/spice_auto.html: "
                   "only reachable on the control node itself)")
    else:
        parts = urlsplit(url)
        if parts.hostname not in names:
            out.append(f"html5proxy_base_url {url} does not point at the control node ({', '.join(sorted(names))})")
        if (parts.port or (443 if parts.scheme == "https" else 80)) != port:
            out.append(f"html5proxy_base_url {url} does not use port {port}")
    return out


def base_url(ini: IniFile) -> str | None:
    return substitute(ini, ini.get("spice", "html5proxy_base_url"))


def compute_problems(ini: IniFile, address: str, internal: str) -> list[str]:
    """SPC-3 on a compute node: the SPICE server listens on this node's address (or all), and the proxy reaches
    it through this node's internal address."""
    out = []
    listen = substitute(ini, ini.get("spice", "server_listen"))
    if listen is None:
        out.append("[spice] server_listen is not set (default 127.0.0.1: the proxy cannot reach the VMs)")
    elif listen not in ALL_ADDRESSES and listen != address:
        out.append(f"[spice] server_listen = {listen} (expected {address} or 0.0.0.0)")
    proxyclient = substitute(ini, ini.get("spice", "server_proxyclient_address"))
    if proxyclient != internal:
        shown = proxyclient if proxyclient is not None else "not set (default 127.0.0.1)"
        out.append(f"[spice] server_proxyclient_address = {shown} (expected the internal address {internal})")
    return out
