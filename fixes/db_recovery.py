"""Cluster-wide Galera repairs, each behind its own flag, each acting on the whole cluster with its own checks:

- `--fix-rejoin` (DBK-3 split brain, DBK-9 divergence): every node outside the majority is stopped, its datadir
  is set aside (renamed, kept, never deleted) and it starts empty, so it can only rejoin by a full state transfer
  (SST) from the majority: an IST would keep its own writes. The rows that only the set-aside copy holds are then
  listed (read by a temporary server on that copy, without networking), so an operator can replay them.
- `--fix-recover` (DBK-2 / DBK-4 when no node is Primary): the node with the most recent committed write is
  bootstrapped (`pc.bootstrap=YES` if it still runs, else a bootstrap start), the others are started one at a
  time and waited for until Synced, and a node started in bootstrap mode is restarted normally at the end.
  Refused while any node's state is unknown (not reachable is not stopped).
"""
from __future__ import annotations

import shlex
import time

from stackcheck.fixing import FixDeclined, fixer
from stackcheck.probes import batch, galera, galera_aside, galera_checksums, galera_components
from stackcheck.probes.galera_recovery import Position, Refusal, choose_bootstrap, parse_grastate, parse_recovered
from stackcheck.probes.sql import Database
from stackcheck.verdicts import CannotCheck

SST_TIMEOUT = 900  # seconds a node may take to join by a full state transfer (a large datadir takes long)
PRIMARY_TIMEOUT = 60
ROWS_LISTED = 20  # per table, in the log: the rest is counted


# --- reading a node ---------------------------------------------------------------------------------------------
DATADIR_PART = batch.part("datadir", "my_print_defaults --mysqld | sed -n 's/^--datadir=//p' | tail -n 1")


def datadir(found: batch.Batch) -> str:
    """The server's datadir from a batch with DATADIR_PART (MariaDB's default when the options name none)."""
    return found.output("datadir", "the DB server's datadir (my_print_defaults --mysqld)").strip() or "/var/lib/mysql"


def datadir_of(transport) -> str:
    return datadir(batch.run(transport, batch.script(DATADIR_PART)))


def position_of(connections, node) -> Position:
    """Where the node's history ends (see stackcheck.probes.galera_recovery)."""
    pos = Position(node.name)
    try:
        transport = connections.transport(node)
        found = batch.run(transport, batch.script(
            batch.part("process", "pgrep -x mariadbd || pgrep -x mysqld || [ $? = 1 ]"), DATADIR_PART))
        pids = found.output("process", "whether a DB server process runs (pgrep)").split()
    except CannotCheck as exc:
        pos.reachable, pos.unknown_why = False, str(exc)
        return pos
    pos.running = bool(pids)
    if pos.running:
        try:
            st = Database(lambda: connections.sql(node, fresh=True), node.name).statuses()
        except CannotCheck as exc:
            pos.unknown_why = f"its server runs but its state could not be read: {exc}"
            return pos
        pos.primary = st.get("wsrep_cluster_status") == "Primary"
        pos.uuid, pos.source = st.get("wsrep_cluster_state_uuid"), "the running server"
        pos.seqno = int(st["wsrep_last_committed"]) if st.get("wsrep_last_committed") else None
        return pos
    path = f"{datadir(found)}/grastate.dat"
    text = batch.run(transport, batch.script(batch.file(path))).file(path)
    if text is None:
        pos.unknown_why = f"{path} does not exist"
        return pos
    pos.uuid, pos.seqno, pos.safe_to_bootstrap = parse_grastate(text)
    pos.source = path
    if pos.seqno == -1:  # a crash: the position is in InnoDB, read by a recovery run of the server
        r = transport.run("galera_recovery 2>&1", timeout=300)
        recovered = parse_recovered(r.stdout) if r.ok else None  # rc judged: r.ok
        if recovered is None:
            pos.seqno, pos.unknown_why = None, f"galera_recovery printed no position ({r.reason() if not r.ok else 'no --wsrep_start_position'})"
        else:
            pos.uuid, pos.seqno = recovered
            pos.source = "mariadbd --wsrep-recover (galera_recovery)"
    return pos


