"""DBC fixers: make the option files and the running server say what the notes' my.cnf says.

Two risk classes, one decision: when every wrong running value can be changed live (SET GLOBAL), the `config`
fixer writes the files and applies the values; when one cannot (wsrep_cluster_address, wsrep_cluster_name,
wsrep_node_address, innodb_autoinc_lock_mode ...), only the `restart` fixer acts: it writes the files and
restarts this node (the engine's quorum guard first makes sure every other node is Primary and Synced)."""
from __future__ import annotations

from stackcheck.fixing import FixDeclined, fixer
from stackcheck.probes import galera, mycnf
from stackcheck.probes.sql import Database

VALIDATE = "my_print_defaults --defaults-file={path} --mysqld >/dev/null"  # the candidate file parses


def _plan(ctx, keys):
    """(new file texts {path: text}, wrong running values {key: (running name, old, new)}, db) for this node."""
    db: Database = ctx.extra["db"]
    _, variables = galera.read_state(db)
    config = mycnf.read(ctx.transport)
    expected = galera.expected_options(ctx.lab, ctx.target)
    target_file = mycnf.galera_file(config)
    texts: dict[str, str] = {}
    additions = []
    running: dict[str, tuple[str, str | None, str]] = {}
    for key in keys:
        if key not in expected:
            continue
        want = expected[key]
        if not galera.option_ok(key, config.after_restart(key), want):
            where = config.where(key)
            if where is not None:  # rewrite the deciding line in place (same line count: numbers stay valid)
                texts[where.path] = mycnf.replace_line(texts.get(where.path, config.files[where.path]),
                                                       where.line, key, want)
            else:
                additions.append((key, want))
        name = galera.applier_threads(variables)[0] if key == "wsrep_slave_threads" else key
        if not galera.option_ok(key, variables.get(name), want):
            running[key] = (name, variables.get(name), want)
    for key, want in additions:
        texts[target_file] = mycnf.add_to_group(texts.get(target_file, config.files.get(target_file, "")),
                                                "mysqld", key, want)
    return texts, running, db


CHECK_OF = {"DBC-1": "test_innodb_row_binlog_settings", "DBC-2": "test_wsrep_provider_cluster_and_node_identity",
            "DBC-3": "test_cluster_address_lists_every_node", "DBC-4": "test_sst_method_tool_and_applier_threads"}


def _sql_value(key: str, value: str):
    if key == "innodb_file_per_table":
        return "ON"
    return int(value) if value.isdigit() else value


def align_options_live(ctx, keys):
    """Write the expected options into the option files and apply the dynamic ones with SET GLOBAL (no restart)."""
    edits, running, db = _plan(ctx, keys)
    if any(key not in galera.DYNAMIC for key in running):
        return  # a value that only a restart changes: the restart fixer's job
    for path, text in edits.items():
        ctx.edit(path, text, validate=VALIDATE)
    for key, (name, old, new) in running.items():
        value = _sql_value(key, new)
        ctx.call(f"SET GLOBAL {name} = {value} (was {old})",
                 lambda n=name, v=value: db.query(f"SET GLOBAL {n} = %s", (v,)),
                 (lambda n=name, o=old: db.query(f"SET GLOBAL {n} = %s", (_sql_value(n, o),)))
                 if old is not None else None)


def rewrite_options_and_restart(ctx, keys):
    """Write the expected options into the option files and restart this DB node, when a wrong running value
    cannot be changed live (the engine first makes sure every other node is Primary and Synced)."""
    edits, running, db = _plan(ctx, keys)
    if all(key in galera.DYNAMIC for key in running):
        return  # nothing needs a restart: the config fixer's job
    split = _separate_cluster(ctx, db)
    if split:
        raise FixDeclined(split)
    for path, text in edits.items():
        ctx.edit(path, text, validate=VALIDATE)
    unit = (galera.read_service(ctx.transport).service or galera.Unit("mariadb")).name
    wrong = ", ".join(f"{name}={old}" for name, old, _ in running.values())
    ctx.command(f"systemctl restart {unit}", description=f"restart {unit} on {ctx.target.name} (running {wrong})")


def _register(req: str) -> None:
    """One pair of fixers per requirement, each touching only that requirement's options."""
    keys = galera.GROUPS[req]

    def live(ctx):
        align_options_live(ctx, keys)

    def restart(ctx):
        rewrite_options_and_restart(ctx, keys)

    live.__name__ = f"align_{req.replace('-', '').lower()}_options_live"
    live.__doc__ = f"Write {', '.join(keys)} into the option files and apply them with SET GLOBAL (no restart)."
    restart.__name__ = f"rewrite_{req.replace('-', '').lower()}_options_and_restart"
    restart.__doc__ = (f"Write {', '.join(keys)} into the option files and restart this DB node (only while every "
                       f"other node is Primary and Synced), when a running value cannot be changed live.")
    fixer(req, risk="config", checks=[CHECK_OF[req]], roles=["dbnode"])(live)
    fixer(req, risk="restart", checks=[CHECK_OF[req]], roles=["dbnode"])(restart)


for _req in galera.GROUPS:
    _register(_req)


def _separate_cluster(ctx, db) -> str | None:
    """A node that formed a cluster of its own (a bare gcomm:// restart: split brain) would, once restarted
    with the right address, be wiped by a full state transfer from the others: its writes since the split
    would be lost. That is a decision for a person, not for --fix."""
    mine = db.status("wsrep_cluster_state_uuid")
    conns = ctx.extra.get("connections")
    if conns is None:
        return None
    for node in ctx.lab.hosts("dbnode"):
        if node.name == ctx.target.name:
            continue
        try:
            other = Database(lambda n=node: conns.sql(n, fresh=True), node.name).status("wsrep_cluster_state_uuid")
        except Exception:  # noqa: BLE001 - an unreachable peer is the quorum guard's business
            continue
        if other and mine and other != mine:
            return (f"{ctx.target.name} is in a separate cluster (state UUID {mine}, {node.name} has {other}): "
                    f"restarting it into the cluster would replace its data by a full SST; not done automatically")
    return None
