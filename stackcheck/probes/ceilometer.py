"""How long the metering data is kept, by release (REQUIREMENTS CEIL-1/CEIL-2; options from the upstream
`openstack/ceilometer` and `openstack/aodh` tags, see shared/recipes/compute-network/REPORT.md section 4):

| release          | samples                                   | events               | alarm history                 |
|------------------|-------------------------------------------|----------------------|-------------------------------|
| Juno             | [database] time_to_live                   | -                    | [alarm] record_history        |
| Kilo             | [database] metering_time_to_live          | event_time_to_live   | [alarm] record_history        |
|                  | (deprecated alias [database] time_to_live)|                      |                               |
| Liberty          | metering_time_to_live                     | event_time_to_live   | [database] alarm_history_ttl* |
| Mitaka, Newton   | metering_time_to_live                     | event_time_to_live   | aodh.conf                     |
| Ocata, Pike      | metering_time_to_live                     | -                    | aodh.conf                     |
| Queens and later | no storage in Ceilometer: Gnocchi archive policies               | aodh.conf               |

(* alarm_history_time_to_live). Every TTL is in seconds, and `<= 0` means forever (the default)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import yaml

from stackcheck.probes.ini import IniFile
from stackcheck.probes.release import at_least, series_index
from stackcheck.verdicts import CannotCheck

FOREVER = -1


@dataclass
class Ttl:
    """One retention setting as read: which option of which release, and its value in seconds."""

    what: str  # "samples", "events", "alarm history"
    option: str  # "[database] metering_time_to_live"
    seconds: int  # <= 0: forever
    explicit: bool  # False: not set, so the release's default (forever) applies

    def problem(self, max_seconds: int) -> str | None:
        where = f"{self.option} = {self.seconds}" if self.explicit else f"{self.option} not set (default: forever)"
        if self.seconds <= 0:
            return f"{self.what} are kept forever ({where})"
        if self.seconds > max_seconds:
            return f"{self.what} are kept {self.seconds} s ({self.seconds / 86400:g} days) by {self.option}, " \
                   f"more than the maximum of {max_seconds} s ({max_seconds / 86400:g} days)"
        return None


def _read(ini: IniFile, what: str, names: list[str]) -> Ttl:
    """The first of `names` ("section key") that is set; else the first name with the default (forever)."""
    for name in names:
        section, key = name.split()
        value = ini.get(section, key)
        if value not in (None, ""):
            return Ttl(what, f"[{section}] {key}", int(value), True)
    section, key = names[0].split()
    return Ttl(what, f"[{section}] {key}", FOREVER, False)


def storage_in_ceilometer(release: str | None) -> bool:
    """Queens removed Ceilometer's own storage (and its TTL options): samples then live in Gnocchi."""
    return release is None or series_index(release) < series_index("queens")


def metering_ttls(ini: IniFile, release: str | None) -> list[Ttl]:
    """The TTL options this release of Ceilometer reads from ceilometer.conf (empty list from Queens on)."""
    if release is None:  # unknown release: accept any spelling that some release reads
        return [_read(ini, "samples", ["database metering_time_to_live", "database time_to_live"])]
    if not storage_in_ceilometer(release):
        return []
    if release == "juno":
        return [_read(ini, "samples", ["database time_to_live"])]
    names = ["database metering_time_to_live"] + (["database time_to_live"] if release == "kilo" else [])
    found = [_read(ini, "samples", names)]
    if series_index(release) <= series_index("newton"):
        found.append(_read(ini, "events", ["database event_time_to_live"]))
    return found


@dataclass
class AlarmHistory:
    """Alarm history: off (record_history False) or kept for a finite time. Which file and option depends on
    the release; `sources` names what was read, for the report."""

    recording: bool | None  # None: this release has no such switch in the file read
    ttl: Ttl | None
    sources: list[str]
    expirer_needed: bool = False  # aodh applies its TTL only through aodh-expirer (cron/timer)

    def problems(self, max_seconds: int) -> list[str]:
        out = []
        if self.recording:
            out.append(f"alarm history recording is on ({self.sources[0]})")
        if self.ttl is not None and self.recording is not False:
            p = self.ttl.problem(max_seconds)
            if p:
                out.append(p)
        return out


def alarm_history(ceilometer: IniFile | None, aodh: IniFile | None, release: str | None) -> AlarmHistory:
    """Kilo and before: [alarm] record_history in ceilometer.conf (default True; there is no TTL). Liberty: also
    [database] alarm_history_time_to_live there. Mitaka and later: aodh.conf ([DEFAULT] record_history and
    [database] alarm_history_time_to_live, applied by aodh-expirer)."""
    modern = at_least(release, "mitaka")
    if modern or (modern is None and aodh is not None):
        conf = aodh or IniFile()
        rec = conf.get_bool("DEFAULT", "record_history", True)
        return AlarmHistory(rec, _read(conf, "alarm history", ["database alarm_history_time_to_live"]),
                            [f"aodh.conf [DEFAULT] record_history = {str(rec).lower()}"
                             f"{'' if conf.has('DEFAULT', 'record_history') else ' (default)'}"], expirer_needed=True)
    conf = ceilometer or IniFile()
    rec = conf.get_bool("alarm", "record_history", True)
    source = (f"ceilometer.conf [alarm] record_history = {str(rec).lower()}"
              f"{'' if conf.has('alarm', 'record_history') else ' (default)'}")
    ttl = _read(conf, "alarm history", ["database alarm_history_time_to_live"]) if release == "liberty" else None
    return AlarmHistory(rec, ttl, [source])


