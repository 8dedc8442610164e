"""Reading a Swift proxy node (SWF-3, SWF-5, S3-1): one SSH command returns the proxy's configuration, the
installed Swift release, the listening sockets, the cache directory and the service state; a second one asks,
FROM the storage node, whether the Keystone URLs of the configuration answer as Keystone (where the proxy itself
would connect from). The node's firewall is judged by the one evaluator, stackcheck/probes/iptables.py.

Parsers are pure and unit-tested on captured output (selftest/unit/test_probe_swift.py)."""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

from stackcheck.probes import sections
from stackcheck.probes.paste import PasteConfig

MARK = "@@stackcheck-section "


def collect_command(conf: str, cache_dir: str, service: str) -> str:
    q = shlex.quote
    parts = {
        "conf": f"cat -- {q(conf)}",
        # the release: Swift's own version (any distribution), else the package's
        "version": "python3 -c 'import swift; print(swift.__version__)' 2>/dev/null"
                   " || dpkg-query -W -f='${Version}' python3-swift 2>/dev/null"
                   " || rpm -q --qf '%{VERSION}' openstack-swift-proxy 2>/dev/null",
        "listen": "ss -ltnH 2>/dev/null || netstat -ltn 2>/dev/null",
        "cache_dir": f"stat -c '%U %G %a %F' -- {q(cache_dir)} 2>&1",
        "service": f"systemctl is-active {q(service)} 2>&1 || true",
        "user": "id -un swift 2>/dev/null || true",
    }
    return "; ".join(f"echo '{MARK}{name}'; {cmd}" for name, cmd in parts.items())


@dataclass
class ProxyNode:
    conf_text: str
    version: str
    listen: str
    cache_dir: str
    service: str
    conf_error: str = ""
    paste: PasteConfig = field(init=False)

    def __post_init__(self):
        self.paste = PasteConfig(self.conf_text)

    @classmethod
    def parse(cls, stdout: str) -> "ProxyNode":
        s = sections.split(stdout, MARK)
        conf = s.get("conf", "")
        error = ""
        if conf.startswith("cat: "):
            error, conf = conf.strip(), ""
        version = (s.get("version", "").strip().splitlines() or [""])[0]
        return cls(conf, version, s.get("listen", ""), s.get("cache_dir", "").strip(),
                   s.get("service", "").strip(), error)

    def listening(self, port: int) -> list[str]:
        return listeners(self.listen, port)


def read_proxy_node(transport, conf: str, cache_dir: str, service: str) -> ProxyNode:
    return ProxyNode.parse(transport.run(collect_command(conf, cache_dir, service)).stdout)


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


def parse_fetch(stdout: str) -> dict[str, tuple[int, str]]:
    data = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
    return {k: (int(v[0]), str(v[1])) for k, v in data.items()}


def fetch_from(transport, urls, timeout: float = 5) -> dict[str, tuple[int, str]]:
    if not urls:
        return {}
    command, script = fetch_command(urls, timeout)
    result = transport.run(command, stdin=script, timeout=timeout * len(urls) + 10)
    if result.rc != 0:
        raise RuntimeError(f"{transport.name}: cannot run python3 to probe URLs: {result.stderr.strip()[:200]}")
    return parse_fetch(result.stdout)

