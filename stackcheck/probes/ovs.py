"""Open vSwitch bridges and ports on the network node, judged the way OVS really works, not by `ovs-vsctl show`:
`show` only prints the database, so a bridge whose datapath failed to open (e.g. the kernel datapath without the
openvswitch module) still looks fine there. A bridge counts when `ovs-appctl dpif/show` lists it (its datapath
exists) and a port counts when its interface has an ofport > 0 and no error. One SSH round trip."""
from __future__ import annotations

from dataclasses import dataclass, field

from stackcheck.probes import batch
from stackcheck.verdicts import Finding


# one line per bridge and per port; the error text goes last on its line because it contains spaces. Every
# ovs-vsctl call is judged: the first that fails ends the part with its exit code (a non-root user gets
# "database connection failed (Permission denied)", which must not read as "no bridge")
_BRIDGES = r"""bridges=$(ovs-vsctl list-br) || exit
for b in $bridges; do
  dp=$(ovs-vsctl get bridge $b datapath_type) || exit
  echo "bridge $b $dp"
  ports=$(ovs-vsctl list-ports $b) || exit
  for p in $ports; do
    t=$(ovs-vsctl --if-exists get interface $p type) || exit
    o=$(ovs-vsctl --if-exists get interface $p ofport) || exit
    e=$(ovs-vsctl --if-exists get interface $p error) || exit
    peer=$(ovs-vsctl --if-exists get interface $p options:peer 2>/dev/null) || peer=""
    echo "port $b $p type=$t ofport=$o peer=$peer error=$e"
  done
done"""
READ_PARTS = {"bridges": _BRIDGES, "dpif": "ovs-appctl dpif/show"}


def read_command() -> str:
    return batch.of_parts(READ_PARTS)


def read(transport) -> dict[str, Bridge]:
    """The bridges as OVS really runs them. A daemon that is not running (its socket or pid file absent) is a
    finding; any other failure (permission denied, a missing command) is CannotCheck."""
    found = batch.run(transport, read_command())
    text = []
    for name, daemon, what in (("bridges", "ovsdb-server", "the OVS database (ovs-vsctl)"),
                               ("dpif", "ovs-vswitchd", "the OVS datapaths (ovs-appctl dpif/show)")):
        part = found.part(name, what)  # CannotCheck when the batch did not reach it
        if part.rc != 0 and _daemon_absent("\n".join(part.err)):
            raise Finding(f"{daemon} is not running ({part.reason()}): start openvswitch-switch")
        text.append(("" if name == "bridges" else "== dpif\n") + part.output(what))
    return parse("".join(text))


def _daemon_absent(stderr: str) -> bool:
    """The daemon's socket or pid file does not exist: it is not running (not "cannot tell")."""
    low = stderr.lower()
    return "no such file or directory" in low and ("db.sock" in low or "pidfile" in low or ".pid" in low)


@dataclass
class Port:
    name: str
    type: str  # "" (system), internal, patch, ...
    ofport: int
    peer: str
    error: str

    @property
    def works(self) -> bool:
        return self.ofport > 0 and not self.error


@dataclass
class Bridge:
    name: str
    datapath_type: str
    ports: dict[str, Port] = field(default_factory=dict)
    in_datapath: bool = False


def _unquote(v: str) -> str:
    v = v.strip()
    if v in ("[]", '""'):
        return ""
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v


def parse(text: str) -> dict[str, Bridge]:
    bridges: dict[str, Bridge] = {}
    lines = text.splitlines()
    dpif_at = next((i for i, l in enumerate(lines) if l.strip() == "== dpif"), len(lines))
    for line in lines[:dpif_at]:
        parts = line.split()
        if parts[:1] == ["bridge"] and len(parts) >= 2:
            bridges[parts[1]] = Bridge(parts[1], _unquote(parts[2]) if len(parts) > 2 else "")
        elif parts[:1] == ["port"] and len(parts) >= 3 and parts[1] in bridges and " error=" in line:
            head, error = line.split(" error=", 1)
            f = dict(p.split("=", 1) for p in head.split()[3:] if "=" in p)
            ofport = f.get("ofport", "")
            bridges[parts[1]].ports[parts[2]] = Port(
                parts[2], _unquote(f.get("type", "")), int(ofport) if ofport.lstrip("-").isdigit() else -1,
                _unquote(f.get("peer", "")), _unquote(error))
    for line in lines[dpif_at + 1:]:
        # "  br-ex:" (a bridge of a datapath) vs "    eth2 1/2: (system)" (its ports)
        if line.startswith("  ") and not line.startswith("    ") and line.rstrip().endswith(":"):
            name = line.strip()[:-1]
            if name in bridges:
                bridges[name].in_datapath = True
    return bridges


def external_bridge_problems(bridges: dict[str, Bridge], bridge: str, nic: str,
                             integration: str = "br-int") -> list[str]:
    """NET-1 for one external network: the bridge works, the NIC is a working port of it, and the integration
    bridge has the agent's patch port int-<bridge>."""
    b = bridges.get(bridge)
    if b is None:
        return [f"bridge {bridge} does not exist (bridges: {', '.join(sorted(bridges)) or 'none'})"]
    out = []
    if not b.in_datapath:
        out.append(f"bridge {bridge} is in the OVS database but has no datapath (datapath_type "
                   f"{b.datapath_type or 'system'} failed to open: see ovs-vswitchd.log)")
    port = b.ports.get(nic)
    if port is None:
        out.append(f"{nic} is not a port of {bridge} (ports: {', '.join(sorted(b.ports)) or 'none'})")
    elif not port.works:
        out.append(f"port {nic} of {bridge} does not work (ofport {port.ofport}, error: {port.error or 'none'})")
    integ = bridges.get(integration)
    patch = f"int-{bridge}"
    if integ is None:
        out.append(f"integration bridge {integration} does not exist")
    elif patch not in integ.ports:
        out.append(f"{integration} has no port {patch} (ports: {', '.join(sorted(integ.ports)) or 'none'})")
    return out


def bridge_remediation(problems: list[str]) -> str | None:
    """What to do when NET-1's fixer cannot help (None: it can). It creates bridges and adds existing NICs, so a
    NIC that does not exist, or a port with an error, needs a hand."""
    if any("does not work" in p for p in problems):
        return ("see the port's error (ovs-vsctl get interface NIC error): make the NIC exist and come up, then "
                "pytest --fix adds what is still missing")
    return None


def parse_mappings(text: str | None) -> dict[str, str]:
    """bridge_mappings "physnet1:br-ex, physnet2:br-ex2" -> {"physnet1": "br-ex", "physnet2": "br-ex2"}."""
    out = {}
    for item in (text or "").split(","):
        if ":" in item:
            physnet, bridge = item.split(":", 1)
            out[physnet.strip()] = bridge.strip()
    return out


def format_mappings(mappings: dict[str, str]) -> str:
    return ",".join(f"{k}:{v}" for k, v in mappings.items())
