"""Safety guards the fix engine asks before it touches a host.

A Galera node is only touched while every OTHER node is Primary and Synced: restarting one node of three
then leaves two, which keep quorum. Touching a node while another is already down or joining could take the
cluster below quorum ("any disruption had serious consequences")."""
from __future__ import annotations

from stackcheck.fixing import FixRefused
from stackcheck.probes.sql import Database
from stackcheck.transport import HostUnreachable


def guard_for(state, target):
    """The guard for fixing `target` (None when its role needs none)."""
    if target is None or "dbnode" not in target.roles:
        return None
    return lambda: require_rest_of_cluster_healthy(state.lab, state.connections, target)


def require_rest_of_cluster_healthy(lab, connections, target) -> None:
    for node in lab.hosts("dbnode"):
        if node.name == target.name:
            continue
        try:
            st = Database(lambda n=node: connections.sql(n, fresh=True), node.name).statuses()
        except HostUnreachable as exc:
            raise FixRefused(f"{node.name} is not reachable ({exc}); touching {target.name} now could cost quorum")
        status, state = st.get("wsrep_cluster_status"), st.get("wsrep_local_state_comment")
        if status != "Primary" or state != "Synced":
            raise FixRefused(f"{node.name} is {status}/{state}, not Primary/Synced; touching {target.name} now "
                             f"could cost the cluster its quorum")
