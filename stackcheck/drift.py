"""Drift: what changed since the previous run of the same inventory (or a baseline named with --baseline FILE).

Per requirement: a *new failure* (it did not keep the gate closed in the baseline, it does now), *repaired* (the
other way round), *still failing* since the run that first saw it fail (carried from run to run in the JSON),
*unchanged*, or *not in the baseline* (the baseline did not judge it). "Failing" is the gate's notion: any verdict
other than passed, waived and not applicable (an error keeps the gate closed as surely as a failure).

`--gate new` (for a team adopting the gate on a lab with known failures) fails only on requirements that got
worse than the baseline: a failing requirement that was not failing there, or that the baseline did not judge.
Without a baseline it is as strict as the default gate.
"""
from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path

from stackcheck import verdicts as v

NEW_FAILURE, REPAIRED, STILL_FAILING, UNCHANGED, NOT_IN_BASELINE = (
    "new failure", "repaired", "still failing", "unchanged", "not in the baseline")
WORSE = (NEW_FAILURE, NOT_IN_BASELINE)
GATE_MODES = ("strict", "new")


class BaselineError(Exception):
    """--baseline names something that is not a stackcheck JSON report."""


@dataclass
class Drift:
    status: str
    since: str = ""  # ISO time of the run that first saw it failing (new failure, still failing)
    before: str = ""  # the baseline's verdict ("" when it did not judge it)

    def describe(self) -> str:
        if self.status == STILL_FAILING:
            return f"still failing since {self.since}"
        if self.status == REPAIRED:
            return f"repaired since the baseline ({self.before} there)"
        if self.status == NEW_FAILURE:
            return f"new failure since the baseline ({self.before} there)"
        return self.status


@dataclass
class Comparison:
    baseline: str | None  # the baseline file, None when there is none
    baseline_time: str = ""
    by_id: dict[str, Drift] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        tally: dict[str, int] = {}
        for d in self.by_id.values():
            tally[d.status] = tally.get(d.status, 0) + 1
        return tally

    def as_json(self) -> dict:
        return {"baseline": self.baseline, "baseline_time": self.baseline_time, "counts": self.counts()}


def iso_time(stamp: str) -> str:
    """20261203T134010Z -> 2026-12-03T13:40:10Z (the reports' file stamp as an ISO time)."""
    try:
        return datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return stamp


def failing(verdict: str) -> bool:
    return verdict not in v.GATE_OK


def load_baseline(path: Path) -> dict:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise BaselineError(f"--baseline {path}: cannot read a stackcheck JSON report: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("requirements"), list) or "run" not in doc:
        raise BaselineError(f"--baseline {path}: not a stackcheck JSON report (no run, no requirements)")
    return doc


def previous_run(directory: Path, inventory: str) -> Path | None:
    """The newest report in `directory` of a run of the same inventory (called before this run writes its own).
    Newest first by the file name's UTC stamp, so a long history is not read whole."""
    for path in sorted(Path(directory).glob("stackcheck-*.json"), reverse=True):
        try:
            doc = load_baseline(path)
        except BaselineError:
            continue  # a report cut short (a full disk, a killed run) is no baseline
        if str(doc["run"].get("inventory")) == str(inventory):
            return path
    return None


def compare(current: dict[str, str], baseline: dict | None, now: str, baseline_name: str | None = None) -> Comparison:
    """`current`: requirement id -> verdict of this run; `baseline`: a previous run's JSON document (or None);
    `now`: this run's ISO time (the first-seen date of a new failure)."""
    if baseline is None:
        return Comparison(None)
    then = iso_time(baseline["run"].get("time", ""))
    before = {r["id"]: r for r in baseline["requirements"] if isinstance(r, dict) and "id" in r}
    out = Comparison(baseline_name, then)
    for rid, verdict in current.items():
        old = before.get(rid)
        if old is None:
            out.by_id[rid] = Drift(NOT_IN_BASELINE, now if failing(verdict) else "")
        elif failing(verdict) and failing(old["verdict"]):
            # first seen: carried by the baseline's own drift when it had one, else the baseline's run
            since = (old.get("drift") or {}).get("since") or then
            out.by_id[rid] = Drift(STILL_FAILING, since, old["verdict"])
        elif failing(verdict):
            out.by_id[rid] = Drift(NEW_FAILURE, now, old["verdict"])
        elif failing(old["verdict"]):
            out.by_id[rid] = Drift(REPAIRED, "", old["verdict"])
        else:
            out.by_id[rid] = Drift(UNCHANGED, "", old["verdict"])
    return out


def gate_new_passes(current: dict[str, str], comparison: Comparison) -> bool:
    """--gate new: nothing got worse than the baseline (strict when there is no baseline)."""
    if comparison.baseline is None:
        return not any(failing(verdict) for verdict in current.values())
    return not any(failing(verdict) and comparison.by_id[rid].status in WORSE for rid, verdict in current.items())


def summary_lines(comparison: Comparison) -> list[str]:
    """The terminal's drift section: against what, the counts, then every requirement that changed or still fails."""
    if comparison.baseline is None:
        return ["no previous run of this inventory in the reports directory: nothing to compare (--baseline FILE)"]
    tally = comparison.counts()
    lines = [f"since {comparison.baseline} ({comparison.baseline_time}): "
             + ", ".join(f"{tally[s]} {s}" for s in (NEW_FAILURE, REPAIRED, STILL_FAILING, UNCHANGED, NOT_IN_BASELINE)
                         if s in tally)]
    order = {NEW_FAILURE: 0, NOT_IN_BASELINE: 1, REPAIRED: 2, STILL_FAILING: 3}
    changed = [(rid, d) for rid, d in comparison.by_id.items() if d.status in order
               and not (d.status == NOT_IN_BASELINE and not d.since)]
    for rid, d in sorted(changed, key=lambda item: (order[item[1].status], item[0])):
        lines.append(f"  {d.status.upper():19} {rid}" + (f" (first seen {d.since})" if d.since else ""))
    return lines
