"""DB host preparation (DBH): /etc/fstab, /proc/swaps, the swap file, the data volume, SELinux, yum repos, and
a reachability probe of the Galera ports between DB nodes. Pure parsers plus the shell commands that feed them.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from stackcheck.probes import batch, ini
from stackcheck.verdicts import CannotCheck

GALERA_PORTS = (873, 3306, 4444, 4567, 4568)  # rsync, MySQL, SST, group communication, IST


# --- /etc/fstab and /proc/swaps -------------------------------------------------------------------------------
@dataclass(frozen=True)
class FstabEntry:
    spec: str
    file: str
    vfstype: str
    options: str
    freq: str
    passno: str
    line: int

    @property
    def text(self) -> str:
        return f"{self.spec} {self.file} {self.vfstype} {self.options} {self.freq} {self.passno}"


def parse_fstab(text: str) -> list[FstabEntry]:
    out = []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        f = line.split()
        f += ["0"] * (6 - len(f)) if len(f) < 6 else []
        out.append(FstabEntry(f[0], f[1], f[2], f[3], f[4], f[5], no))
    return out


def parse_proc_swaps(text: str) -> list[str]:
    """The active swap areas' paths (first column after the header)."""
    return [line.split()[0] for line in text.splitlines()[1:] if line.strip()]


def fstab_line_for(entries: list[FstabEntry], file: str) -> FstabEntry | None:
    found = [e for e in entries if e.file.rstrip("/") == file.rstrip("/") or (file == "swap" and e.vfstype == "swap")]
    return found[-1] if found else None


