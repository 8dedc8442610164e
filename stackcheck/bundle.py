"""A signed evidence bundle of one run, for an auditor who must trust the files they are handed.

    python -m stackcheck.bundle latest --key ~/.ssh/id_ed25519            # -> reports/<run>.bundle.tar.gz
    python -m stackcheck.bundle stackcheck-20261203T134010Z-6437 --key KEY --out /tmp/evidence.tar.gz
    python -m stackcheck.bundle --verify ARCHIVE --allowed-signers FILE

The archive holds, under one folder named after the run: the run's JUnit (report.xml), JSON (results.json) and
HTML (report.html) reports, the inventory it ran with (inventory.yaml, its secrets redacted like the reports),
versions.txt (stackcheck, Python, every Python distribution, the Debian packages of apt-host.txt, OpenSSH), a
manifest of their SHA-256 sums (MANIFEST.sha256, `sha256sum -c` format) and the manifest's signature
(MANIFEST.sha256.sig: `ssh-keygen -Y sign -n stackcheck` with the operator's key).

--verify never extracts anything: it reads the archive in memory, checks every sum of the manifest, lists any file
that is missing from it or not in it, then checks the signature against the allowed-signers file (ssh-keygen's
format: `PRINCIPAL namespaces="stackcheck" KEY`). Each problem is one line naming the file or the key; exit code
0 only when every sum and the signature are good.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import platform
import subprocess
import sys
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

from stackcheck.inventory import REPO, InventoryError, load
from stackcheck.report import Redactor
from stackcheck.results_json import tool_version

NAMESPACE = "stackcheck"
MANIFEST = "MANIFEST.sha256"
SIGNATURE = MANIFEST + ".sig"
REPORTS = {"report.xml": ".xml", "results.json": ".json", "report.html": ".html"}


class BundleError(Exception):
    """What stops a bundle from being made (a missing report, a key ssh-keygen refuses)."""


# --- making one -------------------------------------------------------------------------------------------------
def run_json(reports: Path, run: str) -> Path:
    """The JSON report of RUN: `latest`, a run id (stackcheck-<time>-<pid>) or a path to one of its reports."""
    if run == "latest":
        latest = reports / "latest.json"
        if not latest.is_file():
            raise BundleError(f"{latest}: no run in {reports} (run the checks first, or give --reports DIR)")
        run = json.loads(latest.read_text())["run"]["id"]
    path = Path(run)
    candidates = [path.with_suffix(".json")] if path.suffix in (".json", ".xml", ".html") else [reports / f"{run}.json"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise BundleError(f"{candidates[0]}: no such report (a run id is the stem of a report in {reports})")


def redacted_inventory(path: str) -> bytes:
    """The inventory as it was run, every secret it can reach replaced by [REDACTED] (as in the reports)."""
    if not path or not Path(path).is_file():
        raise BundleError(f"the run's inventory {path or '(not recorded: a report older than this tool)'} is gone")
    try:
        secrets = load(path).secrets()
    except InventoryError as exc:
        raise BundleError(f"cannot read the run's inventory to redact it: {exc}") from None
    return Redactor(secrets)(Path(path).read_text()).encode()


def versions() -> bytes:
    lines = [f"stackcheck {tool_version()}", f"python {platform.python_version()} ({sys.executable})",
             f"platform {platform.platform()}", "", "# Python distributions"]
    lines += sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    listed = REPO / "apt-host.txt"
    apt = [line.split()[0] for line in listed.read_text().splitlines()
           if line.strip() and not line.startswith("#")] if listed.is_file() else []
    if apt:
        dpkg = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *apt], capture_output=True,
                              text=True)
        found = dpkg.stdout.splitlines()  # rc judged: 1 when a package is missing, said below; the rest is found
        lines += ["", "# Debian packages (apt-host.txt)", *found,
                  *(f"missing: {line}" for line in dpkg.stderr.splitlines())]
    ssh = subprocess.run(["ssh", "-V"], capture_output=True, text=True)
    lines += ["", f"openssh {(ssh.stderr or ssh.stdout).strip()}"]  # rc judged: any answer is the version
    return ("\n".join(lines) + "\n").encode()


def manifest(files: dict[str, bytes]) -> bytes:
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())).encode()


def sign(data: bytes, key: Path) -> bytes:
    with tempfile.TemporaryDirectory(prefix="stackcheck-bundle-") as tmp:
        path = Path(tmp) / MANIFEST
        path.write_bytes(data)
        proc = subprocess.run(["ssh-keygen", "-Y", "sign", "-q", "-f", str(key), "-n", NAMESPACE, str(path)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise BundleError(f"ssh-keygen could not sign with {key}: {proc.stderr.strip()}")
        return (Path(tmp) / SIGNATURE).read_bytes()


def make(json_path: Path, key: Path, out: Path | None = None) -> Path:
    doc = json.loads(json_path.read_text())
    run_id = doc["run"]["id"]
    files = {}
    for name, suffix in REPORTS.items():
        report = json_path.with_suffix(suffix)
        if not report.is_file():
            raise BundleError(f"{report}: missing (the run's {name} goes in the bundle)")
        files[name] = report.read_bytes()
    files["inventory.yaml"] = redacted_inventory(doc["run"].get("inventory_path", ""))
    files["versions.txt"] = versions()
    files[MANIFEST] = manifest(files)
    files[SIGNATURE] = sign(files[MANIFEST], key)
    out = out or json_path.with_name(f"{run_id}.bundle.tar.gz")
    with tarfile.open(out, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{run_id}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, int(json_path.stat().st_mtime)
            tar.addfile(info, io.BytesIO(data))
    return out


# --- verifying one ----------------------------------------------------------------------------------------------
def read_archive(archive: Path) -> dict[str, bytes]:
    """Every regular file of the archive by its name inside the run's folder; nothing is written to disk."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            return {m.name.split("/", 1)[-1]: tar.extractfile(m).read() for m in members if m.isfile()}
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BundleError(f"{archive}: not a readable archive: {exc}") from None


