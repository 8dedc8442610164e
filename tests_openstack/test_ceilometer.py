"""Ceilometer and the metering database (the notes' outage: nine months of samples kept forever filled the control
node's disk to 99%): finite retention, the release's own option names, no alarm history, room on the disks."""
import shlex

import pytest

from stackcheck.probes import ceilometer as ceil
from stackcheck.probes import hostconf, ini, logs
from stackcheck.probes import release as rel
from stackcheck.verdicts import CannotCheck, Finding, NotApplicable

CONTROL_PLANE = ("controller", "network", "storage", "dashboard")


def read_release(transport, lab, evidence, paths=(), extra=None):
    """(bundle, release): the inventory's ceilometer.release, or the installed package's (one round trip)."""
    bundle = hostconf.read(transport, paths, ["ceilometer", "aodh"], extra)
    declared = lab.get("ceilometer.release")
    if declared and declared != "auto":
        if declared not in rel.SERIES:
            raise CannotCheck(f"cannot check: the inventory's stackcheck.ceilometer.release {declared!r} is not a "
                              f"release name: set it to one of {', '.join(rel.SERIES)}, or to auto")
        evidence["release"] = f"{declared} (inventory)"
        return bundle, declared
    release = bundle.release("ceilometer")
    evidence["release"] = f"{release or 'unknown'} ({bundle.version_text('ceilometer')})"
    return bundle, release


def max_seconds(lab) -> int:
    return int(lab.get("ceilometer.ttl_max_days")) * 86400


def existing(bundle, path, target, key):
    """The content of the file the inventory names under `key`; its absence is an error naming the key."""
    text = bundle.files[path]  # CannotCheck when it exists but cannot be read
    if text is None:
        raise CannotCheck(f"cannot check: {path} does not exist on {target}: set stackcheck.{key} to the file "
                          f"the service reads")
    return text


@pytest.mark.requirement("CEIL-1")
@pytest.mark.role("controller")
@pytest.mark.severity("critical")
def test_metering_samples_have_finite_ttl(target, transport, lab, evidence, request):
    path = lab.get("ceilometer.conf")
    bundle, release = read_release(transport, lab, evidence, [path, ceil.DEFAULT_PIPELINE])
    if not ceil.storage_in_ceilometer(release):
        gnocchi_era_retention(request, transport, bundle, path, release, lab, evidence)
        return
    text = existing(bundle, path, target, "ceilometer.conf")
    ttls = ceil.metering_ttls(ini.parse(text), release)
    for t in ttls:
        evidence[t.what] = f"{t.option} = {t.seconds if t.explicit else 'not set'}"
    problems = [p for t in ttls if (p := t.problem(max_seconds(lab)))]
    assert not problems, f"{path} on {target} ({release or 'release unknown'}): " + "; ".join(problems)


def gnocchi_era_retention(request, transport, bundle, conf_path, release, lab, evidence):
    """Queens and later keep no samples in Ceilometer: they go wherever its pipeline publishes them.

    Not applicable only when that is OBSERVED: the release (declared or installed) keeps no samples itself AND
    the sample pipeline (read from the host; its absence means Ceilometer's built-in default, gnocchi://)
    publishes to nothing that keeps them (notifier://, udp://, prometheus:// ... hand them on). A pipeline that
    publishes to gnocchi:// makes Gnocchi's archive policies the retention to judge, so a catalog without the
    metric service is an error (they cannot be read), never "not applicable": that is how a forgotten Gnocchi
    endpoint would hide samples kept forever. A file:// publisher keeps them in a file: bounded only by its
    max_bytes (a rotating file)."""
    conf = ini.parse(bundle.files[conf_path]) if bundle.files.get(conf_path) is not None else ini.IniFile()
    pipeline = ceil.pipeline_path(conf_path, conf)
    if pipeline != ceil.DEFAULT_PIPELINE:
        bundle = hostconf.read(transport, [pipeline])
    text = bundle.files[pipeline]  # CannotCheck when unreadable
    publishers = ceil.sample_publishers(text) if text is not None else list(ceil.BUILTIN_PUBLISHERS)
    evidence["publishers"] = f"{','.join(publishers) or 'none'} ({pipeline if text is not None else 'built-in default'})"
    problems = ceil.file_publisher_problems(publishers)
    if not any(ceil.keeps_samples(p) for p in publishers):
        raise NotApplicable(f"{release} keeps no samples in Ceilometer, and {pipeline} publishes them only to "
                            f"{', '.join(publishers) or 'nothing'}, none of which keeps them in this cloud")
    if any(ceil.publisher_scheme(p) == "gnocchi" for p in publishers):
        problems += gnocchi_problems(request.getfixturevalue("cloud"), release, lab, evidence)
    unjudged = ceil.unjudged_publishers(publishers)
    if problems:
        raise Finding(f"{release}: " + "; ".join(problems)
                      + (f" (not judged: {', '.join(unjudged)})" if unjudged else ""),
                      remediation="shorten the archive policies Gnocchi's rules use (gnocchi archive-policy update/"
                                  "create and archive-policy-rule), and give file:// publishers a max_bytes "
                                  "(not automatic)")
    if unjudged:
        raise CannotCheck(f"cannot check how long {', '.join(unjudged)} (publishers of {pipeline}) keep samples: "
                          f"this check judges Gnocchi's archive policies and file:// max_bytes only")


