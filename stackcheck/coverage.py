"""Requirement coverage, generated from the code, never written by hand.

For each id of the requirements catalog: the checks that cite it (requirement markers in tests_*/), its
fixers and their risk class (the fixer registry in fixes/), the fault tests that prove it (covers markers in
selftest/faults/), and whether the lab in a box hosts it (labbox/hosting.py, with the reason where not).
An id with no check is listed as a gap.

    python -m stackcheck.coverage                     # print the table
    python -m stackcheck.coverage --write reports/coverage.md
    python -m stackcheck.coverage DBK-1               # one requirement: text, severity, checks (file:line),
                                                      # the probes they use, fixers, fault tests, lab hosting
"""
from __future__ import annotations

import argparse
import ast
import functools
import importlib
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from stackcheck.fixing import REGISTRY
from stackcheck.inventory import REPO
from stackcheck.requirements import catalog

CHECK_DIRS = ("tests_host", "tests_openstack", "tests_db", "tests_storage")


@dataclass
class Row:
    id: str
    family: str
    checks: list[str] = field(default_factory=list)
    fixers: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    not_hosted: str = ""

    @property
    def status(self) -> str:
        if not self.checks:
            return "GAP: no check"
        if self.not_hosted:
            return "checked; not hosted by labbox"
        if not self.faults:
            return "checked; no fault test yet"
        return "covered"


def _marker_ids(decorators, marker: str) -> list[str]:
    """ids from `@pytest.mark.<marker>("A-1", "B-2")` decorators (or a pytestmark list)."""
    ids = []
    for node in decorators:
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == marker:
                ids += [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return ids


def scan(paths, marker: str, lines: bool = False) -> dict[str, list[str]]:
    """requirement id -> ["file.py::test_name", ...] (with `lines`: "file.py:LINE::test_name") for every test
    function carrying the marker."""
    found: dict[str, list[str]] = {}
    for path in paths:
        tree = ast.parse(path.read_text(), str(path))
        module_ids = []
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in stmt.targets):
                module_ids = _marker_ids([stmt.value], marker)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                ids = set(_marker_ids(node.decorator_list, marker)) | set(module_ids)
                where = f"{path.relative_to(REPO)}:{node.lineno}" if lines else f"{path.relative_to(REPO)}"
                for rid in sorted(ids):
                    found.setdefault(rid, []).append(f"{where}::{node.name}")
    return found


def _check_paths() -> list[Path]:
    return sorted(p for d in CHECK_DIRS for p in (REPO / d).rglob("test_*.py"))


def _probes_of(path: Path, func: str) -> list[str]:
    """The stackcheck.probes modules a check function (or the module helpers it calls) uses, by name."""
    tree = ast.parse(path.read_text())
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "stackcheck.probes":
            aliases.update({a.asname or a.name: a.name for a in node.names})
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stackcheck.probes."):
            for a in node.names:
                aliases[a.asname or a.name] = node.module.rsplit(".", 1)[1]
    funcs = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    seen, todo, used = set(), [func], set()
    while todo:  # follow calls into the module's own helpers
        name = todo.pop()
        if name in seen or name not in funcs:
            continue
        seen.add(name)
        for n in ast.walk(funcs[name]):
            if isinstance(n, ast.Name):
                if n.id in aliases:
                    used.add(aliases[n.id])
                elif n.id in funcs:
                    todo.append(n.id)
    return sorted(f"stackcheck/probes/{m}.py" for m in used)


def describe(rid: str) -> str:
    """Everything about one requirement, from its id: what an auditor or a developer looks up first."""
    from labbox.hosting import not_hosted_reason

    req = catalog().get(rid)
    if req is None:
        raise SystemExit(f"{rid}: not a requirement id of REQUIREMENTS.md")
    _load_fixers()
    checks = scan(_check_paths(), "requirement", lines=True).get(rid, [])
    severities = set()
    probes: set[str] = set()
    for entry in checks:
        where, _, func = entry.partition("::")
        path = REPO / where.split(":")[0]
        tree = ast.parse(path.read_text())
        node = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == func)
        severities.update(_marker_ids(node.decorator_list, "severity"))
        probes.update(_probes_of(path, func))
    fixers = [f for f in REGISTRY if rid in f.requirements]
    faults = scan(sorted((REPO / "selftest").rglob("test_*.py")), "covers", lines=True).get(rid, [])
    hosted = not_hosted_reason(rid)
    out = [f"{rid} ({req.family}, severity {', '.join(sorted(severities)) or 'medium'}): {req.text}", "checks:"]
    out += [f"  {c}" for c in checks] or ["  none: a GAP"]
    out += ["probes:"] + ([f"  {p}" for p in sorted(probes)] or ["  none (the check reads through the fixtures)"])
    out += ["fixers:"]
    for f in fixers:
        code = f.func.__code__
        out.append(f"  {Path(code.co_filename).relative_to(REPO)}:{code.co_firstlineno} {f.func.__name__} "
                   f"(risk {f.risk}; repairs {', '.join(f.checks) or 'every check of ' + rid}): {f.description}")
    if not fixers:
        out.append("  none: repaired by hand (" + (req.remediation or "see the requirement") + ")")
    out += ["fault tests:"] + ([f"  {t}" for t in faults] or ["  none"])
    out += [f"lab in a box: {'not hosted: ' + hosted if hosted else 'hosted'}"]
    return "\n".join(out) + "\n"


@functools.cache
def _checks_by_id() -> dict[str, list[str]]:
    return scan(_check_paths(), "requirement")


def check_names(rid: str) -> set[str]:
    """The check functions that cite requirement `rid` (names only, e.g. test_swap_active)."""
    return {c.rpartition("::")[2] for c in _checks_by_id().get(rid, [])}


def _load_fixers() -> None:
    for mod in pkgutil.iter_modules([str(REPO / "fixes")]):
        importlib.import_module(f"fixes.{mod.name}")


def build() -> list[Row]:
    from labbox.hosting import not_hosted_reason

    _load_fixers()
    checks = _checks_by_id()
    faults = scan(sorted((REPO / "selftest").rglob("test_*.py")), "covers")
    rows = []
    for rid, req in catalog().items():
        fixers = sorted({f"{f.name} ({f.risk})" for f in REGISTRY if rid in f.requirements})
        rows.append(Row(rid, req.family, checks.get(rid, []), fixers, faults.get(rid, []), not_hosted_reason(rid)))
    return rows


def render(rows: list[Row]) -> str:
    def cell(items):
        return "<br>".join(items) if items else "-"

    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    out = ["# Requirement coverage (generated by `python -m stackcheck.coverage`)", "",
           f"Totals ({len(rows)} requirements): " + "; ".join(f"{s}: {n}" for s, n in sorted(counts.items())), "",
           "| id | status | checks | fixers (risk) | fault tests | lab in a box |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        hosted = f"not hosted: {r.not_hosted}" if r.not_hosted else "hosted"
        out.append(f"| {r.id} | {r.status} | {cell(r.checks)} | {cell(r.fixers)} | {cell(r.faults)} | {hosted} |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="FILE", help="write the table to FILE (e.g. reports/coverage.md)")
    parser.add_argument("id", nargs="?", help="one requirement id (e.g. DBK-1): everything about it")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    if args.id:
        print(describe(args.id), end="")
        return 0
    text = render(build())
    if args.write:
        Path(args.write).parent.mkdir(parents=True, exist_ok=True)
        Path(args.write).write_text(text)
        print(f"requirement coverage written to {args.write}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
