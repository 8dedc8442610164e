"""The auditor's reports on the lab in a box: three runs of the compute host's checks into one reports directory,
a fault injected between the first two (the Debian installer's `127.0.1.1 compute` line back in /etc/hosts,
HOST-7) and repaired by the third (`--fix`). The second run's terminal, JSON and HTML (opened in headless
Chromium) name HOST-7 a new failure since the first; the third names it repaired. The last run's evidence bundle,
signed with a throwaway key, verifies."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from selftest import browser
from selftest.faultlib import REPO, fault
from selftest.unit.test_auditor_reports import Dom, _counts_seen

CHECK = "test_hostname_resolves_to_the_node_address[compute]"
INJECT = "sed -i '1a 127.0.1.1\\tcompute' /etc/hosts"
RESTORE = "sed -i '/^127.0.1.1/d' /etc/hosts"


def _run(reports, *extra):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "--host=labbox", f"--reports={reports}", "-q",
                           "-p", "no:randomly", "tests_host", "-k", "compute", *extra],
                          capture_output=True, text=True, cwd=REPO, timeout=600, env=environ)
    doc = json.loads((reports / "latest.json").read_text())
    return proc, doc, {r["id"]: r for r in doc["requirements"]}


def _page(reports):
    return Dom(browser.dump_dom(reports / "latest.html"))


def test_a_fault_is_a_new_failure_then_repaired_and_the_bundle_verifies(lab_up, tmp_path):
    reports = tmp_path / "reports"
    healthy, _doc, reqs = _run(reports)
    assert reqs["HOST-7"]["verdict"] == "passed", healthy.stdout[-3000:]
    with fault("compute", inject=INJECT, restore=RESTORE):
        broken, doc, reqs = _run(reports)
        out = broken.stdout
        assert reqs["HOST-7"]["verdict"] == "failed" and reqs["HOST-7"]["drift"]["status"] == "new failure", out[-3000:]
        assert "NEW FAILURE         HOST-7 (first seen " in out
        assert any("HOST-7" in line and "[new failure since the baseline (passed there)]" in line
                   for line in out.splitlines()), out[-3000:]
        page = _page(reports)
        assert "new failure" in page.text["req-HOST-7"] and "127.0.1.1" in page.text["req-HOST-7"]
        terminal = next(line for line in out.splitlines() if line.startswith("gate: "))
        assert terminal.startswith("gate: FAIL: ") and page.text["gate"] == "FAIL"
        assert _counts_seen(page) == doc["counts"] == {
            verdict: int(n) for n, verdict in (part.split(" ", 1) for part in terminal.split("in scope: ")[1].split(", "))}
        fixed, doc, reqs = _run(reports, "--fix")
    assert reqs["HOST-7"]["verdict"] == "passed" and reqs["HOST-7"]["drift"]["status"] == "repaired", fixed.stdout[-3000:]
    assert reqs["HOST-7"]["fixes"] and "-127.0.1.1" in reqs["HOST-7"]["fixes"][0]["diff"]
    assert "REPAIRED            HOST-7" in fixed.stdout
    assert "repaired" in _page(reports).text["req-HOST-7"]

    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lab", "-f", str(key)], check=True)
    allowed = tmp_path / "allowed"
    allowed.write_text(f'lab@example namespaces="stackcheck" {key.with_suffix(".pub").read_text()}')
    made = subprocess.run([sys.executable, "-m", "stackcheck.bundle", "latest", "--reports", str(reports),
                           "--key", str(key)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert made.returncode == 0, made.stderr
    checked = subprocess.run([sys.executable, "-m", "stackcheck.bundle", "--verify", made.stdout.strip(),
                              "--allowed-signers", str(allowed)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert checked.returncode == 0 and checked.stdout.startswith("OK: "), checked.stdout + checked.stderr