def gnocchi_problems(cloud, release, lab, evidence) -> list[str]:
    """The archive policies the rules use (all, when no rule) keep data at most the inventory's maximum."""
    if not cloud.has_service("metric"):
        raise CannotCheck(f"cannot check: {release}'s pipeline publishes samples to gnocchi://, but the cloud's "
                          f"catalog has no metric service: Gnocchi's archive policies (the samples' retention) "
                          f"cannot be read; register Gnocchi's endpoint in the catalog (or point stackcheck.cloud.name "
                          f"at a cloud whose catalog has it)")
    policies = metric_api(cloud, "/v1/archive_policy")
    rules = metric_api(cloud, "/v1/archive_policy_rule")
    used = {r["archive_policy_name"] for r in rules} or None
    evidence["archive policies"] = ",".join(sorted(used or {p["name"] for p in policies}))
    return [f"Gnocchi: {p}" for p in ceil.archive_policy_problems(policies, used, max_seconds(lab))]


def metric_api(cloud, path):
    try:
        response = cloud.session.get(path, endpoint_filter={"service_type": "metric"})
        return response.json()
    except Exception as exc:  # noqa: BLE001 - any refusal means the policies could not be read
        raise CannotCheck(f"cannot check: Gnocchi's {path} could not be read: {type(exc).__name__}: "
                          f"{str(exc)[:160]}") from None


# aodh-expirer applies aodh's alarm history TTL: a cron line or a timer; the users' crontabs are root's to read
EXPIRER_CRONTABS = ("/var/spool/cron/crontabs/aodh", "/var/spool/cron/aodh")  # Debian, RHEL
EXPIRER_GREP = ("grep -rl aodh-expirer /dev/null $(for d in /etc/crontab /etc/cron.d /etc/cron.daily /etc/cron.hourly "
                "/etc/systemd/system /lib/systemd/system /usr/lib/systemd/system; do [ -e $d ] && echo $d; done)")


def expirer_scheduled(bundle) -> bool | str:
    """True when aodh-expirer is scheduled; False when it certainly is not; else why that is unknown."""
    try:
        grep = bundle.part("expirer", "where aodh-expirer is scheduled")
    except CannotCheck as exc:
        return str(exc)
    found = grep.output("where aodh-expirer is scheduled", ok=(0, 1, 2))  # 2: some file unreadable, judged below
    crontabs = [bundle.files[p] for p in EXPIRER_CRONTABS]  # CannotCheck when a crontab cannot be read
    if found.strip() or any(c and any("aodh-expirer" in line and not line.lstrip().startswith("#")
                                      for line in c.splitlines()) for c in crontabs):
        return True
    if grep.rc == 2:
        return f"could not read every cron and timer file: {grep.reason()}"
    return False


