"""Reading a Swift proxy node (SWF-3, SWF-5, S3-1): one SSH command returns the proxy's configuration, the
installed Swift release, the listening sockets, the cache directory and the service state; a second one asks,
FROM the storage node, whether the Keystone URLs of the configuration answer as Keystone (where the proxy itself
would connect from). The node's firewall is judged by the one evaluator, stackcheck/probes/iptables.py.

Parsers are pure and unit-tested on captured output (selftest/unit/test_probe_swift.py)."""
from __future__ import annotations

import json
import re
import shlex
from functools import cached_property

from stackcheck.probes import batch
from stackcheck.probes.paste import PasteConfig
from stackcheck.transport import Result
from stackcheck.verdicts import CannotCheck

PARTS = ("conf", "version", "listen", "cache_dir", "service")
_MISSING = "no such file or directory"


def collect_command(conf: str, cache_dir: str, service: str) -> str:
    """One round trip, a batch (stackcheck/probes/batch.py): each part with its own exit code and stderr (a read
    that failed must be told from one that found nothing: `cmd1; cmd2` alone would hide it)."""
    return batch.script(
        # batch's file reader tells a missing file from an unreadable one (also behind an unsearchable directory)
        batch.file(conf, name="conf"),
        # the release: Swift's own version (any distribution), else the package's
        batch.part("version", "python3 -c 'import swift; print(swift.__version__)' 2>/dev/null"
                              " || dpkg-query -W -f='${Version}' python3-swift 2>/dev/null"
                              " || rpm -q --qf '%{VERSION}' openstack-swift-proxy"),
        batch.part("listen", "ss -ltnH 2>/dev/null || netstat -ltn"),
        batch.part("cache_dir", stat_command(cache_dir)),
        batch.part("service", f"systemctl is-active {shlex.quote(service)}"),
    )


class ProxyNode:
    """The proxy node as one batched read saw it. Each part is judged where a check uses it: a part that could
    not be read raises CannotCheck there (a check that does not need it is not held up by it)."""

    def __init__(self, parts: batch.Batch, conf_path: str = "proxy-server.conf",
                 cache_path: str = "the cache dir"):
        self.parts = parts
        self.conf_path, self.cache_path = conf_path, cache_path

    @classmethod
    def parse(cls, stdout: str, conf_path: str = "proxy-server.conf", cache_path: str = "the cache dir") -> "ProxyNode":
        return cls(batch.parse(stdout), conf_path, cache_path)

    @property
    def conf_missing(self) -> bool:
        """True when the configuration file does not exist (observed); CannotCheck when the read never ran."""
        return self.parts.part("conf", self.conf_path).rc == batch.MISSING

    @property
    def conf_text(self) -> str:
        """The configuration's text ('' when it does not exist); CannotCheck when it exists but cannot be read."""
        return self.parts.file(self.conf_path, name="conf") or ""

    @cached_property
    def paste(self) -> PasteConfig:
        return PasteConfig(self.conf_text)

    @property
    def version(self) -> str:
        """The installed Swift release; CannotCheck when neither Swift itself nor a package says it."""
        part = self.parts.part("version", "the installed Swift release")
        version = (part.text.strip().splitlines() or [""])[0].strip() if part.ok else ""
        if not version:
            why = part.reason() if not part.ok else "exit code 0 with nothing printed"
            raise CannotCheck("could not read the installed Swift release (neither python3 `import swift` nor a "
                              f"python3-swift / openstack-swift-proxy package answered: {why})")
        return version

    def listening(self, port: int) -> list[str]:
        """Local addresses listening on TCP `port`; CannotCheck when neither ss nor netstat could list them."""
        part = self.parts.part("listen", "the listening sockets (ss -ltnH, netstat -ltn)")
        if not part.ok:
            raise CannotCheck(f"could not list the listening sockets (ss -ltnH, netstat -ltn): {part.reason()}")
        return listeners(part.text, port)

    @property
    def cache_dir(self) -> str:
        """The cache dir's `owner group mode type`, or 'missing'; CannotCheck when it could not be looked at."""
        return dir_state(self.parts.part("cache_dir", self.cache_path).result(), self.cache_path)

    @property
    def service(self) -> str:
        """The proxy unit's state as systemctl says it (active, inactive, failed ...), for the evidence only."""
        part = self.parts.get("service")
        if part is None:
            return "unknown (the batched read did not reach it)"
        word = part.text.strip()
        if part.rc in (0, 3, 4) and word and " " not in word:  # is-active: 3 not active, 4 no such unit
            return word
        return f"unknown ({part.reason()})"


