"""The auditor's reports without a lab: the JSON results against their documented schema (and redacted like the
JUnit file), drift between two runs and `--gate new` (pure), and the HTML page opened in a real headless Chromium:
the counts a person sees are the JSON's and the terminal's, a failing requirement's evidence is on the page, and
hostile evidence is shown as text and never runs (escaped, and blocked by the page's Content-Security-Policy even
where escaping is switched off)."""
from __future__ import annotations

import datetime
import json
import re
from html.parser import HTMLParser

import jsonschema
import pytest

from selftest import browser
from stackcheck import drift as dr
from stackcheck import html_report, results_json
from stackcheck.inventory import Waiver
from stackcheck.report import CaseResult, Redactor, requirement_results, requirement_summary, write_reports
from stackcheck.requirements import catalog

SECRET = "Sup3r-S3cret-Passw0rd"
HOSTILE = "<img src=x onerror=\"document.title='pwned'\"></pre><script>document.title='pwned'</script>"
HOSTILE_HOST = "db1\"><svg onload=\"document.title='pwned'\">"
IN_SCOPE = ("DBK-1", "LB-1", "HOST-8", "DBH-4", "CEIL-1")


def _case(name, outcome, reqs, message="", **props):
    host = name.partition("[")[2].rstrip("]")
    return CaseResult(f"tests_x/t.py::{name}", name, "tests_x.t", outcome, message=message,
                      properties={"requirements": reqs, "host": host, "severity": "high", **props})


def _results():
    return [
        _case("test_size[db1]", "failed", "DBK-1", f"wsrep_cluster_size=2 (password {SECRET}); expected 3",
              evidence=f"wsrep_cluster_size=2; my.cnf says {HOSTILE}", remediation="start the third node",
              fixer="fixes.db.start_node"),
        _case(f"test_size[{HOSTILE_HOST}]", "passed", "DBK-1", evidence="wsrep_cluster_size=3"),
        _case("test_vip[lb]", "passed", "LB-1", evidence="vip=198.18.0.18"),
        _case("test_swap_active[db1]", "waived", "HOST-8", "waived: not hosted", real_outcome="failed",
              waiver="HOST-8: no swap on overlayfs (until 2027-06-01)"),
        _case("test_selinux[db1]", "not-applicable", "DBH-4", "not applicable: no SELinux policy"),
        _case("test_ttl[ctl]", "fixed", "CEIL-1", evidence="time_to_live=-1", fix_status="fixed", fix_risk="config",
              fixer="fixes.ceilometer.set_ttl",
              fix_diff=f"--- a/ceilometer.conf\n+++ b/ceilometer.conf\n-time_to_live = -1 {SECRET}\n+time_to_live = 604800\n"),
    ]


def _requirements(results):
    return requirement_results(results, catalog(), lambda rid: rid in IN_SCOPE, complete=True)


def _write(tmp_path, results=None, info=None):
    results = results or _results()
    reqs = _requirements(results)
    info = {"exit_code": 1, "gate": "fail", "gate_mode": "strict", "inventory_path": "inventories/x.yaml",
            "waivers": [Waiver("HOST-8", "no swap on overlayfs", datetime.date(2027, 6, 1), check="test_swap_active"),
                        Waiver("LB-1", "old", datetime.date(2020, 1, 1))],
            "complete": True, **(info or {})}
    path = write_reports(results, reqs, tmp_path, Redactor([SECRET]), "lab", list(IN_SCOPE), info)
    return path, reqs, json.loads((tmp_path / "latest.json").read_text())


# --- JSON ----------------------------------------------------------------------------------------------------
def test_json_follows_its_documented_schema_and_says_what_item_1_asks(tmp_path):
    path, _reqs, doc = _write(tmp_path)
    results_json.validate(doc)
    assert doc["schema"] == "stackcheck-results/1" and doc["run"]["id"] == path.stem
    assert doc["run"]["exit_code"] == 1 and doc["run"]["tool_version"] and doc["run"]["inventory"] == "lab"
    assert doc["run"]["scope"] == list(IN_SCOPE) and doc["run"]["gate"] == "fail"
    by_id = {r["id"]: r for r in doc["requirements"]}
    dbk1 = by_id["DBK-1"]
    assert dbk1["verdict"] == "failed" and dbk1["remediation"] == "start the third node"
    assert dbk1["evidence"].startswith("wsrep_cluster_size=2") and "db1" in dbk1["hosts"]
    ceil = by_id["CEIL-1"]["fixes"][0]
    assert ceil["status"] == "fixed" and "+time_to_live = 604800" in ceil["diff"]
    assert {(w["id"], w["expires"], w["active"]) for w in doc["waivers"]} == {("HOST-8", "2027-06-01", True),
                                                                              ("LB-1", "2020-01-01", False)}
    assert doc["counts"] == {"failed": 1, "passed": 2, "waived": 1, "not-applicable": 1}


