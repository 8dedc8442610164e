"""my.cnf: what the server will run with after its next restart, and where each value is written.

A DB node has two truths, and a check needs both: the running server's values (`SHOW GLOBAL VARIABLES`: what
is in force now) and the option files (what the next restart brings back). A `SET GLOBAL` that was never
written to a file, or a file edit that was never applied, are both drift.

From the files: one shell command dumps every option file under the usual roots (Debian /etc/mysql, RHEL
/etc/my.cnf + /etc/my.cnf.d), `my_print_defaults --mysqld` (the server's own reading of them, authoritative
for the values) and the compiled defaults (`mariadbd --no-defaults --verbose --help`) for options no file
sets. The files are parsed here (following !include/!includedir in the server's order) only to say WHERE
a value is set (file:line) and to edit it in place for a fixer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from stackcheck.verdicts import CannotCheck

ROOTS = ("/etc/my.cnf", "/etc/mysql/my.cnf")  # the server's read order (then ~/.my.cnf, not used by services)
SCAN = ("/etc/my.cnf", "/etc/mysql", "/etc/my.cnf.d")
SERVER_GROUP = re.compile(r"^(mysqld|server|galera|mariadb|mariadbd|client-server|mysqld-[\d.]+|mariadb-[\d.]+|"
                          r"mariadbd-[\d.]+|percona-cluster|wsrep)$", re.I)
MARK = "@@STACKCHECK"


def norm(key: str) -> str:
    """Option names: case-insensitive, '-' == '_', `loose-` prefix ignored."""
    key = key.strip().lower().replace("-", "_")
    return key[len("loose_"):] if key.startswith("loose_") else key


def unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


_FILES = "\\( -name '*.cnf' -o -name my.cnf \\) ! -name debian.cnf"


def read_command() -> str:
    """Every option file, then my_print_defaults and the compiled defaults, each with its exit code; option
    files or directories this user cannot read are listed (UNREADABLE), never silently left out."""
    scan = " ".join(SCAN)
    return (
        # debian.cnf holds the maintenance account's credentials (client-only): never read
        f"echo '{MARK} UNREADABLE'; find -L {scan} -maxdepth 2 \\( -type d \\( ! -readable -o ! -executable \\) "
        f"-o -type f {_FILES} ! -readable \\) -print 2>/dev/null; "
        f"for f in $(find -L {scan} -maxdepth 2 -type f {_FILES} -readable 2>/dev/null | sort -u); do "
        f"echo '{MARK} FILE '\"$f\"; cat \"$f\"; echo; done; "
        f"echo '{MARK} PRINT_DEFAULTS'; my_print_defaults --mysqld 2>&1; echo \"{MARK} RC PRINT_DEFAULTS $?\"; "
        f"echo '{MARK} HELP'; rc=127; "
        "for b in /usr/sbin/mariadbd /usr/sbin/mysqld /usr/libexec/mysqld; do "
        "[ -x $b ] && { out=$($b --no-defaults --verbose --help 2>&1); rc=$?; "
        "printf '%s\\n' \"$out\" | sed -n '/^Variables (--variable-name=value)/,$p'; break; }; done; "
        f"echo \"{MARK} RC HELP $rc\""
    )


@dataclass(frozen=True)
class Setting:
    key: str  # normalised
    value: str
    path: str
    line: int  # 1-based
    group: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class ServerConfig:
    files: dict[str, str]  # path -> text
    effective: dict[str, str]  # from my_print_defaults (last one wins), normalised keys
    compiled: dict[str, str]  # compiled-in defaults, normalised keys
    settings: list[Setting]  # every server-group setting in read order
    compiled_error: str = ""  # why the compiled-in defaults could not be read (empty: they were)

    def value(self, key: str) -> str | None:
        """The value the server gets from its option files (None: no file sets it)."""
        return self.effective.get(norm(key))

    def after_restart(self, key: str) -> str | None:
        """What the server would run with after a restart: the files' value, else the compiled default."""
        key = norm(key)
        if key in self.effective:
            return self.effective[key]
        if self.compiled_error:
            raise CannotCheck(f"could not tell what {key} would be after a restart: no option file sets it and "
                              f"the compiled-in default could not be read ({self.compiled_error})")
        return self.compiled.get(key)

    def where(self, key: str) -> Setting | None:
        """The setting that decides `key` (the last one read), if the parsed files show it."""
        found = [s for s in self.settings if s.key == norm(key)]
        return found[-1] if found else None


@dataclass
class Dump:
    files: dict[str, str]
    print_defaults: str
    help_text: str
    unreadable: list[str]
    rcs: dict[str, int]  # PRINT_DEFAULTS, HELP -> exit code (absent: the command printed none)


def split_dump(text: str) -> Dump:
    dump = Dump({}, "", "", [], {})
    for chunk in re.split(rf"^{MARK} ", text, flags=re.M):
        head, _, body = chunk.partition("\n")
        head = head.strip()
        if head.startswith("FILE "):
            dump.files[head[5:].strip()] = body[:-1] if body.endswith("\n") else body  # the `echo` after `cat`
        elif head == "UNREADABLE":
            dump.unreadable = [line.strip() for line in body.splitlines() if line.strip()]
        elif head == "PRINT_DEFAULTS":
            dump.print_defaults = body
        elif head == "HELP":
            dump.help_text = body
        elif head.startswith("RC ") and len(head.split()) == 3 and head.split()[2].isdigit():
            dump.rcs[head.split()[1]] = int(head.split()[2])
    return dump


