"""The openstack family's checks under the verdict model, on what the lab really printed: every check is run with a
transport that replays the answers captured on the lab in a box (data/openstack/replay/*.json, recorded by
`python -m selftest.capture replay FILE`: the check run through `labbox exec HOST -- su nobody -s /bin/sh -c '...'`
with a non-root PATH, or as root where named). A read that failed is an *error* (CannotCheck) naming why, never a pass and never a finding; a catalog
without a service is an error, or a finding where the requirement demands the service; "not applicable" only for
an observed or declared fact. Each of the issue's false passes fails on the old code."""
import json
from pathlib import Path

import pytest
import yaml

import tests_openstack.test_ceilometer as ceil_checks
import tests_openstack.test_horizon as horizon_checks
import tests_openstack.test_neutron as neutron_checks
import tests_openstack.test_projects as project_checks
import tests_openstack.test_spice as spice_checks
from stackcheck.inventory import load
from stackcheck.probes import apache, batch, cloudapi, hostconf, logs, ovs, spice
from stackcheck.probes import ceilometer as ceil
from stackcheck.transport import Result
from stackcheck.verdicts import CannotCheck, Finding, MissingExpectation, NotApplicable

DATA = Path(__file__).parent / "data" / "openstack"


class Replay:
    """A transport answering each command with the next answer captured on the lab, in order."""

    def __init__(self, name):
        self.calls = json.loads((DATA / "replay" / f"{name}.json").read_text())["calls"]

    def run(self, command, stdin=None, timeout=None):
        assert self.calls, f"the check ran one command more than was captured: {command[:120]}"
        c = self.calls.pop(0)
        return Result(c["rc"], c["stdout"], c["stderr"])


class Canned:
    """A transport answering every command with one text (for hand-built hostconf bundles)."""

    def __init__(self, stdout, rc=0, stderr=""):
        self.result = Result(rc, stdout, stderr)

    def run(self, command, stdin=None, timeout=None):
        return self.result


@pytest.fixture
def lab(tmp_path):
    return make_lab(tmp_path)


def make_lab(tmp_path):
    """The inventory the replays were captured with (selftest/capture.py uses it too)."""
    hosts = {"controller": "198.18.0.11", "network": "198.18.0.12", "compute": "198.18.0.14", "dbnode1": "198.18.0.15"}
    groups = {"controller": "controller", "network": "network", "compute": "compute", "dbnode1": "dbnode"}
    inv = {"all": {"children": {g: {"hosts": {h: {"ansible_host": hosts[h]}}} for h, g in groups.items()}},
           "stackcheck": {"ceilometer": {"release": "kilo"}, "neutron": {"upstream_gateway": "198.18.8.1"}}}
    (tmp_path / "inv.yaml").write_text(yaml.safe_dump(inv))
    return load(str(tmp_path / "inv.yaml"))


def no_skip(check, *args, **kwargs):
    """Call a check; a skip (what the old checks did for "not applicable") fails the test instead of hiding it."""
    try:
        return check(*args, **kwargs)
    except pytest.skip.Exception as exc:
        pytest.fail(f"the check skipped itself: {exc}")


def run_check(check, lab, host, transport, **extra):
    args = {"target": lab.host(host), "transport": transport, "lab": lab, "evidence": {}, **extra}
    names = check.__code__.co_varnames[:check.__code__.co_argcount]
    return no_skip(check, **{k: v for k, v in args.items() if k in names})