def set_fstab_fields(text: str, line: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[line - 1] = new + "\n"
    return "".join(lines)


# --- batched reads (probes/batch.py: each part judged on its own exit code) -------------------------------------
def _exists(path: str) -> str:
    """A part's command for a path that may be missing: the command runs when it exists, exit MISSING when it
    does not, and a failure when a directory on the way may not be searched (that hides it: not missing)."""
    q = shlex.quote(path)
    return (f"[ -e {q} ] || {{ if stat -- {q} 2>&1 | grep -qi 'permission denied'; then echo '{path}: Permission "
            f"denied' >&2; exit 1; fi; exit {batch.MISSING}; }}")


def _present(parts: batch.Batch, name: str, what: str) -> str | None:
    """The part's output, None when what it reads does not exist, CannotCheck when it could not be read."""
    found = parts.part(name, what)
    return None if found.rc == batch.MISSING else found.output(what)


# --- the swap file ------------------------------------------------------------------------------------------------
def swapfile_command(path: str) -> str:
    q = shlex.quote(path)
    # stat, then the swap signature at the end of the first page ("SWAPSPACE2"), fstab, active swaps
    return batch.script(
        batch.part("stat", f"{_exists(path)}; stat -c '%a %U %s %F' {q}"),
        batch.part("signature", f"{_exists(path)}; dd if={q} bs=1 skip=$(( $(getconf PAGESIZE) - 10 )) count=10 "
                                "status=none"),
        batch.file("/etc/fstab"),
        batch.part("swaps", "cat /proc/swaps"),
    )


@dataclass
class SwapFile:
    exists: bool
    mode: str
    owner: str
    size: int
    signature: bool
    fstab: FstabEntry | None
    active: list[str]


def parse_swapfile(parts: batch.Batch, path: str) -> SwapFile:
    """The swap file as swapfile_command read it (batch.run / batch.parse); CannotCheck for any part that could
    not be read (a swap file root alone may read is "unreadable", never "without a signature")."""
    st = (_present(parts, "stat", f"the mode and owner of {path}") or "").split()
    signature = bool(st) and "SWAPSPACE2" in (_present(parts, "signature", f"the swap signature of {path}") or "")
    entries = parse_fstab(parts.file("/etc/fstab") or "")
    line = next((e for e in reversed(entries) if e.spec == path), None)
    active = parse_proc_swaps(parts.output("swaps", "/proc/swaps"))
    return SwapFile(bool(st), st[0] if st else "", st[1] if len(st) > 1 else "", int(st[2]) if len(st) > 2 else 0,
                    signature, line, active)


def swapfile_problems(sf: SwapFile, path: str) -> list[str]:
    if not sf.exists:
        return [f"{path} does not exist"]
    problems = []
    if sf.mode != "600":
        problems.append(f"{path} has mode 0{sf.mode}, expected 0600")
    if sf.owner != "root":
        problems.append(f"{path} is owned by {sf.owner}, expected root")
    if not sf.signature:
        problems.append(f"{path} has no swap signature (mkswap was not run)")
    if sf.fstab is None:
        problems.append(f"/etc/fstab has no line for {path} (expected `{path} none swap defaults 0 0`)")
    elif sf.fstab.vfstype != "swap" or "defaults" not in sf.fstab.options.split(","):
        problems.append(f"/etc/fstab line {sf.fstab.line} `{sf.fstab.text}`, expected `{path} none swap defaults 0 0`")
    return problems


# --- the data volume ----------------------------------------------------------------------------------------------
SELINUX_RUNNING = ("if command -v getenforce >/dev/null 2>&1; then getenforce; "
                   "elif [ -e /sys/fs/selinux/enforce ]; then cat /sys/fs/selinux/enforce; fi")


def volume_command(mount: str, datadir: str) -> str:
    q = shlex.quote(datadir)
    return batch.script(
        batch.part("mount", f"findmnt -n -P -o TARGET,SOURCE,FSTYPE --target {q} 2>/dev/null "
                            f"|| findmnt -n -P -o TARGET,SOURCE,FSTYPE --target {shlex.quote(mount)}"),
        batch.part("datadir", f"{_exists(datadir)}; stat -c '%U %F' {q}"),
        batch.file("/etc/fstab"),
        batch.part("selinux", SELINUX_RUNNING),
        batch.part("context", f"{_exists(datadir)}; ls -dZ {q}"),
    )


@dataclass
class Volume:
    mount: dict[str, str]  # findmnt's TARGET, SOURCE, FSTYPE of the filesystem holding the datadir
    datadir_exists: bool
    fstab: list[FstabEntry]
    selinux: str | None  # getenforce's answer (None: no SELinux)
    context: str  # the datadir's SELinux context (read only where SELinux runs)


def parse_volume(parts: batch.Batch, datadir: str) -> Volume:
    mount = parse_findmnt_pairs(parts.output("mount", f"the filesystem of {datadir} (findmnt)"))
    if not mount.get("TARGET"):
        raise CannotCheck(f"could not read the filesystem of {datadir}: findmnt printed nothing")
    exists = _present(parts, "datadir", f"{datadir} (stat)") is not None
    running, _ = selinux_state(parts.output("selinux", "SELinux's mode (getenforce)"), None)
    enabled = running in ("Enforcing", "Permissive")
    context = (_present(parts, "context", f"the SELinux context of {datadir} (ls -dZ)") or "") if enabled else ""
    return Volume(mount, exists, parse_fstab(parts.file("/etc/fstab") or ""), running, context)


def parse_findmnt_pairs(text: str) -> dict[str, str]:
    """`findmnt -P` output: KEY="value" pairs (first line)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return dict(re.findall(r'(\w+)="([^"]*)"', line))


def volume_fstab_problems(entry: FstabEntry | None, mount: str) -> list[str]:
    if entry is None:
        return [f"/etc/fstab has no line for {mount} (expected `<device> {mount} ext4 defaults 0 2`)"]
    wrong = []
    if entry.vfstype != "ext4":
        wrong.append(f"type {entry.vfstype}")
    if "defaults" not in entry.options.split(","):
        wrong.append(f"options {entry.options}")
    if entry.passno != "2":
        wrong.append(f"fsck pass {entry.passno}")
    if entry.freq != "0":
        wrong.append(f"dump {entry.freq}")
    return [f"/etc/fstab line {entry.line} `{entry.text}`: {', '.join(wrong)}; expected `ext4 defaults 0 2`"] if wrong \
        else []


# --- SELinux ------------------------------------------------------------------------------------------------------
def selinux_state(getenforce: str | None, config: str | None) -> tuple[str | None, str | None]:
    """(running mode, mode at boot from /etc/selinux/config); None where the platform has no SELinux."""
    running = None
    if getenforce is not None and getenforce.strip():
        word = getenforce.strip().splitlines()[0].strip()
        running = {"1": "Enforcing", "0": "Permissive"}.get(word, word.capitalize())
    boot = None
    if config:
        m = re.search(r"^\s*SELINUX\s*=\s*(\w+)", config, re.M)
        boot = m.group(1).capitalize() if m else None
    return running, boot


def selinux_command() -> str:
    return batch.script(batch.part("enforce", SELINUX_RUNNING), batch.file("/etc/selinux/config"))


def parse_selinux(parts: batch.Batch) -> tuple[str | None, str | None]:
    """(running mode, mode at boot) from selinux_command's parts; (None, None) means no SELinux at all (no
    getenforce, no /sys/fs/selinux/enforce, no /etc/selinux/config); CannotCheck when a part failed (a
    config behind a directory this user may not search is unreadable, not absent)."""
    config = parts.file("/etc/selinux/config")
    return selinux_state(parts.output("enforce", "SELinux's mode (getenforce)"), config or None)


# --- yum repositories (EPEL) --------------------------------------------------------------------------------------
REPOS = "/etc/yum.repos.d"


def repos_command() -> str:
    return batch.script(batch.files_in(REPOS, "*.repo"))


def parse_repos(parts: batch.Batch) -> dict[str, str]:
    """path -> text of each repo file; CannotCheck when the directory or a repo file could not be read (an
    unread file could be the one that enables EPEL)."""
    parts.output(f"dir {REPOS}", f"the directory {REPOS}")
    return {path: parts.file(path) or "" for path in parts.names(f"{REPOS}/")}


def enabled_epel_repos(files: dict[str, str]) -> list[tuple[str, str]]:
    """(file, section) of every enabled EPEL repository (yum's default for `enabled` is 1)."""
    found = []
    for path, text in files.items():
        conf = ini.parse(text)
        for section in conf.sections:
            name = (conf.get(section, "name") or "") + " " + section
            urls = " ".join(conf.get(section, k) or "" for k in ("baseurl", "mirrorlist", "metalink"))
            if not re.search(r"\bepel\b", f"{name} {urls}", re.I):
                continue
            if (conf.get(section, "enabled") or "1").strip() in ("1", "true", "yes", "True"):
                found.append((path, section))
    return found


# --- reachability of the Galera ports between nodes ---------------------------------------------------------------
def listen_command(address: str, ports, seconds: int = 10) -> str:
    """On the node: for each port nobody listens on, a short-lived socat listener (so a peer can tell an open
    firewall from a closed one on ports that only listen during SST/IST), each one judged before any peer
    connects: `PID <pid> <port> listening` once ss shows the port listening; `PID <pid> <port> slow` when it
    runs but does not listen within 3 s; `FAILED <port> <exit> <socat's stderr>` when it exited (a bind below
    1024 without root, socat or timeout not runnable: 126/127); `BUSY <port>` for a port something already
    listens on; `MISSING <tool> ...` (nothing started) when ss, socat or timeout is not installed. `END` last,
    so that output cut short is seen."""
    plist = " ".join(str(p) for p in ports)
    return ("miss=; for t in ss socat timeout; do command -v $t >/dev/null 2>&1 || miss=\"$miss $t\"; done; "
            "if [ -n \"$miss\" ]; then echo \"MISSING$miss\"; echo END; exit 0; fi; "
            "busy=$(ss -Hltn) || { echo 'ss -Hltn failed' >&2; exit 1; }; d=$(mktemp -d) || exit 1; "
            "trap 'rm -rf \"$d\"' EXIT HUP INT TERM; started=; "  # a runner killed mid-probe leaves no directory
            f"for p in {plist}; do "
            "if echo \"$busy\" | awk '{print $4}' | grep -Eq '(^|[:*])'$p'$'; then echo \"BUSY $p\"; continue; fi; "
            f"timeout {seconds} socat -u TCP-LISTEN:$p,bind={address},reuseaddr,fork OPEN:/dev/null,wronly "
            ">/dev/null 2>\"$d/$p\" </dev/null & started=\"$started $p:$!\"; done; "
            "for s in $started; do p=${s%:*}; pid=${s#*:}; state=slow; for i in $(seq 1 30); do "
            "if ss -Hltn \"sport = :$p\" | grep -q .; then state=listening; break; fi; "
            "if ! kill -0 $pid 2>/dev/null; then state=exited; break; fi; sleep 0.1; done; "
            "if [ $state = exited ]; then wait $pid; rc=$?; "
            "echo \"FAILED $p $rc $(tr '\\n' ' ' <\"$d/$p\" | cut -c1-300)\"; "
            "else echo \"PID $pid $p $state\"; fi; done; rm -rf \"$d\"; echo END")


@dataclass
class Listeners:
    """What `listen_command` reports: the listeners started (to stop afterwards, whatever happened) and, per
    port, why there is no listener to test against (empty when every port listens)."""
    pids: list[int]
    failures: list[str]


def parse_listeners(text: str, host: str) -> Listeners:
    """Judge `listen_command`'s output. A port without a confirmed listener cannot be tested: a connection to it
    would be refused by the node itself, not by a firewall, so it is a failure to report, never "refused"."""
    pids, failures = [], []
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word == "MISSING":
            tools = rest.split()
            failures.append(f"could not start listeners on {host} to test reachability: {', '.join(tools)} "
                            f"not found on the PATH (install {'socat' if 'socat' in tools else 'them'})")
        elif word == "PID" and len(rest.split()) == 3 and rest.split()[0].isdigit():
            pid, port, state = rest.split()
            pids.append(int(pid))
            if state != "listening":
                failures.append(f"could not listen on {port} on {host} to test reachability: the listener did "
                                "not listen within 3 s")
        elif word == "FAILED" and len(rest.split()) >= 2 and rest.split()[0].isdigit():
            port, rc, stderr = (rest.split(" ", 2) + [""])[:3]
            failures.append(f"could not listen on {port} on {host} to test reachability: "
                            f"{_listener_failure(int(port), rc, stderr)}")
    if text.strip().splitlines()[-1:] != ["END"]:
        failures.append(f"could not start listeners on {host} to test reachability: the listener command stopped "
                        f"before it finished: {text.strip()[-200:] or '(no output)'}")
    return Listeners(pids, failures)


def _listener_failure(port: int, rc: str, stderr: str) -> str:
    said = re.sub(r"^\S+ \S+ socat\[\d+\] [EW] ", "", stderr.strip())  # drop socat's date, time and pid
    if rc in ("126", "127"):
        return f"socat could not be run (exit {rc}{': ' + said if said else ''})"
    if "Permission denied" in said:
        return "permission denied (ports below 1024 need root or become)" if port < 1024 else \
            f"permission denied ({said})"
    if "Address already in use" in said:
        return "the port is in use (something started listening on it meanwhile)"
    return f"socat exited {rc}: {said or '(no message)'}"


def connect_command(address: str, ports, timeout: int = 2) -> str:
    """On a peer: try each port; prints `PORT open|refused|timeout`."""
    plist = " ".join(str(p) for p in ports)
    return (f"for p in {plist}; do out=$(timeout {timeout} bash -c \"exec 3<>/dev/tcp/{address}/$p\" 2>&1); rc=$?; "
            "if [ $rc = 0 ]; then echo \"$p open\"; elif [ $rc = 124 ]; then echo \"$p timeout\"; "
            "else echo \"$p refused\"; fi; done")


def parse_connect(text: str) -> dict[int, str]:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():
            out[int(parts[0])] = parts[1]
    return out


def parse_pids(text: str) -> list[int]:
    return [int(line.split()[1]) for line in text.splitlines() if line.startswith("PID ") and line.split()[1].isdigit()]
