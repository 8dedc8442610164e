"""The requirements catalog (stackcheck/REQUIREMENTS.md, a copy of shared/REQUIREMENTS.md with its stable ids, and
stackcheck/REQUIREMENTS.added.md, the requirements the suite added in the same format).

Each check cites ids from it; reports carry the requirement text and its remediation ("Fix: ..." in the
catalog, or the paired fixer's description)."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

CATALOG = Path(__file__).with_name("REQUIREMENTS.md")
ADDED = Path(__file__).with_name("REQUIREMENTS.added.md")
_ITEM = re.compile(r"^- ([A-Z0-9]+-\d+) (.*)$")
_FAMILY = re.compile(r"^## ([A-Z0-9]+): (.*)$")


@dataclass(frozen=True)
class Requirement:
    id: str
    family: str
    text: str

    @property
    def remediation(self) -> str:
        """The catalog's "Fix: ..." sentence(s), or '' when the catalog names no repair."""
        m = re.search(r"Fix(?: \([^)]*\))?: (.*)$", self.text)
        return m.group(1).strip() if m else ""


def parse(text: str) -> dict[str, Requirement]:
    reqs: dict[str, Requirement] = {}
    family = ""
    current: list[str] | None = None
    order: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        if m := _FAMILY.match(line):
            family, current = m.group(1), None
        elif m := _ITEM.match(line):
            current = [m.group(2)]
            order.append((m.group(1), family, current))
        elif current is not None and line.startswith("  ") and line.strip():
            current.append(line.strip())
        else:
            current = None
    for rid, fam, parts in order:
        reqs[rid] = Requirement(rid, fam, " ".join(parts))
    return reqs


@functools.cache
def catalog() -> dict[str, Requirement]:
    return {**parse(CATALOG.read_text()), **parse(ADDED.read_text())}