def read_proxy_node(transport, conf: str, cache_dir: str, service: str) -> ProxyNode:
    return ProxyNode(batch.run(transport, collect_command(conf, cache_dir, service)), conf, cache_dir)


def stat_command(path: str) -> str:
    return f"stat -c '%U %G %a %F' -- {shlex.quote(path)}"


def dir_state(result: Result, path: str) -> str:
    """`owner group mode type` from stat_command's result, 'missing' when the path does not exist; CannotCheck
    when stat could not look (a directory on the way we may not search)."""
    if result.ok:
        return result.stdout.strip()  # rc judged: 0 here
    if _MISSING in result.stderr.lower():
        return "missing"
    raise CannotCheck(f"could not look at {path}: {result.reason()}")


def stat_dir(transport, path: str) -> str:
    """dir_state of `path` on the host, read now."""
    return dir_state(transport.run(stat_command(path)), path)  # rc judged: dir_state raises on any failure but 'missing'


def listeners(ss_output: str, port: int) -> list[str]:
    """Local addresses listening on TCP `port` in `ss -ltnH` (or `netstat -ltn`) output."""
    found = []
    for line in ss_output.splitlines():
        for tok in line.split():
            if re.fullmatch(rf"(\S+):{port}", tok) and not tok.startswith("0.0.0.0:*"):
                found.append(tok)
                break
    return found


# --- asking from the storage node whether URLs answer (as Keystone) --------------------------------------------
_FETCH = r"""
import json, sys, urllib.request, urllib.error
out = {}
for url in sys.argv[1:]:
    try:
        with urllib.request.urlopen(url, timeout=%(timeout)s) as r:
            out[url] = [r.status, r.read(4096).decode("utf-8", "replace")]
    except urllib.error.HTTPError as e:
        out[url] = [e.code, e.read(4096).decode("utf-8", "replace")]
    except Exception as e:
        out[url] = [0, "%%s: %%s" %% (type(e).__name__, getattr(e, "reason", e))]
print(json.dumps(out))
"""


def fetch_command(urls, timeout: float = 5) -> tuple[str, str]:
    """(command, stdin) that GETs each URL from the remote host with its own python3 and prints JSON."""
    return "python3 - " + " ".join(shlex.quote(u) for u in urls), _FETCH % {"timeout": timeout}


def parse_fetch(stdout: str, urls=()) -> dict[str, tuple[int, str]]:
    """url -> (HTTP status, body) from the fetch script's JSON (status 0: no HTTP answer, body says why);
    CannotCheck when the script printed no JSON or left out a URL asked for."""
    lines = stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1]) if lines else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise CannotCheck(f"the URL probe printed no result ({(lines or ['nothing'])[-1][:200]})")
    missing = [u for u in urls if u not in data]
    if missing:
        raise CannotCheck(f"the URL probe gave no answer for {', '.join(missing)}")
    return {k: (int(v[0]), str(v[1])) for k, v in data.items()}


def fetch_from(transport, urls, timeout: float = 5) -> dict[str, tuple[int, str]]:
    """GET each URL from `transport`'s host (where a service there would connect from)."""
    urls = list(urls)
    if not urls:
        return {}
    command, script = fetch_command(urls, timeout)
    out = transport.run(command, stdin=script, timeout=timeout * len(urls) + 10).output(
        f"URLs asked from {transport.name} with its python3")
    return parse_fetch(out, urls)
