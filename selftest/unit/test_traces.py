"""What a run may sweep of what earlier runs left (stackcheck/traces.py), judged on the rows the DB nodes and
Keystone really return; and --read-only: a check that only a write proves is an error (never a pass), and a fix
option with it is a usage error (exit code 4).

The PROBE_LISTING rows are as PyMySQL returns them from MariaDB 10.11 (labbox dbnode1, 2026-12-03):
(SCHEMA_NAME, UNIX_TIMESTAMP() int, IS_USED_LOCK() connection id or None, UNIX_TIMESTAMP(MIN(CREATE_TIME)) or
None when the schema has no table)."""
from __future__ import annotations

import json

import pytest

from stackcheck import traces as tr
from stackcheck import verdicts as v

NOW = 1796304678
LEASE = 3600
FRESH = tr.probe_schema_name(NOW - 5, "a1b2c3d4")          # 5 s old, this version's name
OLD = tr.probe_schema_name(NOW - 2 * LEASE, "0badc0de")   # older than any run
LEGACY = "stackcheck_probe_9f86d081884c7d65"              # an older stackcheck's name (no time in it)


def judged(listings, unanswered=()):
    return {j.name: j for j in tr.judge_probe_schemas(listings, list(unanswered), LEASE)}


def test_probe_schema_name_carries_the_server_time_and_fits_a_lock_name():
    assert FRESH == f"stackcheck_probe_{NOW - 5}_a1b2c3d4"
    assert len(FRESH) <= 64  # a schema name and a GET_LOCK name are limited to 64 characters


def test_a_killed_runs_schema_is_swept_at_once_when_no_node_holds_its_lock():
    rows = [(FRESH, NOW, None, NOW - 5)]
    j = judged({"dbnode1": rows, "dbnode2": rows, "dbnode3": rows})[FRESH]
    assert j.sweep and "a run that is gone" in j.why


def test_a_live_runs_schema_is_kept_while_its_lock_is_held_on_any_node():
    j = judged({"dbnode1": [(FRESH, NOW, None, NOW - 5)], "dbnode2": [(FRESH, NOW, 4711, NOW - 5)]})[FRESH]
    assert not j.sweep and "a live run holds its lock on dbnode2" in j.why


def test_a_young_schema_is_kept_when_a_node_could_not_be_asked_about_its_lock():
    j = judged({"dbnode1": [(FRESH, NOW, None, None)]}, unanswered=["dbnode3 (timed out)"])[FRESH]
    assert not j.sweep and "dbnode3" in j.why


def test_older_than_the_lease_is_swept_even_with_its_lock_held():
    # no run lasts that long: a held lock is a connection of a runner that vanished (server timeouts are hours)
    j = judged({"dbnode1": [(OLD, NOW, 99, None)]}, unanswered=["dbnode2 (refused)"])[OLD]
    assert j.sweep and "longer than any run lasts" in j.why


def test_an_older_version_schema_is_judged_by_its_tables_age():
    old = judged({"dbnode1": [(LEGACY, NOW, None, NOW - 2 * LEASE)]})[LEGACY]
    assert old.sweep
    young = judged({"dbnode1": [(LEGACY, NOW, None, NOW - 60)]})[LEGACY]
    assert not young.sweep and "no lock" in young.why
    no_table = judged({"dbnode1": [(LEGACY, NOW, None, None)]})[LEGACY]
    assert not no_table.sweep and "drop it by hand" in no_table.why


def test_a_name_stackcheck_does_not_make_is_never_swept():
    name = "stackcheck_probe_customers"  # matches the LIKE pattern, but it is someone else's
    j = judged({"dbnode1": [(name, NOW, None, NOW - 10 * LEASE)]})[name]
    assert not j.sweep and "not a name stackcheck makes" in j.why


# --- EC2 credentials ------------------------------------------------------------------------------------------
def cred(cid, created=None, **extra):
    blob = {"access": "9ec5e00244d94f7c98692ca2d6579376", "secret": "not-used-here", **extra}
    if created is not None:
        blob["stackcheck"] = {"created": created, "runner": "ci-7:4242"}
    return {"id": cid, "blob": json.dumps(blob)}


