"""The Swift proxy node: SWF-5, its port (listening, let through the node's firewall, /healthcheck OK); SWF-3 and
S3-1, what its paste pipeline really does with a request (proxy-server.conf parsed, middleware identified by entry
point; Keystone URLs asked from the storage node itself). The port first: with --fix, a repaired port lets the
checks after it see the proxy again.

Repairs: fixes/storage_proxy.py (start the proxy, open its port; rewrite the pipeline/filter sections, validate
by loading the app, restart)."""
from __future__ import annotations

import pytest
import requests

from stackcheck.cloudtls import cloud_verify
from stackcheck.probes import catalog, paste, swift
from stackcheck.probes import iptables as ipt
from stackcheck.verdicts import CannotCheck
from tests_storage.node import proxy_conf, read_proxy_node

TRUE = ("true", "1", "yes", "on", "t", "y")


@pytest.mark.requirement("SWF-5")
@pytest.mark.role("storage")
@pytest.mark.severity("critical")
def test_proxy_listens_and_healthcheck_answers(target, transport, lab, evidence):
    proxy_node = read_proxy_node(transport, lab)
    port = int(lab.get("swift.port"))
    timeout = min(5.0, float(lab.get("connect_timeout")))
    listening = proxy_node.listening(port)
    evidence["service"] = f"{lab.get('swift.proxy_service')} {proxy_node.service}"
    evidence["listening"] = ", ".join(listening) or "nothing"
    assert listening, (f"{target.name}: nothing listens on TCP {port} ({lab.get('swift.proxy_service')} is "
                       f"{proxy_node.service}); expected the Swift proxy")
    firewall = _proxy_port_in_firewall(transport, port)
    evidence["firewall"] = firewall.describe()
    why = catalog.tcp_reason(target.address, port, timeout)
    assert why is None, (f"{target.name}: the proxy listens on {', '.join(listening)} but a connection from here to "
                         f"{target.address}:{port} fails ({why}): {_firewall_says(firewall)}")
    if firewall.uncertain:
        raise CannotCheck(firewall.cannot_judge(f"the firewall of {target.name}") + " (a connection from here "
                          "got through; from elsewhere it may not)")
    assert firewall.accepted, (f"{target.name}: the firewall does not accept TCP {port} from anywhere "
                               f"({firewall.describe()}), although a connection from here got through")
    url = f"http://{target.address}:{port}/healthcheck"
    try:
        resp = requests.get(url, timeout=timeout)
        status, body = resp.status_code, resp.text.strip()
    except requests.RequestException as exc:
        status, body = 0, type(exc).__name__
    evidence["healthcheck"] = f"{url} -> {status} {body[:40]}"
    assert status == 200 and body == "OK", f"{url} answered {status} {body[:80]!r}, expected 200 'OK'"


@pytest.mark.requirement("SWF-3")
@pytest.mark.role("storage")
@pytest.mark.severity("critical")
def test_proxy_authenticates_against_keystone(target, transport, lab, evidence):
    proxy_node = read_proxy_node(transport, lab)
    conf = proxy_conf(proxy_node, target)
    roles = [e.role for e in conf.pipeline()]
    evidence["pipeline"] = " ".join(conf.pipeline_names())
    problems = []
    for role in ("authtoken", "keystoneauth"):
        if role not in roles:
            problems.append(f"the pipeline has no {role} (add it by hand, `... authtoken ... keystoneauth ... "
                            "proxy-server`: the fixer does not add middleware)")
    if "authtoken" in roles and "keystoneauth" in roles and roles.index("authtoken") > roles.index("keystoneauth"):
        problems.append("authtoken comes after keystoneauth (reorder the pipeline by hand)")
    auth = conf.options(conf.filter_of_role("authtoken"))
    urls = paste.keystone_urls(auth)
    if "authtoken" in roles and not urls:
        problems.append("authtoken names no Keystone URL (www_authenticate_uri/auth_url, or auth_uri/identity_uri)")
    answers = swift.fetch_from(transport, sorted(set(urls.values())), timeout=min(5.0, lab.get("connect_timeout")))
    for option, url in urls.items():
        status, body = answers[url]
        version = catalog.keystone_version(status, body)
        evidence[option] = f"{url} -> {version or (body[:80] if status == 0 else f'HTTP {status}')}"
        if not version:
            what = body[:120] if status == 0 else f"HTTP {status}, not Keystone's version document"
            problems.append(f"[filter:authtoken] {option} = {url} does not answer as Keystone from {target.name} "
                            f"({what})")
    delay = auth.get("delay_auth_decision", "false")
    evidence["delay_auth_decision"] = delay
    if "authtoken" in roles and delay.strip().lower() not in TRUE:
        problems.append(f"[filter:authtoken] delay_auth_decision = {delay} (expected true: S3, tempurl and public "
                        "containers need the decision left to keystoneauth)")
    cache_dir = auth.get("signing_dir") or lab.get("swift.cache_dir")
    # stat that could not look (a directory on the way we may not search) is CannotCheck, never "missing"
    state = proxy_node.cache_dir if not auth.get("signing_dir") else swift.stat_dir(transport, cache_dir)
    evidence["signing/cache dir"] = f"{cache_dir}: {state}"
    if state == "missing":
        problems.append(f"the signing/cache dir {cache_dir} does not exist")
    elif not state.endswith("directory"):
        problems.append(f"the signing/cache dir {cache_dir} is not a directory ({state}): move it away by hand")
    assert not problems, f"{target.name} {lab.get('swift.proxy_conf')}: " + "; ".join(problems)