def test_the_schema_rejects_a_document_that_breaks_it(tmp_path):
    _path, _reqs, doc = _write(tmp_path)
    broken = json.loads(json.dumps(doc))
    broken["requirements"][0]["verdict"] = "mostly fine"
    with pytest.raises(jsonschema.ValidationError, match="mostly fine"):
        results_json.validate(broken)
    del doc["run"]["exit_code"]
    with pytest.raises(jsonschema.ValidationError, match="exit_code"):
        results_json.validate(doc)


def test_no_secret_in_any_report_file(tmp_path):
    path, _reqs, _doc = _write(tmp_path)
    for suffix in (".xml", ".json", ".html"):
        text = path.with_suffix(suffix).read_text()
        assert SECRET not in text, f"{suffix} holds the secret"
        assert "[REDACTED]" in text, f"{suffix}: the redacted value is not there at all"


# --- drift (pure) --------------------------------------------------------------------------------------------
def _baseline(verdicts: dict[str, str], time="20261201T010000Z", drift=None) -> dict:
    return {"run": {"time": time, "inventory": "lab"},
            "requirements": [{"id": rid, "verdict": v, "drift": (drift or {}).get(rid)} for rid, v in verdicts.items()]}


def test_drift_names_new_failures_repairs_and_since_when_it_fails():
    now = "2026-12-03T02:00:00Z"
    base = _baseline({"A-1": "passed", "A-2": "failed", "A-3": "error", "A-4": "passed", "A-5": "waived"},
                     drift={"A-3": {"status": "still failing", "since": "2026-11-20T01:00:00Z"}})
    got = dr.compare({"A-1": "failed", "A-2": "passed", "A-3": "failed", "A-4": "passed", "A-5": "error",
                      "A-6": "error", "A-7": "passed"}, base, now, "reports/base.json").by_id
    assert (got["A-1"].status, got["A-1"].since, got["A-1"].before) == ("new failure", now, "passed")
    assert got["A-2"].status == "repaired" and got["A-2"].before == "failed"
    # first seen is carried from the baseline's own drift, not reset by a verdict change (error -> failed)
    assert (got["A-3"].status, got["A-3"].since) == ("still failing", "2026-11-20T01:00:00Z")
    assert got["A-4"].status == "unchanged"
    assert got["A-5"].status == "new failure"  # waived then, an error now: worse
    assert (got["A-6"].status, got["A-6"].since) == ("not in the baseline", now)
    assert (got["A-7"].status, got["A-7"].since) == ("not in the baseline", "")
    # a baseline without drift (an older report): first seen is the baseline's own run
    assert dr.compare({"A-2": "failed"}, base, now).by_id["A-2"].since == "2026-12-01T01:00:00Z"


def test_gate_new_fails_only_on_what_got_worse():
    base = _baseline({"A-1": "failed", "A-2": "passed"})
    known = {"A-1": "failed", "A-2": "passed"}
    assert dr.gate_new_passes(known, dr.compare(known, base, "now", "b"))
    worse = {"A-1": "failed", "A-2": "error"}
    assert not dr.gate_new_passes(worse, dr.compare(worse, base, "now", "b"))
    unjudged = {"A-1": "failed", "A-3": "failed"}  # the baseline never judged A-3: it is not a known failure
    assert not dr.gate_new_passes(unjudged, dr.compare(unjudged, base, "now", "b"))
    # no baseline: as strict as the default gate
    assert not dr.gate_new_passes(known, dr.compare(known, None, "now"))
    assert dr.gate_new_passes({"A-2": "passed"}, dr.compare({"A-2": "passed"}, None, "now"))


def test_previous_run_is_the_newest_of_the_same_inventory(tmp_path):
    for name, inventory, time in [("stackcheck-20261201T010000Z-1.json", "lab", "20261201T010000Z"),
                                  ("stackcheck-20261202T010000Z-2.json", "lab", "20261202T010000Z"),
                                  ("stackcheck-20261203T010000Z-3.json", "other", "20261203T010000Z")]:
        doc = _baseline({"A-1": "passed"}, time)
        doc["run"]["inventory"] = inventory
        (tmp_path / name).write_text(json.dumps(doc))
    (tmp_path / "stackcheck-20261204T010000Z-4.json").write_text("{not json")
    assert dr.previous_run(tmp_path, "lab").name == "stackcheck-20261202T010000Z-2.json"
    assert dr.previous_run(tmp_path, "nowhere") is None
    with pytest.raises(dr.BaselineError, match="cannot read"):
        dr.load_baseline(tmp_path / "stackcheck-20261204T010000Z-4.json")


