"""Ceilometer and the metering database (the notes' outage: nine months of samples kept forever filled the control
node's disk to 99%): finite retention, the release's own option names, no alarm history, room on the disks."""
import pytest

from stackcheck.probes import ceilometer as ceil
from stackcheck.probes import hostconf, ini, logs
from stackcheck.probes import release as rel

CONTROL_PLANE = ("controller", "network", "storage", "dashboard")


def read_release(transport, lab, evidence, paths=(), extra=None):
    """(bundle, release): the inventory's ceilometer.release, or the installed package's (one round trip)."""
    bundle = hostconf.read(transport, paths, ["ceilometer", "aodh"], extra)
    declared = lab.get("ceilometer.release")
    if declared and declared != "auto":
        assert declared in rel.SERIES, f"inventory ceilometer.release {declared!r} is not a release name " \
                                       f"({', '.join(rel.SERIES)})"
        evidence["release"] = f"{declared} (inventory)"
        return bundle, declared
    release = bundle.release("ceilometer")
    evidence["release"] = f"{release or 'unknown'} ({bundle.version_text('ceilometer')})"
    return bundle, release


def max_seconds(lab) -> int:
    return int(lab.get("ceilometer.ttl_max_days")) * 86400


@pytest.mark.requirement("CEIL-1")
@pytest.mark.role("controller")
@pytest.mark.severity("critical")
def test_metering_samples_have_finite_ttl(target, transport, lab, evidence, request):
    path = lab.get("ceilometer.conf")
    bundle, release = read_release(transport, lab, evidence, [path])
    if not ceil.storage_in_ceilometer(release):
        gnocchi_retention(request, lab, release, evidence)
        return
    text = bundle.files[path]
    assert text is not None, f"{path} does not exist on {target}"
    ttls = ceil.metering_ttls(ini.parse(text), release)
    for t in ttls:
        evidence[t.what] = f"{t.option} = {t.seconds if t.explicit else 'not set'}"
    problems = [p for t in ttls if (p := t.problem(max_seconds(lab)))]
    assert not problems, f"{path} on {target} ({release or 'release unknown'}): " + "; ".join(problems)


def gnocchi_retention(request, lab, release, evidence):
    """Queens and later: samples live in Gnocchi; its archive policies (those the rules use) bound retention."""
    cloud = request.getfixturevalue("cloud")
    if not cloud.has_service("metric"):
        pytest.skip(f"not applicable: {release} keeps samples in Gnocchi, and the cloud's catalog has no metric "
                    f"service to read its archive policies from")
    policies = cloud.session.get("/v1/archive_policy", endpoint_filter={"service_type": "metric"}).json()
    rules = cloud.session.get("/v1/archive_policy_rule", endpoint_filter={"service_type": "metric"}).json()
    used = {r["archive_policy_name"] for r in rules} or None
    evidence["archive policies"] = ",".join(sorted(used or {p["name"] for p in policies}))
    problems = ceil.archive_policy_problems(policies, used, max_seconds(lab))
    assert not problems, f"Gnocchi ({release}): " + "; ".join(problems)


@pytest.mark.requirement("CEIL-2")
@pytest.mark.role("controller")
@pytest.mark.severity("medium")
def test_alarm_history_off_or_finite(target, transport, lab, evidence):
    cpath, apath = lab.get("ceilometer.conf"), lab.get("ceilometer.aodh_conf")
    extra = {"expirer": "crontab -l -u aodh 2>/dev/null | grep -v '^#' | grep aodh-expirer; "
                        "grep -rhs aodh-expirer /etc/cron.d /etc/cron.daily /etc/systemd/system 2>/dev/null | head -3"}
    bundle, release = read_release(transport, lab, evidence, [cpath, apath], extra)
    c = ini.parse(bundle.files[cpath]) if bundle.files.get(cpath) is not None else None
    a = ini.parse(bundle.files[apath]) if bundle.files.get(apath) is not None else None
    if c is None and a is None:
        pytest.fail(f"neither {cpath} nor {apath} exists on {target}")
    history = ceil.alarm_history(c, a, release)
    evidence["read"] = "; ".join(history.sources)
    if history.ttl is not None:
        evidence["ttl"] = f"{history.ttl.option} = {history.ttl.seconds if history.ttl.explicit else 'not set'}"
    problems = history.problems(max_seconds(lab))
    if history.expirer_needed and history.recording is not False and not bundle.outputs.get("expirer", "").strip():
        problems.append("aodh-expirer is not scheduled (cron or timer): alarm_history_time_to_live is never applied")
    assert not problems, f"{target} ({release or 'release unknown'}): " + "; ".join(problems)


@pytest.mark.requirement("CEIL-3")
@pytest.mark.role("controller")
@pytest.mark.severity("critical")
def test_metering_database_filesystem_below_threshold(target, transport, lab, evidence):
    data_dir = lab.get("ceilometer.data_dir")
    limit = lab.get("disk.max_used_percent")
    r = transport.run(f"test -d {data_dir} && df -P {data_dir}")
    if not r.ok:
        release = lab.get("ceilometer.release")
        if release not in (None, "auto") and not ceil.storage_in_ceilometer(release):
            pytest.skip(f"not applicable: no metering database at {data_dir} ({release} keeps samples in Gnocchi)")
        pytest.fail(f"the metering database's data dir {data_dir} does not exist on {target} "
                    f"(inventory ceilometer.data_dir)")
    usage = logs.parse_df(r.stdout)
    assert usage is not None, f"cannot read df output for {data_dir}: {r.stdout[:200]}"
    evidence["filesystem"] = f"{usage.mount} {usage.used_percent}% used of {usage.size_kb // 1024} MiB"
    assert usage.used_percent < limit, \
        f"the filesystem of the metering database ({data_dir} on {usage.mount}) is {usage.used_percent}% full " \
        f"(threshold {limit}%)"


@pytest.mark.requirement("CEIL-4")
@pytest.mark.role(*CONTROL_PLANE)
@pytest.mark.severity("high")
def test_var_log_below_threshold(target, transport, lab, evidence):
    limit = lab.get("disk.max_used_percent")
    usage = logs.parse_df(transport.run("df -P /var/log").stdout)
    assert usage is not None, f"cannot read the usage of /var/log on {target}"
    evidence["/var/log"] = f"{usage.mount} {usage.used_percent}% used"
    assert usage.used_percent < limit, \
        f"/var/log on {target} ({usage.mount}) is {usage.used_percent}% full (threshold {limit}%)"


@pytest.mark.requirement("CEIL-4")
@pytest.mark.role(*CONTROL_PLANE)
@pytest.mark.severity("high")
def test_openstack_logs_rotated(target, transport, evidence):
    sec = logs.sections(transport.run(logs.read_command()).stdout)
    dirs, problems = logs.rotation_problems(sec)
    evidence["log dirs"] = ",".join(d.rsplit("/", 1)[-1] for d in dirs) or "none"
    evidence["scheduled"] = sec.get("scheduled", "").strip()
    assert not problems, f"{target}: " + "; ".join(problems)
