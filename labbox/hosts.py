"""One lab host: its network namespace and veth on the lab bridge, its overlay root, its systemd-nspawn
container (real systemd as PID 1), and the door into it (`exec`: nsenter into every namespace of its PID 1).

Lessons from shared/recipes/lab-hosts, each learned the hard way on these machines:
- PID 1 of this machine is not systemd: nspawn needs --register=no --keep-unit;
- each container must start from its own cgroup (name=systemd and unified), or they share one;
- --network-namespace-path only together with --private-network, or the host gets no CAP_NET_ADMIN;
- the netns is deleted on stop, so a restart is a clean boot (no leftover sysctls, rules, bridges)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from labbox import image
from labbox.sh import LabboxError, ok, run
from labbox.topology import BRIDGE, GUARD, GUARD_METRIC, GW, HOSTS, NET, LabHost

CGROUP_HIERARCHIES = ("systemd", "unified")
ENV = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
       "LANG=C.UTF-8", "TERM=dumb"]


# --- the lab network on this machine ----------------------------------------------------------------------
def guard_up() -> None:
    """Before anything talks to the lab: lab addresses never follow the default route out of this machine."""
    run("ip", "route", "replace", "unreachable", GUARD, "metric", str(GUARD_METRIC))


def bridge_up() -> None:
    guard_up()
    if not ok("ip", "link", "show", BRIDGE):
        run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("sysctl", "-qw", f"net.ipv6.conf.{BRIDGE}.disable_ipv6=1")
    run("ip", "addr", "replace", f"{GW}/24", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")


def network_down() -> None:
    for h in HOSTS:
        run("ip", "link", "del", h.veth, check=False, quiet=True)
        run("ip", "netns", "del", h.netns, check=False, quiet=True)
    run("ip", "link", "del", BRIDGE, check=False, quiet=True)
    while ok("ip", "route", "del", "unreachable", GUARD, "metric", str(GUARD_METRIC)):
        pass


# --- one host ------------------------------------------------------------------------------------------------
def _mac(h: LabHost, side: int) -> str:
    return f"02:5c:{side:02x}:00:00:{int(h.ip.rsplit('.', 1)[1]):02x}"  # fixed: ARP caches stay valid


def host_net_up(h: LabHost) -> None:
    veth_up(h, BRIDGE, _mac(h, 1), _mac(h, 0))
    ns = ["ip", "netns", "exec", h.netns]
    run(*ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
    run("ip", "-n", h.netns, "link", "set", "lo", "up")
    run("ip", "-n", h.netns, "addr", "replace", f"{h.ip}/24", "dev", "eth0")
    run("ip", "-n", h.netns, "link", "set", "eth0", "up")


def veth_up(h, bridge: str, outer_mac: str, inner_mac: str) -> None:
    """`h`'s network namespace (h.netns), and a veth pair from `bridge` into it, named h.veth outside and eth0
    inside (a lab host's or a fleet host's); idempotent."""
    if not Path(f"/run/netns/{h.netns}").exists():
        run("ip", "netns", "add", h.netns)
    if not ok("ip", "link", "show", h.veth):
        run("ip", "link", "add", h.veth, "address", outer_mac, "type", "veth",
            "peer", "name", "eth0", "address", inner_mac, "netns", h.netns)
    run("sysctl", "-qw", f"net.ipv6.conf.{h.veth}.disable_ipv6=1")
    run("ip", "link", "set", h.veth, "master", bridge, "up")


def mounted(path: Path) -> bool:
    return ok("mountpoint", "-q", str(path))


def mount_root(h: LabHost) -> None:
    for d in ("upper", "work", "root"):
        (h.dir / d).mkdir(parents=True, exist_ok=True)
    layer = (h.dir / "layer")
    image.ensure_layer(h.role)  # (cached) the role's package lists may have changed since `up` began
    wanted = image.lowerdirs(h.role)
    if mounted(h.root):
        if layer.exists() and layer.read_text() == wanted:
            return
        raise LabboxError(f"{h.name}: its root is mounted on an older image; `labbox restart {h.name}`")
    run("mount", "-t", "overlay", "overlay", "-o",
        f"lowerdir={wanted},upperdir={h.dir / 'upper'},workdir={h.dir / 'work'}", str(h.root))
    layer.write_text(wanted)


def pid_file(h: LabHost) -> Path:
    return h.dir / "nspawn.pid"


def nspawn_pid(h: LabHost) -> int | None:
    try:
        pid = int(pid_file(h).read_text())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if b"systemd-nspawn" in cmdline and h.machine.encode() in cmdline else None


def leader(h: LabHost) -> int | None:
    """PID (on this machine) of the host's PID 1: the child of its nspawn."""
    pid = nspawn_pid(h)
    if pid is None:
        return None
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def running(h: LabHost) -> bool:
    return leader(h) is not None


