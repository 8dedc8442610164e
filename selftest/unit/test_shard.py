"""--shard K/N: which hosts a shard checks (stackcheck/shard.py)."""
import pytest

from stackcheck import shard

FLEET = [f"fleet{i:03d}" for i in range(1, 17)]


@pytest.mark.parametrize("spec, expected", [("1/1", (1, 1)), ("2/4", (2, 4)), ("4/4", (4, 4))])
def test_parse_accepts_k_of_n(spec, expected):
    assert shard.parse(spec) == expected


@pytest.mark.parametrize("spec", ["0/4", "5/4", "4", "a/b", "1/0", "", "2/-1", "1/2/3"])
def test_parse_refuses_what_is_not_k_of_n(spec):
    with pytest.raises(shard.ShardError, match="K/N"):
        shard.parse(spec)


@pytest.mark.parametrize("hosts, n", [(16, 4), (128, 4), (10, 3), (3, 4), (129, 8)])
def test_every_shard_gets_within_one_host_of_the_others(hosts, n):
    counts = {k: 0 for k in range(1, n + 1)}
    for k in shard.assignment([f"h{i}" for i in range(hosts)], n).values():
        counts[k] += 1
    assert max(counts.values()) - min(counts.values()) <= 1, counts


def test_assignment_depends_on_the_names_only_not_their_order():
    assert shard.assignment(FLEET, 4) == shard.assignment(list(reversed(FLEET)), 4)


def test_assignment_is_the_same_on_every_machine_and_release():
    """Pinned: CI jobs on different runners (and Python versions) must agree on who checks which host."""
    assert shard.assignment(FLEET, 4) == {
        "fleet004": 1, "fleet011": 1, "fleet007": 1, "fleet002": 1,
        "fleet001": 2, "fleet009": 2, "fleet010": 2, "fleet012": 2,
        "fleet008": 3, "fleet014": 3, "fleet013": 3, "fleet016": 3,
        "fleet015": 4, "fleet003": 4, "fleet005": 4, "fleet006": 4,
    }


def test_checks_bound_to_no_single_host_run_in_shard_1_only():
    shards = shard.assignment(FLEET, 4)
    assert shard.shard_of(None, shards) == 1
    assert shard.shard_of("not-in-the-inventory", shards) == 1


def test_every_check_runs_in_exactly_one_shard():
    items = [(name, check) for name in [*FLEET, None] for check in ("a", "b")]  # (host, check); None: cluster-wide
    kept = [shard.split(items, k, 4, lambda item: item[0], FLEET)[0] for k in range(1, 5)]
    assert sum(len(part) for part in kept) == len(items)
    assert {i for part in kept for i in part} == set(items)
    assert {i for i in kept[0] if i[0] is None} == {(None, "a"), (None, "b")}
