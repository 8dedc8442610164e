"""Inventory loading: defaults, roles, credentials by reference, and one clear line for each mistake."""
import datetime
import os
from pathlib import Path

import pytest
import yaml

from stackcheck import inventory
from stackcheck.inventory import InventoryError, load

GOOD = """
all:
  vars: {ansible_user: ops}
  children:
    dbnode:
      vars: {ansible_port: 2222}
      hosts:
        db1: {ansible_host: 198.18.0.15}
        db2: {ansible_host: 198.18.0.16, ansible_port: 22}
    lb:
      hosts:
        lb: {ansible_host: 198.18.0.18}
stackcheck:
  db: {password: {file: PWFILE}}
"""


def write(tmp_path, text, pw_mode=0o600):
    pw = tmp_path / "db_password"
    pw.write_text("s3cret-db-pass\n")
    pw.chmod(pw_mode)
    inv = tmp_path / "inv.yaml"
    inv.write_text(text.replace("PWFILE", str(pw)))
    return inv


def test_roles_vars_and_defaults(tmp_path):
    lab = load(str(write(tmp_path, GOOD)))
    assert [h.name for h in lab.hosts("dbnode")] == ["db1", "db2"]
    assert lab.host("db1").port == 2222 and lab.host("db2").port == 22  # host vars beat group vars
    assert lab.host("db1").user == "ops"  # all.vars apply everywhere
    assert lab.get("db.cluster_name") == "SilverSkySoftDBClusterA"  # the notes' default
    assert lab.get("lb.vip") == "198.18.0.18"  # defaults to the lb host's address
    assert lab.secret("db.password") == "s3cret-db-pass"
    assert "s3cret-db-pass" in lab.secrets()
    assert lab.hosts("compute") == []


def test_env_credential(tmp_path, monkeypatch):
    inv = tmp_path / "inv.yaml"
    inv.write_text(GOOD.replace("{file: PWFILE}", "{env: SC_TEST_PW}"))
    monkeypatch.setenv("SC_TEST_PW", "from-env-secret")
    assert load(str(inv)).secret("db.password") == "from-env-secret"


LATER = datetime.date.today() + datetime.timedelta(days=400)


@pytest.mark.parametrize("mutate, expected", [
    (lambda t: t.replace("    lb:\n", "    lbb:\n"), "all.children.lbb: unknown role"),
    (lambda t: t.replace("{ansible_host: 198.18.0.18}", "{}"), "host lb: ansible_host (its address) is missing"),
    (lambda t: t.replace("db: {password", "db: {pasword"), "stackcheck.db.pasword: unknown key"),
    (lambda t: t.replace("{file: PWFILE}", "hunter2"), "stackcheck.db.password: a credential must be a reference"),
    (lambda t: t + "  lb: {kind: f5}\n", "stackcheck.lb.kind: 'f5' is not one of"),
    (lambda t: t.replace("children:", "children: [", 1), "not valid YAML"),
    # waivers: an expiry is required and at most a year ahead, the id must be in the catalog
    (lambda t: t + "  waivers: [{id: HOST-8, reason: no LVM}]\n", "stackcheck.waivers[0].expires: a waiver needs an expiry"),
    (lambda t: t + f"  waivers: [{{id: HOST-8, reason: no LVM, expires: {LATER.isoformat()}}}]\n",
     "more than a year ahead"),
    (lambda t: t + "  waivers: [{id: HOST-88, reason: typo, expires: 2027-01-01}]\n",
     "stackcheck.waivers[0].id: 'HOST-88' is not a requirement id"),
    (lambda t: t + "  waivers: [{id: HOST-8, reason: x, expires: 2027-01-01, check: swap}]\n",
     "stackcheck.waivers[0].check: 'swap' is not a check function name"),
    (lambda t: t + "  scope: [DBK, LBX]\n", "stackcheck.scope: 'LBX' is neither a requirement id nor a family"),
    # become: sudo only, a boolean, and a password only by reference
    (lambda t: t.replace("{ansible_user: ops}", "{ansible_user: ops, ansible_become: maybe}"),
     "host db1: ansible_become: expected true or false, got 'maybe'"),
    (lambda t: t.replace("{ansible_user: ops}", "{ansible_user: ops, ansible_become: true, ansible_become_method: su}"),
     "host db1: ansible_become_method: only sudo is supported"),
    (lambda t: t.replace("{ansible_user: ops}", "{ansible_user: ops, ansible_become: true, "
                                                "ansible_become_password: hunter2}"),
     "host db1: ansible_become_password: a credential must be a reference"),
    (lambda t: t.replace("{ansible_user: ops}", "{ansible_user: ops, ansible_become: true, "
                                                "ansible_become_password: {env: SC_NO_SUCH_VAR}}"),
     "host db1: ansible_become_password: environment variable SC_NO_SUCH_VAR is not set"),
])
def test_bad_inventory_names_file_and_key(tmp_path, mutate, expected):
    inv = write(tmp_path, mutate(GOOD))
    with pytest.raises(InventoryError) as err:
        load(str(inv))
    assert expected in str(err.value) and str(inv) in str(err.value)
    assert "\n" not in str(err.value)


