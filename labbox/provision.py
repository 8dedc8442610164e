"""Turning a booted host into its role: the files every host gets before it boots (hostname, SSH keys, the
lab's /etc/hosts, lab.env and secrets.env), then the role's setup.d scripts, its ready.d probes, and the
files it publishes for the suite (/etc/labbox/out/NAME -> STATE/secrets/NAME).

Everything role-specific lives in labbox/roles/ROLE/ (see labbox/README.md); nothing here knows a role."""
from __future__ import annotations

import os
import secrets as _secrets
import shutil
import subprocess
import time
from pathlib import Path

from labbox import hosts as hostctl
from labbox.image import OPS_USER
from labbox.sh import LabboxError, run
from labbox.topology import GW, HOSTS, NET, ROLES_DIR, STATE, VIP, LabHost

SECRETS = STATE / "secrets"
LOGS = STATE / "logs"
KEY = STATE / "lab_key"
KNOWN_HOSTS = STATE / "known_hosts"
SECRET_NAMES = ("DB_ROOT_PASSWORD", "DB_ADMIN_PASSWORD", "KEYSTONE_ADMIN_PASSWORD", "SWIFT_SERVICE_PASSWORD",
                "HAPROXY_CHECK_PASSWORD", "SST_PASSWORD", "DB_STACKCHECK_PASSWORD",
                # the cloud's (issue 13): its services' Keystone users, their database accounts, RabbitMQ's user
                "CLOUD_SERVICE_PASSWORD", "CLOUD_DB_PASSWORD", "RABBIT_PASSWORD")
MARKER = "etc/labbox/provisioned"
SETUP_LIB = ROLES_DIR.parent / "setup-lib"


def write_secret(name: str, value: str) -> Path:
    SECRETS.mkdir(parents=True, exist_ok=True)
    os.chmod(SECRETS, 0o700)
    path = SECRETS / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return path


def secret(name: str) -> str:
    path = SECRETS / name
    if not path.exists():
        write_secret(name, _secrets.token_urlsafe(18))
    return path.read_text().strip()


def ensure_key() -> None:
    if not KEY.exists():
        STATE.mkdir(parents=True, exist_ok=True)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "stackcheck-labbox", "-f", str(KEY))


def lab_env(h: LabHost) -> str:
    db = [x for x in HOSTS if x.role == "dbnode"]
    lines = {
        "LAB_HOST": h.name, "LAB_ROLE": h.role, "LAB_IP": h.ip, "LAB_NET": NET, "LAB_GW": GW, "LAB_VIP": VIP,
        "LAB_DB_NODES": " ".join(x.name for x in db), "LAB_DB_IPS": " ".join(x.ip for x in db),
    }
    lines.update({f"LAB_IP_{x.name.upper()}": x.ip for x in HOSTS})
    return "".join(f"{k}='{v}'\n" for k, v in lines.items())


def etc_hosts() -> str:
    return "127.0.0.1\tlocalhost\n" + f"{GW}\tlabbox-gw\n" + "".join(f"{x.ip}\t{x.name}\n" for x in HOSTS)


