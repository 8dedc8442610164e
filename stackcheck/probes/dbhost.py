"""DB host preparation (DBH): /etc/fstab, /proc/swaps, the swap file, the data volume, SELinux, yum repos, and
a reachability probe of the Galera ports between DB nodes. Pure parsers plus the shell commands that feed them.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from stackcheck.probes import batch, ini, sections
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


def split_marked(text: str) -> dict[str, str]:
    """The `@@NAME` sections (upper case: a file's own `@@` line is content)."""
    return sections.split(text, "@@", is_name=str.isupper)


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


def split_files(text: str) -> dict[str, str]:
    """The old `@@FILE path` sections (no probe prints them any more: repos_command is a batch, parse_repos)."""
    return sections.split(text, "@@FILE ")


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
    firewall from a closed one on ports that only listen during SST/IST). Prints `PID <pid>` per listener."""
    plist = " ".join(str(p) for p in ports)
    return (f"busy=$(ss -Hltn 2>/dev/null | awk '{{print $4}}'); for p in {plist}; do "
            f"echo \"$busy\" | grep -Eq '(^|[:*])'$p'$' && continue; "
            f"timeout {seconds} socat -u TCP-LISTEN:$p,bind={address},reuseaddr,fork OPEN:/dev/null,wronly "
            f">/dev/null 2>&1 </dev/null & echo PID $!; done; sleep 0.3")


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
