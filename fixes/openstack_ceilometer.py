"""Fixers for Ceilometer's retention (CEIL-1, CEIL-2: the release's own option names, then restart the services
that read them) and for log rotation (CEIL-4: a logrotate rule for OpenStack log directories nobody rotates)."""
from __future__ import annotations

from fixes.openstack_units import try_restart
from stackcheck.fixing import FixDeclined, fixer
from stackcheck.probes import ceilometer as ceil
from stackcheck.probes import hostconf, ini, logs
from stackcheck.probes import release as rel

CEILOMETER_UNITS = ("ceilometer-collector ceilometer-api ceilometer-agent-notification ceilometer-alarm-evaluator "
                    "ceilometer-alarm-notifier openstack-ceilometer-collector openstack-ceilometer-api "
                    "openstack-ceilometer-notification openstack-ceilometer-alarm-evaluator "
                    "openstack-ceilometer-alarm-notifier")
AODH_UNITS = "aodh-evaluator aodh-notifier aodh-listener openstack-aodh-evaluator openstack-aodh-notifier"


def _release(ctx) -> str | None:
    declared = ctx.lab.get("ceilometer.release")
    if declared and declared != "auto":
        return declared
    return hostconf.read(ctx.transport, projects=["ceilometer"]).release("ceilometer")


def _wanted_seconds(ctx) -> int:
    return int(ctx.lab.get("ceilometer.ttl_max_days")) * 86400


@fixer("CEIL-1", risk="restart", checks=["test_metering_samples_have_finite_ttl"])
def set_metering_ttl(ctx):
    """Set the release's metering (and event) time-to-live to the inventory's maximum, restart Ceilometer."""
    release = _release(ctx)
    if not ceil.storage_in_ceilometer(release):
        raise FixDeclined(f"{release} keeps no samples in Ceilometer: their retention is the archive policies of "
                          f"Gnocchi (or the pipeline's file:// max_bytes); shorten those by hand (not automatic)")
    path = ctx.lab.get("ceilometer.conf")
    text = ctx.read(path)
    if text is None:
        raise FixDeclined(f"{path} does not exist: nothing to set the TTL in (stackcheck.ceilometer.conf)")
    seconds = str(_wanted_seconds(ctx))
    changes = {}
    for ttl in ceil.metering_ttls(ini.parse(text), release):
        if ttl.problem(_wanted_seconds(ctx)):
            section, key = ttl.option.strip("[").replace("]", "").split()
            changes[(section, key)] = seconds
    new = ini.set_values(text, changes)
    ctx.edit(path, new)
    if new != text:
        ctx.command(try_restart(CEILOMETER_UNITS), description="restart the Ceilometer services (try-restart)")


@fixer("CEIL-2", risk="restart", checks=["test_alarm_history_off_or_finite"])
def stop_alarm_history(ctx):
    """Switch alarm history recording off and give it a finite time-to-live where the release has one."""
    release = _release(ctx)
    modern = rel.at_least(release, "mitaka")
    path = ctx.lab.get("ceilometer.aodh_conf") if modern or (modern is None and ctx.read(
        ctx.lab.get("ceilometer.aodh_conf")) is not None) else ctx.lab.get("ceilometer.conf")
    text = ctx.read(path)
    if text is None:
        raise FixDeclined(f"{path} does not exist: nothing to switch alarm history off in")
    if path == ctx.lab.get("ceilometer.aodh_conf"):
        changes = {("DEFAULT", "record_history"): "False",
                   ("database", "alarm_history_time_to_live"): str(_wanted_seconds(ctx))}
        units = AODH_UNITS
    else:
        changes = {("alarm", "record_history"): "False"}
        if release == "liberty":
            changes[("database", "alarm_history_time_to_live")] = str(_wanted_seconds(ctx))
        units = CEILOMETER_UNITS
    new = ini.set_values(text, changes)
    ctx.edit(path, new)
    if new != text:
        ctx.command(try_restart(units), description="restart the alarm services (try-restart)")


@fixer("CEIL-4", risk="config", checks=["test_openstack_logs_rotated"])
def rotate_openstack_logs(ctx):
    """Add a logrotate rule (daily, 7 kept, compressed, copytruncate) for OpenStack log dirs nobody rotates."""
    sec = logs.read(ctx.transport)
    if sec.get("logrotate", "").strip() in ("", "missing"):
        raise FixDeclined("logrotate is not installed: install it (not done automatically)")
    patterns = logs.logrotate_patterns(sec.get("config", ""))
    dirs = [d for d in sec.get("dirs", "").split() if d]
    if not dirs:
        raise FixDeclined("none of the known OpenStack log directories exists here: nothing to add a rule for")
    loose = [d for d in dirs if not logs.covered(f"{d}/example.log", patterns)
             or any(not logs.covered(f, patterns) for f in sec.get("logs", "").split() if f.startswith(d + "/"))]
    if not loose:
        return
    path = "/etc/logrotate.d/stackcheck-openstack"
    old = ctx.read(path) or ""
    body = "".join(f"{d}/*.log {{\n    daily\n    missingok\n    rotate 7\n    compress\n    delaycompress\n"
                   f"    notifempty\n    copytruncate\n}}\n" for d in loose)
    header = "# Written by stackcheck --fix (CEIL-4): OpenStack logs that no other rule rotated.\n"
    ctx.edit(path, (old or header) + body, validate="logrotate -d {path} >/dev/null")
