"""The openstack family's pure parsers and judgements on real captured text: Debian 12's shipped configuration
files (nova 26, neutron 21, aodh 15), Apache/OVS/iptables output captured on this machine, and the APIs' own
response formats (for what labbox cannot host: Neutron, Nova, Gnocchi)."""
import json
from pathlib import Path

import pytest

from stackcheck.probes import apache, ceilometer as ceil, cloudapi, hostconf, ini, logs, neutron, ovs, spice
from stackcheck.probes import release as rel
from stackcheck.transport import LocalTransport
from stackcheck.verdicts import CannotCheck

DATA = Path(__file__).parent / "data" / "openstack"


def text(name):
    return (DATA / name).read_text()


# --- ini -------------------------------------------------------------------------------------------------------
def test_ini_reads_oslo_style_and_keeps_repeats():
    conf = ini.parse("[DEFAULT]\nmy_ip = 10.0.0.5\n#enabled = false\n[spice]\nenabled = true\nkey: a\nkey = b\n"
                     "multi = one\n  two\n; comment = x\n")
    assert conf.get("spice", "enabled") == "true" and conf.get_bool("spice", "enabled") is True
    assert conf.get("spice", "key") == "b" and conf.get_all("spice", "key") == ["a", "b"]
    assert conf.get("spice", "multi") == "one\ntwo"
    assert conf.get("DEFAULT", "enabled") is None  # commented-out defaults are not values
    assert conf.get("spice", "my_ip") is None  # oslo does not inherit DEFAULT into other sections


def test_ini_set_value_keeps_comments_and_replaces_in_place():
    original = text("l3_agent.ini.debian-zed")
    new = ini.set_value(original, "DEFAULT", "external_network_bridge", "")
    assert ini.parse(new).get("DEFAULT", "external_network_bridge") == ""
    assert len(new.splitlines()) == len(original.splitlines()) + 1
    assert [l for l in new.splitlines() if l.startswith("#")] == [l for l in original.splitlines() if l.startswith("#")]
    again = ini.set_value(new, "DEFAULT", "external_network_bridge", "br-ex")
    assert ini.parse(again).get_all("DEFAULT", "external_network_bridge") == ["br-ex"]
    assert ini.set_value(again, "DEFAULT", "external_network_bridge", "br-ex") == again  # idempotent
    added = ini.set_value("[DEFAULT]\na = 1\n", "vnc", "enabled", "false")
    assert ini.parse(added).get("vnc", "enabled") == "false"


# --- release -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("project,version,expected", [
    ("nova", "2:26.2.2-1~deb12u5", "zed"), ("nova", "2015.1.0", "kilo"), ("nova", "12.0.0", "liberty"),
    ("ceilometer", "1:19.0.0-3", "zed"), ("ceilometer", "2014.2.3", "juno"), ("ceilometer", "9.0.1", "pike"),
    ("ceilometer", "10.0.0", "queens"), ("neutron", "2:21.0.0-7+deb12u1", "zed"), ("aodh", "15.0.0-3", "zed"),
    ("nova", None, None), ("nova", "garbage", None),
])
def test_release_from_package_version(project, version, expected):
    assert rel.release_of(project, version) == expected


def test_hostconf_bundle_reads_files_versions_and_judged_outputs(tmp_path):
    # hostconf's batch run for real by this machine's /bin/sh
    a, b = tmp_path / "a.conf", tmp_path / "b.conf"
    a.write_text("[x]\nk = v")
    bundle = hostconf.read(LocalTransport(), [str(b), str(a)], ["nova"],
                           {"df": f"df -P {tmp_path}", "fails": "echo 'df: /nowhere: No such file or directory' >&2; exit 1"})
    assert bundle.files == {str(b): None, str(a): "[x]\nk = v"}  # exact content, missing is None
    assert bundle.first([str(b), str(a)]) == (str(a), "[x]\nk = v")
    assert bundle.version_text("nova") == "no nova package found" and bundle.release("nova") is None
    assert logs.parse_df(bundle.output("df", "df")) is not None
    with pytest.raises(CannotCheck, match="could not read the thing: exit code 1: df: /nowhere: No such file"):
        bundle.output("fails", "the thing")
    assert bundle.part("fails", "the thing").rc == 1
    with pytest.raises(CannotCheck, match="did not reach it"):
        bundle.output("never asked", "what was not asked for")


