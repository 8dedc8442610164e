"""One batched remote command prints many things, each after a header line (`### name`); `split` takes them apart.

Every probe that batches its reads into one round trip uses this, with the header it prints. Where what follows
a header is file content that could itself hold a line starting like a header (a comment `### ...` in a config
file), the probe passes `is_name` to say which headers are real."""
from __future__ import annotations

from collections.abc import Callable


def split(text: str, marker: str = "### ", is_name: Callable[[str], bool] | None = None) -> dict[str, str]:
    """name -> the lines (newlines kept) between `MARKER name` and the next header; lines before the first header
    are dropped, a repeated name keeps its last section."""
    out: dict[str, str] = {}
    name = None
    for line in text.splitlines(keepends=True):
        if line.startswith(marker) and (is_name is None or is_name(line[len(marker):].strip())):
            name = line[len(marker):].strip()
            out[name] = ""
        elif name is not None:
            out[name] += line
    return out


def fields(body: str, sep: str) -> dict[str, str]:
    """`key SEP value` lines of one section (systemctl show's `=`, virsh's `:`), stripped; other lines ignored."""
    out: dict[str, str] = {}
    for line in body.splitlines():
        key, found, value = line.partition(sep)
        if found:
            out[key.strip()] = value.strip()
    return out
