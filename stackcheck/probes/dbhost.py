"""DB host preparation (DBH): /etc/fstab, /proc/swaps, the swap file, the data volume, SELinux, yum repos, and
a reachability probe of the Galera ports between DB nodes. Pure parsers plus the shell commands that feed them.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from stackcheck.probes import ini, sections
from stackcheck.transport import Result
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


# --- batched reads: one round trip, each part's exit code judged ----------------------------------------------
def batch_command(parts: dict[str, str]) -> str:
    """Several reads in one round trip: each part's output (stdout and stderr) after `@@NAME`, then its exit
    code after `@@RC NAME` (each part runs in a subshell, so `exit` ends only that part)."""
    # the `echo` before the exit code ends an output without a final newline (dd's); parse_batch drops it again
    return "; ".join(f"echo @@{name}; ( {cmd} ) 2>&1; rc=$?; echo; echo \"@@RC {name} $rc\""
                     for name, cmd in parts.items())


def parse_batch(text: str) -> dict[str, Result]:
    """name -> Result(exit code, output) of batch_command's output; a part whose exit code is missing (the
    command stopped before it) has rc -1, so judging it raises CannotCheck."""
    raw = split_marked(text)
    codes = {}
    for header in raw:
        words = header.split()
        if len(words) == 3 and words[0] == "RC" and words[2].lstrip("-").isdigit():
            codes[words[1]] = int(words[2])
    return {name: Result(codes.get(name, -1), body[:-1] if body.endswith("\n") else body, "")
            for name, body in raw.items() if not name.startswith("RC ")}


def part(parts: dict[str, Result], name: str) -> Result:
    return parts.get(name) or Result(-1, "", f"the probe printed no {name} part")


def _missing(result: Result) -> bool:
    """A stat/cat that failed only because the path does not exist."""
    return result.rc == 1 and "no such file or directory" in result.stdout.lower()  # rc judged: 1 and the reason


# --- the swap file ------------------------------------------------------------------------------------------------
def swapfile_command(path: str) -> str:
    q = shlex.quote(path)
    # stat, then the swap signature at the end of the first page ("SWAPSPACE2"), fstab, active swaps
    return batch_command({
        "STAT": f"stat -c '%a %U %s %F' {q}",
        "SIG": f"[ -e {q} ] || exit 0; dd if={q} bs=1 skip=$(( $(getconf PAGESIZE) - 10 )) count=10 status=none",
        "FSTAB": "cat /etc/fstab",
        "SWAPS": "cat /proc/swaps",
    })


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


def parse_swapfile(text: str, path: str) -> SwapFile:
    """The swap file as swapfile_command read it; CannotCheck for any part that could not be read (a swap file
    root alone may read is "unreadable", never "without a signature")."""
    parts = parse_batch(text)
    stat = part(parts, "STAT")
    exists = not _missing(stat)
    st = stat.output(f"the mode and owner of {path}").split() if exists else []
    signature = exists and "SWAPSPACE2" in part(parts, "SIG").output(f"the swap signature of {path}")
    entries = parse_fstab(part(parts, "FSTAB").output("/etc/fstab"))
    line = next((e for e in reversed(entries) if e.spec == path), None)
    active = parse_proc_swaps(part(parts, "SWAPS").output("/proc/swaps"))
    return SwapFile(exists, st[0] if st else "", st[1] if len(st) > 1 else "", int(st[2]) if len(st) > 2 else 0,
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
    return batch_command({
        "MNT": f"findmnt -n -P -o TARGET,SOURCE,FSTYPE --target {shlex.quote(datadir)} 2>/dev/null "
               f"|| findmnt -n -P -o TARGET,SOURCE,FSTYPE --target {shlex.quote(mount)}",
        "DIR": f"stat -c '%U %F' {shlex.quote(datadir)}",
        "FSTAB": "cat /etc/fstab",
        "SELINUX": SELINUX_RUNNING,
        "CONTEXT": f"[ -e {shlex.quote(datadir)} ] || exit 0; ls -dZ {shlex.quote(datadir)}",
    })


@dataclass
class Volume:
    mount: dict[str, str]  # findmnt's TARGET, SOURCE, FSTYPE of the filesystem holding the datadir
    datadir_exists: bool
    fstab: list[FstabEntry]
    selinux: str | None  # getenforce's answer (None: no SELinux)
    context: str  # the datadir's SELinux context (read only where SELinux runs)


def parse_volume(text: str, datadir: str) -> Volume:
    parts = parse_batch(text)
    mount = parse_findmnt_pairs(part(parts, "MNT").output(f"the filesystem of {datadir} (findmnt)"))
    if not mount.get("TARGET"):
        raise CannotCheck(f"could not read the filesystem of {datadir}: findmnt printed nothing")
    stat = part(parts, "DIR")
    exists = not _missing(stat)
    if exists:
        stat.output(f"{datadir} (stat)")
    running, _ = selinux_state(part(parts, "SELINUX").output("SELinux's mode (getenforce)"), None)
    enabled = running in ("Enforcing", "Permissive")
    context = part(parts, "CONTEXT").output(f"the SELinux context of {datadir} (ls -dZ)") if enabled else ""
    return Volume(mount, exists, parse_fstab(part(parts, "FSTAB").output("/etc/fstab")), running, context)


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
    return batch_command({
        "ENFORCE": SELINUX_RUNNING,
        # a directory this user cannot search must not pass for "no SELinux config"
        "CONFIG": "if [ -e /etc/selinux/config ]; then cat /etc/selinux/config; elif [ -d /etc/selinux ] && ! [ -x "
                  "/etc/selinux ]; then echo '/etc/selinux: Permission denied' >&2; exit 1; fi",
    })


def read_selinux(text: str) -> tuple[str | None, str | None]:
    """(running mode, mode at boot) from selinux_command's output; (None, None) means no SELinux at all (no
    getenforce, no /sys/fs/selinux/enforce, no /etc/selinux/config); CannotCheck when a part failed."""
    parts = parse_batch(text)
    config = part(parts, "CONFIG").output("/etc/selinux/config")
    return selinux_state(part(parts, "ENFORCE").output("SELinux's mode (getenforce)"), config or None)


# --- yum repositories (EPEL) --------------------------------------------------------------------------------------
def repos_command() -> str:
    d = "/etc/yum.repos.d"
    return (f"if [ -d {d} ] && ! {{ [ -r {d} ] && [ -x {d} ]; }}; then echo '@@UNREADABLE {d}'; fi; "
            f"for f in {d}/*.repo; do [ -f \"$f\" ] || continue; if [ -r \"$f\" ]; then echo \"@@FILE $f\"; "
            "cat \"$f\"; else echo \"@@UNREADABLE $f\"; fi; done; true")


def split_files(text: str) -> dict[str, str]:
    """path -> text of each repo file; CannotCheck when a repo file or the directory could not be read (an
    unread file could be the one that enables EPEL)."""
    found = sections.split(text, "@@", is_name=lambda n: n.startswith(("FILE ", "UNREADABLE ")))
    unreadable = [name.split(" ", 1)[1] for name in found if name.startswith("UNREADABLE ")]
    if unreadable:
        raise CannotCheck(f"could not read {', '.join(unreadable)}: not readable by this user (run as root or with "
                          "become)")
    return {name.split(" ", 1)[1]: body for name, body in found.items()}


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
