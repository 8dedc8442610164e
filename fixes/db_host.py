"""DBH fixers: the swap file and its fstab line, the data volume's fstab line, the Galera ports in the firewall,
SELinux back to enforcing, EPEL disabled. Each edits files through the engine (diff, backup, re-check)."""
from __future__ import annotations

import re
import shlex

from fixes import firewall
from stackcheck.fixing import FixDeclined, fixer
from stackcheck.probes import batch, dbhost, ini
from stackcheck.probes import iptables as ipt
from stackcheck.probes.galera import node_addresses

FSTAB = "/etc/fstab"
RULE_COMMENT = "stackcheck DBH-3 galera ports"
SAVED_RULES = ("/etc/iptables/rules.v4", "/etc/sysconfig/iptables")


def _fstab_with(ctx, line_for, new_line: str) -> str:
    text = ctx.read(FSTAB) or ""
    entry = line_for(dbhost.parse_fstab(text))
    if entry is None:
        return text + ("" if not text or text.endswith("\n") else "\n") + new_line + "\n"
    return dbhost.set_fstab_fields(text, entry.line, new_line)


def _prepare_swapfile(ctx, path: str) -> dbhost.SwapFile:
    sf = dbhost.parse_swapfile(batch.run(ctx.transport, dbhost.swapfile_command(path)), path)
    q = shlex.quote(path)
    if not sf.exists:
        ctx.command(f"fallocate -l 1G {q} && chmod 600 {q} && mkswap {q} >/dev/null", undo=f"rm -f {q}",
                    description=f"create the 1 GiB swap file {path} (mode 0600, mkswap)")
    else:
        if sf.mode != "600" or sf.owner != "root":
            ctx.command(f"chown root {q} && chmod 600 {q}", undo=f"chown {sf.owner} {q} && chmod {sf.mode} {q}")
        if not sf.signature and path not in sf.active:
            ctx.command(f"mkswap {q} >/dev/null")
    line = f"{path} none swap defaults 0 0"
    if sf.fstab is None or sf.fstab.text != line:
        ctx.edit(FSTAB, _fstab_with(ctx, lambda es: next((e for e in reversed(es) if e.spec == path), None), line))
    return sf


@fixer("DBH-1", risk="config", checks=["test_swapfile_prepared_and_in_fstab"], roles=["dbnode"])
def prepare_swapfile(ctx):
    """Create the swap file (1 GiB, mode 0600, mkswap) and its /etc/fstab line."""
    _prepare_swapfile(ctx, ctx.lab.get("db.swapfile"))


@fixer("DBH-1", risk="config", checks=["test_swap_active"], roles=["dbnode"])
def activate_swapfile(ctx):
    """Prepare the swap file if needed and turn it on (swapon)."""
    path = ctx.lab.get("db.swapfile")
    sf = _prepare_swapfile(ctx, path)
    if path not in sf.active:
        ctx.command(f"swapon {shlex.quote(path)}", undo=f"swapoff {shlex.quote(path)}")


@fixer("DBH-2", risk="config", checks=["test_datadir_on_own_ext4_volume"], roles=["dbnode"])
def datadir_volume_fstab_line(ctx):
    """Write the data volume's /etc/fstab line (`<device> /var/lib/mysql ext4 defaults 0 2`) when the volume is
    mounted but its line is missing or wrong (mounting, moving data or the datadir are left to the operator)."""
    mount, datadir = ctx.lab.get("db.mount").rstrip("/"), ctx.lab.get("db.datadir").rstrip("/")
    volume = dbhost.parse_volume(batch.run(ctx.transport, dbhost.volume_command(mount, datadir)), datadir)
    mnt = volume.mount
    if mnt.get("TARGET") != mount or mnt.get("FSTYPE") != "ext4":
        raise FixDeclined(f"{mount} is not a mounted ext4 volume: moving the data directory to its own volume is "
                          "left to the operator")
    entry = dbhost.fstab_line_for(volume.fstab, mount)
    if not dbhost.volume_fstab_problems(entry, mount):
        return
    spec = entry.spec if entry else None
    if spec is None:
        # blkid exits 2 when the device has no UUID (a loop file, a tmpfs): then the device path is written
        uuid = ctx.run(f"blkid -s UUID -o value {shlex.quote(mnt.get('SOURCE', ''))}").output(
            f"the UUID of {mnt.get('SOURCE')}", ok=(0, 2)).strip()
        spec = f"UUID={uuid}" if uuid else mnt.get("SOURCE")
    ctx.edit(FSTAB, _fstab_with(ctx, lambda es: dbhost.fstab_line_for(es, mount), f"{spec} {mount} ext4 defaults 0 2"))


