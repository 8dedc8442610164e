"""A fleet of light compute hosts beside the lab in a box, to measure the suite at scale (`labbox fleet up N`).

A fleet host is the base image only (sshd, sudo, the user ops; no role layer, no provisioning), on an overlay of
its own, in a network namespace of its own on a bridge of its own (sc-fbr0, 198.18.1.0/24: never the lab's
198.18.0.0/24, which other people test on), behind the same guard route as the lab. By default it runs sshd
alone under systemd-nspawn (no booted systemd): the 12 host checks of the benches judge it as they judge a
booted host (the README's "Fleet scale" section has the measurement), at a fraction of the memory and start
time. `--boot` boots systemd as the lab does, to compare.

The fleet writes inventories/fleet.yaml (its hosts as compute hosts, the lab key, a known hosts file of the
fleet's own host keys: keys are verified as for the lab) and removes it on `labbox fleet down`."""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from labbox import hosts as hostctl
from labbox import image, provision
from labbox.sh import LabboxError, ok, parallel, run, say
from labbox.topology import BRIDGE as LAB_BRIDGE
from labbox.topology import GUARD, GUARD_METRIC, PREFIX, REPO, STATE

FLEET_STATE = STATE / "fleet"
BRIDGE = f"{PREFIX}fbr0"
NET = "198.18.1.0/24"  # inside the guard route 198.18.0.0/15, beside the lab's 198.18.0.0/24
GW = "198.18.1.1"
FIRST_OCTET = 10  # host i (1-based) is 198.18.1.(10 + i)
MAX_HOSTS = 240
INVENTORY = REPO / "inventories" / "fleet.yaml"
KNOWN_HOSTS = FLEET_STATE / "known_hosts"
MODE_FILE = FLEET_STATE / "mode"
# sshd alone, without systemd: its privilege separation directory is on the tmpfs nspawn mounts on /run
SSHD_ONLY = "mkdir -p -m 0755 /run/sshd && exec /usr/sbin/sshd -D -e"
START_WORKERS = 8  # nspawns started at once: more only queue on the 2 cores


@dataclass(frozen=True)
class FleetHost:
    """Quacks like topology.LabHost where labbox.hosts needs it (stop, memory, wipe, leader)."""

    index: int

    @property
    def name(self) -> str:
        return f"fleet{self.index:03d}"

    @property
    def ip(self) -> str:
        return f"198.18.1.{FIRST_OCTET + self.index}"

    @property
    def role(self) -> str:
        return "compute"

    @property
    def netns(self) -> str:
        return f"{PREFIX}f-{self.name}"

    @property
    def veth(self) -> str:
        return f"{PREFIX}fv-{self.index:03d}"  # at most 15 characters: sc-fv-128

    @property
    def machine(self) -> str:
        return f"{PREFIX}f-{self.name}"

    @property
    def dir(self) -> Path:
        return FLEET_STATE / "hosts" / self.name

    @property
    def root(self) -> Path:
        return self.dir / "root"


def fleet_hosts(n: int) -> list[FleetHost]:
    if not 1 <= n <= MAX_HOSTS:
        raise LabboxError(f"a fleet has 1 to {MAX_HOSTS} hosts (one /24 beside the lab), not {n}")
    return [FleetHost(i) for i in range(1, n + 1)]


def existing() -> list[FleetHost]:
    """The fleet hosts this machine has now (their state directories)."""
    base = FLEET_STATE / "hosts"
    names = sorted(p.name for p in base.iterdir() if p.name.startswith("fleet")) if base.exists() else []
    return [FleetHost(int(name[len("fleet"):])) for name in names]