def test_become_is_sudo_as_root_by_default_and_its_password_a_secret(tmp_path):
    lab = load(str(write(tmp_path, GOOD.replace("{ansible_user: ops}", "{ansible_user: ops, ansible_become: 'yes'}")
                               .replace("db2: {ansible_host: 198.18.0.16,", "db2: {ansible_host: 198.18.0.16, "
                                        "ansible_become_user: svc, ansible_become_password: {file: PWFILE},"))))
    assert lab.host("db1").become == inventory.Become("root", None)
    assert lab.host("db2").become == inventory.Become("svc", "s3cret-db-pass")
    assert lab.secrets().count("s3cret-db-pass") >= 2  # the DB password, and db2's become password
    plain = load(str(write(tmp_path, GOOD)))
    assert plain.host("db1").become is None


def test_scope_and_waivers(tmp_path):
    soon = (datetime.date.today() + datetime.timedelta(days=10)).isoformat()
    lab = load(str(write(tmp_path, GOOD + f"  scope: [DBK, LB-1]\n  waivers: [{{id: DBH-1, check: test_swap_active, "
                                          f"reason: policy, expires: {soon}}}]\n")))
    assert lab.in_scope("DBK-7") and lab.in_scope("LB-1") and not lab.in_scope("LB-2")
    (w,) = lab.waivers
    assert w.active() and w.applies(("DBH-1",), "db1", "test_swap_active[db1]")
    assert not w.applies(("DBH-1",), "db1", "test_swapfile_prepared_and_in_fstab[db1]")
    assert not w.active(datetime.date.today() + datetime.timedelta(days=11))


def test_credential_file_readable_by_others_is_refused(tmp_path):
    inv = write(tmp_path, GOOD, pw_mode=0o644)
    with pytest.raises(InventoryError, match="readable by others"):
        load(str(inv))


def test_missing_inventory(tmp_path):
    with pytest.raises(InventoryError, match="inventory not found"):
        load(str(tmp_path / "nope.yaml"))


def test_name_resolves_to_inventories_dir():
    assert inventory.resolve_path("lab") == inventory.REPO / "inventories" / "lab.yaml"
    assert inventory.resolve_path("./x.yaml") == Path("./x.yaml")


def test_example_inventory_documents_every_default_key():
    example = yaml.safe_load((inventory.REPO / "inventories" / "lab.example.yaml").read_text())["stackcheck"]

    def keys(d, prefix=""):
        return {prefix + k for k in d} | {x for k, v in d.items() if isinstance(v, dict) for x in keys(v, f"{prefix}{k}.")}

    missing = keys(inventory.DEFAULTS) - keys(example)
    assert not missing, f"keys with a default but not documented in lab.example.yaml: {sorted(missing)}"
    os.environ.setdefault("STACKCHECK_DB_PASSWORD", "x")
    assert load(str(inventory.REPO / "inventories" / "lab.example.yaml")).hosts("dbnode")


def test_vendored_catalog_matches_shared():
    shared = inventory.REPO.parent / "shared" / "REQUIREMENTS.md"
    if not shared.exists():
        pytest.skip("no ../shared beside this clone")
    assert (inventory.REPO / "stackcheck" / "REQUIREMENTS.md").read_text() == shared.read_text()
