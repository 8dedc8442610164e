"""Join the reports of the N shards of one run (`pytest --shard K/N`, one CI job each) into one report whose
verdicts are those of a single unsharded run:

    python -m stackcheck.merge OUT.xml SHARD1.xml SHARD2.xml ...

OUT.xml is one JUnit file with every shard's testcases; when every shard's results JSON is beside its JUnit file
(X.json for X.xml, as the reports directory has them), OUT.json (the requirements' verdicts computed again over all
cases, as one run computes them) and OUT.html are written too. The shards must be the N shards of one run: a
missing shard, a shard given twice, or a check reported by two shards stops the merge (exit 2) rather than
writing a report that silently lacks hosts. Exit 0 when the merged gate passes, 1 when it fails.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from stackcheck import drift as dr
from stackcheck import report as rep
from stackcheck.requirements import catalog

CASE_KEYS = ("name", "nodeid", "outcome", "message")


class MergeError(Exception):
    """The inputs are not the complete, disjoint shards of one run."""


# --- JUnit -----------------------------------------------------------------------------------------------------
def suite_properties(suite: ET.Element) -> dict[str, str]:
    props = suite.find("properties")
    return {p.get("name"): p.get("value") for p in props.iter("property")} if props is not None else {}


def check_shards(shard_specs: list[str | None], sources: list[str]) -> None:
    """Every input names its shard K/N (run fact `shard`), all with the same N, each K from 1 to N once."""
    if any(s is None for s in shard_specs):
        missing = [src for src, s in zip(sources, shard_specs) if s is None]
        raise MergeError(f"{missing[0]}: not a shard's report (no `shard` property: run it with --shard K/N)")
    parsed = [tuple(int(x) for x in s.split("/")) for s in shard_specs]
    totals = {n for _, n in parsed}
    if len(totals) != 1:
        raise MergeError(f"the reports are shards of different splits ({', '.join(sorted(set(shard_specs)))})")
    n = totals.pop()
    seen = [k for k, _ in parsed]
    twice = sorted({k for k in seen if seen.count(k) > 1})
    if twice:
        raise MergeError(f"shard {twice[0]}/{n} is given twice")
    absent = sorted(set(range(1, n + 1)) - set(seen))
    if absent:
        raise MergeError(f"shard(s) {', '.join(f'{k}/{n}' for k in absent)} missing: the merged report would lack "
                         f"their hosts (a CI job that did not finish?)")


def merge_junit(trees: list[ET.ElementTree], sources: list[str]) -> ET.ElementTree:
    suites = [t.getroot().find("testsuite") if t.getroot().tag == "testsuites" else t.getroot() for t in trees]
    props = [suite_properties(s) for s in suites]
    check_shards([p.get("shard") for p in props], sources)
    merged = ET.Element("testsuite", name="stackcheck", timestamp=suites[0].get("timestamp", ""),
                        hostname=suites[0].get("hostname", ""))
    mprops = ET.SubElement(merged, "properties")
    for key, value in props[0].items():
        if key not in ("shard", "run_id"):
            ET.SubElement(mprops, "property", name=key, value=value)
    ET.SubElement(mprops, "property", name="merged_from",
                  value=" ".join(p.get("run_id", src) for p, src in zip(props, sources)))
    seen: dict[tuple[str, str], str] = {}
    counts = {k: 0 for k in ("tests", "failures", "errors", "skipped")}
    for suite, src in zip(suites, sources):
        for case in suite.iter("testcase"):
            key = (case.get("classname", ""), case.get("name", ""))
            if key in seen:
                raise MergeError(f"{key[0]}::{key[1]} is in {seen[key]} and in {src}: the shards overlap")
            seen[key] = src
            merged.append(case)
            counts["tests"] += 1
            for tag, count in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
                counts[count] += case.find(tag) is not None
    for key, value in counts.items():
        merged.set(key, str(value))
    root = ET.Element("testsuites")
    root.append(merged)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return tree


# --- results JSON ----------------------------------------------------------------------------------------------
def case_result(case: dict) -> rep.CaseResult:
    module, _, name = case["nodeid"].rpartition("::")
    props = {k: val for k, val in case.items() if k not in CASE_KEYS}
    props["outcome"] = case["outcome"]
    return rep.CaseResult(nodeid=case["nodeid"], name=case["name"], outcome=case["outcome"],
                          classname=module.replace("/", ".").removesuffix(".py"), message=case.get("message", ""),
                          properties=props)


def in_scope_of(scope) -> callable:
    if scope in (None, "all"):
        return lambda rid: True
    return lambda rid: rid in scope or rid.split("-")[0] in scope


def merge_json(docs: list[dict]) -> dict:
    """One results document over every shard's cases: the requirements' verdicts computed again as one run does
    (the texts of the cases were redacted by each shard already)."""
    from stackcheck import results_json

    check_shards([d["run"].get("shard") for d in docs], [d["run"]["id"] for d in docs])
    cases = [c for d in docs for c in d["cases"]]
    results = [case_result(c) for c in cases]
    first = docs[0]["run"]
    complete = all(d["run"].get("complete_selection") for d in docs)
    requirements = rep.requirement_results(results, catalog(), in_scope_of(first["scope"]), complete)
    gate = "pass" if all(not dr.failing(r.verdict) for r in requirements) else "fail"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    info = {"exit_code": 0 if gate == "pass" else 1, "gate": gate, "gate_mode": "strict",
            "inventory_path": first.get("inventory_path", ""), "complete": complete}
    doc = results_json.document(results, requirements, rep.Redactor(), first["inventory"],
                                None if first["scope"] == "all" else first["scope"], stamp, f"stackcheck-{stamp}-merged",
                                info)
    doc["waivers"] = docs[0]["waivers"]  # the same inventory in every shard: the same waivers
    doc["run"]["merged_from"] = [d["run"].get("run_id", d["run"]["id"]) for d in docs]
    for key in ("host_key_checking", "host_key_warning"):
        if key in first:
            doc["run"][key] = first[key]
    return doc


# --- command ---------------------------------------------------------------------------------------------------
def merge(out: Path, inputs: list[Path]) -> int:
    """Write OUT.xml (and OUT.json, OUT.html when every input has its JSON); the merged gate's exit code."""
    tree = merge_junit([ET.parse(p) for p in inputs], [str(p) for p in inputs])
    out.parent.mkdir(parents=True, exist_ok=True)
    tree.write(out, encoding="utf-8", xml_declaration=True)
    jsons = [p.with_suffix(".json") for p in inputs]
    if not all(j.exists() for j in jsons):
        print(f"stackcheck.merge: {out} ({len(inputs)} shards); no results JSON beside every input, so no "
              f"{out.with_suffix('.json').name}")
        failing = any(c.find("failure") is not None or c.find("error") is not None for c in tree.iter("testcase"))
        return 1 if failing else 0
    from stackcheck import html_report

    doc = merge_json([json.loads(j.read_text()) for j in jsons])
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    out.with_suffix(".html").write_text(html_report.render(doc), encoding="utf-8")
    counts = ", ".join(f"{n} {verdict}" for verdict, n in sorted(doc["counts"].items()))
    print(f"stackcheck.merge: {out} and .json, .html ({len(inputs)} shards, {len(doc['cases'])} checks); "
          f"requirements: {counts}; gate: {doc['run']['gate']}")
    return doc["run"]["exit_code"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stackcheck.merge", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the merged JUnit file to write (OUT.json and OUT.html beside it)")
    parser.add_argument("inputs", type=Path, nargs="+", help="the shards' JUnit files (their .json beside them)")
    args = parser.parse_args(argv)
    try:
        return merge(args.out, args.inputs)
    except (MergeError, OSError, ET.ParseError, KeyError, json.JSONDecodeError) as exc:
        print(f"stackcheck.merge: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