# --- non-root reads on the lab: errors, never passes or findings ------------------------------------------------
@pytest.mark.parametrize("scenario,check,host,words", [
    # was the finding "Apache is not running": /proc/PID/maps is root's to read
    ("hzn1-nobody", horizon_checks.test_apache_runs_event_mpm_only, "controller", "cat: /proc/"),
    # was a pass: mod_php in the running server could not be seen, and a2query was "not found" (no /usr/sbin in PATH)
    ("hzn2-nobody", horizon_checks.test_php_served_through_php_fpm, "controller", "mod_php loaded"),
    # was a pass: `find /var/log/nova` denied left no log file to judge
    ("ceil4-rotated-nobody", ceil_checks.test_openstack_logs_rotated, "controller", "find: ‘/var/log/nova’: Permission"),
    # nova.conf in /etc/nova (nova's, 750): never "[spice] enabled is not set"
    ("spc1-nobody", spice_checks.test_spice_enabled_and_vnc_off, "controller", "/etc/nova/nova.conf: permission denied"),
    # was the finding "no OVS bridge on network"
    ("net1-nobody", neutron_checks.test_external_bridges_with_their_nics, "network", "database connection failed"),
    ("net2-nobody", neutron_checks.test_l3_agent_external_options_empty, "network", "l3_agent.ini: permission denied"),
])
def test_a_non_root_read_is_an_error(lab, scenario, check, host, words):
    with pytest.raises(CannotCheck) as exc:
        run_check(check, lab, host, Replay(scenario))
    assert words in str(exc.value) and "run as root" in str(exc.value), str(exc.value)
    assert not isinstance(exc.value, AssertionError)


@pytest.mark.parametrize("scenario,check,host", [
    ("ceil2-nobody", ceil_checks.test_alarm_history_off_or_finite, "controller"),
    ("ceil3-nobody", ceil_checks.test_metering_database_filesystem_below_threshold, "controller"),
    ("spc5-nobody", spice_checks.test_spice_proxy_service_enabled_running_listening, "controller"),
    ("spc5-html5-nobody", spice_checks.test_spice_html5_installed, "compute"),
    ("ceil4-rotated-root", ceil_checks.test_openstack_logs_rotated, "controller"),
    ("net1-root", neutron_checks.test_external_bridges_with_their_nics, "network"),
])
def test_what_can_be_read_is_judged(lab, scenario, check, host):
    run_check(check, lab, host, Replay(scenario))  # passes: everything it needs was readable


def test_logrotate_found_outside_a_non_root_path():
    # the captured parts ran with PATH=/usr/local/bin:/usr/bin:/bin: logrotate is in /usr/sbin, and the old
    # `command -v logrotate` answered "missing" there: the confident finding "logrotate is not installed"
    found = batch.parse(Replay("ceil4-rotated-nobody").calls[0]["stdout"])
    assert found.output("logrotate", "logrotate").strip() == "/usr/sbin/logrotate"


# --- CEIL-4: none of the known log directories ------------------------------------------------------------------
def test_no_openstack_log_directory_is_an_error_not_a_pass(lab):
    # dbnode1 of the lab: no /var/log/<OpenStack service> at all, as on a kolla or journald-only host
    with pytest.raises(CannotCheck) as exc:
        run_check(ceil_checks.test_openstack_logs_rotated, lab, "dbnode1", Replay("ceil4-rotated-dbnode1-root"))
    message = str(exc.value)
    assert "none of the OpenStack log directories" in message and "/var/log/{nova," in message
    assert "stackcheck.waivers" in message and "kolla" in message


def test_unrotated_logs_are_a_finding_with_what_to_do():
    sec = {"dirs": "/var/log/nova", "logs": "/var/log/nova/nova-api.log", "logrotate": "missing",
           "scheduled": "none", "config": ""}
    dirs, problems = logs.rotation_problems(sec)
    assert dirs and any("no logrotate rule covers /var/log/nova/nova-api.log" in p for p in problems)
    assert "logrotate is not installed (not in PATH, /usr/sbin or /sbin)" in problems
    assert "install logrotate" in logs.rotation_remediation(sec)


