"""DB host probe parsers: fstab, /proc/swaps, the swap file, the data volume (captured from dbnode2), SELinux and
EPEL as a CentOS 7 DB node of the notes shows them, and the port probe's output."""
from pathlib import Path

import pytest

from stackcheck.probes import batch, dbhost
from stackcheck.verdicts import CannotCheck

DATA = Path(__file__).parent / "data" / "db"


def _parts(name: str) -> batch.Batch:
    return batch.parse((DATA / name).read_text())


def test_swapfile_captured_in_the_lab():
    sf = dbhost.parse_swapfile(_parts("dbnode2-swapfile.txt"), "/swapfile")
    assert (sf.exists, sf.mode, sf.owner, sf.signature) == (True, "600", "root", True)
    assert sf.fstab.text == "/swapfile none swap defaults 0 0"
    assert sf.active == []  # /proc/swaps inside a lab container: the machine has none (DBH-1 not hosted)
    assert dbhost.swapfile_problems(sf, "/swapfile") == []


def _batch(**parts) -> batch.Batch:
    """A batch's parts given as (exit code, stdout) or (exit code, stdout, stderr)."""
    out = batch.Batch()
    for name, (rc, text, *err) in parts.items():
        out[name.replace("_", "/")] = batch.Part(name, text, rc, list(err))
    return out


