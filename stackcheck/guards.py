"""Safety guards the fix engine asks before it touches a host.

A Galera node is only touched while every OTHER node is Primary and Synced: restarting one node of three
then leaves two, which keep quorum. Touching a node while another is already down or joining could take the
cluster below quorum ("any disruption had serious consequences").

No DB fix acts on a cluster that is split (two Primary components) or diverged (nodes holding different data):
restarting a node of a minority component would let it rejoin by IST with its own writes, and the divergence
would then be permanent and invisible to every status variable. Only the cluster-wide fixers of the risk classes
`rejoin` and `recover` act there, each with its own checks of the cluster's state.
"""
from __future__ import annotations

from stackcheck.fixing import FixRefused
from stackcheck.probes import galera_checksums, galera_components
from stackcheck.probes.sql import Database
from stackcheck.transport import HostUnreachable
from stackcheck.verdicts import CannotCheck

CLUSTER_WIDE = ("rejoin", "recover")  # fixers that judge the whole cluster themselves


def guard_for(state, target, fx=None):
    """The guard for fixing `target` with `fx` (None when its role needs none)."""
    if fx is not None and fx.risk in CLUSTER_WIDE:
        return None
    if target is None or "dbnode" not in target.roles:
        return None

    def guard():
        require_one_cluster_same_data(state.lab, state.connections)
        require_rest_of_cluster_healthy(state.lab, state.connections, target)
    return guard


def require_one_cluster_same_data(lab, connections) -> None:
    nodes = lab.hosts("dbnode")
    views, _ = galera_components.read_views(connections, nodes)
    brain = galera_components.split_brain(galera_components.components(views, nodes))
    if brain:
        raise FixRefused(f"{brain}: no DB fix acts on a split cluster (a node restarted into the other component "
                         "would keep its own writes); --fix-rejoin rejoins the minority by a full state transfer")
    try:
        comparison = galera_checksums.compare_cluster(connections, [n for n in nodes
                                                                    if n.name in {v.node for v in views}])
    except CannotCheck:
        return  # a node that cannot be read is the quorum guard's business below
    if comparison.differing:
        raise FixRefused("the DB nodes hold different data (" + "; ".join(
            galera_checksums.describe(t, v) for t, v in sorted(comparison.differing.items()))
            + "): no DB fix acts on a diverged cluster; --fix-rejoin rejoins the odd node by a full state transfer")


def require_rest_of_cluster_healthy(lab, connections, target) -> None:
    states = {}
    for node in lab.hosts("dbnode"):
        try:
            states[node.name] = Database(lambda n=node: connections.sql(n, fresh=True), node.name).statuses()
        except HostUnreachable as exc:
            states[node.name] = exc
    # quorum is known to be lost only when no node is Primary and every node that did not answer refused the
    # connection (its server is down): a node that timed out may be Primary where we cannot see it
    answered_or_down = all(isinstance(st, dict) or "refused" in str(st).lower() for st in states.values())
    if answered_or_down and not any(isinstance(st, dict) and st.get("wsrep_cluster_status") == "Primary"
                                    for st in states.values()):
        raise FixRefused("no DB node is in a Primary component (" + "; ".join(
            f"{n}: {_state_words(st)}" for n, st in states.items()) + "): the cluster lost quorum and a restart "
            "cannot bring it back; --fix-recover bootstraps it from the node with the most recent committed write")
    for name, st in states.items():
        if name == target.name:
            continue
        if isinstance(st, Exception):
            raise FixRefused(f"{name} is not reachable ({st}); touching {target.name} now could cost quorum")
        status, local = st.get("wsrep_cluster_status"), st.get("wsrep_local_state_comment")
        if status != "Primary" or local != "Synced":
            raise FixRefused(f"{name} is {status}/{local}, not Primary/Synced; touching {target.name} now "
                             f"could cost the cluster its quorum")


def _state_words(st) -> str:
    if isinstance(st, Exception):
        return f"not reachable ({st})"
    return f"{st.get('wsrep_cluster_status')}/{st.get('wsrep_local_state_comment')}"