def check_sums(files: dict[str, bytes]) -> list[str]:
    problems = []
    listed = {}
    for line in files[MANIFEST].decode(errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    for name, digest in listed.items():
        if name not in files:
            problems.append(f"{name}: listed in {MANIFEST} but missing from the archive")
        elif hashlib.sha256(files[name]).hexdigest() != digest:
            problems.append(f"{name}: SHA-256 differs from {MANIFEST} (manifest {digest[:16]}..., file "
                            f"{hashlib.sha256(files[name]).hexdigest()[:16]}...): the file was changed")
    for name in sorted(set(files) - set(listed) - {MANIFEST, SIGNATURE}):
        problems.append(f"{name}: in the archive but not in {MANIFEST}")
    return problems


def _keygen(args: list[str], data: bytes) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh-keygen", "-Y", *args], input=data, capture_output=True)


def check_signature(files: dict[str, bytes], allowed: Path) -> tuple[list[str], str]:
    """(problems, who signed) for the manifest's signature against the allowed-signers file."""
    with tempfile.TemporaryDirectory(prefix="stackcheck-verify-") as tmp:
        sig = Path(tmp) / SIGNATURE
        sig.write_bytes(files[SIGNATURE])
        alone = _keygen(["check-novalidate", "-n", NAMESPACE, "-s", str(sig)], files[MANIFEST])
        if alone.returncode != 0:
            return [f"{SIGNATURE}: not a good signature of {MANIFEST} in namespace {NAMESPACE} (the manifest or its "
                    f"signature was changed after signing): {alone.stderr.decode().strip()}"], ""
        key = alone.stdout.decode().strip().rpartition(" key ")[2] or "unknown key"  # rc judged: 0 just above
        found = _keygen(["find-principals", "-s", str(sig), "-f", str(allowed)], b"")
        if found.returncode != 0:
            return [f"{SIGNATURE}: signed by key {key}, which is not in the allowed signers {allowed}"], ""
        principal = found.stdout.decode().split()[0]  # rc judged: 0 just above
        ok = _keygen(["verify", "-f", str(allowed), "-I", principal, "-n", NAMESPACE, "-s", str(sig)], files[MANIFEST])
        if ok.returncode != 0:
            return [f"{SIGNATURE}: key {key} ({principal}) is not allowed to sign namespace {NAMESPACE} in "
                    f"{allowed}: {ok.stderr.decode().strip()}"], ""
        return [], f"{principal} (key {key})"


def verify(archive: Path, allowed: Path) -> tuple[list[str], str]:
    """(problems, what was verified): no problems means every sum and the signature are good."""
    files = read_archive(archive)
    missing = [name for name in (MANIFEST, SIGNATURE) if name not in files]
    if missing:
        return [f"{name}: missing from the archive" for name in missing], ""
    problems = check_sums(files)
    sig_problems, signer = check_signature(files, allowed)
    return problems + sig_problems, signer


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stackcheck.bundle", description=__doc__.split("\n\n")[0])
    ap.add_argument("run", nargs="?", default="latest", help="latest (default), a run id, or a report's path")
    ap.add_argument("--key", type=Path, help="the SSH private key that signs the manifest (ssh-keygen -Y sign)")
    ap.add_argument("--reports", type=Path, default=REPO / "reports", help="the reports directory (default reports/)")
    ap.add_argument("--out", type=Path, help="the archive (default: reports/<run>.bundle.tar.gz)")
    ap.add_argument("--verify", type=Path, metavar="ARCHIVE", help="check a bundle instead of making one")
    ap.add_argument("--allowed-signers", type=Path, metavar="FILE", help="with --verify: ssh-keygen's allowed signers")
    args = ap.parse_args(argv)
    try:
        if args.verify:
            if not args.allowed_signers:
                ap.error("--verify needs --allowed-signers FILE")
            problems, signer = verify(args.verify, args.allowed_signers)
            for line in problems:
                print(f"FAILED: {line}")
            if problems:
                return 1
            count = len(read_archive(args.verify)) - 2
            print(f"OK: {args.verify}: {count} files match {MANIFEST}, signed by {signer}")
            return 0
        if not args.key:
            ap.error("--key KEY is needed to sign the bundle")
        out = make(run_json(args.reports, args.run), args.key, args.out)
        print(out)
        return 0
    except BundleError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
