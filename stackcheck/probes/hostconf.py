"""Read several files and package versions of a host in ONE round trip (config checks need a file, sometimes
two or three candidates, and the release that decides which option names count), plus `extra` commands.

It is a batch (stackcheck/probes/batch.py): each file is read by the batch's file reader, so "does not exist" is
told from "cannot be read" (also behind a directory this user may not search); each version query and each
extra command is a part with its own exit code, judged where a check uses it: `bundle.output(name, what)`
returns an extra command's stdout or raises CannotCheck saying why it could not be read."""
from __future__ import annotations

from dataclasses import dataclass, field

from stackcheck.probes import batch
from stackcheck.probes import release as rel
from stackcheck.verdicts import CannotCheck

_VERSION = "version "  # the part of a project's version query
_OUT = "out "  # the part of an extra command (a prefix: an extra's name never collides with a path or a version)


class Files(dict):
    """path -> content (None: does not exist). A file that exists but could not be read raises CannotCheck on
    access: unreadable is neither "missing" nor "empty"."""

    def __init__(self):
        super().__init__()
        self.unreadable: dict[str, str] = {}  # path -> why it could not be read

    def __getitem__(self, path):
        if path in self.unreadable:
            raise CannotCheck(self.unreadable[path])
        return super().__getitem__(path)

    def get(self, path, default=None):
        return self[path] if path in self else default


@dataclass
class Bundle:
    files: Files = field(default_factory=Files)  # path -> content (None: does not exist)
    batch: batch.Batch = field(default_factory=batch.Batch)  # every part as read, judged on use

    def first(self, paths) -> tuple[str | None, str | None]:
        """(path, content) of the first existing candidate, (None, None) when none exists."""
        for p in paths:
            if self.files.get(p) is not None:
                return p, self.files[p]
        return None, None

    def version(self, project: str) -> tuple[str | None, str | None]:
        """(package, version) of the project's installed package, (None, None) when none is installed;
        CannotCheck when the query itself could not run."""
        return rel.parse_version_output(self.batch.output(_VERSION + project, f"the installed {project} package"))

    def release(self, project: str) -> str | None:
        return rel.release_of(project, self.version(project)[1])

    def version_text(self, project: str) -> str:
        pkg, version = self.version(project)
        return f"{pkg} {version}" if pkg else f"no {project} package found"

    def part(self, name: str, what: str) -> batch.Part:
        """The extra command `name` as a judged part (its rc, stdout, stderr); CannotCheck if it never ran."""
        return self.batch.part(_OUT + name, what)

    def output(self, name: str, what: str, ok: tuple[int, ...] = (0,)) -> str:
        """The stdout of the extra command `name`, or CannotCheck saying that `what` could not be read and why."""
        return self.batch.output(_OUT + name, what, ok)


def command(paths=(), projects=(), extra: dict[str, str] | None = None) -> str:
    return batch.script(*(batch.file(p) for p in paths),
                        *(batch.part(_VERSION + project, rel.version_command(project)) for project in projects),
                        *(batch.part(_OUT + name, cmd) for name, cmd in (extra or {}).items()))


def from_batch(found: batch.Batch, paths=()) -> Bundle:
    bundle = Bundle(batch=found)
    for path in paths:
        try:
            bundle.files[path] = found.file(path)
        except CannotCheck as exc:  # unreadable (or not reached): judged when a check reads it
            bundle.files.unreadable[path] = str(exc)
            bundle.files[path] = None
    return bundle


def parse(text: str, paths=()) -> Bundle:
    """The bundle of command's output (`paths`: the files it read; default: every part named by a path)."""
    found = batch.parse(text)
    return from_batch(found, paths or found.names("/"))


def read(transport, paths=(), projects=(), extra: dict[str, str] | None = None) -> Bundle:
    return from_batch(batch.run(transport, command(paths, projects, extra)), paths)
