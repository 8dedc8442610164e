"""The images the hosts boot from: one debootstrap'd Debian base, and one layer per role on top of it.

A layer is the upper dir of an overlay on the base, filled by `apt-get install` in a chroot (a policy-rc.d
keeps every service from starting on this machine). A host's root is an overlay of its own upper dir on
role layer + base. Images are cached under STATE/images by a hash of their inputs (package lists, this
file): a rebuild happens only when an input changes."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
from pathlib import Path

from labbox.sh import LabboxError, run, say
from labbox.topology import ROLES_DIR, STATE

SUITE = "bookworm"
BASE_PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "iptables", "arptables", "ebtables",
    "bridge-utils", "procps", "iputils-ping", "netbase", "kmod", "less", "python3", "curl", "ca-certificates",
    "netcat-openbsd", "lsof", "psmisc", "sudo",
]
# The unprivileged login the suite proves it can run as (plain, and with sudo: `ansible_become`).
OPS_USER = "ops"
# Timers that would wake up in every host for nothing (and show up in memory and CPU figures).
QUIET_TIMERS = ["apt-daily-upgrade", "apt-daily", "dpkg-db-backup", "e2scrub_all", "fstrim"]
IMAGES = STATE / "images"
LAYER_MOUNT_OPTS = "metacopy=off,redirect_dir=off"  # a layer's upper dir must stand alone as a lower layer


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def base_key() -> str:
    return _digest(SUITE, " ".join(BASE_PACKAGES), " ".join(QUIET_TIMERS), OPS_USER, "v2")


def role_packages(role: str) -> list[str]:
    pkgs: list[str] = []
    for f in sorted((ROLES_DIR / role).glob("*.packages")):
        for line in f.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            pkgs += line.split()
    return sorted(set(pkgs))


def layer_key(role: str) -> str:
    return _digest(base_key(), role, " ".join(role_packages(role)))


def base_dir() -> Path:
    return IMAGES / f"base-{base_key()}"


def layer_dir(role: str) -> Path:
    return IMAGES / f"{role}-{layer_key(role)}"


def lowerdirs(role: str) -> str:
    """The overlay lowerdir option for a host of `role` (leftmost is on top)."""
    layer = layer_dir(role) / "upper"
    return f"{layer}:{base_dir()}" if role_packages(role) else str(base_dir())


@contextlib.contextmanager
def _build_lock(name: str):
    IMAGES.mkdir(parents=True, exist_ok=True)
    with open(IMAGES / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _mirror() -> str:
    """The same Debian mirror this machine's apt uses."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    listing = Path("/etc/apt/sources.list")
    if listing.exists():
        for line in listing.read_text().splitlines():
            if line.startswith("deb "):
                return line.split()[1]
    return "http://deb.debian.org/debian"


def ensure_base() -> Path:
    target = base_dir()
    with _build_lock("base"):
        if (target / ".complete").exists():
            return target
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        say(f"building the base image ({SUITE}, debootstrap; once, ~1 min) -> {target}")
        log = STATE / "logs" / "build-base.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as out:
            run("debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE, str(tmp),
                _mirror(), log=out)
        run("chroot", str(tmp), "apt-get", "clean")
        for key in tmp.glob("etc/ssh/ssh_host_*"):
            key.unlink()  # per-host keys are made in each host's overlay
        (tmp / "etc/machine-id").write_text("")
        (tmp / "etc/default/locale").write_text("LANG=C.UTF-8\n")
        (tmp / "etc/resolv.conf").write_text("# labbox: no DNS, every lab name is in /etc/hosts\n")
        for timer in QUIET_TIMERS:
            (tmp / f"etc/systemd/system/timers.target.wants/{timer}.timer").unlink(missing_ok=True)
        # journald: keep logs in memory only, small (eight hosts share one disk and 2 cores)
        conf = tmp / "etc/systemd/journald.conf.d"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "labbox.conf").write_text("[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\n")
        _add_ops_user(tmp)
        (tmp / ".complete").write_text(base_key() + "\n")
        tmp.rename(target)
        return target


def _add_ops_user(root: Path) -> None:
    """A plain user, as sites that forbid root logins have, allowed `sudo` without a password
    (`sudo -n` must never prompt). Its authorized key is written per host by provision.prepare."""
    run("chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash", OPS_USER)
    rule = root / f"etc/sudoers.d/{OPS_USER}"
    rule.write_text(f"{OPS_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n")
    rule.chmod(0o440)


@contextlib.contextmanager
def chroot_on(lower: str, upper: Path, work: Path, merged: Path):
    """An overlay mounted at `merged`, prepared for apt in a chroot; unmounted on exit."""
    for d in (upper, work, merged):
        d.mkdir(parents=True, exist_ok=True)
    run("mount", "-t", "overlay", "overlay", "-o",
        f"lowerdir={lower},upperdir={upper},workdir={work},{LAYER_MOUNT_OPTS}", str(merged))
    mounted = [merged]
    try:
        policy = merged / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\n# labbox: never start a service while building an image\nexit 101\n")
        policy.chmod(0o755)
        for sub, args in (("proc", ("-t", "proc", "proc")), ("dev/pts", ("-t", "devpts", "devpts"))):
            run("mount", *args, str(merged / sub))
            mounted.append(merged / sub)
        resolv = merged / "etc/resolv.conf"
        run("mount", "--bind", "/etc/resolv.conf", str(resolv))
        mounted.append(resolv)
        yield merged
    finally:
        for m in reversed(mounted):
            run("umount", "-l", str(m), check=False, quiet=True)
    (upper / "usr/sbin/policy-rc.d").unlink(missing_ok=True)


def ensure_layer(role: str) -> Path | None:
    packages = role_packages(role)
    if not packages:
        return None
    target = layer_dir(role)
    with _build_lock(role):
        if (target / ".complete").exists():
            return target
        base = ensure_base()
        shutil.rmtree(target, ignore_errors=True)
        say(f"building the {role} layer ({len(packages)} packages) -> {target}")
        log = STATE / "logs" / f"build-{role}.log"
        with open(log, "w") as out, chroot_on(str(base), target / "upper", target / "work", target / "merged") as m:
            env = ["env", "DEBIAN_FRONTEND=noninteractive", "LANG=C.UTF-8", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
            try:
                run("chroot", str(m), *env, "apt-get", "-q", "-o", "DPkg::Lock::Timeout=600", "install", "-y",
                    "--no-install-recommends", *packages, log=out)
            except LabboxError:
                # the base's package lists may be older than the mirror: refresh once and try again
                run("chroot", str(m), *env, "apt-get", "-q", "update", log=out)
                run("chroot", str(m), *env, "apt-get", "-q", "-o", "DPkg::Lock::Timeout=600", "install", "-y",
                    "--no-install-recommends", *packages, log=out)
            run("chroot", str(m), "apt-get", "clean", log=out)
        shutil.rmtree(target / "work", ignore_errors=True)
        (target / "merged").rmdir()
        (target / ".complete").write_text(" ".join(packages) + "\n")
        return target


def prune(keep: set[Path]) -> None:
    """Remove cached images that no current input names (old package lists)."""
    if not IMAGES.exists():
        return
    for d in IMAGES.iterdir():
        if d.is_dir() and d not in keep and not d.name.endswith(".tmp"):
            shutil.rmtree(d, ignore_errors=True)
