"""Galera components: which nodes each DB node believes it is clustered with, and whether they form ONE Primary
component whose members are exactly the inventory's DB nodes.

Every node reports its own view: its component's configuration id and size, Primary or not, the state UUID, the
last committed seqno, and the component's members (MariaDB 10.4+ `mysql.wsrep_cluster_members`; elsewhere
`wsrep_incoming_addresses`). A split brain is two nodes that are both Primary in components with different
members: the state UUID alone cannot tell it (a node bootstrapped again with `safe_to_bootstrap: 1` keeps the
UUID and even the seqno of the cluster it left, and then writes a history of its own).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from stackcheck.probes.sql import NOT_READY, Database
from stackcheck.verdicts import CannotCheck

VIEW_STATUS = ("wsrep_cluster_status", "wsrep_cluster_conf_id", "wsrep_cluster_size", "wsrep_cluster_state_uuid",
               "wsrep_last_committed", "wsrep_incoming_addresses", "wsrep_gcomm_uuid", "wsrep_local_state_comment")
NO_SUCH_TABLE = 1146


@dataclass
class Member:
    uuid: str = ""
    node_name: str = ""
    address: str = ""  # the incoming (client) address, host[:port]


@dataclass
class NodeView:
    """One node's view of its component."""
    node: str  # the inventory name of the node that reported it
    status: dict[str, str]
    members: list[Member] = field(default_factory=list)

    @property
    def primary(self) -> bool:
        return self.status.get("wsrep_cluster_status") == "Primary"

    @property
    def state_uuid(self) -> str | None:
        return self.status.get("wsrep_cluster_state_uuid")

    @property
    def last_committed(self) -> int | None:
        value = self.status.get("wsrep_last_committed")
        return int(value) if value not in (None, "") and value.lstrip("-").isdigit() else None


def read_view(db, node: str) -> NodeView:
    """A node's view, in two round trips (CannotCheck when it cannot be read)."""
    status = {k.lower(): v for k, v in db.query(
        "SHOW GLOBAL STATUS WHERE Variable_name IN (%s)" % ",".join(["%s"] * len(VIEW_STATUS)), VIEW_STATUS,
        what="its Galera component (wsrep status)")}
    view = NodeView(node, status)
    try:
        rows = db.query("SELECT node_uuid, node_name, node_incoming_address FROM mysql.wsrep_cluster_members",
                        what="its component's members (mysql.wsrep_cluster_members)")
        view.members = [Member(str(u), str(n or ""), str(a or "")) for u, n, a in rows]
    except CannotCheck as exc:
        # servers before MariaDB 10.4 have no members table; a non-Primary node refuses to read it
        if getattr(exc, "code", 0) not in (NO_SUCH_TABLE, NOT_READY):
            raise
    if not view.members:
        view.members = [Member(address=a.strip()) for a in (status.get("wsrep_incoming_addresses") or "").split(",")
                        if a.strip()]
    return view


def read_views(connections, nodes) -> tuple[list[NodeView], list[str]]:
    """(the views of the nodes that could be read, why each other one could not)."""
    views, unread = [], []
    for node in nodes:
        try:
            views.append(read_view(Database(lambda n=node: connections.sql(n), node.name), node.name))
        except CannotCheck as exc:
            unread.append(f"{node.name}: {exc}")
    return views, unread


REMEDIATION = ("Do not restart a node of a minority component into the cluster (its own writes would survive an IST "
               "and diverge silently) and do not bootstrap again. Keep the component the application should keep "
               "(the majority), take the VIP's traffic off the others, then rejoin each other node by a full state "
               "transfer with its datadir set aside: `pytest --fix --fix-rejoin` does exactly that and lists the "
               "writes that exist only in the set-aside copy.")


def _host(address: str) -> str:
    address = address.strip()
    if address.startswith("["):
        return address[1:address.index("]")]
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


def member_names(view: NodeView, nodes) -> set[str]:
    """The inventory names of the members of `view`'s component."""
    return names_of(view.members, nodes)


def names_of(members: list[Member], nodes) -> set[str]:
    """The inventory names of `members`; a member the inventory does not know is named by what the node reports
    (`node name (address)`)."""
    return {_inventory_name(m, nodes) or f"{m.node_name or 'unknown node'} ({m.address or m.uuid})" for m in members}


def _inventory_name(member: Member, nodes) -> str | None:
    host = _host(member.address) if member.address else ""
    for n in nodes:
        addresses = {str(n.address), str(n.vars.get("wsrep_node_address") or "").split(":")[0]}
        if host and host in addresses:
            return n.name
        wanted = n.vars.get("wsrep_node_name")
        if member.node_name and wanted and member.node_name == wanted:
            return n.name
    return None


@dataclass
class Component:
    members: frozenset[str]  # inventory names (or a description of a stranger)
    primary: bool
    reported_by: list[str]  # the inventory names of the nodes that report this component


def components(views: list[NodeView], nodes) -> list[Component]:
    """The distinct components the nodes report, largest first."""
    found: dict[tuple[frozenset[str], bool], Component] = {}
    for view in views:
        key = (frozenset(member_names(view, nodes)), view.primary)
        found.setdefault(key, Component(key[0], view.primary, [])).reported_by.append(view.node)
    return sorted(found.values(), key=lambda c: (-len(c.members), sorted(c.members)))


def braces(names) -> str:
    return "{" + ", ".join(sorted(names)) + "}"


COUNT_WORDS = {2: "two", 3: "three", 4: "four"}


def split_brain(comps: list[Component]) -> str | None:
    """'split brain: two Primary components: {dbnode1} and {dbnode2, dbnode3}', or None."""
    primaries = [c for c in comps if c.primary]
    if len(primaries) < 2:
        return None
    ordered = sorted(primaries, key=lambda c: (len(c.members), sorted(c.members)))
    listed = ", ".join(braces(c.members) for c in ordered[:-1]) + " and " + braces(ordered[-1].members)
    return f"split brain: {COUNT_WORDS.get(len(primaries), len(primaries))} Primary components: {listed}"


def component_problems(views: list[NodeView], nodes) -> list[str]:
    """Why the nodes do not form ONE Primary component of exactly the inventory's nodes (empty when they do)."""
    comps = components(views, nodes)
    problems = []
    brain = split_brain(comps)
    if brain:
        problems.append(brain)
    expected = {n.name for n in nodes}
    primaries = [c for c in comps if c.primary]
    for comp in primaries:
        missing, strangers = expected - comp.members, comp.members - expected
        what = f"the Primary component {braces(comp.members)} (reported by {', '.join(sorted(comp.reported_by))})"
        if missing:
            problems.append(f"{what} does not include {', '.join(sorted(missing))}")
        if strangers:
            problems.append(f"{what} includes nodes the inventory does not name: {', '.join(sorted(strangers))}")
    if not primaries and views:
        problems.append("no node is in a Primary component: the cluster has lost quorum")
    uuids = {v.state_uuid for v in views}
    if len(uuids) > 1:
        problems.append("different cluster state UUIDs (separate clusters): "
                        + ", ".join(f"{v.node}={v.state_uuid}" for v in views))
    return problems


def describe_views(views: list[NodeView], nodes) -> str:
    """Evidence: each node's view in one line."""
    return "; ".join(
        f"{v.node}: {v.status.get('wsrep_cluster_status')} conf {v.status.get('wsrep_cluster_conf_id')} size "
        f"{v.status.get('wsrep_cluster_size')} members {braces(member_names(v, nodes))} uuid {v.state_uuid} "
        f"seqno {v.last_committed}" for v in views)
