"""Running commands on this machine, with one place that says what failed."""
from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor


class LabboxError(Exception):
    """A step of labbox failed; str() says which and why (the CLI prints it as one line)."""


def run(*cmd: str, check: bool = True, quiet: bool = False, input: str | None = None,
        log=None, timeout: float | None = None) -> subprocess.CompletedProcess:
    out = log if log is not None else (subprocess.DEVNULL if quiet else subprocess.PIPE)
    proc = subprocess.run(cmd, input=input, text=True, stdout=out, stderr=subprocess.STDOUT if log else
                          (subprocess.DEVNULL if quiet else subprocess.PIPE), timeout=timeout)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout or "").strip()[-800:] if log is None else f"see {log.name}"
        raise LabboxError(f"`{' '.join(cmd)[:200]}` failed ({proc.returncode}): {detail}")
    return proc


def ok(*cmd: str) -> bool:
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def say(message: str) -> None:
    print(f"[labbox {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parallel(fn, items, workers: int = 8) -> list:
    """fn over items, `workers` at a time; the results in the items' order (an exception ends it)."""
    items = list(items)
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))
