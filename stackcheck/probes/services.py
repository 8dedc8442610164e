"""systemd unit states in one round trip, with the modern equivalents of the notes' service names."""
from __future__ import annotations

import shlex
from dataclasses import dataclass

from stackcheck.probes import batch, sections
from stackcheck.verdicts import CannotCheck

# The notes' names (CentOS 7) first; then what other releases call the same job.
NETWORK_SERVICES = ("network", "networking", "systemd-networkd")  # legacy network scripts / ifupdown / networkd
IPTABLES_SERVICES = ("iptables", "netfilter-persistent")  # iptables-services (RHEL) / iptables-persistent (Debian)
UNWANTED = ("NetworkManager", "firewalld")


@dataclass
class Unit:
    name: str
    load: str  # loaded / not-found / masked
    active: str  # active / inactive / failed ...
    enabled: str  # enabled / disabled / masked / static / "" (not found)

    @property
    def exists(self) -> bool:
        return self.load not in ("not-found", "")

    @property
    def running(self) -> bool:
        return self.active in ("active", "activating", "reloading")

    @property
    def is_enabled(self) -> bool:
        return self.enabled in ("enabled", "enabled-runtime", "alias")

    def describe(self) -> str:
        if not self.exists:
            return f"{self.name}: not installed"
        return f"{self.name}: {self.active}, {self.enabled or 'unknown'}"


def parts(names, prefix: str = "") -> list[str]:
    """One batch part per unit (named PREFIX + unit): `systemctl show -p X` (not --value: systemd 219 on CentOS 7
    lacks it), judged by its exit code; then is-enabled's last line (SysV units such as RHEL's `network` print
    chkconfig's chatter first; is-enabled exits non-zero for a disabled or missing unit, so its word is what
    counts)."""
    out = []
    for n in names:
        unit = shlex.quote(f"{n}.service")
        out.append(batch.part(f"{prefix}{n}.service",
                              f"systemctl show -p LoadState -p ActiveState {unit} || exit; "
                              f"echo \"Enabled=$(systemctl is-enabled {unit} 2>/dev/null | tail -n 1)\""))
    return out


def unit_of(name: str, body: str) -> Unit:
    fields = sections.fields(body, "=")
    if not fields.get("LoadState"):
        raise CannotCheck(f"could not read the state of {name}.service: `systemctl show` gave no LoadState")
    return Unit(name, fields["LoadState"], fields.get("ActiveState", ""), fields.get("Enabled", ""))


def units_from(found: batch.Batch, names, prefix: str = "") -> dict[str, Unit]:
    """name -> Unit; CannotCheck when the state of one of them could not be read (no systemctl, no systemd)."""
    return {n: unit_of(n, found.output(f"{prefix}{n}.service", f"the state of {n}.service (`systemctl show`)"))
            for n in names}


def parse(text: str) -> dict[str, Unit]:
    """Units from `### NAME.service` sections of `systemctl show` (a capture; a live read goes through read())."""
    return {header.removesuffix(".service"): unit_of(header.removesuffix(".service"), body)
            for header, body in sections.split(text).items()}


def read(transport, names) -> dict[str, Unit]:
    return units_from(batch.run(transport, batch.script(*parts(names))), names)
