"""A real browser for the HTML report's tests: Debian's chromium, headless (apt-host.txt installs it). What a
person sees is the DOM after the page's own script ran (--dump-dom) and a screenshot."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def chromium() -> str:
    found = shutil.which("chromium")
    assert found, "chromium is not installed: `make setup` installs it (apt-host.txt), or apt-get install chromium"
    return found


def _run(path: Path, *args: str) -> subprocess.CompletedProcess:
    # a profile of its own per call (no state shared between tests); --no-sandbox: these machines run as root
    with tempfile.TemporaryDirectory(prefix="stackcheck-chromium-") as profile:
        proc = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                               *args, Path(path).resolve().as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return proc


def dump_dom(path: Path) -> str:
    """The page's DOM as the browser holds it once loaded and its scripts ran."""
    return _run(path, "--dump-dom").stdout


def screenshot(path: Path, out: Path, size: str = "1280,1000") -> Path:
    _run(path, f"--screenshot={out}", f"--window-size={size}", "--hide-scrollbars")
    assert out.is_file() and out.stat().st_size > 1000, f"no screenshot written to {out}"
    return out
