"""systemd unit states in one round trip, with the modern equivalents of the notes' service names."""
from __future__ import annotations

import shlex
from dataclasses import dataclass

from stackcheck.probes import sections

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


def read_command(names) -> str:
    # `systemctl show -p X` (not --value: systemd 219 on CentOS 7 lacks it); is-enabled's last line (SysV units
    # such as RHEL's `network` print chkconfig's chatter first)
    units = " ".join(shlex.quote(f"{n}.service") for n in names)
    return (f"for u in {units}; do echo \"### $u\"; systemctl show -p LoadState -p ActiveState \"$u\"; "
            "echo \"Enabled=$(systemctl is-enabled \"$u\" 2>/dev/null | tail -n 1)\"; done")


def parse(text: str) -> dict[str, Unit]:
    out: dict[str, Unit] = {}
    for header, body in sections.split(text).items():
        name = header.removesuffix(".service")
        fields = sections.fields(body, "=")
        out[name] = Unit(name, fields.get("LoadState", ""), fields.get("ActiveState", ""), fields.get("Enabled", ""))
    return out


def read(transport, names) -> dict[str, Unit]:
    return parse(transport.run(read_command(names)).stdout)
