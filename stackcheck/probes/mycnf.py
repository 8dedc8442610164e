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

from stackcheck.probes import batch
from stackcheck.verdicts import CannotCheck

ROOTS = ("/etc/my.cnf", "/etc/mysql/my.cnf")  # the server's read order (then ~/.my.cnf, not used by services)
SCAN = ("/etc/my.cnf", "/etc/mysql", "/etc/my.cnf.d")
SERVER_GROUP = re.compile(r"^(mysqld|server|galera|mariadb|mariadbd|client-server|mysqld-[\d.]+|mariadb-[\d.]+|"
                          r"mariadbd-[\d.]+|percona-cluster|wsrep)$", re.I)


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
_ROOTS = f"set --; for p in {' '.join(SCAN)}; do [ ! -e $p ] || set -- \"$@\" $p; done; [ $# = 0 ] || "
# the compiled-in defaults: the table of the first server binary found (127: none is installed)
_HELP = ("for b in /usr/sbin/mariadbd /usr/sbin/mysqld /usr/libexec/mysqld; do [ -x $b ] || continue; "
         "out=$($b --no-defaults --verbose --help 2>&1); rc=$?; "
         "[ $rc = 0 ] || { printf '%s\\n' \"$out\" | tail -n 3 >&2; exit $rc; }; "
         "printf '%s\\n' \"$out\" | sed -n '/^Variables (--variable-name=value)/,$p'; exit 0; done; "
         "echo 'no mariadbd/mysqld binary found' >&2; exit 127")


def read_command() -> str:
    """A batch (stackcheck/probes/batch.py): the option files or directories this user cannot read (listed, never
    silently left out), every readable option file as a part of its own (named by its path), then
    my_print_defaults and the compiled defaults, each part with its exit code."""
    return batch.script(
        # debian.cnf holds the maintenance account's credentials (client-only): never read. find exits 1 when it
        # met a directory it may not read, which this same listing names: judged with ok=(0, 1)
        batch.part("unreadable", f"{_ROOTS}find -L \"$@\" -maxdepth 2 \\( -type d \\( ! -readable -o ! -executable \\) "
                                 f"-o -type f {_FILES} ! -readable \\) -print"),
        f"for __sc_f in $({_ROOTS}find -L \"$@\" -maxdepth 2 -type f {_FILES} -readable 2>/dev/null | sort -u); do "
        "__sc_file \"$__sc_f\"; done",
        batch.part("print_defaults", "my_print_defaults --mysqld"),
        batch.part("help", _HELP),
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


def from_batch(found: batch.Batch) -> ServerConfig:
    """The server's configuration from read_command's batch; CannotCheck when an option file could not be read
    or my_print_defaults failed (what the next restart brings back would then be a guess)."""
    unreadable = [line.strip() for line in found.output("unreadable", "which option files this user may not read "
                                                        "(find)", ok=(0, 1)).splitlines() if line.strip()]
    if unreadable:
        raise CannotCheck("could not read the option files: not readable by this user: " + ", ".join(unreadable)
                          + " (run as root or with become)")
    files = {path: found.file(path) or "" for path in found.names("/")}
    defaults = found.part("print_defaults", "my_print_defaults --mysqld")
    if not defaults.ok:
        raise CannotCheck("could not read the server's options as it reads them: my_print_defaults --mysqld "
                          f"{defaults.reason()} (install the MariaDB/MySQL server package's client tools, or run as a "
                          "user whose PATH has my_print_defaults)")
    help_part = found.get("help")
    compiled_error = "`mysqld --verbose --help` was not reached" if help_part is None else "" if help_part.ok else (
        "no mariadbd/mysqld binary found" if help_part.rc == 127 else f"`mysqld --verbose --help` {help_part.reason()}")
    help_text = help_part.text if help_part is not None and help_part.ok else ""
    return ServerConfig(files, parse_print_defaults(defaults.text), parse_help_defaults(help_text),
                        parse_files(files), compiled_error)


def parse(text: str) -> ServerConfig:
    return from_batch(batch.parse(text))


def read(transport) -> ServerConfig:
    return from_batch(batch.run(transport, read_command()))


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