def test_only_marked_credentials_older_than_the_lease_are_swept():
    creds = [cred("operator's own"), cred("left by a killed run", NOW - 2 * LEASE), cred("a live run's", NOW - 30),
             {"id": "not json", "blob": "{"}, cred("marker without a time", stackcheck={"runner": "x:1"})]
    verdicts = {j.name: j for j in tr.judge_ec2_credentials(creds, NOW, LEASE)}
    assert set(verdicts) == {"left by a killed run", "a live run's"}  # the others are not ours: never listed
    assert verdicts["left by a killed run"].sweep and "ci-7:4242" in verdicts["left by a killed run"].why
    assert not verdicts["a live run's"].sweep


def test_the_credential_marker_names_its_time_and_runner():
    marker = tr.credential_marker(now=NOW)
    assert marker["created"] == NOW and ":" in marker["runner"]


# --- read-only -------------------------------------------------------------------------------------------------
def test_a_check_that_needs_a_write_is_an_error_in_a_read_only_run_never_a_pass():
    with pytest.raises(tr.NeedsWrite) as exc:
        tr.Traces(read_only=True).refuse_write("DBK-5 needs a probe schema", "run without --read-only")
    assert v.outcome_of_exception(exc.value) == v.ERROR
    assert v.requirement_verdict([v.PASSED, v.ERROR]) == v.ERROR and v.ERROR not in v.GATE_OK
    assert str(exc.value) == ("not checked in a read-only run (--read-only or stackcheck.read_only: nothing may be "
                              "written): DBK-5 needs a probe schema; run without --read-only")
    tr.Traces(read_only=False).refuse_write("DBK-5", "")  # a normal run may write


def test_a_sweep_runs_once_never_in_a_read_only_run_and_never_decides_a_check():
    calls = []
    normal = tr.Traces(read_only=False)
    normal.sweep_once("probe schemas", lambda say: (calls.append(1), say("dropped x")))
    normal.sweep_once("probe schemas", lambda say: calls.append(2))
    assert calls == [1] and normal.pending == ["dropped x"]
    read_only = tr.Traces(read_only=True)
    read_only.sweep_once("probe schemas", lambda say: calls.append(3))
    assert calls == [1]

    def broken(say):
        raise RuntimeError("Keystone said 503")

    normal.sweep_once("EC2 credentials", broken)
    assert "EC2 credentials: the sweep of earlier runs' leftovers failed: RuntimeError: Keystone said 503" \
        in normal.pending


# --- the option and the inventory key, end to end in a throwaway project -----------------------------------------
INVENTORY = "all:\n  children:\n    compute:\n      hosts:\n        here: {ansible_connection: local}\n"
CHECK = ("import pytest\n@pytest.mark.requirement('HOST-7')\n@pytest.mark.role('compute')\n"
         "def test_x(target):\n    pass\n")


def run(pytester, inventory: str, *args):
    inv = pytester.path / "inv.yaml"
    inv.write_text(inventory)
    pytester.makepyfile(test_checks=CHECK)
    return inv, pytester.runpytest_subprocess("-p", "no:pytest11.testinfra", "-p", "stackcheck.plugin", f"--host={inv}",
                                              f"--reports={pytester.path / 'reports'}", *args)


@pytest.mark.parametrize("fix", ["--fix", "--fix-data", "--fix-access"])
def test_read_only_refuses_every_fix_option(pytester, fix):
    _, result = run(pytester, INVENTORY, "--read-only", fix)
    assert result.ret == 4
    assert f"{fix} cannot run in a read-only run" in result.stderr.str()
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_the_inventorys_read_only_refuses_fix_too(pytester):
    _, result = run(pytester, INVENTORY + "stackcheck:\n  read_only: true\n", "--fix")
    assert result.ret == 4 and "--fix cannot run in a read-only run" in result.stderr.str()


def test_a_read_only_run_says_so(pytester):
    _, result = run(pytester, INVENTORY, "--read-only")
    assert result.ret == 0 and "read-only run: nothing was written on any host" in result.stdout.str()


def test_read_only_must_be_a_boolean(pytester):
    inv, result = run(pytester, INVENTORY + "stackcheck:\n  read_only: 'yes'\n")
    assert result.ret == 4 and f"{inv}: stackcheck.read_only: expected true or false" in result.stderr.str()
