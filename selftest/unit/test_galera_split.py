"""Pure judging of Galera components, divergence and the bootstrap choice (statuses as the lab's MariaDB 10.11
printed them during a forced second bootstrap of dbnode1)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from stackcheck.probes import galera_aside, galera_checksums, galera_components as gc
from stackcheck.probes.galera_recovery import Position, Refusal, choose_bootstrap, parse_grastate, parse_recovered

NODES = [SimpleNamespace(name=f"dbnode{i}", address=f"198.18.0.{14 + i}", vars={"wsrep_node_name": f"DBNode{i}"})
         for i in (1, 2, 3)]
UUID = "601fc1b1-ef1d-11f1-a391-120a7553cd99"


def view(node, members, primary=True, uuid=UUID, seqno="17"):
    status = {"wsrep_cluster_status": "Primary" if primary else "non-Primary", "wsrep_cluster_state_uuid": uuid,
              "wsrep_last_committed": seqno, "wsrep_cluster_size": str(len(members))}
    return gc.NodeView(node, status, [gc.Member("u", f"DBNode{m}", f"198.18.0.{14 + m}:0") for m in members])


def test_second_bootstrap_with_the_same_uuid_is_a_split_brain():
    views = [view("dbnode1", [1]), view("dbnode2", [3, 2]), view("dbnode3", [3, 2])]
    problems = gc.component_problems(views, NODES)
    assert problems[0] == "split brain: two Primary components: {dbnode1} and {dbnode2, dbnode3}"
    assert any("does not include dbnode1" in p for p in problems)


def test_one_component_of_every_node_has_no_problem():
    views = [view(f"dbnode{i}", [3, 2, 1]) for i in (1, 2, 3)]
    assert gc.component_problems(views, NODES) == []


def test_a_node_cut_off_is_not_a_split_brain_but_is_missing_from_the_primary():
    views = [view("dbnode1", [1], primary=False), view("dbnode2", [2, 3]), view("dbnode3", [2, 3])]
    problems = gc.component_problems(views, NODES)
    assert not any("split brain" in p for p in problems)
    assert problems == ["the Primary component {dbnode2, dbnode3} (reported by dbnode2, dbnode3) does not include "
                        "dbnode1"]


def test_members_read_from_incoming_addresses_and_strangers_named():
    v = gc.NodeView("dbnode1", {"wsrep_cluster_status": "Primary"}, [gc.Member(address="198.18.0.15:3306"),
                                                                     gc.Member(address="198.18.0.99:3306")])
    assert gc.member_names(v, NODES) == {"dbnode1", "unknown node (198.18.0.99:3306)"}


def test_checksum_difference_counts_only_when_seen_twice():
    reads = iter([
        {"n1": {"a.t": "1", "a.u": "5"}, "n2": {"a.t": "2", "a.u": "5"}, "n3": {"a.t": "2", "a.u": "6"}},
        {"n1": {"a.t": "1", "a.u": "7"}, "n2": {"a.t": "2", "a.u": "7"}, "n3": {"a.t": "2", "a.u": "7"}},
    ])
    result = galera_checksums.compare(lambda tables: next(reads))
    assert result.differing == {"a.t": {"n1": "1", "n2": "2", "n3": "2"}}  # a.u settled: a write in flight
    assert not result.unsettled
    assert galera_checksums.describe("a.t", result.differing["a.t"]) == "a.t: n1 differs (compared with n2, n3)"
    assert galera_checksums.odd_nodes(result) == {"n1"}


def test_a_table_that_keeps_changing_is_not_compared_never_equal():
    n = iter(range(100))
    result = galera_checksums.compare(lambda tables: {"n1": {"a.t": str(next(n))}, "n2": {"a.t": str(next(n))}})
    assert result.unsettled and not result.differing
    with pytest.raises(Exception, match="changed on every read"):
        galera_checksums.require_comparable(result)


def test_grastate_and_recovered_position():
    text = f"# GALERA saved state\nversion: 2.1\nuuid:    {UUID}\nseqno:   -1\nsafe_to_bootstrap: 0\n"
    assert parse_grastate(text) == (UUID, -1, False)
    assert parse_recovered(f"WSREP: Recovered position {UUID}:42\n--wsrep_start_position={UUID}:42\n") == (UUID, 42)


def pos(node, seqno, running=False, safe=False, reachable=True, uuid=UUID):
    return Position(node, reachable=reachable, running=running, uuid=uuid, seqno=seqno, safe_to_bootstrap=safe,
                    source="test", unknown_why="" if reachable else "timed out")


def test_bootstrap_choice():
    assert choose_bootstrap([pos("a", 5), pos("b", 7), pos("c", 6)])[0].node == "b"
    assert choose_bootstrap([pos("a", 7), pos("b", 7, running=True)])[0].node == "b"
    assert choose_bootstrap([pos("a", 7), pos("b", 7, safe=True)])[0].node == "b"
    with pytest.raises(Refusal, match="none is marked safe_to_bootstrap"):
        choose_bootstrap([pos("a", 7), pos("b", 7)])
    with pytest.raises(Refusal, match="b: not reachable"):
        choose_bootstrap([pos("a", 9, running=True), pos("b", None, reachable=False)])
    with pytest.raises(Refusal, match="is unknown"):
        choose_bootstrap([pos("a", 9), pos("b", -1)])
    with pytest.raises(Refusal, match="different histories"):
        choose_bootstrap([pos("a", 9), pos("b", 3, uuid="other")])


def test_rows_only_in_the_copy_named_by_key():
    copy = galera_aside.parse_rows("1\taaa\n2\tbbb\n3\tccc\n")
    live = galera_aside.parse_rows("2\tbbb\n3\tzzz\n4\tddd\n")
    keys = galera_aside.only_in_copy(copy, live)
    assert keys == ["1", "3"]  # 1 written only there, 3 changed there
    assert galera_aside.describe("db", "t", keys, True, 1) == \
        "db.t: 2 row(s) only in the set-aside copy (primary key: 1 and 1 more)"