@contextlib.contextmanager
def exclusive():
    """One fleet up/down at a time (the lab's own lock is not taken: the fleet never touches the lab)."""
    FLEET_STATE.mkdir(parents=True, exist_ok=True)
    with open(FLEET_STATE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# --- network ---------------------------------------------------------------------------------------------------
def bridge_up() -> None:
    hostctl.guard_up()  # the lab's guard route (idempotent): fleet addresses never leave this machine
    if not ok("ip", "link", "show", BRIDGE):
        run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("sysctl", "-qw", f"net.ipv6.conf.{BRIDGE}.disable_ipv6=1")
    run("ip", "addr", "replace", f"{GW}/24", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")


def _mac(h: FleetHost, side: int) -> str:
    return f"02:5f:{side:02x}:00:{h.index >> 8:02x}:{h.index & 0xff:02x}"


def host_net_up(h: FleetHost) -> None:
    hostctl.veth_up(h, BRIDGE, _mac(h, 1), _mac(h, 0))
    run("ip", "-n", h.netns, "link", "set", "lo", "up")
    run("ip", "-n", h.netns, "addr", "replace", f"{h.ip}/24", "dev", "eth0")
    run("ip", "-n", h.netns, "link", "set", "eth0", "up")


def network_down() -> None:
    run("ip", "link", "del", BRIDGE, check=False, quiet=True)
    if not ok("ip", "link", "show", LAB_BRIDGE):  # the guard route is the lab's too: only when no lab is left
        while ok("ip", "route", "del", "unreachable", GUARD, "metric", str(GUARD_METRIC)):
            pass


# --- one host --------------------------------------------------------------------------------------------------
def mount_root(h: FleetHost) -> None:
    for d in ("upper", "work", "root"):
        (h.dir / d).mkdir(parents=True, exist_ok=True)
    if not hostctl.mounted(h.root):
        run("mount", "-t", "overlay", "overlay", "-o",
            f"lowerdir={image.base_dir()},upperdir={h.dir / 'upper'},workdir={h.dir / 'work'}", str(h.root))


def prepare(h: FleetHost) -> None:
    """Hostname, its own host key (ed25519 only: the one key type every client here uses), the lab key for root
    and ops, and an /etc/hosts of the fleet."""
    root = h.root
    (root / "etc/hostname").write_text(h.name + "\n")
    key = root / "etc/ssh/ssh_host_ed25519_key"
    if not key.exists():
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{h.name}", "-f", str(key))
    (root / "etc/ssh/sshd_config.d/labbox-fleet.conf").write_text("HostKey /etc/ssh/ssh_host_ed25519_key\n")
    ssh = root / "root/.ssh"
    ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    (ssh / "authorized_keys").write_text(Path(f"{provision.KEY}.pub").read_text())
    os.chmod(ssh / "authorized_keys", 0o600)
    provision._authorize_ops(root)
    (root / "etc/hosts").write_text(f"127.0.0.1\tlocalhost\n{h.ip}\t{h.name}\n")


def start(h: FleetHost, boot: bool) -> None:
    """Start the host in its own cgroup (so its memory can be read and its leftovers ended, as for the lab)."""
    if hostctl.running(h):
        return
    for c in hostctl.CGROUP_HIERARCHIES:
        Path(f"/sys/fs/cgroup/{c}/{h.machine}").mkdir(exist_ok=True)
    what = "-b" if boot else f"--as-pid2 /bin/sh -c '{SSHD_ONLY}'"
    script = (f"echo $$ > /sys/fs/cgroup/systemd/{h.machine}/cgroup.procs && "
              f"echo $$ > /sys/fs/cgroup/unified/{h.machine}/cgroup.procs && "
              f"exec systemd-nspawn -q -D {h.root} -M {h.machine} --hostname={h.name} --register=no --keep-unit "
              f"--network-namespace-path=/run/netns/{h.netns} --private-network "
              f"--resolv-conf=off --timezone=off --link-journal=no --console=read-only {what}")
    log = open(h.dir / "console.log", "ab")
    proc = subprocess.Popen(["sh", "-c", script], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)
    hostctl.pid_file(h).write_text(str(proc.pid))


def wait_sshd(h: FleetHost, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hostctl.nspawn_pid(h) is None and not _still_there(h):
            raise LabboxError(f"{h.name} stopped while starting; see {h.dir / 'console.log'}")
        if hostctl._ssh_banner(h.ip):
            return
        time.sleep(0.1)
    raise LabboxError(f"{h.name}: sshd did not answer within {timeout:.0f} s; see {h.dir / 'console.log'}")


def _still_there(h: FleetHost) -> bool:
    """A second look: while its shell execs nspawn, /proc/PID/cmdline can read empty for a moment."""
    time.sleep(0.3)
    return hostctl.nspawn_pid(h) is not None


def bring_up_one(h: FleetHost, boot: bool) -> float:
    """Start one host and wait for its sshd; returns the seconds it took."""
    started = time.monotonic()
    host_net_up(h)
    mount_root(h)
    prepare(h)
    start(h, boot)
    if boot:
        hostctl.wait_booted(h)  # the whole boot: its memory and time are what a booted host costs
    else:
        wait_sshd(h)
    return time.monotonic() - started


def discard(h: FleetHost) -> None:
    hostctl.stop(h)
    hostctl.wipe(h)


# --- inventory -------------------------------------------------------------------------------------------------
def known_host_line(h: FleetHost) -> str:
    return f"{h.ip} " + " ".join((h.root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()[:2]) + "\n"


def inventory(hosts: list[FleetHost]) -> dict:
    return {"all": {"vars": {"ansible_user": "root", "ansible_ssh_private_key_file": str(provision.KEY),
                             "stackcheck_known_hosts": str(KNOWN_HOSTS)},
                    "children": {"compute": {"hosts": {h.name: {"ansible_host": h.ip} for h in hosts}}}}}


def write_inventory(hosts: list[FleetHost]) -> None:
    KNOWN_HOSTS.write_text("".join(known_host_line(h) for h in hosts))
    INVENTORY.parent.mkdir(exist_ok=True)
    INVENTORY.write_text("# Written by `labbox fleet up` for the running fleet; `labbox fleet down` removes it.\n"
                         + yaml.safe_dump(inventory(hosts), sort_keys=False))


# --- commands --------------------------------------------------------------------------------------------------
def up(n: int, boot: bool = False) -> None:
    wanted = fleet_hosts(n)
    mode = "booted" if boot else "sshd-only"
    with exclusive():
        if MODE_FILE.exists() and MODE_FILE.read_text().strip() != mode and existing():
            say(f"the fleet runs {MODE_FILE.read_text().strip()}, {mode} asked: starting it afresh")
            parallel(discard, existing(), START_WORKERS)
        extra = [h for h in existing() if h.index > n]
        if extra:
            say(f"removing {len(extra)} host(s) beyond {n}")
            parallel(discard, extra, START_WORKERS)
        bridge_up()
        provision.ensure_key()
        image.ensure_base()
        MODE_FILE.write_text(mode + "\n")
        todo = [h for h in wanted if not hostctl.running(h)]
        say(f"fleet: starting {len(todo)} light host(s) ({mode}) on {BRIDGE} {NET}"
            + (f"; {n - len(todo)} already running" if len(todo) < n else ""))
        started = time.monotonic()
        try:
            took = parallel(lambda h: bring_up_one(h, boot), todo, START_WORKERS)
        finally:  # even when one failed: the known hosts must match the keys of the hosts now running
            write_inventory([h for h in wanted if (h.root / "etc/ssh/ssh_host_ed25519_key.pub").exists()])
        wall = time.monotonic() - started
        if todo:
            say(f"started {len(todo)} in {wall:.1f} s ({wall / len(todo):.2f} s per host of wall time; each host "
                f"{min(took):.1f}-{max(took):.1f} s from start to sshd's banner, median "
                f"{sorted(took)[len(took) // 2]:.1f} s, {START_WORKERS} at a time)")
        _print_memory(wanted)
        say(f"inventory {INVENTORY}")


def _print_memory(hosts: list[FleetHost]) -> None:
    mib = [_pss_kib(h) / 1024 for h in hosts]
    total = sum(mib)
    say(f"memory (PSS): {total:.0f} MiB for {len(hosts)} host(s), {total / max(1, len(hosts)):.1f} MiB per host")


def _pss_kib(h: FleetHost) -> int:
    kib = 0
    for pid in hostctl._cgroup_pids(h):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    kib += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return kib


def down() -> None:
    with exclusive():
        hosts = existing()
        say(f"fleet: removing {len(hosts)} host(s)")
        parallel(discard, hosts, START_WORKERS)
        network_down()
        INVENTORY.unlink(missing_ok=True)
        shutil.rmtree(FLEET_STATE / "hosts", ignore_errors=True)
        KNOWN_HOSTS.unlink(missing_ok=True)
        MODE_FILE.unlink(missing_ok=True)
        say("fleet down: no host, namespace, link or mount of the fleet is left")


def status() -> int:
    """Each fleet host: running or not, its PSS; exit 1 when any is down (or there is no fleet)."""
    hosts = existing()
    if not hosts:
        print("no fleet (`labbox fleet up N`)")
        return 1
    mode = MODE_FILE.read_text().strip() if MODE_FILE.exists() else "?"
    down_count, total = 0, 0
    for h in hosts:
        up_now = hostctl.running(h)
        down_count += not up_now
        kib = _pss_kib(h) if up_now else 0
        total += kib
        print(f"{h.name:9} {h.ip:13} {'running' if up_now else 'down':8} {kib / 1024:6.1f} MiB")
    print(f"{len(hosts) - down_count}/{len(hosts)} running ({mode}); memory (PSS): {total / 1024:.0f} MiB, "
          f"{total / 1024 / len(hosts):.1f} MiB per host")
    return 1 if down_count else 0