# --- Ceilometer / aodh / Gnocchi -----------------------------------------------------------------------------
KILO = "[database]\nconnection = mongodb://127.0.0.1:27017/ceilometer\nmetering_time_to_live = 604800\n" \
       "event_time_to_live = -1\n[alarm]\nrecord_history = False\n"


def test_ttl_read_by_release():
    conf = ini.parse(KILO)
    kilo = ceil.metering_ttls(conf, "kilo")
    assert [(t.option, t.seconds) for t in kilo] == [("[database] metering_time_to_live", 604800),
                                                     ("[database] event_time_to_live", -1)]
    assert kilo[0].problem(30 * 86400) is None and "forever" in kilo[1].problem(30 * 86400)
    juno = ceil.metering_ttls(conf, "juno")  # Juno only knows time_to_live: the Kilo name does not count
    assert juno[0].option == "[database] time_to_live" and not juno[0].explicit
    alias = ceil.metering_ttls(ini.parse("[database]\ntime_to_live = 86400\n"), "kilo")
    assert alias[0].option == "[database] time_to_live" and alias[0].seconds == 86400
    assert [t.what for t in ceil.metering_ttls(conf, "ocata")] == ["samples"]  # no events TTL after Newton
    assert ceil.metering_ttls(conf, "queens") == [] and not ceil.storage_in_ceilometer("zed")
    too_long = ceil.metering_ttls(ini.parse("[database]\nmetering_time_to_live = 7776000\n"), "mitaka")[0]
    assert "90 days" in too_long.problem(30 * 86400)


def test_debian_ceilometer_zed_sample_has_no_ttl_but_aodh_has_history_ttl():
    aodh = ini.parse(text("aodh.conf.debian-zed"))  # everything commented out: the defaults apply
    history = ceil.alarm_history(None, aodh, "zed")
    assert history.recording is True and "(default)" in history.sources[0]
    problems = history.problems(30 * 86400)
    assert any("recording is on" in p for p in problems)
    fixed = ini.set_values(text("aodh.conf.debian-zed"), {("DEFAULT", "record_history"): "False",
                                                         ("database", "alarm_history_time_to_live"): "2592000"})
    assert ceil.alarm_history(None, ini.parse(fixed), "zed").problems(30 * 86400) == []
    kilo = ceil.alarm_history(ini.parse(KILO), None, "kilo")
    assert kilo.recording is False and kilo.ttl is None and kilo.problems(86400) == []


def test_gnocchi_archive_policies_judged_by_longest_timespan():
    # as the metric API returns them (timespans are str(timedelta)); "low" is Gnocchi's default, 30 days
    policies = [
        {"name": "ceilometer-low-rate", "definition": [{"granularity": "0:05:00", "points": 8640,
                                                        "timespan": "30 days, 0:00:00"}]},
        {"name": "high", "definition": [{"granularity": "0:00:01", "points": 3600, "timespan": "1:00:00"},
                                        {"granularity": "0:01:00", "points": 10080, "timespan": "7 days, 0:00:00"},
                                        {"granularity": "1:00:00", "points": 8760, "timespan": "365 days, 0:00:00"}]},
    ]
    assert ceil.archive_policy_problems(policies, {"ceilometer-low-rate"}, 30 * 86400) == []
    problems = ceil.archive_policy_problems(policies, None, 30 * 86400)
    assert problems == ["archive policy high keeps data 365 days, more than the maximum of 30 days"]