@fixer("DBH-3", risk="access", checks=["test_galera_ports_reachable_from_other_nodes"], roles=["dbnode"])
def open_galera_ports(ctx):
    """Accept the Galera ports (873, 3306, 4444, 4567, 4568) from the other DB nodes in the firewall.

    firewalld when it runs, else iptables: the running rules, and the saved rules file when there is one, judged
    by the one firewall evaluator: declined when a rule may match only part of that traffic. Risk `access`: it
    lets in sources the firewall refused until now (firewalld's zone port: any source), so it runs only with
    --fix-access."""
    ports = ",".join(str(p) for p in dbhost.GALERA_PORTS)
    me = str(ctx.target.vars.get("wsrep_node_address") or ctx.target.address)
    peers = [a for a in node_addresses(ctx.lab) if a != me]
    if ctx.run("systemctl is-active -q firewalld").ok:
        zone_ports = firewall.output(ctx, "firewall-cmd --list-ports", "firewalld's open ports").split()
        missing = [f"{p}/tcp" for p in dbhost.GALERA_PORTS if f"{p}/tcp" not in zone_ports]
        for p in missing:
            ctx.command(f"firewall-cmd --permanent --add-port={p} && firewall-cmd --add-port={p}",
                        undo=f"firewall-cmd --permanent --remove-port={p} && firewall-cmd --remove-port={p}")
        return
    interfaces = firewall.interfaces(ctx)
    traffics = [ipt.Traffic(p, sources=tuple(peers), interfaces=interfaces) for p in dbhost.GALERA_PORTS]
    rule = (f"-s {','.join(peers)} -p tcp -m multiport --dports {ports} "
            f"-m comment --comment {shlex.quote(RULE_COMMENT)} -j ACCEPT")
    opened = firewall.open_running(ctx, firewall.running_rules(ctx), traffics, rule,
                                   f"the running firewall of {ctx.target}",
                                   what=f"iptables: accept TCP {ports} from {','.join(peers)}")
    for saved in SAVED_RULES:  # persisted through the engine: diff, backup, iptables-restore --test, undo
        text = ctx.read(saved)
        if text is not None:
            opened = firewall.open_in_file(ctx, saved, text, traffics, rule) or opened
            break
    if not opened:
        raise FixDeclined(f"the firewall of {ctx.target} accepts TCP {ports} from {', '.join(peers)}: what blocks "
                          "them is outside this host (a security group, a firewall on the way) or no server answers")


@fixer("DBH-4", risk="config", checks=["test_selinux_enforcing"], roles=["dbnode"])
def selinux_enforcing(ctx):
    """Put SELinux back to enforcing now (setenforce 1) and at boot (/etc/selinux/config)."""
    running, boot = dbhost.parse_selinux(batch.run(ctx.transport, dbhost.selinux_command()))
    if running is None and boot is None:
        return
    if boot not in (None, "Enforcing"):
        text = ctx.read("/etc/selinux/config") or ""
        ctx.edit("/etc/selinux/config", re.sub(r"(?m)^\s*SELINUX\s*=.*$", "SELINUX=enforcing", text))
    if running == "Permissive":
        ctx.command("setenforce 1", undo="setenforce 0")


@fixer("DBH-5", risk="config", checks=["test_socat_installed_no_epel"], roles=["dbnode"])
def socat_and_no_epel(ctx):
    """Disable every EPEL repository (enabled=0; the repo files stay) and install socat from the base repos."""
    files = dbhost.parse_repos(batch.run(ctx.transport, dbhost.repos_command()))
    by_file: dict[str, list[str]] = {}
    for path, section in dbhost.enabled_epel_repos(files):
        by_file.setdefault(path, []).append(section)
    for path, sections in by_file.items():
        text = files[path]
        for section in sections:
            text = ini.set_value(text, section, "enabled", "0")
        ctx.edit(path, text)
    if not ctx.run("command -v socat").ok:
        ctx.command("if command -v yum >/dev/null; then yum install -y socat; else "
                    "DEBIAN_FRONTEND=noninteractive apt-get install -y socat; fi",
                    description="install socat from the distribution's base repository")