# --- HZN-1/2: the running server -------------------------------------------------------------------------------
def test_apache_parts_as_root_and_as_nobody():
    root = apache.from_parts(batch.parse((DATA / "apache_debian_event_parts_root.txt").read_text()))
    assert root.running_mpm == "event" and root.running_pid and not apache.mpm_unknowns(root)
    assert apache.mpm_problems(root) == [] and apache.php_problems(root) == []
    nobody = apache.from_parts(batch.parse((DATA / "apache_debian_event_parts_nobody.txt").read_text()))
    assert nobody.enabled_mpms == ["event"] and nobody.running_mpm is None
    assert apache.mpm_problems(nobody) == []  # never "Apache is not running"
    assert "Permission denied" in apache.mpm_unknowns(nobody)[0]


def test_apache_findings_come_first_and_say_what_to_do():
    state = apache.parse((DATA / "apache_debian_prefork.txt").read_text())
    state.running_error, state.running_mpm, state.mod_php = "could not read which MPM: permission denied", None, ["php8.2"]
    with pytest.raises(Finding) as exc:
        horizon_checks.judge("Apache on controller", apache.mpm_problems(state), apache.mpm_unknowns(state),
                             apache.mpm_remediation(state))
    assert "enabled MPM modules: prefork" in str(exc.value) and "also could not check" in str(exc.value)
    assert "move PHP from mod_php (php8.2) to php-fpm first" in exc.value.remediation


def test_a_missing_command_in_a_part_is_an_error():
    found = batch.parse("### enabled\n\n@@sc-rc@@ 127 enabled\n@@sc-err@@ sh: 1: ls: not found\n### x\nhalf\n")
    with pytest.raises(CannotCheck, match="command not found"):
        found.output("enabled", "Apache's enabled modules")
    with pytest.raises(CannotCheck, match="did not reach it"):
        found.output("x", "x")  # cut short: never a clean answer


# --- OVS: a stopped daemon is a finding, a refused one an error --------------------------------------------------
def test_ovs_daemon_not_running_is_a_finding():
    text = ("### bridges\n\n@@sc-rc@@ 1 bridges\n@@sc-err@@ ovs-vsctl: unix:/var/run/openvswitch/db.sock:"
            " database connection failed (No such file or directory)\n")
    with pytest.raises(Finding, match="ovsdb-server is not running"):
        ovs.read(Canned(text))


# --- SPC-5: states systemctl and dpkg really print ----------------------------------------------------------------
def test_spice_service_state_refuses_what_is_not_a_state():
    ok = batch.parse(Replay("spc5-nobody").calls[1]["stdout"])
    assert spice.service_state(ok, "nova-spicehtml5proxy") == ("enabled", "active", ["0.0.0.0:6082"])
    bus = batch.Batch()
    bus.update(enabled=batch.Part("enabled", "", 1, ["Failed to connect to bus: No medium found"]),
               active=batch.Part("active", "inactive\n", 3), listening=batch.Part("listening", "", 0))
    with pytest.raises(CannotCheck, match="Failed to connect to bus"):
        spice.service_state(bus, "nova-spicehtml5proxy")


@pytest.mark.parametrize("result,installed", [
    (Result(0, "install ok installed 0.3.0-2", ""), True),
    (Result(0, "deinstall ok config-files 0.3.0-2", ""), False),
    (Result(1, "", "dpkg-query: no packages found matching spice-html5"), False),
    (Result(1, "package spice-html5 is not installed\n", ""), False),
    (Result(0, "0.1.7", ""), True),
])
def test_spice_html5_package_states(result, installed):
    assert spice.package_state(result)[0] is installed


def test_spice_html5_without_a_package_tool_is_an_error():
    with pytest.raises(CannotCheck, match="command not found"):
        spice.package_state(Result(127, "", "neither dpkg-query nor rpm found"))


# --- the cloud's catalog ------------------------------------------------------------------------------------------
class Cloud:
    """What the checks ask of an openstacksdk Connection, for a catalog of the given service types."""

    def __init__(self, *services):
        self.services = set(services)

    def has_service(self, service_type):
        return service_type in self.services


