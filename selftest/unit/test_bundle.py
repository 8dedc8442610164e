"""The signed evidence bundle without a lab: a run's reports (written by the real writer) and an inventory, packed
and signed with a throwaway key; verification passes, then a changed byte in any file, a file added, a changed
manifest and another signer's key are each refused with a line naming the file or the key."""
from __future__ import annotations

import io
import subprocess
import sys
import tarfile

import pytest

from stackcheck import bundle
from stackcheck.inventory import REPO
from stackcheck.report import CaseResult, Redactor, requirement_results, write_reports
from stackcheck.requirements import catalog

SECRET = "bundle-S3cret-pw"
INVENTORY = f"""all:
  children:
    dbnode:
      hosts:
        db1: {{ansible_host: 198.18.0.15}}
stackcheck:
  db:
    password: {{file: {{pw}}}}
"""


def _key(tmp_path, name):
    path = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True)
    return path


def _allowed(tmp_path, *keys):
    path = tmp_path / "allowed_signers"
    path.write_text("".join(f'{k.name}@example namespaces="stackcheck" {k.with_suffix(".pub").read_text()}'
                            for k in keys))
    return path


@pytest.fixture
def run(tmp_path):
    """A run's reports in tmp_path/reports, its inventory naming a password file (the secret to keep out)."""
    (tmp_path / "pw").write_text(SECRET)
    (tmp_path / "pw").chmod(0o600)
    inventory = tmp_path / "lab.yaml"
    inventory.write_text(INVENTORY.replace("{pw}", str(tmp_path / "pw")) + f"# the old password was {SECRET}\n")
    results = [CaseResult("tests_db/t.py::test_size[db1]", "test_size[db1]", "tests_db.t", "failed",
                          message=f"found 2 (pw {SECRET})", properties={"requirements": "DBK-1", "host": "db1"})]
    reqs = requirement_results(results, catalog(), lambda rid: rid == "DBK-1", complete=False)
    write_reports(results, reqs, tmp_path / "reports", Redactor([SECRET]), "lab", None,
                  {"inventory_path": inventory, "exit_code": 1})
    return tmp_path / "reports"


def _cli(*args):
    proc = subprocess.run([sys.executable, "-m", "stackcheck.bundle", *map(str, args)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def _rewrite(archive, out, change):
    """A copy of the archive with `change(name, data) -> data | None` applied to each file (None drops it)."""
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for m in src.getmembers():
            data = change(m.name.split("/", 1)[1], src.extractfile(m).read())
            if data is not None:
                m.size = len(data)
                dst.addfile(m, io.BytesIO(data))
    return out


def test_a_bundle_verifies_and_keeps_secrets_out(tmp_path, run):
    key = _key(tmp_path, "operator")
    rc, out = _cli("latest", "--reports", run, "--key", key)
    assert rc == 0, out
    archive = run / out.strip().rsplit("/", 1)[1]
    files = bundle.read_archive(archive)
    assert set(files) == {"report.xml", "results.json", "report.html", "inventory.yaml", "versions.txt",
                          "MANIFEST.sha256", "MANIFEST.sha256.sig"}
    assert all(SECRET.encode() not in data for data in files.values())
    assert b"[REDACTED]" in files["inventory.yaml"] and b"ansible_host: 198.18.0.15" in files["inventory.yaml"]
    assert b"stackcheck " in files["versions.txt"] and b"pytest==" in files["versions.txt"]
    rc, out = _cli("--verify", archive, "--allowed-signers", _allowed(tmp_path, key))
    assert rc == 0 and out.startswith("OK: ") and "5 files match MANIFEST.sha256, signed by operator@example" in out, out


def test_a_changed_byte_an_added_file_a_changed_manifest_and_another_key_are_named(tmp_path, run):
    key, other = _key(tmp_path, "operator"), _key(tmp_path, "intruder")
    archive = bundle.make(bundle.run_json(run, "latest"), key)
    allowed = _allowed(tmp_path, key)

    def flip(target):
        return lambda name, data: (data[:10] + bytes([data[10] ^ 1]) + data[11:]) if name == target else data

    for target in ("report.html", "results.json", "inventory.yaml"):
        rc, out = _cli("--verify", _rewrite(archive, tmp_path / "t.tar.gz", flip(target)), "--allowed-signers", allowed)
        assert rc == 1 and f"FAILED: {target}: SHA-256 differs from MANIFEST.sha256" in out, out
        assert out.count("FAILED") == 1, out  # only that file: the signature of the manifest still holds

    with tarfile.open(archive) as src, tarfile.open(tmp_path / "added.tar.gz", "w:gz") as dst:
        for m in src.getmembers():
            dst.addfile(m, src.extractfile(m))
        extra = tarfile.TarInfo(src.getmembers()[0].name.split("/")[0] + "/notes.txt")
        extra.size = 3
        dst.addfile(extra, io.BytesIO(b"hi\n"))
    rc, out = _cli("--verify", tmp_path / "added.tar.gz", "--allowed-signers", allowed)
    assert rc == 1 and "FAILED: notes.txt: in the archive but not in MANIFEST.sha256" in out, out

    # the manifest changed to match a changed file: every sum agrees, the signature does not
    def forge(name, data):
        if name == "report.html":
            return data.replace(b"stackcheck", b"stackcheK", 1)
        if name == "MANIFEST.sha256":
            forged = bundle.manifest({"report.html": bundle.read_archive(archive)["report.html"].replace(
                b"stackcheck", b"stackcheK", 1)}).decode().split()[0]
            lines = [f"{forged}  report.html" if line.endswith("  report.html") else line
                     for line in data.decode().splitlines()]
            return ("\n".join(lines) + "\n").encode()
        return data
    rc, out = _cli("--verify", _rewrite(archive, tmp_path / "f.tar.gz", forge), "--allowed-signers", allowed)
    assert rc == 1 and "FAILED: MANIFEST.sha256.sig: not a good signature of MANIFEST.sha256" in out, out
    assert "report.html" not in out, out

    # signed by a key the allowed signers do not list: the message names that key's fingerprint
    fingerprint = subprocess.run(["ssh-keygen", "-l", "-f", str(other)], capture_output=True, text=True,
                                 check=True).stdout.split()[1]
    signed_by_other = bundle.make(bundle.run_json(run, "latest"), other, tmp_path / "other.tar.gz")
    rc, out = _cli("--verify", signed_by_other, "--allowed-signers", allowed)
    assert rc == 1 and f"signed by key {fingerprint}, which is not in the allowed signers" in out, out
    # and that key verifies when it is the allowed one: the refusal was about the key, not the archive
    assert _cli("--verify", signed_by_other, "--allowed-signers", _allowed(tmp_path, other))[0] == 0


def test_a_damaged_archive_and_a_missing_report_are_said(tmp_path, run):
    key = _key(tmp_path, "operator")
    archive = bundle.make(bundle.run_json(run, "latest"), key)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(archive.read_bytes()[:200])
    rc, out = _cli("--verify", broken, "--allowed-signers", _allowed(tmp_path, key))
    assert rc == 2 and "not a readable archive" in out, out
    next(run.glob("stackcheck-*.html")).unlink()
    rc, out = _cli("latest", "--reports", run, "--key", key)
    assert rc == 2 and ".html: missing" in out, out