def parse_print_defaults(text: str) -> dict[str, str]:
    """`my_print_defaults --mysqld` lines (`--key=value`, `--flag`) -> {key: value}; the last one wins."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("--"):
            continue
        key, eq, value = line[2:].partition("=")
        out[norm(key)] = unquote(value) if eq else "1"
    return out


def parse_help_defaults(text: str) -> dict[str, str]:
    """The table after `Variables (--variable-name=value)` in `mysqld --verbose --help`."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.startswith("Variables (--variable-name=value)"))
    except StopIteration:
        return out
    dashes = next((i for i in range(start, len(lines)) if lines[i].startswith("---")), start)
    for line in lines[dashes + 1:]:
        if not line.strip():
            break
        parts = line.split(None, 1)
        if len(parts) == 2:
            out[norm(parts[0])] = parts[1].strip()
    return out


def parse_files(files: dict[str, str]) -> list[Setting]:
    """Every setting in a server group, in the server's read order (roots, then includes where they appear)."""
    settings: list[Setting] = []
    seen: set[str] = set()

    def read(path: str, depth: int = 0) -> None:
        if path in seen or path not in files or depth > 10:
            return
        seen.add(path)
        group = ""
        for no, raw in enumerate(files[path].splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("!includedir"):
                d = line.split(None, 1)[1].strip().rstrip("/") if len(line.split(None, 1)) > 1 else ""
                for p in sorted(f for f in files if f.rsplit("/", 1)[0] == d and f.endswith(".cnf")):
                    read(p, depth + 1)
                continue
            if line.startswith("!include"):
                read(line.split(None, 1)[1].strip(), depth + 1)
                continue
            if line.startswith("[") and "]" in line:
                group = line[1:line.index("]")].strip()
                continue
            if not SERVER_GROUP.match(group):
                continue
            key, eq, value = line.partition("=")
            value = re.split(r"\s+#", value, 1)[0] if eq else "1"
            settings.append(Setting(norm(key), unquote(value), path, no, group))

    for root in ROOTS:
        read(root)
    return settings


def parse(text: str) -> ServerConfig:
    """The server's configuration from read_command's output; CannotCheck when an option file could not be read
    or my_print_defaults failed (what the next restart brings back would then be a guess)."""
    dump = split_dump(text)
    if dump.unreadable:
        raise CannotCheck("could not read the option files: not readable by this user: " + ", ".join(dump.unreadable)
                          + " (run as root or with become)")
    rc = dump.rcs.get("PRINT_DEFAULTS")
    if rc != 0:
        last = [line for line in dump.print_defaults.splitlines() if line.strip() and not line.startswith("--")]
        raise CannotCheck("could not read the server's options as it reads them: my_print_defaults --mysqld "
                          + (f"exit code {rc}" if rc is not None else "printed no exit code")
                          + (f": {last[-1][:200]}" if last else "") + " (install the MariaDB/MySQL server package's "
                          "client tools, or run as a user whose PATH has my_print_defaults)")
    help_rc = dump.rcs.get("HELP")
    compiled_error = "" if help_rc == 0 else (
        "no mariadbd/mysqld binary found" if help_rc == 127 else f"`mysqld --verbose --help` exit code {help_rc}")
    return ServerConfig(dump.files, parse_print_defaults(dump.print_defaults), parse_help_defaults(dump.help_text),
                        parse_files(dump.files), compiled_error)


def read(transport) -> ServerConfig:
    return parse(transport.run(read_command()).output("the DB server's option files"))


# --- edits for fixers (line-preserving) -------------------------------------------------------------------------
def replace_line(text: str, line: int, key: str, value: str) -> str:
    """Rewrite line `line` (1-based) as `key = value`, keeping its indentation."""
    lines = text.splitlines(keepends=True)
    old = lines[line - 1]
    indent = old[: len(old) - len(old.lstrip())]
    lines[line - 1] = f"{indent}{key} = {value}\n"
    return "".join(lines)


def add_to_group(text: str, group: str, key: str, value: str) -> str:
    """Add `key = value` at the end of [group] (a new group at the end of the file when absent)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.strip().lower() == f"[{group.lower()}]"), None)
    if start is None:
        sep = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{sep}\n[{group}]\n{key} = {value}\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    lines.insert(end, f"{key} = {value}\n")
    return "".join(lines)


def set_option(config: ServerConfig, key: str, value: str, default_file: str, default_group: str = "mysqld"):
    """(path, new text) that makes the files give `key = value`: the deciding line rewritten in place, or the
    option added to `default_file`. None when the files already say so."""
    current = config.where(key)
    if current is not None:
        if current.value == value:
            return None
        return current.path, replace_line(config.files[current.path], current.line, key, value)
    return default_file, add_to_group(config.files.get(default_file, ""), default_group, key, value)


def galera_file(config: ServerConfig) -> str:
    """The file that holds the node's Galera settings (where a fixer adds what is missing)."""
    s = config.where("wsrep_cluster_address") or config.where("wsrep_provider")
    if s is not None:
        return s.path
    for candidate in ("/etc/mysql/mariadb.conf.d/60-galera.cnf", "/etc/my.cnf.d/galera.cnf", "/etc/my.cnf"):
        if candidate in config.files:
            return candidate
    return "/etc/my.cnf"
