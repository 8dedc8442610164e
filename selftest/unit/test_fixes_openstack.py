"""The openstack fixers' plans on real files in a temporary directory (Debian 12's shipped configs): what they
would write is judged by the same probes the checks use, and a second plan on the result is empty (idempotence).
The fix engine itself (backup, validation, rollback) has its own selftests; the lab runs these fixers for real."""
from pathlib import Path

import pytest
import yaml

from fixes import openstack_ceilometer, openstack_neutron, openstack_spice
from stackcheck.fixing import FixContext, FixDeclined
from stackcheck.inventory import load
from stackcheck.probes import ceilometer as ceil
from stackcheck.probes import ini, neutron, ovs, spice
from stackcheck.transport import LocalTransport

DATA = Path(__file__).parent / "data" / "openstack"


def lab_with(tmp_path, **sections):
    inv = {"all": {"children": {"controller": {"hosts": {"controller": {"ansible_host": "198.18.0.11"}}},
                                "compute": {"hosts": {"compute": {"ansible_host": "198.18.0.14"}}}}},
           "stackcheck": sections}
    path = tmp_path / "inv.yaml"
    path.write_text(yaml.safe_dump(inv))
    return load(str(path))


def plan(fixer, lab, host="controller"):
    ctx = FixContext(LocalTransport(), lab.host(host), lab)
    fixer(ctx)
    return ctx


def apply(ctx):
    for e in ctx.edits:
        Path(e.path).write_text(e.new)


def test_ml2_fixer_adds_physnets_to_debian_defaults(tmp_path):
    conf = tmp_path / "ml2_conf.ini"
    conf.write_text((DATA / "ml2_conf.ini.debian-zed").read_text())
    lab = lab_with(tmp_path, neutron={"ml2_conf": str(conf)})
    ctx = plan(openstack_neutron.ml2_flat_external_networks, lab)
    assert neutron.ml2_problems(ini.parse(ctx.edits[0].new), ["physnet1", "physnet2"]) == []
    assert ini.parse(ctx.edits[0].new).get("ml2_type_flat", "flat_networks") == "external,physnet1,physnet2"
    assert any("neutron-server" in a.do for a in ctx.actions)
    apply(ctx)
    assert plan(openstack_neutron.ml2_flat_external_networks, lab).empty


def test_bridge_mappings_fixer_keeps_one_physnet_per_bridge(tmp_path):
    conf = tmp_path / "openvswitch_agent.ini"
    conf.write_text((DATA / "openvswitch_agent.ini.debian-zed").read_text())  # bridge_mappings = external:br-ex
    lab = lab_with(tmp_path, neutron={"ovs_agent_ini": str(conf)})
    ctx = plan(openstack_neutron.map_physnets_to_bridges, lab)
    merged = ovs.parse_mappings(ini.parse(ctx.edits[0].new).get("ovs", "bridge_mappings"))
    assert merged == {"physnet1": "br-ex", "physnet2": "br-ex2"}  # "external" would claim br-ex twice
    apply(ctx)
    assert plan(openstack_neutron.map_physnets_to_bridges, lab).empty


def test_spice_fixer_on_debian_nova_conf(tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text((DATA / "nova.conf.debian-zed").read_text())
    lab = lab_with(tmp_path, spice={"nova_conf": str(conf)})
    ctx = plan(openstack_spice.enable_spice_disable_vnc, lab)
    new = ini.parse(ctx.edits[0].new)
    # this machine has no nova package: release unknown, so both VNC switches and the keymap are written
    assert spice.spice_problems(new, None, "en-us") == []
    assert new.get("vnc", "enabled") == "false" and new.get("DEFAULT", "vnc_enabled") == "False"
    apply(ctx)
    assert not plan(openstack_spice.enable_spice_disable_vnc, lab).edits


def test_spice_compute_addresses_fixer(tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text("[DEFAULT]\nmy_ip = 127.0.0.1\n[spice]\nenabled = true\nserver_proxyclient_address = $my_ip\n")
    lab = lab_with(tmp_path, spice={"nova_conf": str(conf)})
    ctx = plan(openstack_spice.set_spice_server_addresses, lab, host="compute")
    assert spice.compute_problems(ini.parse(ctx.edits[0].new), "198.18.0.14", "198.18.0.14") == []


@pytest.mark.parametrize("release,option", [("kilo", "metering_time_to_live"), ("juno", "time_to_live")])
def test_ttl_fixer_writes_the_release_option(tmp_path, release, option):
    conf = tmp_path / "ceilometer.conf"
    conf.write_text("[DEFAULT]\n[database]\nconnection = mongodb://127.0.0.1:27017/ceilometer\n")
    lab = lab_with(tmp_path, ceilometer={"conf": str(conf), "release": release, "ttl_max_days": 7})
    ctx = plan(openstack_ceilometer.set_metering_ttl, lab)
    new = ini.parse(ctx.edits[0].new)
    assert new.get("database", option) == str(7 * 86400)
    assert all(t.problem(7 * 86400) is None for t in ceil.metering_ttls(new, release))


def test_ttl_fixer_declines_for_gnocchi_releases(tmp_path):
    lab = lab_with(tmp_path, ceilometer={"release": "zed"})
    with pytest.raises(FixDeclined, match="Gnocchi"):
        plan(openstack_ceilometer.set_metering_ttl, lab)


@pytest.mark.parametrize("fixer,section", [
    (openstack_ceilometer.set_metering_ttl, {"ceilometer": {"release": "kilo"}}),
    (openstack_ceilometer.stop_alarm_history, {"ceilometer": {"release": "kilo"}}),
    (openstack_spice.enable_spice_disable_vnc, {}),
    (openstack_neutron.empty_l3_external_options, {}),
])
def test_fixers_decline_when_the_file_is_missing(tmp_path, fixer, section):
    # a missing file is nothing safe to edit: declined with the reason, never a crash or an invented file
    for key, values in section.items():
        values.update({"conf": str(tmp_path / "none.conf"), "aodh_conf": str(tmp_path / "none2.conf")})
    section.setdefault("spice", {"nova_conf": str(tmp_path / "none.conf")})
    section.setdefault("neutron", {"l3_agent_ini": str(tmp_path / "none.ini")})
    with pytest.raises(FixDeclined, match="does not exist"):
        plan(fixer, lab_with(tmp_path, **section))
