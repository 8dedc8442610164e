"""DBH: each DB node's host preparation (swap, the data volume, the Galera ports, SELinux, packages and repos)."""
from __future__ import annotations

import pytest

from stackcheck.probes import batch, dbhost
from stackcheck.verdicts import CannotCheck, NotApplicable


# --- DBH-1 --------------------------------------------------------------------------------------------------------
@pytest.mark.requirement("DBH-1")
@pytest.mark.role("dbnode")
@pytest.mark.severity("medium")
def test_swapfile_prepared_and_in_fstab(transport, lab, target, evidence):
    path = lab.get("db.swapfile")
    sf = dbhost.parse_swapfile(batch.run(transport, dbhost.swapfile_command(path)), path)
    evidence["swapfile"] = f"{path} mode 0{sf.mode} owner {sf.owner} size {sf.size} signature {sf.signature}" \
        if sf.exists else f"{path} missing"
    evidence["fstab"] = sf.fstab.text if sf.fstab else None
    problems = dbhost.swapfile_problems(sf, path)
    assert not problems, f"{target.name}: " + "; ".join(problems)


@pytest.mark.requirement("DBH-1")
@pytest.mark.role("dbnode")
@pytest.mark.severity("medium")
def test_swap_active(transport, lab, target, evidence):
    path = lab.get("db.swapfile")
    active = dbhost.parse_proc_swaps(transport.run("cat /proc/swaps").output("/proc/swaps"))
    evidence["active_swap"] = ", ".join(active) or "none"
    assert active, f"{target.name}: no swap is active (/proc/swaps is empty); expected {path}"
    assert path in active, f"{target.name}: active swap is {', '.join(active)}, not {path}"


# --- DBH-2 --------------------------------------------------------------------------------------------------------
@pytest.mark.requirement("DBH-2")
@pytest.mark.role("dbnode")
@pytest.mark.severity("high")
def test_datadir_on_own_ext4_volume(transport, db, lab, target, evidence):
    mount, datadir = lab.get("db.mount").rstrip("/"), lab.get("db.datadir").rstrip("/")
    volume = dbhost.parse_volume(batch.run(transport, dbhost.volume_command(mount, datadir)), datadir)
    mnt = volume.mount
    entry = dbhost.fstab_line_for(volume.fstab, mount)
    running_datadir = (db.variable("datadir") or "").rstrip("/")
    evidence["mount"] = f"{mnt.get('SOURCE')} on {mnt.get('TARGET')} type {mnt.get('FSTYPE')}"
    evidence["fstab"] = entry.text if entry else None
    evidence["datadir"] = running_datadir
    problems = []
    if mnt.get("TARGET") != mount:
        problems.append(f"{datadir} is on the filesystem mounted at {mnt.get('TARGET') or '?'}, "
                        f"not on its own volume at {mount}")
    elif mnt.get("FSTYPE") != "ext4":
        problems.append(f"{mount} is {mnt.get('FSTYPE')}, expected ext4")
    problems += dbhost.volume_fstab_problems(entry, mount)
    if not volume.datadir_exists:
        problems.append(f"{datadir} does not exist")
    if running_datadir != datadir:
        problems.append(f"the server's datadir is {running_datadir}, expected {datadir}")
    if volume.selinux in ("Enforcing", "Permissive") and "mysqld_db_t" not in volume.context:
        problems.append(f"{datadir} has SELinux context {' '.join(volume.context.split()[:1]) or '(none)'}, expected "
                        "mysqld_db_t (restorecon -R was not run)")
    assert not problems, f"{target.name}: " + "; ".join(problems)