SWAPS = (0, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")


def test_swapfile_problems():
    parts = _batch(stat=(0, "644 root 1073741824 regular file\n"), signature=(0, ""),
                   _etc_fstab=(0, "/dev/vda1 / xfs defaults 0 0\n"), swaps=SWAPS)
    sf = dbhost.parse_swapfile(parts, "/swapfile")
    assert dbhost.swapfile_problems(sf, "/swapfile") == [
        "/swapfile has mode 0644, expected 0600", "/swapfile has no swap signature (mkswap was not run)",
        "/etc/fstab has no line for /swapfile (expected `/swapfile none swap defaults 0 0`)"]
    missing = _batch(stat=(batch.MISSING, ""), signature=(batch.MISSING, ""), _etc_fstab=(0, ""), swaps=SWAPS)
    assert dbhost.swapfile_problems(dbhost.parse_swapfile(missing, "/swapfile"), "/swapfile") == \
        ["/swapfile does not exist"]


def test_swap_signature_unreadable_as_non_root_is_an_error_not_a_finding():
    # captured as `nobody` on dbnode2: dd cannot open the 0600 swap file; the old probe hid dd's failure and
    # reported "no swap signature (mkswap was not run)", a confident wrong finding
    with pytest.raises(CannotCheck, match="swap signature of /swapfile: permission denied"):
        dbhost.parse_swapfile(_parts("dbnode2-swapfile-nobody.txt"), "/swapfile")


def test_a_part_the_batch_did_not_reach_is_an_error():
    text = (DATA / "dbnode2-swapfile.txt").read_text().split("### swaps")[0]  # cut before /proc/swaps
    with pytest.raises(CannotCheck, match="could not read /proc/swaps: the batched read did not reach it"):
        dbhost.parse_swapfile(batch.parse(text), "/swapfile")


def test_proc_swaps_with_the_swap_file_active():
    # /proc/swaps of a CentOS 7 DB node after `swapon /swapfile` (the notes' `swapon --summary` reads it)
    text = ("Filename\t\t\t\tType\t\tSize\tUsed\tPriority\n"
            "/swapfile                               file\t\t1048572\t0\t-2\n")
    assert dbhost.parse_proc_swaps(text) == ["/swapfile"]


def test_data_volume_captured_in_the_lab():
    volume = dbhost.parse_volume(_parts("dbnode2-volume.txt"), "/var/lib/mysql/mysql_data")
    assert volume.mount == {"TARGET": "/var/lib/mysql", "SOURCE": "/dev/loop2", "FSTYPE": "ext4"}
    assert volume.datadir_exists and volume.selinux is None and volume.context == ""
    entry = dbhost.fstab_line_for(volume.fstab, "/var/lib/mysql")
    assert entry.text == "LABEL=mysqldata /var/lib/mysql ext4 defaults 0 2"
    assert dbhost.volume_fstab_problems(entry, "/var/lib/mysql") == []


def test_data_volume_fstab_problems():
    notes = dbhost.parse_fstab("/dev/vdb5 /var/lib/mysql/ ext4 defaults 0 0\n")
    entry = dbhost.fstab_line_for(notes, "/var/lib/mysql")
    assert dbhost.volume_fstab_problems(entry, "/var/lib/mysql") == [
        "/etc/fstab line 1 `/dev/vdb5 /var/lib/mysql/ ext4 defaults 0 0`: fsck pass 0; expected `ext4 defaults 0 2`"]
    assert dbhost.volume_fstab_problems(None, "/var/lib/mysql")[0].startswith("/etc/fstab has no line")
    fixed = dbhost.set_fstab_fields("# fstab\n/dev/vdb5 /var/lib/mysql ext4 defaults 0 0\n", 2,
                                    "/dev/vdb5 /var/lib/mysql ext4 defaults 0 2")
    assert fixed == "# fstab\n/dev/vdb5 /var/lib/mysql ext4 defaults 0 2\n"


CENTOS_SELINUX_CONFIG = """
# This file controls the state of SELinux on the system.
# SELINUX= can take one of these three values:
#     enforcing - SELinux security policy is enforced.
#     permissive - SELinux prints warnings instead of enforcing.
#     disabled - No SELinux policy is loaded.
SELINUX=permissive
# SELINUXTYPE= can take one of three values:
#     targeted - Targeted processes are protected,
SELINUXTYPE=targeted
"""


def test_selinux_states():
    assert dbhost.selinux_state("Permissive\n", CENTOS_SELINUX_CONFIG) == ("Permissive", "Permissive")
    assert dbhost.selinux_state("Enforcing\n", CENTOS_SELINUX_CONFIG.replace("=permissive", "=enforcing")) == \
        ("Enforcing", "Enforcing")
    assert dbhost.selinux_state("1", None) == ("Enforcing", None)  # /sys/fs/selinux/enforce without getenforce
    assert dbhost.selinux_state("", None) == (None, None)  # Debian: no SELinux
    # captured on dbnode2 (Debian 12): no getenforce, no /sys/fs/selinux/enforce, no /etc/selinux/config
    assert dbhost.parse_selinux(_parts("dbnode2-selinux-debian.txt")) == (None, None)
    centos = _batch(enforce=(0, "Permissive\n"), _etc_selinux_config=(0, CENTOS_SELINUX_CONFIG))
    assert dbhost.parse_selinux(centos) == ("Permissive", "Permissive")


def test_selinux_config_unreadable_is_not_no_selinux():
    # /etc/selinux not searchable by this user: the old probe (`cat ... 2>/dev/null`) saw "no config", and
    # with no getenforce in PATH reported the host as having no SELinux (not applicable)
    parts = _batch(enforce=(0, ""), _etc_selinux_config=(1, "", "/etc/selinux/config: Permission denied"))
    with pytest.raises(CannotCheck, match="/etc/selinux/config: permission denied"):
        dbhost.parse_selinux(parts)


EPEL_REPO = """[epel]
name=Extra Packages for Enterprise Linux 7 - $basearch
#baseurl=http://download.fedoraproject.org/pub/epel/7/$basearch
metalink=https://mirrors.fedoraproject.org/metalink?repo=epel-7&arch=$basearch
failovermethod=priority
enabled=1
gpgcheck=1
gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-7

[epel-debuginfo]
name=Extra Packages for Enterprise Linux 7 - $basearch - Debug
metalink=https://mirrors.fedoraproject.org/metalink?repo=epel-debug-7&arch=$basearch
enabled=0
"""


def test_enabled_epel_repos():
    files = dbhost.parse_repos(_batch(**{
        "dir /etc/yum.repos.d": (0, ""), "_etc_yum.repos.d_epel.repo": (0, EPEL_REPO),
        "_etc_yum.repos.d_CentOS-Base.repo": (0, "[base]\nname=CentOS-7 - Base\n"
                                                  "mirrorlist=http://mirrorlist.centos.org/?release=7&arch=x86_64&repo=os\n")}))
    assert dbhost.enabled_epel_repos(files) == [("/etc/yum.repos.d/epel.repo", "epel")]
    assert dbhost.enabled_epel_repos({}) == []


def test_unreadable_repo_file_is_an_error_not_no_epel():
    # captured as `nobody` on dbnode2 with /etc/yum.repos.d/epel.repo mode 0600 (enabled=1): the old probe
    # skipped the file it could not read and passed "no EPEL enabled"
    with pytest.raises(CannotCheck, match="could not read /etc/yum.repos.d/epel.repo: permission denied"):
        dbhost.parse_repos(_parts("dbnode2-repos-nobody-unreadable.txt"))
    # the directory itself not listable (0700): not "no repo files"
    with pytest.raises(CannotCheck, match="could not read the directory /etc/yum.repos.d: permission denied"):
        dbhost.parse_repos(_parts("dbnode2-repos-nobody-dir-unreadable.txt"))


def test_port_probe_output():
    assert dbhost.parse_connect("873 open\n3306 open\n4444 refused\n4567 open\n4568 timeout\n") == \
        {873: "open", 3306: "open", 4444: "refused", 4567: "open", 4568: "timeout"}
    assert dbhost.parse_pids("PID 812\nPID 813\n") == [812, 813]
