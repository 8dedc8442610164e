"""The lab's cloud runs real instances (issue 13): the long-lived instances of the lab's inventory are ACTIVE on
the compute host as the operator's own CLI shows them, and each one's SPICE console, asked of Nova, really reaches
its SPICE server: through the controller's 6082 proxy, a SPICE link request gets the server's answer (SPC-2's
console check, stackcheck/probes/spice_console.py, on every long-lived instance rather than the first)."""
import openstack.config
import openstack.connection

from labbox.inventory import CLOUD, CLOUDS_YAML
from selftest.faultlib import lab_exec
from stackcheck.probes import spice_console

INSTANCES = ("long-term-1", "long-term-2")  # labbox/inventory.py: cloud.long_lived_instances


def cloud():
    region = openstack.config.OpenStackConfig(config_files=[str(CLOUDS_YAML)]).get_one(cloud=CLOUD, api_timeout=90)
    return openstack.connection.Connection(config=region)


def test_long_lived_instances_active_on_compute_as_the_operator_sees_them(lab_up):
    listing = lab_exec("controller", ". /root/admin-openrc && openstack server list --all-projects --long "
                       "-f value -c Name -c Status -c Host").stdout
    rows = {line.split()[0]: line.split()[1:3] for line in listing.splitlines() if line.strip()}  # name status host
    for name in INSTANCES:
        assert rows.get(name) == ["ACTIVE", "compute"], f"{name}: {rows.get(name)} (all: {listing!r})"


def test_each_instance_spice_console_reaches_its_server_through_the_proxy(lab_up):
    conn = cloud()
    servers = {s.name: s for s in conn.compute.servers(all_projects=True) if s.name in INSTANCES}
    assert sorted(servers) == sorted(INSTANCES), f"instances found: {sorted(servers)}"
    for name, server in servers.items():
        console = conn.compute.create_console(server, console_type="spice-html5")
        assert console["url"].startswith("http://198.18.0.11:6082/"), console
        reached = spice_console.reach(console["url"], timeout=30)
        assert reached.ok and reached.detail == "SPICE link reply, protocol 2.2", f"{name}: {reached.detail}"


def test_horizon_logs_the_admin_in_and_lists_the_instances(lab_up):
    """The dashboard is the real Horizon (Debian's openstack-dashboard under Apache's event MPM and mod_wsgi): a
    login through its form is accepted by Keystone, and the admin's instance page lists the long-lived instances."""
    import re

    import requests

    from labbox.provision import secret

    base = "http://198.18.0.11/horizon"
    with requests.Session() as web:
        page = web.get(f"{base}/auth/login/", timeout=60)
        assert page.status_code == 200 and "OpenStack Dashboard" in page.text, page.status_code
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        form = {"csrfmiddlewaretoken": csrf, "region": "default", "username": "admin",
                "password": secret("KEYSTONE_ADMIN_PASSWORD"), "domain": "Default"}
        after = web.post(f"{base}/auth/login/", data=form, headers={"Referer": f"{base}/auth/login/"}, timeout=60)
        assert after.status_code == 200 and "/auth/login" not in after.url, f"login refused: {after.url}"
        listing = web.get(f"{base}/admin/instances/", timeout=60)
        assert listing.status_code == 200, listing.status_code
        for name in INSTANCES:
            assert name in listing.text, f"{name} is not on Horizon's admin instance page"
