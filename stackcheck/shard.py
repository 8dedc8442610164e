"""`--shard K/N`: the checks of the K-th of N host shards, so that N parallel CI jobs (GitLab `parallel:`, a GitHub
Actions matrix) split a large fleet, and `python -m stackcheck.merge` joins their reports into one.

Assignment: the inventory's hosts are ordered by a hash of their name (SHA-256: the same on every machine and
Python, unlike hash()) and dealt out in turn, so every shard gets within one host of the same number, and a host's
shard depends only on the set of host names (not on their order in the file, nor on the machine). Every check of
a host runs in that host's shard. A check bound to no single host (cluster-wide: DBK-3's component view, LB-2's
rotation through the VIP, a role with no host) runs in exactly one shard, shard 1."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable

CLUSTER_SHARD = 1


class ShardError(ValueError):
    """--shard was not K/N with 1 <= K <= N."""


def parse(spec: str) -> tuple[int, int]:
    k, sep, n = (spec or "").partition("/")
    try:
        k_i, n_i = int(k), int(n)
    except ValueError:
        raise ShardError(f"--shard {spec!r}: expected K/N, e.g. 2/4 (the 2nd of 4 shards)") from None
    if not sep or n_i < 1 or not 1 <= k_i <= n_i:
        raise ShardError(f"--shard {spec!r}: expected K/N with 1 <= K <= N, e.g. 2/4")
    return k_i, n_i


def _key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def assignment(host_names: Iterable[str], n: int) -> dict[str, int]:
    """Host name -> its shard (1..n), balanced within one host."""
    ordered = sorted(set(host_names), key=lambda name: (_key(name), name))
    return {name: 1 + rank % n for rank, name in enumerate(ordered)}


def shard_of(host_name: str | None, shards: dict[str, int]) -> int:
    """The shard of a check on `host_name` (None: a check bound to no single host)."""
    if host_name is None:
        return CLUSTER_SHARD
    return shards.get(host_name, CLUSTER_SHARD)


def split(items: list, k: int, n: int, host_of, host_names: Iterable[str]) -> tuple[list, list]:
    """(the items of shard k, the others); `host_of(item)` is the item's host name, or None."""
    shards = assignment(host_names, n)
    kept, dropped = [], []
    for item in items:
        (kept if shard_of(host_of(item), shards) == k else dropped).append(item)
    return kept, dropped