def start(h: LabHost) -> None:
    """Boot the host (its network and root must be ready). Returns at once; see wait_booted."""
    if running(h):
        return
    log = open(h.dir / "console.log", "ab")
    for c in CGROUP_HIERARCHIES:
        Path(f"/sys/fs/cgroup/{c}/{h.machine}").mkdir(exist_ok=True)
    script = (f"echo $$ > /sys/fs/cgroup/systemd/{h.machine}/cgroup.procs && "
              f"echo $$ > /sys/fs/cgroup/unified/{h.machine}/cgroup.procs && "
              f"exec systemd-nspawn -q -b -D {h.root} -M {h.machine} --register=no --keep-unit "
              f"--network-namespace-path=/run/netns/{h.netns} --private-network "
              f"--resolv-conf=off --timezone=off --link-journal=no --console=read-only")
    proc = subprocess.Popen(["sh", "-c", script], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)
    pid_file(h).write_text(str(proc.pid))


def exec_argv(h: LabHost, argv: list[str]) -> list[str]:
    pid = leader(h)
    if pid is None:
        raise LabboxError(f"{h.name} is not running (`labbox up`)")
    return ["nsenter", "-t", str(pid), "-a", *ENV, *argv]


def sh(h: LabHost, command: str, check: bool = True, timeout: float | None = 120, log=None):
    """Run a shell command inside the host."""
    return run(*exec_argv(h, ["sh", "-c", command]), check=check, quiet=False, log=log, timeout=timeout)


def wait_booted(h: LabHost, timeout: float = 90) -> None:
    """Until systemd inside says the boot is over and sshd answers with its banner."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        if leader(h) is None:
            if nspawn_pid(h) is None:
                raise LabboxError(f"{h.name} stopped while booting; see {h.dir / 'console.log'}")
            time.sleep(0.1)
            continue
        proc = subprocess.run(exec_argv(h, ["systemctl", "is-system-running"]), capture_output=True, text=True)
        state = proc.stdout.strip()
        if state in ("running", "degraded") and _ssh_banner(h.ip):
            return
        time.sleep(0.2)
    raise LabboxError(f"{h.name} did not finish booting within {timeout:.0f} s (systemd: {state or '?'}); "
                      f"see {h.dir / 'console.log'}")


def _ssh_banner(ip: str) -> bool:
    import socket
    try:
        with socket.create_connection((ip, 22), timeout=0.5) as s:
            s.settimeout(1)
            return s.recv(8).startswith(b"SSH-")
    except OSError:
        return False


def stop(h: LabHost, timeout: float = 15) -> None:
    pid = nspawn_pid(h)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)  # nspawn turns it into a clean poweroff of the container
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and nspawn_pid(h) is not None:
            time.sleep(0.1)
        if nspawn_pid(h) is not None:
            inner = leader(h)
            if inner:
                os.kill(inner, signal.SIGKILL)
            time.sleep(0.5)
            if nspawn_pid(h) is not None:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
    pid_file(h).unlink(missing_ok=True)
    _kill_leftovers(h)
    for c in CGROUP_HIERARCHIES:
        base = Path(f"/sys/fs/cgroup/{c}/{h.machine}")
        if base.exists():
            for d in sorted((p for p in base.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                try:
                    d.rmdir()
                except OSError:
                    pass
            try:
                base.rmdir()
            except OSError:
                pass
    try:
        Path(f"/run/systemd/nspawn/propagate/{h.machine}").rmdir()
    except OSError:
        pass
    run("ip", "link", "del", h.veth, check=False, quiet=True)
    run("ip", "netns", "del", h.netns, check=False, quiet=True)


def _cgroup_pids(h: LabHost) -> list[int]:
    base = Path(f"/sys/fs/cgroup/unified/{h.machine}")
    pids: list[int] = []
    for procs in base.rglob("cgroup.procs") if base.exists() else ():
        try:
            pids += [int(p) for p in procs.read_text().split() if int(p) > 0]
        except (OSError, ValueError):
            pass
    return pids


def _kill_leftovers(h: LabHost) -> None:
    """Processes of the host still alive after its nspawn is gone (e.g. nspawn was killed with the session
    that started it): they are ours, all in the host's own cgroup; end them so nothing holds its root."""
    for _ in range(50):
        pids = _cgroup_pids(h)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def memory_mib(h: LabHost) -> int:
    """Proportional set size (PSS) of every process of the host: what it really costs this machine."""
    kib = 0
    for pid in _cgroup_pids(h):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    kib += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return kib // 1024


def unmount_root(h: LabHost) -> None:
    if mounted(h.root):
        run("umount", str(h.root), check=False, quiet=True)
        if mounted(h.root):
            run("umount", "-l", str(h.root))


def wipe(h: LabHost) -> None:
    """Forget the host's own changes (its overlay upper dir)."""
    unmount_root(h)
    shutil.rmtree(h.dir, ignore_errors=True)
