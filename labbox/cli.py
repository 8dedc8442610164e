"""labbox: the lab in a box (see labbox/README.md).

  labbox up                 build what is missing, start and provision every host, wait until ready
  labbox status             hosts and roles: up/down (exit 1 when anything is down)
  labbox exec HOST -- CMD   run CMD inside HOST; output and exit code pass through
  labbox ssh HOST [CMD]     SSH to HOST with the lab key
  labbox restart HOST       throw HOST away and bring it back fresh
  labbox down [--purge]     remove everything labbox made (--purge: the image cache too)
  labbox fleet up N         N light compute hosts beside the lab (inventories/fleet.yaml); fleet down/status
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import sys
import time

from labbox import hosts as hostctl
from labbox import image, inventory, provision
from labbox.sh import LabboxError, parallel, run, say
from labbox.topology import BY_NAME, DEPENDENTS, HOSTS, PHASES, ROLES, STATE, LabHost, host

NEEDS = ("debootstrap", "systemd-nspawn", "nsenter", "ip", "ssh-keygen", "mount")


@contextlib.contextmanager
def exclusive():
    """One labbox up/down/restart at a time on this machine."""
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("another labbox up/down/restart is running; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _preflight() -> None:
    if os.geteuid() != 0:
        raise LabboxError("labbox needs root (network namespaces, mounts, containers)")
    missing = [t for t in NEEDS if shutil.which(t) is None]
    if missing:
        raise LabboxError(f"missing on this machine: {', '.join(missing)} (`make setup` installs them)")


def _boot(h: LabHost) -> None:
    hostctl.host_net_up(h)
    hostctl.mount_root(h)
    provision.prepare(h)
    hostctl.start(h)


def _current(h: LabHost) -> bool:
    """Running, provisioned, and on the image its role asks for now: nothing to do."""
    layer = h.dir / "layer"
    return (hostctl.running(h) and provision.provisioned(h) and layer.exists()
            and layer.read_text() == image.lowerdirs(h.role))


def _discard(h: LabHost) -> None:
    hostctl.stop(h)
    if hostctl.mounted(h.root):
        provision.outside(h, "down")
    hostctl.wipe(h)


def bring_up(names: list[str]) -> None:
    """Build, boot, provision and wait for `names` (hosts already current are left alone)."""
    started = time.monotonic()
    hostctl.bridge_up()  # first: the guard route, before anything talks to the lab
    provision.ensure_key()
    image.ensure_base()
    parallel(image.ensure_layer, sorted({BY_NAME[n].role for n in names}), workers=3)
    todo = [BY_NAME[n] for n in names if not _current(BY_NAME[n])]
    for h in list(todo):
        for dep in DEPENDENTS.get(h.name, ()):
            if BY_NAME[dep] not in todo:
                todo.append(BY_NAME[dep])
                names = names + [dep] if dep not in names else names
    for h in todo:
        if hostctl.running(h) or h.dir.exists():
            say(f"{h.name}: not current (stopped, half-provisioned or on an older image): starting it fresh")
            _discard(h)
    if todo:
        say(f"booting {', '.join(h.name for h in todo)}")
        booting = time.monotonic()  # (not `started`: that includes building the images)
        for h in todo:
            _boot(h)
        parallel(hostctl.wait_booted, todo)
        say(f"booted in {time.monotonic() - booting:.0f} s")
    provision.write_known_hosts()
    failed: dict[str, str] = {}

    def provision_one(h: LabHost) -> None:
        try:
            provision.setup(h)
            provision.wait_ready(h)
        except LabboxError as exc:  # the other hosts go on; this one is retried fresh by the next `up`
            failed[h.name] = str(exc)
            say(f"FAILED {exc}")

    for phase in PHASES:
        batch = [h for h in todo if h.name in phase]
        if batch:
            say(f"provisioning {', '.join(h.name for h in batch)}")
            parallel(provision_one, batch)
    for h in (BY_NAME[n] for n in names if n not in failed):
        try:
            provision.wait_ready(h)
        except LabboxError as exc:
            failed[h.name] = str(exc)
    inventory.write()
    if failed:
        raise LabboxError(f"{len(failed)} host(s) not ready: " + "; ".join(failed.values()))
    say(f"lab ready in {time.monotonic() - started:.0f} s: {len(names)} hosts; inventory {inventory.INVENTORY}")


def cmd_up(args) -> int:
    _preflight()
    with exclusive():
        bring_up([h.name for h in HOSTS])
    return 0


def cmd_restart(args) -> int:
    _preflight()
    h = host(args.host)
    with exclusive():
        say(f"{h.name}: discarding it and starting it fresh")
        _discard(h)
        bring_up([h.name])
    return 0


def cmd_status(args) -> int:
    down = total = 0
    for h in HOSTS:
        if not hostctl.running(h):
            print(f"{h.name:11} {h.ip:12} {h.role:10} down")
            down += 1
            continue
        failing = provision.not_ready(h) if provision.provisioned(h) else ["provisioned"]
        down += bool(failing)
        ready = [s.stem for s in provision.ready_scripts(h) if s.stem not in failing]
        parts = [f"{r}:up" for r in ready] + [f"{f}:down" for f in failing]
        mib = hostctl.memory_mib(h)
        total += mib
        print(f"{h.name:11} {h.ip:12} {h.role:10} running {mib:5} MiB  {' '.join(parts)}")
    print(f"memory of the running hosts (PSS): {total} MiB")
    return 1 if down else 0


def cmd_exec(args) -> int:
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not argv:
        raise LabboxError("usage: labbox exec HOST -- COMMAND [ARGS...]")
    os.execvp("nsenter", hostctl.exec_argv(host(args.host), argv))


def cmd_ssh(args) -> int:
    h = host(args.host)
    argv = ["ssh", "-i", str(provision.KEY), "-o", f"UserKnownHostsFile={provision.KNOWN_HOSTS}",
            "-o", "StrictHostKeyChecking=yes", f"root@{h.ip}", *args.command]
    os.execvp("ssh", argv)


def cmd_down(args) -> int:
    from labbox import fleet

    if fleet.existing():  # everything labbox made: the fleet's hosts run on the base image
        fleet.down()
    with exclusive():
        say("stopping every host")
        parallel(hostctl.stop, HOSTS)
        for h in HOSTS:
            if hostctl.mounted(h.root):
                provision.outside(h, "down")
            hostctl.wipe(h)
        hostctl.network_down()
        inventory.remove()
        # tls: the DB CA; fleet: what is left of a fleet once it is down (its lock file)
        for path in (provision.SECRETS, provision.LOGS, STATE / "hosts", STATE / "tls", fleet.FLEET_STATE):
            shutil.rmtree(path, ignore_errors=True)
        for path in (provision.KEY, provision.KEY.with_suffix(".pub"), provision.KNOWN_HOSTS):
            path.unlink(missing_ok=True)
        if args.purge:
            say(f"removing the image cache {image.IMAGES}")
            shutil.rmtree(STATE, ignore_errors=True)
        else:
            image.prune({image.base_dir()} | {image.layer_dir(r) for r in ROLES})
        say("down: no host, namespace, link, mount or route of the lab is left")
    return 0


def cmd_build(args) -> int:
    _preflight()
    with exclusive():
        image.ensure_base()
        parallel(image.ensure_layer, ROLES, workers=3)
    return 0


def cmd_fleet(args) -> int:
    from labbox import fleet

    if args.action == "status":
        return fleet.status()
    _preflight()
    if args.action == "up":
        if args.n is None:
            raise LabboxError("usage: labbox fleet up N [--boot]")
        fleet.up(args.n, boot=args.boot)
    else:
        fleet.down()
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="labbox", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    sub.add_parser("up", help="build (cached), start and provision every host; wait until ready").set_defaults(fn=cmd_up)
    sub.add_parser("build", help="only build the images (cached)").set_defaults(fn=cmd_build)
    sub.add_parser("status", help="each host and role: up/down").set_defaults(fn=cmd_status)
    p = sub.add_parser("exec", help="run a command inside a host")
    p.add_argument("host")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_exec)
    p = sub.add_parser("ssh", help="SSH to a host with the lab key")
    p.add_argument("host")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_ssh)
    p = sub.add_parser("restart", help="discard a host and bring it back fresh")
    p.add_argument("host")
    p.set_defaults(fn=cmd_restart)
    p = sub.add_parser("down", help="remove everything labbox made")
    p.add_argument("--purge", action="store_true", help="also remove the image cache")
    p.set_defaults(fn=cmd_down)
    p = sub.add_parser("fleet", help="N light compute hosts beside the lab, to measure at scale (labbox/fleet.py)")
    p.add_argument("action", choices=("up", "down", "status"))
    p.add_argument("n", nargs="?", type=int, help="up: how many hosts (1-240)")
    p.add_argument("--boot", action="store_true", help="up: boot systemd in each host (default: sshd alone)")
    p.set_defaults(fn=cmd_fleet)
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except LabboxError as exc:
        print(f"labbox: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labbox: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