def test_terminal_and_reports_say_the_drift(tmp_path):
    base = _baseline({"DBK-1": "passed", "CEIL-1": "failed", "LB-1": "passed", "HOST-8": "waived",
                      "DBH-4": "not-applicable"})
    results = _results()
    reqs = _requirements(results)
    comparison = dr.compare({r.id: r.verdict for r in reqs}, base, "2026-12-03T02:00:00Z", "reports/b.json")
    lines = dr.summary_lines(comparison)
    assert lines[0].startswith("since reports/b.json (2026-12-01T01:00:00Z): 1 new failure, 1 repaired, 3 unchanged")
    assert "  NEW FAILURE         DBK-1 (first seen 2026-12-03T02:00:00Z)" in lines
    assert "  REPAIRED            CEIL-1" in lines
    summary = requirement_summary(reqs, Redactor([SECRET]), comparison)
    assert any("DBK-1" in line and "[new failure since the baseline (passed there)]" in line for line in summary)
    _path, _reqs, doc = _write(tmp_path, results, {"drift": comparison})
    results_json.validate(doc)
    assert {r["id"]: r["drift"]["status"] for r in doc["requirements"]}["DBK-1"] == "new failure"
    assert doc["drift"]["counts"] == {"new failure": 1, "repaired": 1, "unchanged": 3}


# --- HTML in a real browser ----------------------------------------------------------------------------------
class Dom(HTMLParser):
    """Tags as the browser serialised them, and the text inside each element that has an id."""

    VOID = {"img", "meta", "br", "input", "link", "hr"}

    def __init__(self, text):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: dict[str, str] = {}
        self._open: list[str | None] = []
        self.title = ""
        self._in_title = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        self._in_title = tag == "title"
        if tag not in self.VOID:
            self._open.append(attrs.get("id"))
            if attrs.get("id"):
                self.text.setdefault(attrs["id"], "")

    def handle_endtag(self, tag):
        self._in_title = False
        if tag not in self.VOID and self._open:
            self._open.pop()

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        for id_ in filter(None, self._open):
            self.text[id_] += data


def _counts_seen(dom: Dom) -> dict[str, int]:
    return {verdict: int(n) for n, verdict in re.findall(r"(\d+) ([a-z-]+)", dom.text["counts"])}


def test_the_page_in_chromium_shows_the_counts_and_the_failing_evidence(tmp_path):
    path, reqs, doc = _write(tmp_path)
    dom = Dom(browser.dump_dom(path.with_suffix(".html")))
    assert dict(t for t in dom.tags if t[0] == "body")["body"].get("data-script") == "ran", \
        "the page's own script did not run: its CSP hash does not match it"
    terminal = requirement_summary(reqs, Redactor([SECRET]))[0]  # gate: FAIL: 5 requirements in scope: 1 failed, ...
    shown = _counts_seen(dom)
    said = {verdict: int(n) for n, verdict in re.findall(r"(\d+) ([a-z-]+)", terminal.split("in scope: ")[1])}
    assert shown == doc["counts"] == said
    assert dom.text["gate"] == "FAIL" and dom.text["total"] == "5" and "gate: FAIL: 5 requirements" in terminal
    assert "wsrep_cluster_size=2" in dom.text["req-DBK-1"] and "start the third node" in dom.text["req-DBK-1"]
    assert "+time_to_live = 604800" in dom.text["req-CEIL-1"]
    assert "2027-06-01" in dom.text["waivers"] and "expired" in dom.text["waivers"]
    assert dom.text["shown"] == "5 of 5 requirements shown"
    browser.screenshot(path.with_suffix(".html"), tmp_path / "page.png")


def test_hostile_evidence_is_text_and_never_runs(tmp_path):
    path, _reqs, doc = _write(tmp_path)
    dom = Dom(browser.dump_dom(path.with_suffix(".html")))
    assert dom.title.startswith("stackcheck lab ") and "pwned" not in dom.title
    assert HOSTILE in dom.text["req-DBK-1"], "the hostile value is not shown as the text it is"
    assert not [t for t in dom.tags if t[0] in ("img", "svg")], "a tag from the evidence became an element"
    assert sum(1 for t in dom.tags if t[0] == "script") == 1, "a script from the evidence became an element"
    assert HOSTILE_HOST in dom.text["req-DBK-1"]


def test_the_csp_blocks_what_escaping_would_let_through(tmp_path, monkeypatch):
    """Second line of defence: with escaping switched off, the evidence's tags become elements, but the page's
    Content-Security-Policy (only its own script, by hash) keeps their code from running. Without that policy the
    same page runs it: the test can see a script run."""
    _path, _reqs, doc = _write(tmp_path)
    monkeypatch.setattr(html_report, "e", str)
    unescaped = html_report.render(doc)
    guarded = tmp_path / "guarded.html"
    guarded.write_text(unescaped)
    dom = Dom(browser.dump_dom(guarded))
    assert [t for t in dom.tags if t[0] == "img"], "the injection did not even make an element"
    assert "pwned" not in dom.title, "code from the evidence ran despite the Content-Security-Policy"
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", unescaped))
    assert "pwned" in Dom(browser.dump_dom(bare)).title, "without the policy the payload should have run"