# --- logs ----------------------------------------------------------------------------------------------------
def test_logrotate_patterns_of_debian_packages():
    patterns = logs.logrotate_patterns(text("logrotate-config.txt"))
    assert "/var/log/nova/*.log" in patterns and "/var/log/apache2/*.log" in patterns
    assert "/var/log/openvswitch/*.log" in patterns
    sec = {"dirs": "/var/log/nova\n/var/log/keystone", "logs": "/var/log/nova/nova-compute.log\n"
           "/var/log/keystone/keystone-wsgi-public.log", "logrotate": "/usr/sbin/logrotate", "scheduled": "timer",
           "config": text("logrotate-config.txt")}
    dirs, problems = logs.rotation_problems(sec)
    assert problems == ["/var/log/keystone: no logrotate rule covers /var/log/keystone/keystone-wsgi-public.log"]
    assert logs.parse_df("Filesystem 1024-blocks Used Available Capacity Mounted on\n"
                         "/dev/loop3 90333 76000 7000 92% /var/lib/mongodb\n").used_percent == 92


# --- Apache --------------------------------------------------------------------------------------------------
def test_apache_event_mpm_captured_on_debian():
    state = apache.parse(text("apache_debian_event.txt"))
    assert state.enabled_mpms == ["event"] and state.running_mpm == "event" and state.a2query == "event"
    assert apache.mpm_problems(state) == [] and apache.php_problems(state) == []


def test_apache_event_with_php_fpm_captured_on_debian():
    state = apache.parse(text("apache_debian_event_php_fpm.txt"))
    assert state.serves_php and not state.mod_php and state.proxy_fcgi and state.fpm_active == ["php8.2-fpm"]
    assert state.fpm_handlers == ['SetHandler "proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost"']
    assert apache.php_problems(state) == [] and apache.mpm_problems(state) == []
    state.fpm_active = []
    assert apache.php_problems(state) == ["a php-fpm handler is configured but no php-fpm service is running"]


def test_apache_prefork_two_mpms_and_stale_running_server():
    prefork = apache.mpm_problems(apache.parse(text("apache_debian_prefork.txt")))
    assert any("enabled MPM modules: prefork" in p for p in prefork)
    assert any("running server uses the prefork MPM" in p for p in prefork)
    two = apache.parse(text("apache_debian_two.txt"))
    assert two.enabled_mpms == ["event", "prefork"] and "more than one MPM" in two.a2query
    stale = apache.parse(text("apache_debian_prefork_stale.txt"))  # switched, not restarted
    assert stale.enabled_mpms == ["prefork"] and stale.running_mpm == "event"


def test_apache_rhel_conf_modules_and_mod_php():
    out = ("== family rhel\n== loadmodule\n/etc/httpd/conf.modules.d/00-mpm.conf:LoadModule mpm_prefork_module "
           "modules/mod_mpm_prefork.so\n/etc/httpd/conf.modules.d/10-php.conf:LoadModule php5_module "
           "modules/libphp5.so\n== handlers\n== running\nmod_mpm_prefork.so\nlibphp5.so\n")
    state = apache.parse(out)
    assert state.enabled_mpms == ["prefork"] and state.mod_php == ["php5_module"] and state.running_php
    assert apache.php_problems(state) and apache.mpm_problems(state)


# --- OVS -----------------------------------------------------------------------------------------------------
def test_ovs_bridges_judged_by_datapath_and_ports():
    bridges = ovs.parse(text("ovs_netdev_two_ext.txt"))
    assert bridges["br-ex"].in_datapath and bridges["br-ex"].ports["eth2"].works
    assert ovs.external_bridge_problems(bridges, "br-ex", "eth2") == []
    assert ovs.external_bridge_problems(bridges, "br-ex2", "eth3") == []
    # br-sys: created with the default (kernel) datapath, which this kernel lacks: listed, but not working
    assert not bridges["br-sys"].in_datapath and bridges["br-sys"].ports["nosuchnic"].ofport == -1
    broken = ovs.external_bridge_problems(bridges, "br-sys", "nosuchnic")
    assert any("no datapath" in p for p in broken) and any("does not work" in p for p in broken)
    assert any("no port int-br-sys" in p for p in broken)
    assert ovs.external_bridge_problems(bridges, "br-ex3", "eth4") == [
        "bridge br-ex3 does not exist (bridges: br-ex, br-ex2, br-int, br-sys)"]
    assert ovs.parse_mappings("physnet1:br-ex, physnet2:br-ex2") == {"physnet1": "br-ex", "physnet2": "br-ex2"}


