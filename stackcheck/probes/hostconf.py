"""Read several files and package versions of a host in ONE round trip (config checks need a file, sometimes
two or three candidates, and the release that decides which option names count)."""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from stackcheck.probes import release as rel
from stackcheck.verdicts import CannotCheck

_MARK = "@@stackcheck@@"


class Files(dict):
    """path -> content (None: does not exist). A file that exists but could not be read raises CannotCheck on
    access: unreadable is neither "missing" nor "empty"."""

    def __init__(self):
        super().__init__()
        self.unreadable: set[str] = set()

    def __getitem__(self, path):
        if path in self.unreadable:
            raise CannotCheck(f"could not read {path}: permission denied (run as root or with become)")
        return super().__getitem__(path)

    def get(self, path, default=None):
        return self[path] if path in self else default


@dataclass
class Bundle:
    files: Files = field(default_factory=Files)  # path -> content (None: does not exist)
    versions: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # project -> (pkg, version)
    outputs: dict[str, str] = field(default_factory=dict)  # extra command name -> its output

    def first(self, paths) -> tuple[str | None, str | None]:
        """(path, content) of the first existing candidate, (None, None) when none exists."""
        for p in paths:
            if self.files.get(p) is not None:
                return p, self.files[p]
        return None, None

    def release(self, project: str) -> str | None:
        return rel.release_of(project, self.versions.get(project, (None, None))[1])

    def version_text(self, project: str) -> str:
        pkg, version = self.versions.get(project, (None, None))
        return f"{pkg} {version}" if pkg else f"no {project} package found"


def command(paths=(), projects=(), extra: dict[str, str] | None = None) -> str:
    parts = []
    for p in paths:
        q = shlex.quote(p)
        # "missing" only when the file really is not there: a directory we may not search hides it too
        parts.append(f"echo '{_MARK} file {p}'; if [ -f {q} ] && [ -r {q} ]; then sed -e '$a\\' {q} || "
                     f"echo '{_MARK} unreadable'; elif [ -e {q} ] || stat -- {q} 2>&1 | grep -qi 'permission denied'; "
                     f"then echo '{_MARK} unreadable'; else echo '{_MARK} missing'; fi")
    for project in projects:
        parts.append(f"echo '{_MARK} version {project}'; {rel.version_command(project)}")
    for name, cmd in (extra or {}).items():
        parts.append(f"echo '{_MARK} out {name}'; {{ {cmd} ; }} 2>&1")
    return "\n".join(parts) + "\ntrue"


def parse(text: str) -> Bundle:
    bundle = Bundle()
    kind = name = None
    chunk: list[str] = []

    def flush():
        if kind == "file":
            if chunk and chunk[-1] == f"{_MARK} unreadable":
                bundle.files.unreadable.add(name)
            bundle.files[name] = None if chunk == [f"{_MARK} missing"] else "\n".join(chunk) + ("\n" if chunk else "")
        elif kind == "version":
            bundle.versions[name] = rel.parse_version_output("\n".join(chunk))
        elif kind == "out":
            bundle.outputs[name] = "\n".join(chunk)

    for line in text.splitlines():
        if line.startswith(_MARK + " ") and line.split()[1] in ("file", "version", "out"):
            flush()
            _, kind, name = line.split(" ", 2)
            chunk = []
        else:
            chunk.append(line)
    flush()
    return bundle


def read(transport, paths=(), projects=(), extra: dict[str, str] | None = None) -> Bundle:
    return parse(transport.run(command(paths, projects, extra)).output("configuration files and package versions"))