def _firewall_says(firewall: ipt.PortVerdict) -> str:
    if firewall.refused:
        return f"the storage node's firewall does not let it in ({firewall.describe()})"
    if firewall.uncertain:
        return f"the storage node's firewall may not let it in ({firewall.describe()})"
    return f"the storage node's firewall lets it in ({firewall.describe()}): something on the way blocks it"


def _proxy_port_in_firewall(transport, port: int) -> ipt.PortVerdict:
    """The storage node's running firewall for a NEW TCP connection to the proxy port from anywhere."""
    traffic = ipt.Traffic(port, interfaces=ipt.read_interfaces(transport))
    return ipt.judge_port(ipt.read_running(transport), traffic)


@pytest.mark.requirement("S3-1")
@pytest.mark.role("storage")
@pytest.mark.severity("critical")
def test_s3_middleware_in_the_order_the_release_needs(target, transport, lab, evidence):
    proxy_node = read_proxy_node(transport, lab)
    conf = proxy_conf(proxy_node, target)
    version = proxy_node.version  # the order depends on the installed release: unreadable is CannotCheck
    verdict = paste.s3_pipeline_verdict(conf, version)
    evidence["swift"] = version
    evidence["middleware"] = verdict.middleware or "none"
    evidence["order"] = " ".join(verdict.found)
    problems = list(verdict.problems)
    s3token = conf.filter_of_role("s3token")
    if verdict.middleware == "s3api" and s3token is not None:
        opts = {**conf.defaults(), **conf.options(s3token)}  # s3token reads [DEFAULT] too (global_conf)
        auth_uri = opts.get("auth_uri", "")
        if not auth_uri:
            problems.append("[filter:s3token] has no auth_uri (Keystone's /v3)")
        else:
            problems += _s3token_problems(target, transport, auth_uri, opts, lab, evidence)
    assert not problems, (f"{target.name} {lab.get('swift.proxy_conf')}: " + "; ".join(problems)
                          + f" (pipeline: {' '.join(conf.pipeline_names())})")


def _s3token_problems(target, transport, auth_uri: str, opts: dict, lab, evidence) -> list[str]:
    """Does s3token reach Keystone, and does it hold the service credentials that Keystone asks for?"""
    timeout = min(5.0, lab.get("connect_timeout"))
    # from the storage node, where s3token itself connects from: not answering as Keystone there is a finding
    status, body = swift.fetch_from(transport, [auth_uri], timeout=timeout)[auth_uri]
    if not catalog.keystone_version(status, body):
        what = body[:120] if status == 0 else f"HTTP {status}, not Keystone's version document"
        return [f"[filter:s3token] auth_uri = {auth_uri} does not answer as Keystone from {target.name} ({what})"]
    # whether Keystone wants service credentials on /v3/s3tokens: asked from here (no answer: CannotCheck)
    needs, answered = catalog.probe_s3tokens(catalog.root_of(auth_uri), timeout, cloud_verify(lab))
    has = paste.has_service_auth(opts)
    evidence["s3tokens"] = (f"{auth_uri}: {answered}, service auth "
                            f"{'required' if needs else 'not required' if needs is False else 'unknown'}; "
                            f"s3token {'has' if has else 'has no'} service credentials")
    if needs is None:
        return [f"[filter:s3token] auth_uri = {auth_uri} answers as Keystone but not as its s3tokens API ({answered})"]
    if needs and not has:
        return [f"[filter:s3token] has no service credentials (auth_url, username, password, project) but the "
                f"Keystone at {auth_uri} refuses unauthenticated /v3/s3tokens calls ({answered}): every S3 "
                f"request fails with SignatureDoesNotMatch, like a wrong secret"]
    return []
