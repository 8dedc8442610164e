"""libvirt on the physical host, read with libvirt-python over the run's own SSH connection.

How: libvirt-python connects to a private unix socket on this machine (`qemu+unix:///system?socket=...`); a
relay thread forwards each connection into an exec channel of the host's existing paramiko connection that runs
the host's own bridge to its libvirtd socket (`virt-ssh-helper`, what `qemu+ssh://` runs remotely; or `nc -U` /
`socat` on older hosts). So: no second SSH login, no ssh binary, the inventory's host key checking and bastion
apply, and libvirt speaks its real RPC protocol end to end. The connection is read-only.

The pure part (`network_facts`, `domain_facts`) turns libvirt XML into plain dicts; it is unit-tested on XML
that libvirt 9.0 wrote.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from stackcheck.verdicts import CannotCheck

# What runs on the host: libvirt's own helper first (libvirt >= 6.8), then the classic netcat bridge.
BRIDGE_COMMAND = (
    "if command -v virt-ssh-helper >/dev/null 2>&1; then exec virt-ssh-helper -r qemu:///system; fi; "
    "for s in /run/libvirt/libvirt-sock-ro /var/run/libvirt/libvirt-sock-ro /run/libvirt/libvirt-sock; do "
    "  [ -S $s ] || continue; "
    "  command -v socat >/dev/null 2>&1 && exec socat - UNIX-CONNECT:$s; "
    "  exec nc -U $s; "
    "done; echo 'no libvirt socket on this host' >&2; exit 1"
)


@dataclass
class NetworkFacts:
    name: str
    bridge: str | None
    forward_mode: str | None  # None: isolated
    addresses: list[str] = field(default_factory=list)  # "ip/prefix"
    active: bool = False
    autostart: bool = False
    persistent: bool = False


@dataclass
class DomainFacts:
    name: str
    type: str
    autostart: bool = False
    active: bool = False
    persistent: bool = False
    networks: list[str] = field(default_factory=list)


def _prefix(ip_el) -> str:
    addr = ip_el.get("address")
    if ip_el.get("prefix"):
        return f"{addr}/{ip_el.get('prefix')}"
    mask = ip_el.get("netmask")
    if mask:
        bits = sum(bin(int(o)).count("1") for o in mask.split("."))
        return f"{addr}/{bits}"
    return f"{addr}/32"


def network_facts(xml: str, active: bool = False, autostart: bool = False, persistent: bool = False) -> NetworkFacts:
    x = ET.fromstring(xml)
    fwd = x.find("forward")
    br = x.find("bridge")
    addrs = [_prefix(ip) for ip in x.findall("ip") if ip.get("family", "ipv4") == "ipv4" and ip.get("address")]
    return NetworkFacts(
        name=x.findtext("name"), bridge=br.get("name") if br is not None else None,
        forward_mode=(fwd.get("mode") or "nat") if fwd is not None else None,  # <forward/> alone means nat
        addresses=addrs, active=active, autostart=autostart, persistent=persistent,
    )


def domain_facts(xml: str, active: bool = False, autostart: bool = False, persistent: bool = False) -> DomainFacts:
    x = ET.fromstring(xml)
    nets = [i.find("source").get("network") for i in x.findall("devices/interface")
            if i.get("type") == "network" and i.find("source") is not None]
    return DomainFacts(x.findtext("name"), x.get("type"), autostart, active, persistent, nets)


def domain_types(capabilities_xml: str) -> set[str]:
    """The guest domain types of `virsh capabilities` / getCapabilities() (qemu; kvm when KVM is usable)."""
    caps = ET.fromstring(capabilities_xml)
    return {d.get("type") for g in caps.findall("guest") for d in g.findall("arch/domain")}


def describe(nets: dict[str, NetworkFacts]) -> str:
    return ", ".join(f"{n.name} (bridge {n.bridge}, {n.forward_mode or 'isolated'}, "
                     f"{'active' if n.active else 'inactive'}, autostart {'on' if n.autostart else 'off'})"
                     for n in nets.values()) or "no networks"


# --- VIRT-1 / VIRT-2: what is wrong with a network, and what starting it can repair -------------------------------
@dataclass
class NetworkJudgement:
    """`network`: the libvirt network on the bridge (None: none is). `startable`: inactive / not autostarted,
    which `virsh net-start` / `net-autostart` repair. `definition`: what only a change of the network's
    definition repairs (no network on the bridge, wrong forward mode ...), with `remedy`, what to do by hand."""

    network: NetworkFacts | None
    startable: list[str] = field(default_factory=list)
    definition: list[str] = field(default_factory=list)
    remedy: str = ""

    @property
    def problems(self) -> list[str]:
        return self.definition + self.startable


def _state_problems(net: NetworkFacts) -> list[str]:
    return (["inactive"] if not net.active else []) + (["not autostarted"] if not net.autostart else [])


def judge_data_network(nets: dict[str, NetworkFacts], bridge: str) -> NetworkJudgement:
    on_bridge = [n for n in nets.values() if n.bridge == bridge]
    if not on_bridge:
        return NetworkJudgement(None, definition=[
            f"no libvirt network has its bridge named {bridge} (the notes' virbr1 renamed for packstack); "
            f"found {describe(nets)}"], remedy=(
            f"rename the data network's bridge to {bridge} by hand: `virsh net-edit NAME` (<bridge name='{bridge}'/>), "
            f"then `virsh net-destroy NAME && virsh net-start NAME`; the VMs on it lose their network until "
            f"they are restarted, so plan it with them (the fixer does not do this)"))
    net = on_bridge[0]
    j = NetworkJudgement(net, startable=_state_problems(net))
    if not net.persistent:
        j.definition.append("transient (not defined)")
        j.remedy = (f"define it so it survives a restart: `virsh net-dumpxml {net.name} > {net.name}.xml && "
                    f"virsh net-define {net.name}.xml`, then `virsh net-autostart {net.name}`")
    return j


def judge_external_network(nets: dict[str, NetworkFacts], bridge: str, block: str) -> NetworkJudgement:
    on_bridge = [n for n in nets.values() if n.bridge == bridge]
    if not on_bridge:
        return NetworkJudgement(None, definition=[
            f"no libvirt network on bridge {bridge} (the external network); found {describe(nets)}"], remedy=(
            f"define the routed external network on bridge {bridge} for {block} (<forward mode='route'/>, "
            f"<bridge name='{bridge}'/>, its gateway address in {block}) with `virsh net-define`"))
    net = on_bridge[0]
    j = NetworkJudgement(net, startable=_state_problems(net))
    if net.forward_mode != "route":
        j.definition.append(f"forward mode is {net.forward_mode or 'none (isolated)'}, expected route")
    if len(on_bridge) > 1:
        j.definition.append(f"its bridge is shared with {', '.join(n.name for n in on_bridge[1:])}")
    blk = ipaddress.ip_network(block, strict=False)
    if not any(ipaddress.ip_interface(a).network.overlaps(blk) for a in net.addresses):
        j.definition.append(f"its addresses {net.addresses or 'none'} are not in the public block {block}")
    if j.definition:
        j.remedy = (f"change the definition of {net.name} by hand (`virsh net-edit {net.name}`: forward mode route, "
                    f"its own bridge {bridge}, its address in {block}), then restart it with its VMs planned")
    return j


class _Relay:
    """A unix socket on this machine whose connections are piped into exec channels on the host."""

    def __init__(self, transport, command: str = BRIDGE_COMMAND):
        self.transport = transport
        self.command = command
        self.dir = tempfile.mkdtemp(prefix="stackcheck-libvirt-")
        self.path = os.path.join(self.dir, "sock")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        os.chmod(self.path, 0o600)
        self.server.listen(4)
        self.errors: list[str] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True, name="libvirt-relay").start()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            try:
                chan = self.transport.session(self.command)
            except Exception as exc:  # noqa: BLE001 - reported through errors, libvirt sees a closed socket
                self.errors.append(str(exc))
                conn.close()
                continue
            threading.Thread(target=self._pump, args=(conn, chan, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(conn, chan, False), daemon=True).start()

    def _pump(self, conn, chan, to_host: bool):
        try:
            while True:
                if to_host:
                    data = conn.recv(65536)
                    if not data:
                        chan.shutdown_write()
                        return
                    chan.sendall(data)
                else:
                    data = chan.recv(65536)
                    if not data:
                        err = chan.recv_stderr(4096) if chan.recv_stderr_ready() else b""
                        if err:
                            self.errors.append(err.decode(errors="replace").strip())
                        conn.shutdown(socket.SHUT_WR)
                        return
                    conn.sendall(data)
        except OSError:
            return
        finally:
            if not to_host:
                chan.close()
                conn.close()

    def close(self):
        self._stop = True
        try:
            self.server.close()
        finally:
            try:
                os.unlink(self.path)
                os.rmdir(self.dir)
            except OSError:
                pass


class Libvirt:
    """A read-only libvirt connection to the host's system daemon, over the host's SSH transport."""

    def __init__(self, transport):
        import libvirt  # libvirt-python: imported here so the rest of the suite does not need it

        self._libvirt = libvirt
        self.relay = None
        if hasattr(transport, "client"):
            self.relay = _Relay(transport)
            uri = f"qemu+unix:///system?socket={self.relay.path}"
        else:  # a local inventory host: the local daemon
            uri = "qemu:///system"
        libvirt.registerErrorHandler(lambda *_: None, None)  # errors are raised, not printed
        try:
            self.conn = libvirt.openReadOnly(uri)
        except libvirt.libvirtError as exc:
            detail = "; ".join(self.relay.errors) if self.relay and self.relay.errors else ""
            self.close()
            raise CannotCheck(f"could not reach libvirtd on {transport.name} (read-only): {exc}"
                              + (f" ({detail})" if detail else "")) from None

    def alive(self) -> bool:
        """A round trip, not isAlive(): the client only notices a restarted daemon when it next talks to it."""
        try:
            return self.conn is not None and bool(self.conn.getLibVersion())
        except self._libvirt.libvirtError:
            return False

    def networks(self) -> dict[str, NetworkFacts]:
        out = {}
        for net in self.conn.listAllNetworks():
            f = network_facts(net.XMLDesc(0), bool(net.isActive()), bool(net.autostart()), bool(net.isPersistent()))
            out[f.name] = f
        return out

    def domains(self) -> dict[str, DomainFacts]:
        out = {}
        for dom in self.conn.listAllDomains():
            f = domain_facts(dom.XMLDesc(0), bool(dom.isActive()), bool(dom.autostart()), bool(dom.isPersistent()))
            out[f.name] = f
        return out

    def domain_types(self) -> set[str]:
        """Domain types the host's hypervisor offers (kvm when /dev/kvm works)."""
        return domain_types(self.conn.getCapabilities())

    def close(self):
        conn = getattr(self, "conn", None)
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass
            self.conn = None
        if self.relay is not None:
            self.relay.close()
            self.relay = None
