"""The machine-readable results of one run (`reports/<run>.json`, `latest.json`): the document the HTML report
and the evidence bundle are made from, and the baseline the next run's drift is computed against.

Its schema is `stackcheck/results.schema.json` (JSON Schema 2020-12; `schema` names its version). Every value that
came from a host or the inventory passes through the run's redactor, as in the JUnit file.
"""
from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

from stackcheck import drift as dr
from stackcheck.requirements import catalog

SCHEMA_ID = "stackcheck-results/1"
SCHEMA_FILE = Path(__file__).with_name("results.schema.json")


def tool_version() -> str:
    try:
        return metadata.version("stackcheck")
    except metadata.PackageNotFoundError:
        return "unknown"


def document(results, requirements, redact, inventory: str, scope, stamp: str, run_id: str,
             info: dict | None = None) -> dict:
    """`results`: report.CaseResult list; `requirements`: report.RequirementResult list; `info` (from the
    recorder): exit_code, gate_mode, gate, waivers (inventory.Waiver list), drift (drift.Comparison),
    inventory_path, complete."""
    info = info or {}
    comparison = info.get("drift") or dr.Comparison(None)
    counts: dict[str, int] = {}
    for r in requirements:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    strict = "pass" if all(not dr.failing(r.verdict) for r in requirements) else "fail"
    return {
        "schema": SCHEMA_ID,
        "run": {
            "id": run_id, "time": stamp, "iso_time": dr.iso_time(stamp), "tool_version": tool_version(),
            "inventory": str(inventory), "inventory_path": str(info.get("inventory_path") or ""),
            "scope": scope or "all", "complete_selection": bool(info.get("complete", False)),
            "gate": info.get("gate") or strict, "gate_strict": strict, "gate_mode": info.get("gate_mode", "strict"),
            "exit_code": info.get("exit_code"),
        },
        "counts": counts,
        "drift": comparison.as_json(),
        "requirements": [_requirement(r, results, redact, comparison) for r in requirements],
        "waivers": [{"id": w.id, "check": w.check, "hosts": list(w.hosts), "reason": redact(w.reason),
                     "expires": w.expires.isoformat(), "active": w.active()} for w in info.get("waivers", ())],
        "cases": [{"name": redact(r.name), "nodeid": redact(r.nodeid), "outcome": r.outcome,
                   "message": redact(r.message),
                   **{k: redact(str(val)) for k, val in r.properties.items() if k != "outcome"}} for r in results],
    }


def _requirement(r, results, redact, comparison) -> dict:
    cases = [c for c in results if r.id in c.requirement_ids]
    req = catalog().get(r.id)
    deciding = next((c for c in cases if c.outcome != "passed" and r.reason.startswith(f"{c.name}:")), None)
    fixes = [{"check": redact(c.name), "host": c.properties.get("host", ""), "status": c.properties["fix_status"],
              "risk": c.properties.get("fix_risk", ""), "diff": redact(c.properties.get("fix_diff", ""))}
             for c in cases if c.properties.get("fix_status")]
    d = comparison.by_id.get(r.id)
    return {
        "id": r.id, "family": req.family if req else r.id.split("-")[0], "text": r.text, "severity": r.severity,
        "verdict": r.verdict, "reason": redact(r.reason),
        "hosts": sorted({c.properties.get("host", "") for c in cases} - {""}),
        "evidence": redact((deciding or (cases[0] if cases else None)).properties.get("evidence", "")) if cases else "",
        "remediation": redact(deciding.properties.get("remediation", "")) if deciding else "",
        "fixers": sorted({f for c in cases for f in c.properties.get("fixer", "").split(", ") if f}),
        "fixes": fixes,
        "checks": [redact(c) for c in r.cases],
        "drift": {"status": d.status, "since": d.since, "before": d.before} if d else None,
    }


def validate(doc: dict) -> None:
    """Raise jsonschema.ValidationError when `doc` does not follow the documented schema."""
    import jsonschema

    jsonschema.validate(doc, json.loads(SCHEMA_FILE.read_text()))