@pytest.mark.requirement("CEIL-2")
@pytest.mark.role("controller")
@pytest.mark.severity("medium")
def test_alarm_history_off_or_finite(target, transport, lab, evidence):
    cpath, apath = lab.get("ceilometer.conf"), lab.get("ceilometer.aodh_conf")
    bundle, release = read_release(transport, lab, evidence, [cpath, apath, *EXPIRER_CRONTABS],
                                   {"expirer": EXPIRER_GREP})
    c = ini.parse(bundle.files[cpath]) if bundle.files[cpath] is not None else None
    a = ini.parse(bundle.files[apath]) if bundle.files[apath] is not None else None
    if c is None and a is None:
        raise CannotCheck(f"cannot check: neither {cpath} nor {apath} exists on {target}: set "
                          f"stackcheck.ceilometer.conf / stackcheck.ceilometer.aodh_conf to the files the services read")
    history = ceil.alarm_history(c, a, release)
    evidence["read"] = "; ".join(history.sources)
    if history.ttl is not None:
        evidence["ttl"] = f"{history.ttl.option} = {history.ttl.seconds if history.ttl.explicit else 'not set'}"
    problems = history.problems(max_seconds(lab))
    unknown = ""
    if history.expirer_needed and history.recording is not False:
        scheduled = expirer_scheduled(bundle)
        evidence["aodh-expirer"] = "scheduled" if scheduled is True else "not scheduled" if scheduled is False \
            else "unknown"
        if scheduled is False:
            problems.append("aodh-expirer is not scheduled (cron or timer): alarm_history_time_to_live is never applied")
        elif scheduled is not True:
            unknown = scheduled
    if problems:
        raise Finding(f"{target} ({release or 'release unknown'}): " + "; ".join(problems)
                      + (f" (also could not check: {unknown})" if unknown else ""))
    if unknown:
        raise CannotCheck(f"cannot check whether aodh-expirer applies the alarm history TTL on {target}: {unknown}")


@pytest.mark.requirement("CEIL-3")
@pytest.mark.role("controller")
@pytest.mark.severity("critical")
def test_metering_database_filesystem_below_threshold(target, transport, lab, evidence):
    data_dir = lab.get("ceilometer.data_dir")
    limit = lab.get("disk.max_used_percent")
    bundle, release = read_release(transport, lab, evidence, extra={"df": f"df -P {shlex.quote(data_dir)}"})
    df = bundle.part("df", f"the filesystem usage of {data_dir} (df -P)")  # CannotCheck when it never ran
    if df.rc != 0 and "no such file" in "\n".join(df.err).lower():
        # observed: no MongoDB data dir; declared or installed: a release that keeps its samples in Gnocchi
        if not ceil.storage_in_ceilometer(release):
            raise NotApplicable(f"no metering database at {data_dir} on {target}, and {release} keeps its samples "
                                f"in Gnocchi, not in a database of Ceilometer's")
        raise CannotCheck(f"cannot check: the metering database's data dir {data_dir} does not exist on {target}: "
                          f"set stackcheck.ceilometer.data_dir to MongoDB's dbPath (storage.dbPath in mongod.conf)")
    out = df.output(f"the filesystem usage of {data_dir} (df -P)")
    usage = logs.parse_df(out)
    if usage is None:
        raise CannotCheck(f"could not read the filesystem usage of {data_dir} on {target}: df printed {out[:200]!r}")
    evidence["filesystem"] = f"{usage.mount} {usage.used_percent}% used of {usage.size_kb // 1024} MiB"
    assert usage.used_percent < limit, \
        f"the filesystem of the metering database ({data_dir} on {usage.mount}) is {usage.used_percent}% full " \
        f"(threshold {limit}%)"


@pytest.mark.requirement("CEIL-4")
@pytest.mark.role(*CONTROL_PLANE)
@pytest.mark.severity("high")
def test_var_log_below_threshold(target, transport, lab, evidence):
    limit = lab.get("disk.max_used_percent")
    out = transport.run("df -P /var/log").output("the filesystem usage of /var/log (df -P)")
    usage = logs.parse_df(out)
    if usage is None:
        raise CannotCheck(f"could not read the usage of /var/log on {target}: df printed {out[:200]!r}")
    evidence["/var/log"] = f"{usage.mount} {usage.used_percent}% used"
    assert usage.used_percent < limit, \
        f"/var/log on {target} ({usage.mount}) is {usage.used_percent}% full (threshold {limit}%)"


@pytest.mark.requirement("CEIL-4")
@pytest.mark.role(*CONTROL_PLANE)
@pytest.mark.severity("high")
def test_openstack_logs_rotated(target, transport, evidence):
    sec = logs.read(transport)
    dirs, problems = logs.rotation_problems(sec)
    evidence["log dirs"] = ",".join(d.rsplit("/", 1)[-1] for d in dirs) or "none"
    evidence["scheduled"] = sec.get("scheduled", "").strip()
    if not dirs:  # nothing read is nothing judged: kolla, journald-only hosts, logs elsewhere
        raise CannotCheck(logs.no_log_dirs(target))
    if problems:
        raise Finding(f"{target}: " + "; ".join(problems), remediation=logs.rotation_remediation(sec))