# --- SPICE (nova.conf) -----------------------------------------------------------------------------------------
def test_spice_on_debian_zed_nova_conf():
    conf = ini.parse(text("nova.conf.debian-zed"))  # as the package ships it: spice on, [vnc] not set
    problems = spice.spice_problems(conf, "zed", "en-us")
    assert problems == ["VNC is on (zed: [vnc] enabled not set, deprecated [DEFAULT] vnc_enabled not set "
                        "(default true)); expected it switched off"]
    assert spice.substitute(conf, conf.get("spice", "server_proxyclient_address")) == "192.0.2.2"  # $my_ip
    assert spice.compute_problems(conf, "192.0.2.2", "192.0.2.2") == []


def test_vnc_switch_depends_on_release():
    modern_only = ini.parse("[vnc]\nenabled = false\n[spice]\nenabled = true\nkeymap = en-us\n")
    assert spice.spice_problems(modern_only, "zed", "en-us") == []
    assert any("VNC is on (kilo" in p for p in spice.spice_problems(modern_only, "kilo", "en-us"))
    assert any("release unknown" in p for p in spice.spice_problems(modern_only, None, "en-us"))
    kilo = ini.parse("[DEFAULT]\nvnc_enabled = False\n[spice]\nenabled = True\nagent_enabled = True\nkeymap = en-us\n")
    assert spice.spice_problems(kilo, "kilo", "en-us") == [] and spice.spice_problems(kilo, None, "en-us") == []
    assert spice.spice_problems(ini.parse("[DEFAULT]\nvnc_enabled = False\n[spice]\nenabled = true\n"), "kilo",
                                "en-us") == ["[spice] keymap is not set (expected en-us)"]


def test_spice_proxy_settings():
    conf = ini.parse("[DEFAULT]\nmy_ip = 198.18.0.11\n[spice]\nhtml5proxy_host = 0.0.0.0\n"
                     "html5proxy_base_url = http://$my_ip:6082/spice_auto.html\n")
    assert spice.proxy_problems(conf, {"198.18.0.11", "controller"}, 6082) == []
    wrong = ini.parse("[spice]\nhtml5proxy_host = 127.0.0.1\nhtml5proxy_base_url = http://compute:6080/spice_auto.html\n")
    problems = spice.proxy_problems(wrong, {"198.18.0.11", "controller"}, 6082)
    assert len(problems) == 3 and "does not point at the control node" in problems[1]


# --- Neutron ---------------------------------------------------------------------------------------------------
def test_l3_agent_options_depend_on_what_the_installed_release_defines():
    zed = ini.parse(text("l3_agent.ini.debian-zed"))
    assert neutron.known_options("") is None and neutron.known_options("neutron-source\n") == set()
    assert neutron.known_options("neutron-source\nexternal_network_bridge\n") == {"external_network_bridge"}
    assert neutron.l3_problems(zed, set()) == []  # Zed defines neither: absent is fine
    assert len(neutron.l3_problems(zed, None)) == 2  # unknown release: set them explicitly empty
    kilo = ini.parse("[DEFAULT]\nexternal_network_bridge = br-ex\ngateway_external_network_id =\n")
    assert neutron.l3_problems(kilo, {"external_network_bridge", "gateway_external_network_id"}) == [
        "[DEFAULT] external_network_bridge = br-ex (expected empty, for several external networks)"]