def test_os4_catalog_without_block_storage_is_a_finding(lab):
    # OS-4's own incident (a deleted block-storage endpoint) was "not applicable"
    with pytest.raises(Finding) as exc:
        no_skip(project_checks.test_block_storage_answers_with_project_credentials, Cloud("identity"), lab, {})
    assert "no block-storage service" in str(exc.value) and "register Cinder's endpoints" in exc.value.remediation


@pytest.mark.parametrize("check", [neutron_checks.test_external_networks_in_neutron,
                                   project_checks.test_each_project_has_network_and_router])
def test_catalog_without_network_is_an_error(lab, check):
    with pytest.raises(CannotCheck, match="the cloud's catalog has no network service") as exc:
        no_skip(check, Cloud("identity"), lab, {})
    assert "not applicable" not in str(exc.value) and "register its endpoint" in str(exc.value)
    assert issubclass(cloudapi.ServiceMissing, CannotCheck)


def test_os5_without_long_lived_instances_is_a_missing_expectation(lab):
    with pytest.raises(MissingExpectation, match="stackcheck.cloud.long_lived_instances"):
        no_skip(project_checks.test_long_lived_instances_active, Cloud("identity", "compute"), lab, {})


def test_os5_catalog_without_compute_is_an_error(tmp_path):
    inv = {"all": {"children": {"controller": {"hosts": {"controller": {"ansible_host": "198.18.0.11"}}}}},
           "stackcheck": {"cloud": {"long_lived_instances": ["auth"]}}}
    (tmp_path / "i.yaml").write_text(yaml.safe_dump(inv))
    with pytest.raises(CannotCheck, match="no compute service"):
        no_skip(project_checks.test_long_lived_instances_active, Cloud("identity"), load(str(tmp_path / "i.yaml")), {})


# --- Ceilometer from Queens on: not applicable only when observed ------------------------------------------------
PIPELINE_DEFAULT = (DATA / "pipeline.yaml.upstream").read_text()  # ceilometer/pipeline/data/pipeline.yaml


def bundle(files: dict, versions: dict, outputs: dict | None = None) -> str:
    """hostconf's batch output for these files (None: missing), version lines and extra commands' parts
    (name -> (exit code, stdout, stderr))."""
    out = []

    def part(name, text, rc=0, err=""):
        out.append(f"### {name}\n{text}\n@@sc-rc@@ {rc} {name}\n" + "".join(f"@@sc-err@@ {line}\n"
                                                                          for line in err.splitlines()))
    for path, text in files.items():
        part(path, "", batch.MISSING) if text is None else part(path, text)
    for project, line in versions.items():
        part(f"version {project}", f"{line}\n" if line else "")
    for name, (rc, text, err) in (outputs or {}).items():
        part(f"out {name}", text, rc, err)
    return "".join(out)


class Request:
    def __init__(self, cloud):
        self.cloud = cloud

    def getfixturevalue(self, name):
        assert name == "cloud"
        return self.cloud


def zed(tmp_path):
    inv = {"all": {"children": {"controller": {"hosts": {"controller": {"ansible_host": "198.18.0.11"}}}}},
           "stackcheck": {"ceilometer": {"release": "auto"}}}
    (tmp_path / "z.yaml").write_text(yaml.safe_dump(inv))
    return load(str(tmp_path / "z.yaml"))


def ceil1(tmp_path, pipeline, cloud):
    lab = zed(tmp_path)
    text = bundle({"/etc/ceilometer/ceilometer.conf": "[DEFAULT]\n", "/etc/ceilometer/pipeline.yaml": pipeline},
                  {"ceilometer": "ceilometer-common 1:19.0.0-3", "aodh": ""})
    return no_skip(ceil_checks.test_metering_samples_have_finite_ttl, lab.host("controller"), Canned(text), lab, {},
                   Request(cloud))


