"""Opening a port in iptables, for the fixers of every port check (SPC-4, SWF-5, DBH-3): judged by the one
evaluator (stackcheck/probes/iptables.py `judge_port`) before and after, never guessed.

- certainly accepted: nothing to change;
- uncertain (a rule may match part of the traffic): FixDeclined naming that rule: the operator decides;
- certainly refused: the ACCEPT goes before the first rule that may decide the traffic, and the result is judged
  before anything is planned: when it would still not be certainly accepted (a DROP in raw PREROUTING, say),
  FixDeclined says so.

Running rules change through `ctx.command(iptables -I ..., undo=iptables -D ...)`; persisted files through
`ctx.edit(path, text, validate="iptables-restore --test {path}")`: diff, backup, validation and undo by the engine.

A fixer that opens a port with these helpers lets in sources the firewall refused until now: it is registered
with risk `access` (stackcheck.fixing), which plain --fix refuses and --fix-access runs.
"""
from __future__ import annotations

import shlex

from stackcheck.fixing import FixDeclined
from stackcheck.probes import iptables as ipt
from stackcheck.verdicts import CannotCheck

VALIDATE = "iptables-restore --test {path}"


def running_rules(ctx) -> dict[str, ipt.Table]:
    try:
        return ipt.read_running(ctx.transport)
    except CannotCheck as exc:
        raise FixDeclined(str(exc)) from None


def interfaces(ctx) -> tuple[str, ...]:
    try:
        return ipt.read_interfaces(ctx.transport)
    except CannotCheck as exc:
        raise FixDeclined(str(exc)) from None


def output(ctx, command: str, what: str) -> str:
    """A read while planning, exit code judged: a failed read declines the fix (it never plans on a guess)."""
    try:
        return ctx.run(command).output(what)
    except CannotCheck as exc:
        raise FixDeclined(str(exc)) from None


def open_running(ctx, tables: dict[str, ipt.Table], traffics: list[ipt.Traffic], rule_args: str,
                 where: str, what: str | None = None) -> bool:
    """Plan `iptables -I INPUT N <rule_args>` so that every traffic in `traffics` is certainly accepted; False
    when they already are (nothing planned). An identical rule in the wrong place is deleted first. `what`: the
    step's description, before the command."""
    if not _needs_opening(tables, traffics, where):
        return False
    rules = tables.get("filter", ipt.Table("filter")).chain("INPUT")
    position = min(ipt.insert_position(tables, t) for t in traffics)
    misplaced = [n for n, r in enumerate(rules, 1) if r.args == shlex.split(rule_args)]
    _accepted_after(ipt.with_rule_at(_without(tables, misplaced), rule_args,
                                     position - sum(1 for n in misplaced if n < position)), traffics, where)
    for _ in misplaced:
        ctx.command(f"iptables -D INPUT {rule_args}", undo=f"iptables -A INPUT {rule_args}",
                    description="delete the copy of the rule that sits after a rule refusing the port")
    position -= sum(1 for n in misplaced if n < position)
    command = f"iptables -I INPUT {position} {rule_args}"
    ctx.command(command, undo=f"iptables -D INPUT {rule_args}", description=f"{what}: {command}" if what else command)
    return True


def open_in_file(ctx, path: str, text: str, traffics: list[ipt.Traffic], rule_args: str, mode: str = "0600") -> bool:
    """Plan the persisted file `path` with the ACCEPT before the first rule that may decide the traffic (validated
    by iptables-restore --test); False when the file already accepts every traffic."""
    where = path
    if not _needs_opening(ipt.parse_save(text), traffics, where):
        return False
    new = text
    for traffic in traffics:
        if not ipt.judge_port(ipt.parse_save(new), traffic).accepted:
            new = ipt.with_rule_in_file(new, rule_args, traffic)
    _accepted_after(ipt.parse_save(new), traffics, where)
    ctx.edit(path, new, validate=VALIDATE, mode=mode)
    return True


def _needs_opening(tables: dict[str, ipt.Table], traffics: list[ipt.Traffic], where: str) -> bool:
    verdicts = [ipt.judge_port(tables, t) for t in traffics]
    doubt = next((v for v in verdicts if v.uncertain), None)
    if doubt is not None:
        raise FixDeclined(f"{doubt.cannot_judge(where)}; the fixer does not guess which part should get through")
    return any(v.refused for v in verdicts)


def _accepted_after(tables: dict[str, ipt.Table], traffics: list[ipt.Traffic], where: str) -> None:
    for traffic in traffics:
        v = ipt.judge_port(tables, traffic)
        if not v.accepted:
            raise FixDeclined(f"an ACCEPT in filter INPUT of {where} would not let {traffic.describe()} through: "
                              f"{v.describe()}; open it by hand")


def _without(tables: dict[str, ipt.Table], numbers: list[int]) -> dict[str, ipt.Table]:
    """A copy of `tables` without the filter INPUT rules at these 1-based positions."""
    copy = dict(tables)
    if numbers and "filter" in tables:
        t = tables["filter"]
        rules = dict(t.rules)
        rules["INPUT"] = [r for n, r in enumerate(t.chain("INPUT"), 1) if n not in numbers]
        copy["filter"] = ipt.Table(t.name, dict(t.policies), rules, list(t.problems))
    return copy