def test_bridge_mappings_and_ml2_on_debian_defaults():
    wanted = {"physnet1": "br-ex", "physnet2": "br-ex2"}
    have, problems = neutron.mapping_problems(ini.parse(text("openvswitch_agent.ini.debian-zed")), wanted)
    assert have == {"external": "br-ex"} and problems == ["physnet1:br-ex is missing", "physnet2:br-ex2 is missing"]
    ml2 = neutron.ml2_problems(ini.parse(text("ml2_conf.ini.debian-zed")), ["physnet1", "physnet2"])
    assert ml2 == ["[ml2_type_flat] flat_networks = external lacks physnet1, physnet2",
                   "[ml2_type_vlan] network_vlan_ranges = (not set) lacks physnet1, physnet2"]
    notes = ini.parse("[ml2]\ntype_drivers = vxlan,flat\n[ml2_type_flat]\nflat_networks = physnet1,physnet2\n"
                      "[ml2_type_vlan]\nnetwork_vlan_ranges =physnet1:1000:2999,physnet2:3000:4999\n")
    assert neutron.ml2_problems(notes, ["physnet1", "physnet2"]) == []


def test_br_ex_address_and_route_from_ip_json():
    addr = ('[{"ifindex":8,"ifname":"br-ex","flags":["BROADCAST","MULTICAST","PROMISC","UP","LOWER_UP"],'
            '"addr_info":[{"family":"inet","local":"198.18.8.5","prefixlen":24,"scope":"global","label":"br-ex"},'
            '{"family":"inet6","local":"fe80::d4d7:e1ff:fe29:7548","prefixlen":64,"scope":"link"}]}]')
    route = ('[{"dst":"198.18.8.0/24","dev":"br-ex","protocol":"kernel","scope":"link","prefsrc":"198.18.8.5",'
             '"flags":[]},{"dst":"198.18.9.0/24","gateway":"198.18.8.1","dev":"br-ex","flags":["onlink"]}]')
    assert neutron.addresses(addr) == ["198.18.8.5/24"]
    found = neutron.routes_via(route, "198.18.8.1", "br-ex")
    assert [neutron.route_text(r) for r in found] == ["198.18.9.0/24 via 198.18.8.1 dev br-ex onlink"]
    assert neutron.routes_via(route, "198.18.0.1", "br-ex") == []


# --- the APIs labbox cannot host (Neutron, Nova): judged on their response format --------------------------------
@pytest.fixture(scope="module")
def api():
    from openstack.compute.v2.server import Server
    from openstack.network.v2.network import Network
    from openstack.network.v2.router import Router
    from openstack.network.v2.subnet import Subnet

    raw = json.loads(text("neutron_api.json"))
    return {"networks": [Network.existing(**n).to_dict() for n in raw["networks"]],
            "subnets": [Subnet.existing(**s).to_dict() for s in raw["subnets"]],
            "routers": [Router.existing(**r).to_dict() for r in raw["routers"]],
            "servers": [Server.existing(**s).to_dict() for s in raw["servers"]],
            "projects": raw["projects"]}


def test_external_networks_judged_on_neutron_api(api):
    wanted = [{"name": "public_net", "physnet": "physnet1"}, {"name": "public_intranet", "physnet": "physnet2"},
              {"name": "public_dmz", "physnet": "physnet3"}]
    problems = cloudapi.external_network_problems(api["networks"], api["subnets"], api["routers"], wanted)
    assert problems == ["subnet public_intranet_subnet of public_intranet has DHCP on (expected off)",
                        "network public_dmz does not exist"]


def test_project_networks_routers_and_instances(api):
    problems = cloudapi.project_network_problems(api["projects"], api["networks"], api["routers"])
    assert problems == ["project production has no router with a gateway to a public (external) network",
                        "project test has no private network of its own",
                        "project test has no router with a gateway to a public (external) network"]
    assert cloudapi.instance_problems(api["servers"], ["db-node-1", "db-node-2", "db-node-3"]) == [
        "instance db-node-2 (e2d3c4b5-a6f7-4089-9bac-1d2e3f4a5b62) is SHUTOFF (expected ACTIVE)",
        "instance db-node-3 does not exist"]
    assert cloudapi.missing_projects(api["projects"], ["production", "development", "test", "staging"]) == ["staging"]
