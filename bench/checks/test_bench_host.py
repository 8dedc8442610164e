"""12 simple host checks, the same for every host, written once against testinfra's `host` API.

bench_host_checks.py runs this file on the 8 hosts of the lab in a box twice: through stackcheck (one
connection per host with TCP_NODELAY) and through plain pytest-testinfra (paramiko backend, defaults)."""
import pytest

pytestmark = pytest.mark.role("controller", "network", "storage", "compute", "dbnode", "lb")


def test_sshd_running(host):
    assert host.service("ssh").is_running


def test_sshd_enabled(host):
    assert host.service("ssh").is_enabled


def test_ssh_port_listening(host):
    assert host.socket("tcp://0.0.0.0:22").is_listening


def test_passwd_is_root_owned(host):
    f = host.file("/etc/passwd")
    assert f.user == "root" and f.group == "root"


def test_shadow_not_world_readable(host):
    assert host.file("/etc/shadow").mode & 0o007 == 0


def test_hostname_file_present(host):
    assert host.file("/etc/hostname").exists


def test_root_user(host):
    assert host.user("root").uid == 0


def test_openssh_installed(host):
    assert host.package("openssh-server").is_installed


def test_ip_forward_readable(host):
    assert host.sysctl("net.ipv4.ip_forward") in (0, 1)


def test_resolv_conf_present(host):
    assert host.file("/etc/resolv.conf").exists


def test_tmp_is_sticky(host):
    assert host.file("/tmp").mode & 0o1000


def test_uname_linux(host):
    assert host.system_info.type == "linux"
