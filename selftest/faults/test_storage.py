"""Fault matrix of the storage family (SWF, S3, OS-3) on the lab in a box.

Each fault is one an operator really meets, injected through `labbox exec` the way the operator would have made
it (the openstack CLI with the controller's admin-openrc, sed on proxy-server.conf, iptables, systemctl). Each
test: the checks fail with a message that names the problem; `--fix` repairs it and every storage check passes
in that same run (the checks run in dependency order, tests_storage/conftest.py); the lab is then put back
exactly as labbox made it (the restore also runs when an assertion fails)."""
from __future__ import annotations

import pytest

from selftest.faultlib import fault, lab_exec, run_checks

CHECKS = "tests_storage"
PORT = "test_proxy_listens_and_healthcheck_answers[storage]"
AUTHTOKEN = "test_proxy_authenticates_against_keystone[storage]"
ORDER = "test_s3_middleware_in_the_order_the_release_needs[storage]"
IN_CATALOG = "test_object_store_in_catalog"
ENDPOINTS = "test_object_store_endpoints_answer"
ALL_ENDPOINTS = "test_every_catalog_endpoint_accepts_connections"
SWIFT_STAT = "test_account_head_with_project_credentials"
EC2 = "test_ec2_credentials_exist_for_checking_user"
BUCKETS = "test_list_buckets_shows_container"
OBJECTS = "test_list_objects_and_get_object"
WRONG_SECRET = "test_wrong_secret_is_refused"

OPENRC = ". /root/admin-openrc; set -a; . /etc/labbox/lab.env; set +a; "
# the Keystone contents as labbox made them (catalog URLs, EC2 credential): the controller's idempotent seed
RESEED = "set -a; . /etc/labbox/lab.env; . /etc/labbox/secrets.env; set +a; /usr/local/sbin/labbox-keystone-seed"
WAIT_PROXY = ("for i in $(seq 1 60); do curl -sf -o /dev/null http://127.0.0.1:8080/healthcheck && exit 0; "
              "sleep 0.5; done; exit 1")
CONF = "/etc/swift/proxy-server.conf"
SAVE_CONF = f"cp -a {CONF} /root/proxy-server.conf.pre-fault && "
RESTORE_CONF = f"cp -a /root/proxy-server.conf.pre-fault {CONF} && systemctl restart swift-proxy && {WAIT_PROXY}"


def assert_failed(run, name, *fragments):
    assert run.outcome(name) == "failed", f"{name}: {run.outcome(name)} {run.message(name)}\n{run.output[-2000:]}"
    for fragment in fragments:
        assert fragment in run.message(name), f"{name}: {fragment!r} not in: {run.message(name)}"


def assert_error(run, name, *fragments):
    """The check could not judge (an error naming why), never a pass or a finding."""
    assert run.outcome(name) == "error", f"{name}: {run.outcome(name)} {run.message(name)}\n{run.output[-2000:]}"
    for fragment in fragments:
        assert fragment in run.message(name), f"{name}: {fragment!r} not in: {run.message(name)}"


def assert_fixed_and_healthy(run, *fixed):
    outcomes = run.outcomes()
    for name in fixed:
        assert outcomes.get(name) == "fixed", f"{name}: {outcomes.get(name)} {run.message(name)}\n{run.output[-3000:]}"
    rest = {n: (o, run.message(n)[:200]) for n, o in outcomes.items() if n not in fixed and o != "passed"}
    assert not rest, f"after --fix every other storage check passes; not: {rest}\n{run.output[-3000:]}"


@pytest.mark.covers("SWF-2", "OS-3", "SWF-4")
def test_object_store_endpoints_on_the_controller(lab_up):
    """The notes' incident: the catalog sends object-store clients to the controller's 8080, where nothing
    listens (the proxy runs on the storage node)."""
    inject = OPENRC + ("openstack endpoint list --service object-store -f value -c ID -c URL | while read id url; do "
                       "openstack endpoint set --url \"$(echo \"$url\" | sed \"s#//$LAB_IP_STORAGE:#//"
                       "$LAB_IP_CONTROLLER:#\")\" $id; done")
    with fault("controller", inject=inject, restore=RESEED):
        run = run_checks(CHECKS)
        # refused or rejected, depending on the controller's firewall: either way nothing answers there
        assert_failed(run, ENDPOINTS, "object-store public http://198.18.0.11:8080/v1/AUTH_%(project_id)s: "
                      "198.18.0.11:8080 ", "storage node's proxy (storage 198.18.0.13:8080)")
        assert_failed(run, ALL_ENDPOINTS, "catalog endpoints refuse connections",
                      "object-store admin http://198.18.0.11:8080 (")
        assert_failed(run, SWIFT_STAT, "198.18.0.11", "SWF-2")
        assert run.outcome(IN_CATALOG) == "passed", "the service is in the catalog; only its URLs are wrong"
        fixed = run_checks(CHECKS, fix=True)
        assert_fixed_and_healthy(fixed, ENDPOINTS)
        log = fixed.case(ENDPOINTS).get("fix_log", "")
        assert "old endpoint" in log and "http://198.18.0.11:8080/v1/AUTH_%(project_id)s" in log, log
    assert_all_storage_checks_pass()