# --- DBH-3 --------------------------------------------------------------------------------------------------------
@pytest.mark.requirement("DBH-3")
@pytest.mark.role("dbnode")
@pytest.mark.severity("critical")
def test_galera_ports_reachable_from_other_nodes(transport, lab, connections, target, evidence, traces):
    """Connect from every other DB node to each Galera port of this node. Ports that only listen during a state
    transfer (873, 4444, 4568) get a short-lived listener first, so the answer is about the firewall (and
    security groups), not about whether an SST happens to be running."""
    traces.refuse_write("DBH-3 opens short-lived listeners (socat, at most 10 s, a temporary directory for their "
                        "errors) on the Galera ports nobody listens on, so that a peer's connection tests the firewall",
                        "run it without --read-only, or take DBH-3 out of stackcheck.scope")
    address = target.address
    ports = dbhost.GALERA_PORTS
    started = transport.run(dbhost.listen_command(address, ports))
    listeners = dbhost.parse_listeners(started.output("short-lived listeners on the SST/IST ports (socat)"),
                                       target.name)
    blocked = []
    try:
        if listeners.failures:  # a port nobody listens on answers "refused" from the node itself, firewall or not
            raise CannotCheck("; ".join(listeners.failures))
        for peer in lab.hosts("dbnode"):
            if peer.name == target.name:
                continue
            tried = connections.transport(peer).run(dbhost.connect_command(address, ports))
            result = dbhost.parse_connect(tried.output(f"connections from {peer.name} to {address}"))
            unanswered = [str(p) for p in ports if p not in result]
            if unanswered:  # the probe did not report on a port: no verdict for it, never "blocked"
                raise CannotCheck(f"the connection probe from {peer.name} reported nothing for port(s) "
                                  f"{', '.join(unanswered)} of {address}")
            for port in ports:
                if result[port] != "open":
                    blocked.append(f"{peer.name} -> {port}: {result[port]}")
    finally:
        if listeners.pids:
            transport.run("kill " + " ".join(str(p) for p in listeners.pids) + " 2>/dev/null; true")
    evidence["ports"] = " ".join(str(p) for p in ports)
    evidence["blocked"] = ", ".join(blocked) or "none"
    assert not blocked, (f"{target.name} ({address}): Galera ports not reachable from the other DB nodes: "
                         + ", ".join(blocked))


# --- DBH-4 --------------------------------------------------------------------------------------------------------
@pytest.mark.requirement("DBH-4")
@pytest.mark.role("dbnode")
@pytest.mark.severity("medium")
def test_selinux_enforcing(transport, target, evidence):
    running, boot = dbhost.parse_selinux(batch.run(transport, dbhost.selinux_command()))
    evidence["selinux"] = f"running {running}, at boot {boot}"
    if running is None and boot is None:  # observed: nothing of SELinux on the host
        raise NotApplicable(f"{target.name} has no SELinux: no getenforce command, no /sys/fs/selinux/enforce and "
                            "no /etc/selinux/config")
    problems = []
    if running != "Enforcing":
        problems.append(f"SELinux is {running or 'disabled'} now")
    if boot not in (None, "Enforcing"):
        problems.append(f"/etc/selinux/config says SELINUX={boot.lower()}")
    assert not problems, f"{target.name}: " + "; ".join(problems) + " (expected enforcing after the installation)"


# --- DBH-5 --------------------------------------------------------------------------------------------------------
@pytest.mark.requirement("DBH-5")
@pytest.mark.role("dbnode")
@pytest.mark.severity("low")
def test_socat_installed_no_epel(transport, target, evidence):
    # `command -v` exits 1 when the command is not found: that is the answer, not a failure to read it
    socat = bool(transport.run("command -v socat").output("whether socat is installed", ok=(0, 1)).strip())
    epel = dbhost.enabled_epel_repos(dbhost.parse_repos(batch.run(transport, dbhost.repos_command())))
    evidence["socat"] = socat
    evidence["enabled_epel"] = ", ".join(f"{f} [{s}]" for f, s in epel) or "none"
    problems = []
    if not socat:
        problems.append("socat is not installed")
    if epel:
        problems.append("EPEL is enabled: " + ", ".join(f"{f} [{s}]" for f, s in epel))
    assert not problems, f"{target.name}: " + "; ".join(problems)
