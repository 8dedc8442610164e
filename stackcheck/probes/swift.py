"""Reading a Swift proxy node (SWF-3, SWF-5, S3-1): one SSH command returns the proxy's configuration, the
installed Swift release, the listening sockets, the cache directory and the service state; a second one asks,
FROM the storage node, whether the Keystone URLs of the configuration answer as Keystone (where the proxy itself
would connect from). The node's firewall is judged by the one evaluator, stackcheck/probes/iptables.py.

Parsers are pure and unit-tested on captured output (selftest/unit/test_probe_swift.py)."""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from functools import cached_property

from stackcheck.probes import sections
from stackcheck.probes.paste import PasteConfig
from stackcheck.verdicts import CannotCheck

MARK = "@@stackcheck-section "
RC_MARK = "@@stackcheck-rc "
PARTS = ("conf", "version", "listen", "cache_dir", "service")
_MISSING = "no such file or directory"


def collect_command(conf: str, cache_dir: str, service: str) -> str:
    """One round trip; after each part's output, on a line of its own, that part's exit code (a read that failed
    must be told from one that found nothing: `cmd1; cmd2` alone would hide it)."""
    q = shlex.quote
    parts = {
        # 2>&1: cat's own words tell a missing file from a denied one
        "conf": f"cat -- {q(conf)} 2>&1",
        # the release: Swift's own version (any distribution), else the package's
        "version": "python3 -c 'import swift; print(swift.__version__)' 2>/dev/null"
                   " || dpkg-query -W -f='${Version}' python3-swift 2>/dev/null"
                   " || rpm -q --qf '%{VERSION}' openstack-swift-proxy 2>&1",
        "listen": "ss -ltnH 2>/dev/null || netstat -ltn 2>&1",
        "cache_dir": stat_command(cache_dir),
        "service": f"systemctl is-active {q(service)} 2>&1",
    }
    assert set(parts) == set(PARTS)
    return "\n".join(f"echo '{MARK}{name}'; {cmd}\nprintf '\\n{RC_MARK}%s\\n' \"$?\"" for name, cmd in parts.items())


@dataclass(frozen=True)
class Part:
    """One part of the batched read: its output and its exit code (None: the output ended before it)."""
    text: str
    rc: int | None

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def why(self) -> str:
        last = (self.text.strip().splitlines() or [""])[-1][:200]
        code = "no exit code (output cut short)" if self.rc is None else f"exit code {self.rc}"
        return f"{code}{': ' + last if last else ''}"


def split_parts(stdout: str) -> dict[str, Part]:
    """name -> Part of collect_command's output; a part whose exit code line is absent has rc None."""
    out = {}
    for name, body in sections.split(stdout, MARK, is_name=lambda n: n in PARTS).items():
        head, found, tail = body.rpartition("\n" + RC_MARK)
        rc = tail.strip()
        out[name] = Part(head, int(rc)) if found and rc.lstrip("-").isdigit() else Part(body, None)
    return out


class ProxyNode:
    """The proxy node as one batched read saw it. Each part is judged where a check uses it: a part that could
    not be read raises CannotCheck there (a check that does not need it is not held up by it)."""

    def __init__(self, parts: dict[str, Part], conf_path: str = "proxy-server.conf",
                 cache_path: str = "the cache dir"):
        self.parts = parts
        self.conf_path, self.cache_path = conf_path, cache_path

    @classmethod
    def parse(cls, stdout: str, conf_path: str = "proxy-server.conf", cache_path: str = "the cache dir") -> "ProxyNode":
        return cls(split_parts(stdout), conf_path, cache_path)

    def _part(self, name: str) -> Part:
        return self.parts.get(name) or Part("", None)

    @property
    def conf_missing(self) -> bool:
        """True when the configuration file does not exist (observed: cat said so)."""
        part = self._part("conf")
        return not part.ok and _MISSING in part.text.lower()

    @property
    def conf_text(self) -> str:
        """The configuration's text ('' when it does not exist); CannotCheck when it exists but cannot be read."""
        part = self._part("conf")
        if part.ok:
            return part.text
        if self.conf_missing:
            return ""
        raise CannotCheck(f"could not read {self.conf_path}: {_reason(part)}")

    @cached_property
    def paste(self) -> PasteConfig:
        return PasteConfig(self.conf_text)

    @property
    def version(self) -> str:
        """The installed Swift release; CannotCheck when neither Swift itself nor a package says it."""
        part = self._part("version")
        version = (part.text.strip().splitlines() or [""])[0].strip() if part.ok else ""
        if not version:
            raise CannotCheck("could not read the installed Swift release (neither python3 `import swift` nor a "
                              f"python3-swift / openstack-swift-proxy package answered: {part.why()})")
        return version

    def listening(self, port: int) -> list[str]:
        """Local addresses listening on TCP `port`; CannotCheck when neither ss nor netstat could list them."""
        part = self._part("listen")
        if not part.ok:
            raise CannotCheck(f"could not list the listening sockets (ss -ltnH, netstat -ltn): {_reason(part)}")
        return listeners(part.text, port)

    @property
    def cache_dir(self) -> str:
        """The cache dir's `owner group mode type`, or 'missing'; CannotCheck when it could not be looked at."""
        return dir_state(self._part("cache_dir"), self.cache_path)

    @property
    def service(self) -> str:
        """The proxy unit's state as systemctl says it (active, inactive, failed ...), for the evidence only."""
        part = self._part("service")
        word = part.text.strip()
        if part.rc in (0, 3, 4) and word and " " not in word:  # is-active: 3 not active, 4 no such unit
            return word
        return f"unknown ({part.why()})"


def read_proxy_node(transport, conf: str, cache_dir: str, service: str) -> ProxyNode:
    out = transport.run(collect_command(conf, cache_dir, service)).output("the Swift proxy node's state")
    return ProxyNode.parse(out, conf, cache_dir)


def stat_command(path: str) -> str:
    return f"stat -c '%U %G %a %F' -- {shlex.quote(path)} 2>&1"


def dir_state(part: Part, path: str) -> str:
    """`owner group mode type` from stat_command's output, 'missing' when the path does not exist; CannotCheck
    when stat could not look (a directory on the way we may not search)."""
    if part.ok:
        return part.text.strip()
    if _MISSING in part.text.lower():
        return "missing"
    raise CannotCheck(f"could not look at {path}: {_reason(part)}")


def stat_dir(transport, path: str) -> str:
    """dir_state of `path` on the host, read now."""
    r = transport.run(stat_command(path))
    return dir_state(Part(r.stdout, r.rc), path)  # rc judged: dir_state raises on any failure but 'missing'


def _reason(part: Part) -> str:
    text = part.text.lower()
    if "permission denied" in text or "operation not permitted" in text:
        return f"permission denied ({part.why()}): run as root or with become"
    if part.rc == 127 or "not found" in text:
        return f"command not found ({part.why()}): install it, or run as a user whose PATH has it"
    return part.why()


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