def prepare(h: LabHost) -> None:
    """Files every host needs before it boots, written through its mounted root into its own upper dir."""
    root = h.root
    (root / "etc/hostname").write_text(h.name + "\n")
    if not (root / "etc/machine-id").read_text().strip():
        (root / "etc/machine-id").write_text(run("systemd-id128", "new").stdout)
    if not (root / "etc/ssh/ssh_host_ed25519_key").exists():
        run("ssh-keygen", "-q", "-A", "-f", str(root))
    ssh = root / "root/.ssh"
    ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
    (ssh / "authorized_keys").write_text(Path(f"{KEY}.pub").read_text())
    os.chmod(ssh / "authorized_keys", 0o600)
    _authorize_ops(root)
    (root / "etc/hosts").write_text(etc_hosts())
    etc = root / "etc/labbox"
    (etc / "out").mkdir(parents=True, exist_ok=True)
    (etc / "lab.env").write_text(lab_env(h))
    fd = os.open(etc / "secrets.env", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("".join(f"{n}='{secret(n)}'\n" for n in SECRET_NAMES))
    install_role_files(h)
    outside(h, "up")


def _authorize_ops(root: Path) -> None:
    """The lab key logs in as the unprivileged user too (its uid/gid read from the image's passwd)."""
    entry = next(line.split(":") for line in (root / "etc/passwd").read_text().splitlines()
                 if line.startswith(f"{OPS_USER}:"))
    uid, gid, home = int(entry[2]), int(entry[3]), root / entry[5].lstrip("/")
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    (ssh / "authorized_keys").write_text(Path(f"{KEY}.pub").read_text())
    os.chmod(ssh / "authorized_keys", 0o600)
    for path in (ssh, ssh / "authorized_keys"):
        os.chown(path, uid, gid)


def install_role_files(h: LabHost) -> None:
    """The role folder at /opt/labbox inside the host, with the helpers every role's scripts share at
    /opt/labbox/lib (fresh copy: edits to a role take effect on `up`)."""
    dest = h.root / "opt/labbox"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(ROLES_DIR / h.role, dest, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(SETUP_LIB, dest / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    for script in dest.rglob("*.sh"):
        script.chmod(0o755)


def outside(h: LabHost, action: str) -> None:
    hook = ROLES_DIR / h.role / "outside.sh"
    if hook.exists():
        LOGS.mkdir(parents=True, exist_ok=True)
        with open(LOGS / f"{h.name}-outside.log", "a") as log:
            run("bash", str(hook), action, h.name, str(h.root), str(STATE), log=log)


def known_host_line(h: LabHost) -> str:
    return f"{h.ip} " + " ".join((h.root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()[:2]) + "\n"


def write_known_hosts() -> None:
    KNOWN_HOSTS.write_text("".join(known_host_line(h) for h in HOSTS if (h.root / "etc/ssh").exists()))


def provisioned(h: LabHost) -> bool:
    return (h.root / MARKER).exists()


def setup(h: LabHost, timeout: float = 900) -> None:
    """Run the role's setup.d scripts inside the booted host, in order; then publish its out/ files."""
    LOGS.mkdir(parents=True, exist_ok=True)
    scripts = sorted((ROLES_DIR / h.role / "setup.d").glob("*.sh"))
    log_path = LOGS / f"{h.name}-setup.log"
    with open(log_path, "a") as log:
        for script in scripts:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} {script.name}\n")
            log.flush()
            command = (f"set -a; . /etc/labbox/lab.env; . /etc/labbox/secrets.env; set +a; "
                       f"cd /opt/labbox && exec bash -e /opt/labbox/setup.d/{script.name}")
            proc = subprocess.run(hostctl.exec_argv(h, ["sh", "-c", command]), stdout=log, stderr=subprocess.STDOUT,
                                  timeout=timeout)
            if proc.returncode != 0:
                raise LabboxError(f"{h.name}: setup step {h.role}/setup.d/{script.name} failed "
                                  f"(exit {proc.returncode}); see {log_path}")
    publish(h)
    (h.root / MARKER).write_text(time.strftime("%Y-%m-%dT%H:%M:%S") + "\n")


def publish(h: LabHost) -> None:
    out = h.root / "etc/labbox/out"
    for f in sorted(out.glob("*")) if out.exists() else ():
        write_secret(f.name, f.read_text().strip())


def ready_scripts(h: LabHost) -> list[Path]:
    return sorted((ROLES_DIR / h.role / "ready.d").glob("*.sh"))


def not_ready(h: LabHost) -> list[str]:
    """The ready.d probes of the host that do not pass now (empty: ready)."""
    failing = []
    for script in ready_scripts(h):
        command = (f"set -a; . /etc/labbox/lab.env; . /etc/labbox/secrets.env; set +a; "
                   f"cd /opt/labbox && exec bash /opt/labbox/ready.d/{script.name}")
        try:
            proc = subprocess.run(hostctl.exec_argv(h, ["sh", "-c", command]), capture_output=True, text=True,
                                  timeout=30)
            if proc.returncode != 0:
                failing.append(script.stem)
        except (subprocess.TimeoutExpired, LabboxError):
            failing.append(script.stem)
    return failing


def wait_ready(h: LabHost, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    failing = not_ready(h)
    while failing and time.monotonic() < deadline:
        time.sleep(1)
        failing = not_ready(h)
    if failing:
        raise LabboxError(f"{h.name}: not ready after {timeout:.0f} s: {', '.join(failing)} "
                          f"(labbox/roles/{h.role}/ready.d; setup log {LOGS / (h.name + '-setup.log')})")