# --- Gnocchi (Queens and later keep samples there) ------------------------------------------------------------
_SPAN = re.compile(r"^(?:(\d+) days?, )?(\d+):(\d\d):(\d\d)(?:\.\d+)?$")


def timedelta_seconds(text: str | float | int | None) -> float | None:
    """Gnocchi's API writes timespans as str(timedelta) ("30 days, 0:00:00", "1:00:00") or seconds."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        return float(text)
    m = _SPAN.match(text.strip())
    if not m:
        raise ValueError(f"not a timespan: {text!r}")
    days, h, mi, s = (int(g or 0) for g in m.groups())
    return days * 86400 + h * 3600 + mi * 60 + s


def archive_policy_problems(policies: list[dict], used: set[str] | None, max_seconds: int) -> list[str]:
    """Every archive policy in use (by an archive-policy rule; all when `used` is None) keeps data at most
    max_seconds: the longest timespan of its definition."""
    out = []
    for policy in policies:
        if used is not None and policy["name"] not in used:
            continue
        spans = [timedelta_seconds(d.get("timespan")) for d in policy.get("definition", [])]
        if any(s is None for s in spans) or not spans:
            out.append(f"archive policy {policy['name']} keeps data forever (a definition without timespan)")
            continue
        longest = max(spans)
        if longest > max_seconds:
            out.append(f"archive policy {policy['name']} keeps data {longest / 86400:g} days, "
                       f"more than the maximum of {max_seconds / 86400:g} days")
    return out


# --- Queens and later: where the sample pipeline publishes ----------------------------------------------------
DEFAULT_PIPELINE = "/etc/ceilometer/pipeline.yaml"
# without a pipeline file Ceilometer uses its built-in one (ceilometer/pipeline/data/pipeline.yaml): gnocchi://
BUILTIN_PUBLISHERS = ("gnocchi://",)
# publishers that hand samples on and keep none in this cloud (notifier: the message bus; the others: elsewhere)
HANDED_ON = {"notifier", "udp", "tcp", "http", "https", "prometheus", "zaqar", "opentelemetryhttp", "test"}


def pipeline_path(conf_path: str, conf: IniFile) -> str:
    """The sample pipeline file Ceilometer reads: [DEFAULT] pipeline_cfg_file, relative to its config dir."""
    name = conf.get("DEFAULT", "pipeline_cfg_file") or "pipeline.yaml"
    if name.startswith("/"):
        return name
    return f"{conf_path.rsplit('/', 1)[0] or ''}/{name}" if "/" in conf_path else name


def sample_publishers(pipeline_yaml: str) -> list[str]:
    """The publishers of every sink of a sample pipeline (pipeline.yaml), in order, without repeats."""
    try:
        data = yaml.safe_load(pipeline_yaml) or {}
    except yaml.YAMLError as exc:  # Ceilometer would refuse it too; what it publishes cannot be told
        raise CannotCheck(f"could not read the sample pipeline: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise CannotCheck("could not read the sample pipeline: not a mapping with sources and sinks")
    found: list[str] = []
    for sink in data.get("sinks") or []:
        for publisher in (sink or {}).get("publishers") or []:
            if str(publisher) not in found:
                found.append(str(publisher))
    return found


def publisher_scheme(publisher: str) -> str:
    return publisher.split("://", 1)[0].strip().lower() if "://" in publisher else publisher.strip().lower()


def keeps_samples(publisher: str) -> bool:
    """False only for the publishers known to hand samples on; an unknown one may keep them."""
    return publisher_scheme(publisher) not in HANDED_ON


def file_publisher_problems(publishers: list[str]) -> list[str]:
    """file://PATH keeps samples in a file that Ceilometer rotates only with max_bytes > 0 (and backup_count)."""
    out = []
    for p in publishers:
        if publisher_scheme(p) != "file":
            continue
        url = urlsplit(p)
        max_bytes = (parse_qs(url.query).get("max_bytes") or ["0"])[-1]
        if not max_bytes.isdigit() or int(max_bytes) <= 0:
            out.append(f"the file publisher {url.path or p} keeps samples without bound (no max_bytes: Ceilometer "
                       f"never rotates that file)")
    return out


def unjudged_publishers(publishers: list[str]) -> list[str]:
    """Publishers that may keep samples where this check cannot see how long (neither Gnocchi nor a file)."""
    return [p for p in publishers if keeps_samples(p) and publisher_scheme(p) not in ("gnocchi", "file")]
