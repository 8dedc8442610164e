"""DBC: each DB node's configuration, judged twice: the running server (SHOW GLOBAL VARIABLES) and what its option
files (my.cnf and its includes, or the compiled default) would bring back at the next restart."""
from __future__ import annotations

import pytest

from stackcheck.probes import galera, mycnf
from stackcheck.probes.sql import Database


def _read(db, transport):
    _, variables = galera.read_state(db)
    return variables, mycnf.read(transport)


def _problems(req, lab, target, variables, config):
    return galera.option_problems(galera.GROUPS[req], galera.expected_options(lab, target), variables, config)


@pytest.mark.requirement("DBC-1")
@pytest.mark.role("dbnode")
@pytest.mark.severity("high")
def test_innodb_row_binlog_settings(db, transport, lab, target, evidence):
    variables, config = _read(db, transport)
    for key in galera.GROUPS["DBC-1"]:
        evidence[key] = f"{variables.get(key)} (files: {config.after_restart(key)})"
    problems = _problems("DBC-1", lab, target, variables, config)
    assert not problems, f"{target.name}: " + "; ".join(problems)


@pytest.mark.requirement("DBC-2")
@pytest.mark.role("dbnode")
@pytest.mark.severity("critical")
def test_wsrep_provider_cluster_and_node_identity(db, transport, lab, connections, target, evidence):
    variables, config = _read(db, transport)
    for key in ("wsrep_provider",) + galera.GROUPS["DBC-2"]:
        evidence[key] = variables.get(key)
    problems = _problems("DBC-2", lab, target, variables, config)
    provider = variables.get("wsrep_provider") or ""
    configured = config.after_restart("wsrep_provider") or ""
    paths = [p for p in {provider, configured} if p and p.lower() != "none"]
    if not provider or provider.lower() == "none":
        problems.append("running without a wsrep_provider (not a Galera node)")
    if paths:
        presence = galera.files_present(transport, paths, "the wsrep_provider library")
        problems += [f"wsrep_provider {p} does not exist" for p in paths if not presence[p]]
    if not target.vars.get("wsrep_node_name"):  # the inventory names no node: at least unique in the cluster
        mine = variables.get("wsrep_node_name")
        for node in lab.hosts("dbnode"):
            if node.name == target.name:
                continue
            other = Database(lambda n=node: connections.sql(n), node.name).scalar(
                "SELECT @@wsrep_node_name", what="its wsrep_node_name")
            if other == mine:
                problems.append(f"wsrep_node_name {mine} is also {node.name}'s")
    assert not problems, f"{target.name}: " + "; ".join(problems)


@pytest.mark.requirement("DBC-3")
@pytest.mark.role("dbnode")
@pytest.mark.severity("critical")
def test_cluster_address_lists_every_node(db, transport, lab, target, evidence):
    variables, config = _read(db, transport)
    evidence["wsrep_cluster_address"] = f"{variables.get('wsrep_cluster_address')} " \
                                        f"(files: {config.after_restart('wsrep_cluster_address')})"
    problems = _problems("DBC-3", lab, target, variables, config)
    assert not problems, f"{target.name}: " + "; ".join(problems)


@pytest.mark.requirement("DBC-4")
@pytest.mark.role("dbnode")
@pytest.mark.severity("high")
def test_sst_method_tool_and_applier_threads(db, transport, lab, target, evidence):
    variables, config = _read(db, transport)
    threads_name, threads = galera.applier_threads(variables)
    method = variables.get("wsrep_sst_method") or ""
    evidence["wsrep_sst_method"] = method
    evidence[threads_name] = threads
    problems = _problems("DBC-4", lab, target, variables, config)
    if not method:
        problems.append("wsrep_sst_method is not set")
    else:
        tools = galera.SST_TOOLS.get(method.lower())
        if tools is None:
            problems.append(f"unknown wsrep_sst_method {method}")
        elif tools:
            # `command -v` exits 1 when none is found: that is the answer, not a failure to read it
            found = transport.run(" || ".join(f"command -v {t}" for t in tools)).output(
                f"whether the SST tool of {method} is installed", ok=(0, 1)).strip()
            evidence["sst_tool"] = found or None
            if not found:
                problems.append(f"the SST tool of {method} ({' or '.join(tools)}) is not installed")
    assert not problems, f"{target.name}: " + "; ".join(problems)