@pytest.mark.covers("SWF-1")
def test_object_store_missing_from_the_catalog(lab_up):
    """A half-done re-registration: the object-store endpoints were deleted and never created again."""
    inject = OPENRC + ("for id in $(openstack endpoint list --service object-store -f value -c ID); do "
                       "openstack endpoint delete $id; done")
    with fault("controller", inject=inject, restore=RESEED):
        run = run_checks(CHECKS)
        assert_failed(run, IN_CATALOG, "object-store (no public endpoint)", "; it has: ", "identity")
        # no object-store URL at all: SWF-2 and SWF-4 have nothing to judge (errors); SWF-1 holds the finding
        assert_error(run, ENDPOINTS, "no enabled object-store endpoint", "SWF-1")
        assert_error(run, SWIFT_STAT, "no object-store endpoint", "SWF-1")
        fixed = run_checks(CHECKS, fix=True)
        assert_fixed_and_healthy(fixed, IN_CATALOG)


@pytest.mark.covers("S3-1", "S3-3", "S3-4")
def test_kilo_era_s3_pipeline_on_swift_2_30(lab_up):
    """The Kilo notes' pipeline order (`s3api s3token authtoken keystoneauth`) and s3token without service
    credentials on Swift 2.30 + Keystone 22: the proxy starts cleanly, every signed request is refused."""
    inject = SAVE_CONF + (
        "sed -i -e 's/authtoken s3api s3token keystoneauth/s3api s3token authtoken keystoneauth/' "
        "-e '/^\\[filter:s3token\\]/,/^\\[/{/^\\(auth_url\\|auth_type\\|project_domain_id\\|user_domain_id\\|"
        f"project_name\\|username\\|password\\) *=/d}}' {CONF} && systemctl restart swift-proxy && {WAIT_PROXY}")
    with fault("storage", inject=inject, restore=RESTORE_CONF):
        run = run_checks(CHECKS)
        assert_failed(run, ORDER, "order s3api s3token authtoken keystoneauth; s3api on Swift 2.30",
                      "needs authtoken s3api s3token keystoneauth", "has no service credentials")
        assert_failed(run, BUCKETS, "SignatureDoesNotMatch", "S3-1")
        assert_failed(run, OBJECTS, "SignatureDoesNotMatch")
        assert run.outcome(PORT) == "passed", "the proxy starts without complaint: only the order check knows"
        assert run.outcome(WRONG_SECRET) == "passed", "a wrong secret is still refused with 403"
        fixed = run_checks(CHECKS, fix=True)
        assert_fixed_and_healthy(fixed, ORDER)
        diff = fixed.case(ORDER).get("fix_diff", "")
        assert "+pipeline = " in diff and "authtoken s3api s3token keystoneauth" in diff, diff
        assert "password = [REDACTED]" in diff, "the service password never shows in a diff"
        again = run_checks(CHECKS, fix=True)  # idempotent: a second --fix finds nothing to do
        assert set(again.outcomes().values()) == {"passed"}, again.outcomes()


@pytest.mark.covers("SWF-3", "SWF-4", "S3-5")
def test_authtoken_on_keystones_old_admin_port(lab_up):
    """authtoken copied from a Kilo-era guide: Keystone's admin port 35357 (gone since Queens) and
    delay_auth_decision off."""
    inject = SAVE_CONF + (
        "sed -i -e '/^\\[filter:authtoken\\]/,/^\\[/{s#^auth_url = http://\\([0-9.]*\\):5000#auth_url = "
        "http://\\1:35357#;s#^delay_auth_decision = .*#delay_auth_decision = False#}' "
        f"{CONF} && systemctl restart swift-proxy && {WAIT_PROXY}")
    with fault("storage", inject=inject, restore=RESTORE_CONF):
        run = run_checks(CHECKS)
        assert_failed(run, AUTHTOKEN, "auth_url = http://198.18.0.11:35357 does not answer as Keystone",
                      "delay_auth_decision = False")
        assert_failed(run, SWIFT_STAT, "SWF-3")
        assert_failed(run, WRONG_SECRET, "expected 403")
        fixed = run_checks(CHECKS, fix=True)
        assert_fixed_and_healthy(fixed, AUTHTOKEN)


