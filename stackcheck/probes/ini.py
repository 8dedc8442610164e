"""oslo.config-style ini files (nova.conf, ceilometer.conf, l3_agent.ini, ml2_conf.ini ...): a reader that keeps
repeated keys, and a small editor for fixers that changes one key and keeps every comment and the file's layout.

How oslo.config reads these files, and what this module therefore does:
- `[section]` headers; `key = value` or `key: value`; whitespace around the value is dropped.
- Lines starting with `#` or `;` are comments (commented-out defaults like `#enabled = false` are NOT values).
- A key may repeat (MultiStrOpt); for a plain option the last one wins. `get` returns the last, `get_all` all.
- An indented line continues the previous value (joined with a newline).
- `[DEFAULT]` is a group of its own: unlike Python's configparser, oslo does NOT inherit DEFAULT keys into
  other sections, so neither does this parser.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_SECTION = re.compile(r"^\[\s*([^\]]+?)\s*\]\s*$")
_KEY = re.compile(r"^([^=:\s][^=:]*?)\s*[=:]\s?(.*)$")
TRUE = {"true", "1", "yes", "on", "t", "y"}
FALSE = {"false", "0", "no", "off", "f", "n"}


@dataclass
class IniFile:
    values: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @property
    def sections(self) -> list[str]:
        return list(self.values)

    def has(self, section: str, key: str) -> bool:
        return bool(self.values.get(section, {}).get(key))

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        """The effective value (the last one given), or `default` when the key is absent."""
        found = self.values.get(section, {}).get(key)
        return found[-1] if found else default

    def get_all(self, section: str, key: str) -> list[str]:
        return list(self.values.get(section, {}).get(key, []))

    def get_bool(self, section: str, key: str, default: bool | None = None) -> bool | None:
        """oslo's boolean reading; an unparsable value raises ValueError (oslo refuses to start on it too)."""
        raw = self.get(section, key)
        return default if raw is None else to_bool(raw)

    def get_int(self, section: str, key: str, default: int | None = None) -> int | None:
        raw = self.get(section, key)
        return default if raw is None or raw == "" else int(raw)

    def get_list(self, section: str, key: str) -> list[str]:
        """A ListOpt: comma separated, blanks dropped ("vxlan, flat" -> ["vxlan", "flat"])."""
        raw = self.get(section, key)
        return [] if raw is None else [p.strip() for p in raw.split(",") if p.strip()]


def to_bool(raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    raise ValueError(f"{raw!r} is not a boolean")


def parse(text: str) -> IniFile:
    ini = IniFile()
    section: str | None = None
    last: tuple[str, str] | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            if not stripped:
                last = None
            continue
        if raw[:1] in " \t" and last is not None:  # continuation of the previous value
            values = ini.values[last[0]][last[1]]
            values[-1] = (values[-1] + "\n" + stripped).strip()
            continue
        if m := _SECTION.match(stripped):
            section = m.group(1)
            ini.values.setdefault(section, {})
            last = None
        elif section is not None and (m := _KEY.match(stripped)):
            key = m.group(1).strip()
            ini.values[section].setdefault(key, []).append(m.group(2).strip())
            last = (section, key)
    return ini


def set_value(text: str, section: str, key: str, value: str | None) -> str:
    """`text` with `key` in `section` set to `value` (None removes the key). The first active line of the key is
    replaced in place, later duplicates are dropped (so the result has one effective value); when the key is
    absent it goes right after the section header (after a commented-out default of it, if there is one);
    a missing section is appended. Comments and everything else stay as they were."""
    lines = text.splitlines()
    out: list[str] = []
    current: str | None = None
    header_at: int | None = None
    commented_at: int | None = None
    done = False
    commented = re.compile(rf"^\s*[#;]\s*{re.escape(key)}\s*[=:]")
    for line in lines:
        stripped = line.strip()
        if m := _SECTION.match(stripped):
            current = m.group(1)
            out.append(line)
            if current == section and header_at is None:
                header_at = len(out)
            continue
        if current == section and stripped and stripped[0] not in "#;" and (m := _KEY.match(stripped)) \
                and m.group(1).strip() == key:
            if not done and value is not None:
                out.append(f"{key} = {value}")
            done = True
            continue
        if current == section and commented.match(line) and commented_at is None:
            commented_at = len(out) + 1
        out.append(line)
    if not done and value is not None:
        if header_at is None:
            if out and out[-1].strip():
                out.append("")
            out += [f"[{section}]", f"{key} = {value}"]
        else:
            out.insert(commented_at if commented_at is not None else header_at, f"{key} = {value}")
    return "\n".join(out) + "\n"


def set_values(text: str, changes: dict[tuple[str, str], str | None]) -> str:
    for (section, key), value in changes.items():
        text = set_value(text, section, key, value)
    return text