def _wait_status(connections, node, wanted: dict[str, str], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last = "not answering"
    while time.monotonic() < deadline:
        try:
            st = Database(lambda: connections.sql(node, fresh=True), node.name).statuses()
            if all(st.get(k) == v for k, v in wanted.items()):
                return
            last = ", ".join(f"{k}={st.get(k)}" for k in wanted)
        except CannotCheck as exc:
            last = str(exc)
        time.sleep(1)
    raise RuntimeError(f"{node.name} not {what} after {timeout:.0f} s (last seen: {last})")


def _wait_synced(connections, node, timeout: float = SST_TIMEOUT) -> None:
    _wait_status(connections, node, {"wsrep_cluster_status": "Primary", "wsrep_local_state_comment": "Synced",
                                     "wsrep_ready": "ON"}, timeout, "Primary and Synced")


def _run(connections, node, command: str, what: str, timeout: float | None = None) -> str:
    return connections.transport(node).run(command, timeout=timeout).output(f"{what} on {node.name}")


def _unit_name(connections, node) -> str:
    unit = galera.read_service(connections.transport(node)).service
    if unit is None:
        raise FixDeclined(f"{node.name} has no DB service unit ({', '.join(galera.SERVICE_UNITS)})")
    return unit.name


LEAVE_BOOTSTRAP = ("systemctl unset-environment _WSREP_NEW_CLUSTER; rm -f /run/mariadb-wsrep-new-cluster; "
                   "for u in mysql@bootstrap mariadb@bootstrap mysqld@bootstrap; do systemctl stop $u 2>/dev/null; "
                   "done; true")


# --- --fix-recover ------------------------------------------------------------------------------------------------
RECOVER_CHECKS = ["test_node_primary_ready_connected_synced", "test_normal_service_running_not_bootstrap"]


@fixer("DBK-2", "DBK-4", risk="recover", checks=RECOVER_CHECKS, roles=["dbnode"])
def recover_lost_quorum(ctx):
    """The cluster lost quorum (no node is Primary): bootstrap the node with the most recent committed write
    (pc.bootstrap=YES if it still runs, else a bootstrap start), then start the others one at a time and wait for
    each to be Synced; refused while any node's state is unknown (not reachable is not stopped). Its own flag:
    --fix-recover."""
    conns, nodes = ctx.extra["connections"], ctx.lab.hosts("dbnode")
    positions = [position_of(conns, n) for n in nodes]
    if any(p.primary for p in positions):
        return  # a Primary component exists: not this fixer's case
    for p in positions:
        ctx.note(f"evidence: {p.describe()}")
    try:
        chosen, why = choose_bootstrap(positions)
    except Refusal as exc:
        raise FixDeclined(f"quorum is lost but the node to bootstrap cannot be chosen safely: {exc}") from None
    ctx.note(f"chosen: {chosen.node}: {why}")
    by_name = {n.name: n for n in nodes}
    for node in nodes:  # every node is started, restarted or waited for: none may be in another fix meanwhile
        ctx.touches(conns.transport(node))
    first = by_name[chosen.node]
    unit = _unit_name(conns, first)
    if chosen.running:
        db = Database(lambda: conns.sql(first, fresh=True), first.name)
        ctx.call(f"{first.name}: SET GLOBAL wsrep_provider_options='pc.bootstrap=YES' (it becomes the Primary "
                 "component) and wait until it is Primary",
                 lambda: (db.execute("SET GLOBAL wsrep_provider_options = 'pc.bootstrap=YES'",
                                     what="pc.bootstrap=YES"),
                          _wait_status(conns, first, {"wsrep_cluster_status": "Primary"}, PRIMARY_TIMEOUT, "Primary")))
    else:
        grastate = f"{datadir_of(conns.transport(first))}/grastate.dat"
        ctx.call(f"{first.name}: set safe_to_bootstrap: 1 in {grastate} and start it with galera_new_cluster (a new "
                 "Primary component from its data), wait until it is Primary",
                 lambda: (_run(conns, first, f"sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' "
                                             f"{shlex.quote(grastate)} && galera_new_cluster", "galera_new_cluster",
                               timeout=SST_TIMEOUT),
                          _wait_status(conns, first, {"wsrep_cluster_status": "Primary"}, PRIMARY_TIMEOUT, "Primary")))
    for p in positions:
        if p.node == chosen.node:
            continue
        node = by_name[p.node]
        if p.running:
            ctx.call(f"{node.name}: wait until it joins (it runs, non-Primary) and is Synced",
                     lambda node=node: _rejoin_running(conns, node))
        else:
            node_unit = _unit_name(conns, node)
            ctx.call(f"{node.name}: systemctl start {node_unit}, wait until Synced (one node at a time)",
                     lambda node=node, u=node_unit: (_run(conns, node, f"systemctl start {u}", f"starting {u}",
                                                          timeout=SST_TIMEOUT), _wait_synced(conns, node)))
    if not chosen.running:
        ctx.call(f"{first.name}: leave bootstrap mode: restart {unit} normally once the others are Synced (it "
                 "rejoins them by IST)",
                 lambda: (_run(conns, first, f"{LEAVE_BOOTSTRAP}; systemctl restart {unit}", f"restarting {unit}",
                               timeout=SST_TIMEOUT), _wait_synced(conns, first)))


def _rejoin_running(connections, node) -> None:
    """A running non-Primary node joins the new Primary component by itself; one that does not within a minute is
    restarted (it is outside every Primary component: no quorum depends on it)."""
    try:
        _wait_synced(connections, node, PRIMARY_TIMEOUT)
    except RuntimeError:
        unit = _unit_name(connections, node)
        _run(connections, node, f"systemctl restart {unit}", f"restarting {unit}", timeout=SST_TIMEOUT)
        _wait_synced(connections, node)


# --- --fix-rejoin -------------------------------------------------------------------------------------------------
@fixer("DBK-3", risk="rejoin", checks=["test_one_primary_component_of_every_node"], roles=["dbnode"])
def rejoin_minority_component(ctx):
    """Split brain: each node outside the majority's Primary component is stopped, its datadir set aside (kept,
    never deleted) and it rejoins by a full state transfer from the majority (never by IST, which would keep its
    own writes); the rows only the set-aside copy holds are listed. Its own flag: --fix-rejoin."""
    conns, nodes = ctx.extra["connections"], ctx.lab.hosts("dbnode")
    views, unread = galera_components.read_views(conns, nodes)
    comps = galera_components.components(views, nodes)
    if not galera_components.split_brain(comps):
        return
    if unread:
        raise FixDeclined("not every DB node could be read (" + "; ".join(unread) + "): which component holds the "
                          "majority cannot be told")
    keep = _majority([c for c in comps if c.primary], len(nodes))
    odd = [n for n in nodes if n.name not in keep.members]
    ctx.note(f"evidence: {galera_components.describe_views(views, nodes)}")
    ctx.note(f"keep the majority's component {galera_components.braces(keep.members)}; rejoin "
             f"{', '.join(n.name for n in odd)} by a full state transfer")
    _plan_rejoin(ctx, conns, odd, keep.members)


@fixer("DBK-9", risk="rejoin", checks=["test_same_data_on_every_node"], roles=["dbnode"])
def rejoin_diverged_nodes(ctx):
    """Divergence: each node whose data differs from the majority's is stopped, its datadir set aside (kept, never
    deleted) and it rejoins by a full state transfer from the others; the rows only the set-aside copy holds are
    listed. Its own flag: --fix-rejoin."""
    conns, nodes = ctx.extra["connections"], ctx.lab.hosts("dbnode")
    views, unread = galera_components.read_views(conns, nodes)
    if unread or galera_components.component_problems(views, nodes):
        raise FixDeclined("the nodes do not form one Primary component of every node (DBK-3): rejoin a split "
                          "cluster first")
    comparison = galera_checksums.compare_cluster(conns, nodes)
    if not comparison.differing:
        return
    odd_names = galera_checksums.odd_nodes(comparison)
    if not odd_names or len(odd_names) * 2 >= len(nodes):
        raise FixDeclined("no majority of the nodes agrees on the data (" + "; ".join(
            galera_checksums.describe(t, v) for t, v in comparison.differing.items())
            + "): which copy to keep is an operator's decision")
    for table, values in sorted(comparison.differing.items()):
        ctx.note(f"evidence: {galera_checksums.describe(table, values)}")
    odd = [n for n in nodes if n.name in odd_names]
    _plan_rejoin(ctx, conns, odd, {n.name for n in nodes if n.name not in odd_names})


def _majority(primaries, n_nodes: int):
    best = max(primaries, key=lambda c: len(c.members))
    if len(best.members) * 2 <= n_nodes or sum(len(c.members) == len(best.members) for c in primaries) > 1:
        raise FixDeclined("no Primary component holds a majority of the DB nodes ("
                          + " and ".join(galera_components.braces(c.members) for c in primaries)
                          + "): which component to keep is an operator's decision")
    return best


def _plan_rejoin(ctx, conns, odd, keep_names) -> None:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for node in odd:
        transport = conns.transport(node)
        ctx.touches(transport)
        data = datadir_of(transport).rstrip("/")
        aside = f"{data}.stackcheck-aside-{stamp}"
        unit = _unit_name(conns, node)
        ctx.call(f"{node.name}: stop {unit} (and leave bootstrap mode): it leaves its own component",
                 lambda node=node, unit=unit: _run(conns, node, f"systemctl stop {unit}; {LEAVE_BOOTSTRAP}; "
                                                   f"systemctl is-active --quiet {unit} && exit 1 || true",
                                                   f"stopping {unit}", timeout=300))
        ctx.call(f"{node.name}: move its datadir {data} aside to {aside} (kept, never deleted) and create an empty "
                 "one, so the only way back is a full state transfer",
                 lambda node=node, data=data, aside=aside: _run(
                     conns, node, f"mv -T -- {shlex.quote(data)} {shlex.quote(aside)} && install -d -o mysql -g "
                     f"mysql -m 750 -- {shlex.quote(data)}", "setting the datadir aside"))
        ctx.call(f"{node.name}: start {unit}: it joins {galera_components.braces(keep_names)} by SST and is waited "
                 "for until Synced",
                 lambda node=node, unit=unit: (_run(conns, node, f"systemctl start {unit}", f"starting {unit}",
                                                    timeout=SST_TIMEOUT), _wait_synced(conns, node)))
        ctx.call(f"{node.name}: list the rows only the set-aside copy {aside} holds (a temporary server on the copy, "
                 "no networking, stopped afterwards)",
                 lambda node=node, aside=aside: _report_aside_rows(ctx, conns, node, aside))


# --- what only the set-aside copy holds ---------------------------------------------------------------------------
def _report_aside_rows(ctx, conns, node, aside: str) -> None:
    for line in galera_aside.rows_only_in_copy(conns.transport(node), aside, ROWS_LISTED):
        ctx.result(f"{node.name}: {line}")