@pytest.mark.covers("SWF-5")
def test_proxy_port_closed_then_proxy_stopped(lab_up):
    """The storage node's firewall lost its 8080 rule (RDO's default REJECT catches it): opening it again lets in
    sources refused until now, risk `access`, so plain --fix refuses and --fix --fix-access opens it. Then the
    proxy is not running at all: starting it is a `restart`, which plain --fix does."""
    accept = "INPUT -p tcp -m conntrack --ctstate NEW -m tcp --dport 8080 -j ACCEPT"
    with fault("storage", inject=f"iptables -D {accept}", restore="iptables-restore < /etc/iptables.rules"):
        run = run_checks(CHECKS)
        assert_failed(run, PORT, "listens on 0.0.0.0:8080 but a connection from here", "no route to host",
                      "firewall", "REJECT")
        closed = lab_exec("storage", "iptables -S").stdout
        refused = run_checks(f"{CHECKS}/test_proxy_node.py::{PORT}", fix=True)
        assert refused.outcome(PORT) == "fix-failed", f"{refused.outcome(PORT)} {refused.message(PORT)}"
        case = refused.case(PORT)
        assert case.get("fix_status") == "refused" and "--fix-access" in case.get("fix_log", ""), case
        assert lab_exec("storage", "iptables -S").stdout == closed  # nothing was changed
        fixed = run_checks(CHECKS, fix=True, extra=("--fix-access",))
        assert_fixed_and_healthy(fixed, PORT)
        assert "open_proxy_port" in fixed.case(PORT)["fix_log"], fixed.case(PORT)
    left = lab_exec("storage", "iptables -S INPUT").stdout
    assert "stackcheck" not in left and "--dport 8080 -j ACCEPT" in left, f"firewall not as labbox made it: {left}"
    with fault("storage", inject="systemctl stop swift-proxy", restore=f"systemctl start swift-proxy && {WAIT_PROXY}"):
        run = run_checks(CHECKS)
        assert_failed(run, PORT, "nothing listens on TCP 8080", "swift-proxy is inactive")
        fixed = run_checks(CHECKS, fix=True)
        assert_fixed_and_healthy(fixed, PORT)
        assert "start_proxy" in fixed.case(PORT)["fix_log"], fixed.case(PORT)


@pytest.mark.covers("S3-2", "S3-3")
def test_ec2_credential_deleted_in_keystone(lab_up):
    """The published EC2 credential was deleted in Keystone (`openstack credential delete`); the site's S3
    clients still hold the key."""
    inject = OPENRC + "for id in $(openstack credential list --type ec2 -f value -c ID); do openstack credential " \
                      "delete $id; done"
    with fault("controller", inject=inject, restore=RESEED):
        run = run_checks(CHECKS)
        assert_failed(run, EC2, "is not an EC2 credential of user admin")
        assert_failed(run, BUCKETS, "SignatureDoesNotMatch")
        fixed = run_checks(CHECKS, fix=True)
        assert_fixed_and_healthy(fixed, EC2)
    assert_all_storage_checks_pass()


@pytest.mark.covers("S3-1", "S3-3")
def test_s3_middleware_removed_fix_declines(lab_up):
    """The S3 API taken out of the pipeline (s3api and s3token gone): S3-1 fails and says what to add; --fix
    declines with its reason (adding an API is the site's decision) and changes nothing."""
    inject = SAVE_CONF + (f"sed -i -e 's/authtoken s3api s3token keystoneauth/authtoken keystoneauth/' {CONF} && "
                          f"systemctl restart swift-proxy && {WAIT_PROXY}")
    with fault("storage", inject=inject, restore=RESTORE_CONF):
        run = run_checks(CHECKS)
        assert_failed(run, ORDER, "neither s3api nor swift3", "add s3api and s3token by hand")
        assert run.outcome(BUCKETS) == "failed", run.case(BUCKETS)
        before = lab_exec("storage", f"sha256sum {CONF}").stdout
        fixed = run_checks(CHECKS, fix=True)
        case = fixed.case(ORDER)
        assert case.get("fix_status") == "declined", case
        assert "no S3 middleware (Swift's s3api is installed)" in case.get("fix_log", ""), case
        assert fixed.outcome(ORDER) == "failed", case
        assert lab_exec("storage", f"sha256sum {CONF}").stdout == before, "a declined fix changed the file"


def assert_all_storage_checks_pass():
    run = run_checks(CHECKS)
    bad = {n: (o, run.message(n)[:200]) for n, o in run.outcomes().items() if o != "passed"}
    assert run.cases and not bad, f"the restored lab fails storage checks: {bad}\n{run.output[-2000:]}"


# no covers(...) here: nothing fails in this test (it proves the created-credential path passes and cleans up),
# and a covers claim is proven only by a check seen failing
def test_s3_checks_with_credentials_created_for_the_run(lab_up, tmp_path):
    """An inventory without EC2 credentials: the run creates one for the checking user, the S3 checks pass with
    it, and it is gone from Keystone when the run ends (no key is ever printed)."""
    import yaml

    from selftest.faultlib import REPO

    inv = yaml.safe_load((REPO / "inventories" / "labbox.yaml").read_text())
    for key in ("ec2_access", "ec2_secret"):
        inv["stackcheck"]["cloud"].pop(key, None)
    path = tmp_path / "no-ec2.yaml"
    path.write_text(yaml.safe_dump(inv))
    count = OPENRC + "openstack credential list --type ec2 -f value -c ID | wc -l"
    before = lab_exec("controller", count).stdout.strip()
    run = run_checks("tests_storage/test_s3.py", inventory=str(path))
    assert set(run.outcomes().values()) == {"passed"}, {n: run.message(n) for n in run.cases}
    assert "source=created for this run" in run.case(EC2).get("evidence", ""), run.case(EC2)
    assert lab_exec("controller", count).stdout.strip() == before, "the run's EC2 credential was not deleted"
