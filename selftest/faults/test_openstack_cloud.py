"""Fault matrix of the cloud's API half on the lab in a box (issue 13): faults an operator really meets, injected
through the real `openstack` CLI on the controller (as the operator would make them); the check must fail naming
the problem, `--fix --dry-run` must show the API calls and change nothing, `--fix` must repair it, and the checks
pass again afterwards. The restore step is the lab's own provisioning (roles/controller/cloud/seed.py)."""
import pytest

from selftest.faultlib import fault, lab_exec, run_checks

NEUTRON = "tests_openstack/test_neutron.py"
PROJECTS = "tests_openstack/test_projects.py"
NET5 = "test_external_networks_in_neutron"
OS2 = "test_each_project_has_network_and_router"
OSC = "openstack"  # after ADMIN: the operator's credentials file on the controller
ADMIN = ". /root/admin-openrc && "
RESTORE = "set -a; . /etc/labbox/lab.env; . /etc/labbox/secrets.env; set +a; /usr/local/sbin/labbox-cloud-seed cloud"


def osc(command: str) -> str:
    return lab_exec("controller", f"{ADMIN}{OSC} {command}").stdout


@pytest.mark.covers("NET-5")
def test_external_network_lost_flag_and_subnet_got_dhcp_fixed(lab_up):
    # the second external network lost router:external (public has router gateways on it: Neutron refuses to
    # make it internal), and someone turned DHCP on in public's subnet (Neutron would hand out the floating range)
    inject = f"{ADMIN}{OSC} network set --internal public2 && {OSC} subnet set --dhcp public-subnet"
    with fault("controller", inject=inject, restore=RESTORE):
        broken = run_checks(f"{NEUTRON}::{NET5}")
        assert broken.outcome(NET5) == "failed", broken.case(NET5)
        assert "public2 is not router:external" in broken.message(NET5), broken.message(NET5)
        assert "subnet public-subnet of public has DHCP on (expected off)" in broken.message(NET5), broken.message(NET5)
        planned = run_checks(f"{NEUTRON}::{NET5}", fix=True, dry_run=True)
        log = planned.case(NET5).get("fix_log", "")
        assert planned.case(NET5).get("fix_status") == "planned", planned.case(NET5)
        assert "{router:external: true} (public2)" in log and "{enable_dhcp: false} (public-subnet of public)" in log, log
        assert "False" in osc("network show public2 -c router:external -f value"), "--dry-run changed the network"
        fixed = run_checks(f"{NEUTRON}::{NET5}", fix=True)
        assert fixed.outcome(NET5) == "fixed", fixed.case(NET5)
    assert run_checks(f"{NEUTRON}::{NET5}").outcome(NET5) == "passed"


@pytest.mark.covers("OS-2")
def test_project_router_without_gateway_fixed(lab_up):
    # the notes' "router gateway set" step undone: project test's router has no way out any more
    with fault("controller", inject=f"{ADMIN}{OSC} router unset --external-gateway test-router", restore=RESTORE):
        broken = run_checks(f"{PROJECTS}::{OS2}")
        assert broken.outcome(OS2) == "failed", broken.case(OS2)
        assert "project test has no router with a gateway to a public (external) network" in broken.message(OS2)
        planned = run_checks(f"{PROJECTS}::{OS2}", fix=True, dry_run=True)
        log = planned.case(OS2).get("fix_log", "")
        assert "(router test-router of project test, gateway on public)" in log and "PUT /v2.0/routers/" in log, log
        assert osc("router show test-router -c external_gateway_info -f value").strip() in ("None", "null", ""), \
            "--dry-run changed the router"
        fixed = run_checks(f"{PROJECTS}::{OS2}", fix=True)
        assert fixed.outcome(OS2) == "fixed", fixed.case(OS2)
    assert run_checks(f"{PROJECTS}::{OS2}").outcome(OS2) == "passed"


OS4 = "test_block_storage_answers_with_project_credentials"
CINDER_CONF = "/etc/cinder/cinder.conf"
CINDER_UP = "for i in $(seq 1 60); do curl -sf -o /dev/null --max-time 5 http://127.0.0.1:8776/ && break; sleep 1; done"


@pytest.mark.covers("OS-4")
def test_cinder_service_password_wrong_refuses_projects(lab_up):
    # the notes' Juno incident: Cinder's [keystone_authtoken] password is not its Keystone user's any more, so
    # cinder-api cannot validate anyone's token and block storage refuses every project. Report-only: the right
    # password is a secret only the operator has (a fixer would guess it)
    inject = (f"python3 /opt/labbox/lib/iniset.py {CINDER_CONF} keystone_authtoken password not-the-password && "
              f"systemctl restart cinder-api && {CINDER_UP}")
    restore = (f"set -a; . /etc/labbox/secrets.env; set +a; python3 /opt/labbox/lib/iniset.py {CINDER_CONF} "
               f"keystone_authtoken password \"$CLOUD_SERVICE_PASSWORD\" && systemctl restart cinder-api && {CINDER_UP}")
    with fault("controller", inject=inject, restore=restore):
        broken = run_checks(f"{PROJECTS}::{OS4}", fix=True)
        assert broken.outcome(OS4) == "failed", broken.case(OS4)
        message = broken.message(OS4)
        for project in ("production", "development", "test"):
            assert f"block storage refuses project {project}" in message, message
    assert run_checks(f"{PROJECTS}::{OS4}").outcome(OS4) == "passed"
