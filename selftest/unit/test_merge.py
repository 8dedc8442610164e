"""stackcheck.merge: the reports of 4 shards joined equal the report of one run. The data are real: one run and its
4 shards (--shard K/4) of tests_host/test_names.py, tests_db/test_cluster.py and tests_db/test_vip.py on a fleet of
16 light compute hosts (`labbox fleet up 16`): host checks in every shard, cluster-wide DB checks in shard 1."""
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stackcheck import merge, results_json

DATA = Path(__file__).parent / "data" / "merge"
SHARDS = [DATA / f"shard{k}.xml" for k in range(1, 5)]


def outcomes(tree: ET.ElementTree) -> dict[str, str]:
    return {f"{c.get('classname')}::{c.get('name')}": next(p.get("value") for p in c.iter("property")
                                                           if p.get("name") == "outcome")
            for c in tree.getroot().iter("testcase")}


def test_merged_junit_has_every_case_with_the_verdict_of_one_run():
    merged = merge.merge_junit([ET.parse(p) for p in SHARDS], [str(p) for p in SHARDS])
    assert outcomes(merged) == outcomes(ET.parse(DATA / "all.xml"))
    suite = merged.getroot().find("testsuite")
    one = ET.parse(DATA / "all.xml").getroot().find("testsuite")
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == \
        {k: one.get(k) for k in ("tests", "failures", "errors", "skipped")}


def test_merged_results_judge_every_requirement_as_one_run():
    merged = merge.merge_json([json.loads(p.with_suffix(".json").read_text()) for p in SHARDS])
    one = json.loads((DATA / "all.json").read_text())
    assert [(r["id"], r["verdict"], r["reason"]) for r in merged["requirements"]] == \
        [(r["id"], r["verdict"], r["reason"]) for r in one["requirements"]]
    assert merged["counts"] == one["counts"] and merged["run"]["gate"] == one["run"]["gate"]
    assert len(merged["run"]["merged_from"]) == 4
    results_json.validate(merged)


def test_a_shard_alone_does_not_call_the_others_requirements_missing():
    """Shard 2 ran no DB check: its own report must not say DBK-3 had no check (only the merge judges that)."""
    doc = json.loads((DATA / "shard2.json").read_text())
    assert doc["run"]["shard"] == "2/4"
    assert not any(r["id"].startswith("DBK") for r in doc["requirements"])


@pytest.mark.parametrize("inputs, words", [
    (SHARDS[:3], "shard(s) 4/4 missing"),
    ([*SHARDS, SHARDS[1]], "shard 2/4 is given twice"),
    ([DATA / "all.xml", *SHARDS], "not a shard's report"),
])
def test_refuses_inputs_that_are_not_the_shards_of_one_run(inputs, words):
    with pytest.raises(merge.MergeError, match=words.replace("(", r"\(").replace(")", r"\)")):
        merge.merge_junit([ET.parse(p) for p in inputs], [str(p) for p in inputs])


def test_command_writes_junit_json_and_html_and_exits_with_the_gate(tmp_path):
    for p in SHARDS:
        shutil.copy(p, tmp_path / p.name)
        shutil.copy(p.with_suffix(".json"), tmp_path / p.with_suffix(".json").name)
    out = tmp_path / "merged" / "all.xml"
    rc = merge.main([str(out), *(str(tmp_path / p.name) for p in SHARDS)])
    one = json.loads((DATA / "all.json").read_text())
    assert rc == (0 if one["run"]["gate"] == "pass" else 1)
    assert out.exists() and out.with_suffix(".json").exists() and out.with_suffix(".html").exists()
    assert merge.main([str(out), str(tmp_path / SHARDS[0].name)]) == 2  # one shard of four: refused
