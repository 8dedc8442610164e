"""DBK fixers: the DB service at boot, leaving bootstrap mode, and accounts that exist on one node only.
Never drops a user or data."""
from __future__ import annotations

import time

from stackcheck.fixing import fixer
from stackcheck.probes import galera
from stackcheck.probes.sql import Database

SERVICE_CHECK = ["test_normal_service_running_not_bootstrap"]


@fixer("DBK-4", risk="config", checks=SERVICE_CHECK, roles=["dbnode"])
def enable_db_service(ctx):
    """Enable the DB service at boot (systemctl enable)."""
    state = galera.read_service(ctx.transport)
    unit = state.service
    if unit is None or unit.enabled or state.in_bootstrap_mode or not unit.active:
        return  # nothing to enable, or the restart fixer's case
    ctx.command(f"systemctl enable {unit.name}", undo=f"systemctl disable {unit.name}")


@fixer("DBK-4", risk="restart", checks=SERVICE_CHECK, roles=["dbnode"])
def leave_bootstrap_mode(ctx):
    """Leave bootstrap mode (or start a stopped node): restart the node with its normal unit, so it rejoins the
    cluster by IST; only while every other node is Primary and Synced (the engine's quorum guard)."""
    state = galera.read_service(ctx.transport)
    unit = state.service
    if unit is None:
        return
    steps = []
    if state.bootstrap_units_active:
        steps += [f"systemctl stop {u}" for u in state.bootstrap_units_active]
        steps.append(f"systemctl start {unit.name}")
    elif state.new_cluster_flag:
        # Debian/MariaDB's galera_new_cluster passes the flag through an environment file or the manager's
        # environment; clear both so the restart is a normal one
        steps += ["systemctl unset-environment _WSREP_NEW_CLUSTER", "rm -f /run/mariadb-wsrep-new-cluster",
                  f"systemctl restart {unit.name}"]
    elif not unit.active:
        steps.append(f"systemctl start {unit.name}")
    if not unit.enabled:
        steps.append(f"systemctl enable {unit.name}")
    for step in steps:
        ctx.command(step)


# risk `access`: copying an account to every node gives it access where it had none (an account made with
# wsrep_on=OFF on one node is unexplained until a person says it is wanted): only --fix-access runs it
@fixer("DBK-7", risk="access", checks=["test_same_users_on_every_node"], roles=["dbnode"])
def replicate_local_only_accounts(ctx):
    """Re-create accounts that exist on some DB nodes only with CREATE USER IF NOT EXISTS and their GRANTs, run
    on a node that lacks them, so Galera replicates them to every node (nothing is dropped); this creates
    access on the other nodes, so it is its own risk class (--fix-access)."""
    lab = ctx.lab
    conns = ctx.extra["connections"]
    nodes = lab.hosts("dbnode")
    accounts: dict[str, set[tuple[str, str]]] = {}
    for node in nodes:
        rows = Database(lambda n=node: conns.sql(n), node.name).query("SELECT User, Host FROM mysql.user",
                                                                       what="the accounts (mysql.user)")
        accounts[node.name] = {(u, h) for u, h in rows}
    everywhere = set.intersection(*accounts.values())
    for user, host in sorted(set.union(*accounts.values()) - everywhere):
        having = next(n for n in nodes if (user, host) in accounts[n.name])
        lacking = [n for n in nodes if (user, host) not in accounts[n.name]]
        source = Database(lambda n=having: conns.sql(n), having.name)
        create = source.scalar("SHOW CREATE USER %s@%s", (user, host), what=f"how '{user}'@'{host}' was made")
        grants = [r[0] for r in source.query("SHOW GRANTS FOR %s@%s", (user, host), what=f"'{user}'@'{host}''s grants")]
        if not create:
            ctx.note(f"SHOW CREATE USER '{user}'@'{host}' on {having.name} returned nothing: not copied")
            continue
        create = create.replace("CREATE USER ", "CREATE USER IF NOT EXISTS ", 1)
        runner = lacking[0]

        def apply(create=create, grants=grants, runner=runner):
            conn = conns.sql(runner, fresh=True)
            try:
                with conn.cursor() as cur:
                    cur.execute(create)
                    for grant in grants:
                        cur.execute(grant)
            finally:
                conn.close()

        # the description names the account only: SHOW CREATE USER carries the password hash
        ctx.call(f"CREATE USER IF NOT EXISTS '{user}'@'{host}' (as on {having.name}, with its grants) on "
                 f"{runner.name}; Galera replicates it to {', '.join(n.name for n in lacking)}", apply)



@fixer("DBK-2", risk="config", checks=["test_node_primary_ready_connected_synced"], roles=["dbnode"])
def end_forgotten_desync(ctx):
    """Turn wsrep_desync off on a node left desynced (e.g. after a backup): it catches up and becomes Synced.
    Other causes (non-Primary, not connected) need a person: nothing is done for them."""
    db: Database = ctx.extra["db"]
    if (db.variable("wsrep_desync") or "").upper() != "ON":
        return
    def resync():
        db.query("SET GLOBAL wsrep_desync = OFF")
        for _ in range(120):  # it replays what it queued while desynced, then reports Synced
            if db.status("wsrep_local_state_comment") == "Synced":
                return
            time.sleep(0.5)
        raise RuntimeError("still not Synced 60 s after wsrep_desync = OFF")

    ctx.call("SET GLOBAL wsrep_desync = OFF (was ON) and wait until the node is Synced", resync,
             lambda: db.query("SET GLOBAL wsrep_desync = ON"))