def test_gnocchi_publisher_without_metric_service_is_an_error(tmp_path):
    # the pipeline publishes to Gnocchi (also with no pipeline file: Ceilometer's built-in one does)
    for pipeline in (PIPELINE_DEFAULT, None):
        with pytest.raises(CannotCheck, match="catalog has no metric service"):
            ceil1(tmp_path, pipeline, Cloud("identity"))


def test_samples_handed_on_only_are_not_applicable_with_the_fact(tmp_path):
    prometheus = ("---\nsources:\n  - name: meter_source\n    meters:\n      - \"*\"\n    sinks:\n      - meter_sink\n"
                  "sinks:\n  - name: meter_sink\n    publishers:\n      - prometheus://pushgw.example:9091/metrics/job/os\n")
    with pytest.raises(NotApplicable) as exc:
        ceil1(tmp_path, prometheus, Cloud("identity"))
    assert "zed keeps no samples in Ceilometer" in str(exc.value) and "prometheus://" in str(exc.value)


def test_file_publisher_without_max_bytes_is_a_finding(tmp_path):
    pipeline = "sinks:\n  - name: s\n    publishers:\n      - file:///var/lib/ceilometer/samples.log\n"
    with pytest.raises(Finding, match="keeps samples without bound"):
        ceil1(tmp_path, pipeline, Cloud("identity"))
    assert ceil.file_publisher_problems(["file:///x?max_bytes=10000000&backup_count=5"]) == []


def test_unknown_publisher_is_not_judged_as_fine(tmp_path):
    with pytest.raises(CannotCheck, match="cannot check how long kafka://"):
        ceil1(tmp_path, "sinks:\n  - publishers:\n      - kafka://broker:9092?topic=ceilometer\n", Cloud("identity"))


def test_ceil3_missing_data_dir(lab, tmp_path):
    missing = (1, "", "df: /var/lib/mongodb: No such file or directory")
    text = bundle({}, {"ceilometer": "", "aodh": ""}, {"df": missing})
    # declared Kilo keeps samples in MongoDB: the inventory's data dir is wrong -> an error naming the key
    with pytest.raises(CannotCheck, match="stackcheck.ceilometer.data_dir"):
        run_check(ceil_checks.test_metering_database_filesystem_below_threshold, lab, "controller", Canned(text))
    # an installed Zed keeps them in Gnocchi, and no MongoDB dir exists: both observed
    zlab = zed(tmp_path)
    text = bundle({}, {"ceilometer": "ceilometer-common 1:19.0.0-3", "aodh": ""}, {"df": missing})
    with pytest.raises(NotApplicable, match="no metering database at /var/lib/mongodb"):
        run_check(ceil_checks.test_metering_database_filesystem_below_threshold, zlab, "controller", Canned(text))


def test_ceil2_expirer_schedule_unreadable_is_an_error_not_a_finding(tmp_path):
    lab = zed(tmp_path)
    aodh = "[DEFAULT]\nrecord_history = True\n[database]\nalarm_history_time_to_live = 86400\n"
    grep = (2, "", "grep: /etc/cron.d/secret: Permission denied")
    files = {"/etc/ceilometer/ceilometer.conf": None, "/etc/aodh/aodh.conf": aodh,
             "/var/spool/cron/crontabs/aodh": None, "/var/spool/cron/aodh": None}
    text = bundle(files, {"ceilometer": "ceilometer-common 1:19.0.0-3", "aodh": "aodh-common 15.0.0-3"},
                  {"expirer": grep})
    with pytest.raises(Finding) as exc:  # recording on is a finding; the schedule is noted as unknown
        run_check(ceil_checks.test_alarm_history_off_or_finite, lab, "controller", Canned(text))
    assert "alarm history recording is on" in str(exc.value) and "also could not check" in str(exc.value)
    assert ceil_checks.expirer_scheduled(hostconf.parse(text)).startswith("could not read every cron")


def test_unparsable_pipeline_is_an_error():
    with pytest.raises(CannotCheck, match="not valid YAML"):
        ceil.sample_publishers("sinks: [a: b: c\n")
