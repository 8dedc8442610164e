"""Where each Galera node's history ends, and which node a cluster that lost quorum may be bootstrapped from.

A node's position is its state UUID and last committed seqno: from the running server (`wsrep_last_committed`),
from `grastate.dat` after a clean stop, or from `mariadbd --wsrep-recover` (Debian's `galera_recovery`) after a
crash (grastate.dat then says seqno -1). The node to bootstrap is the one with the highest seqno; a tie is only
broken by a fact that says which node holds the newest data: a node still running (the survivor of the
component; Galera's documented recovery is `pc.bootstrap=YES` on it), or `safe_to_bootstrap: 1` (Galera marks the
last node to leave). Anything unknown refuses: equal seqnos can hold different data after a split brain.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

GRASTATE_UUID = re.compile(r"^uuid:\s*(\S+)", re.M)
GRASTATE_SEQNO = re.compile(r"^seqno:\s*(-?\d+)", re.M)
GRASTATE_SAFE = re.compile(r"^safe_to_bootstrap:\s*(\d)", re.M)
RECOVERED = re.compile(r"--wsrep[-_]start[-_]position=([0-9a-f-]{36}):(-?\d+)")


class Refusal(Exception):
    """Recovery must not act: the message names the missing fact."""


@dataclass
class Position:
    node: str
    reachable: bool = True
    running: bool = False  # a server process is there
    primary: bool = False
    uuid: str | None = None
    seqno: int | None = None  # None: unknown
    safe_to_bootstrap: bool = False
    source: str = ""
    unknown_why: str = ""

    def describe(self) -> str:
        if not self.reachable:
            return f"{self.node}: not reachable ({self.unknown_why})"
        state = "running, " + ("Primary" if self.primary else "non-Primary") if self.running else "stopped"
        where = f"{self.uuid}:{self.seqno}" if self.seqno is not None else f"unknown ({self.unknown_why})"
        safe = ", safe_to_bootstrap: 1" if self.safe_to_bootstrap else ""
        return f"{self.node}: {state}, position {where} from {self.source or 'nowhere'}{safe}"


def parse_grastate(text: str) -> tuple[str | None, int | None, bool]:
    """(uuid, seqno, safe_to_bootstrap) of a grastate.dat; seqno -1 (a crash) is returned as -1."""
    uuid, seqno, safe = GRASTATE_UUID.search(text), GRASTATE_SEQNO.search(text), GRASTATE_SAFE.search(text)
    return (uuid.group(1) if uuid else None, int(seqno.group(1)) if seqno else None,
            bool(safe and safe.group(1) == "1"))


def parse_recovered(text: str) -> tuple[str, int] | None:
    """The position `galera_recovery` printed (`--wsrep_start_position=UUID:SEQNO`), or None."""
    found = RECOVERED.search(text)
    return (found.group(1), int(found.group(2))) if found else None


def choose_bootstrap(positions: list[Position]) -> tuple[Position, str]:
    """(the node to bootstrap, why it is the one); Refusal when the facts do not decide it."""
    unreachable = [p for p in positions if not p.reachable]
    if unreachable:
        raise Refusal("; ".join(p.describe() for p in unreachable) + ": a node that cannot be reached may be running "
                      "a Primary component of its own; recovery needs every node reachable and seen stopped or "
                      "non-Primary")
    primary = [p.node for p in positions if p.primary]
    if primary:
        raise Refusal(f"{', '.join(primary)} {'is' if len(primary) == 1 else 'are'} Primary: quorum is not lost")
    unknown = [p for p in positions if p.seqno is None or p.seqno < 0]
    if unknown:
        raise Refusal("the last committed write of " + "; ".join(p.describe() for p in unknown)
                      + " is unknown: the node to bootstrap cannot be chosen")
    uuids = {p.uuid for p in positions}
    if len(uuids) > 1:
        raise Refusal("the nodes belong to different histories (state UUIDs " + ", ".join(
            f"{p.node}={p.uuid}" for p in positions) + "): which cluster to keep is an operator's decision")
    best = max(p.seqno for p in positions)
    tied = [p for p in positions if p.seqno == best]
    if len(tied) == 1:
        return tied[0], f"{tied[0].node} has the highest last committed seqno ({best})"
    running = [p for p in tied if p.running]
    if running:
        return running[0], (f"{', '.join(p.node for p in tied)} share the highest seqno ({best}); {running[0].node} "
                            "is still running (the survivor of the last Primary component)")
    safe = [p for p in tied if p.safe_to_bootstrap]
    if len(safe) == 1:
        return safe[0], (f"{', '.join(p.node for p in tied)} share the highest seqno ({best}); {safe[0].node} is "
                         "marked safe_to_bootstrap: 1 (the last node to leave the cluster)")
    raise Refusal(f"{', '.join(p.node for p in tied)} share the highest seqno ({best}), none is running and "
                  f"{'several are' if safe else 'none is'} marked safe_to_bootstrap: 1: which holds the newest data "
                  "cannot be told (equal seqnos can hold different data after a split brain); compare their data, "
                  "then set safe_to_bootstrap: 1 in the grastate.dat of the node to keep and run again")
