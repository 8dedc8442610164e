"""Repairs of the Swift proxy node: the S3 pipeline for the installed release (S3-1), authtoken pointed at
Keystone (SWF-3), and the proxy's port open and served (SWF-5).

Every edit of proxy-server.conf is validated before it replaces the old file by loading the candidate as Swift
loads it (paste deploy: every filter's entry point resolved and constructed), then the proxy is restarted and
waited for (/healthcheck); the engine re-runs the check and rolls back on failure."""
from __future__ import annotations

import shlex

from fixes import firewall
from stackcheck.fixing import FileEdit, FixDeclined, fixer
from stackcheck.probes import catalog, paste, swift
from stackcheck.probes import iptables as ipt

VALIDATE = "python3 -c 'import sys; from swift.common.wsgi import loadapp; loadapp(sys.argv[1])' {path}"
TRUE = ("true", "1", "yes", "on", "t", "y")


def _node(ctx) -> swift.ProxyNode:
    lab = ctx.lab
    return swift.read_proxy_node(ctx.transport, lab.get("swift.proxy_conf"), lab.get("swift.cache_dir"),
                                 lab.get("swift.proxy_service"))


def restart_command(ctx, node: swift.ProxyNode) -> str:
    """Restart the proxy and wait (bounded) until it answers /healthcheck on its own port."""
    defaults = node.paste.defaults()
    port = defaults.get("bind_port") or str(ctx.lab.get("swift.port"))
    bind = defaults.get("bind_ip") or "127.0.0.1"
    bind = "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind
    probe = (f"python3 -c \"import urllib.request as u; u.urlopen('http://{bind}:{port}/healthcheck', timeout=2)\""
             " 2>/dev/null")
    service = shlex.quote(ctx.lab.get("swift.proxy_service"))
    return (f"systemctl restart {service} && for i in $(seq 1 60); do {probe} && exit 0; sleep 0.5; done; "
            f"echo 'the proxy did not answer /healthcheck within 30 s' >&2; exit 1")


def _apply_conf(ctx, node: swift.ProxyNode, ini: paste.IniFile) -> None:
    conf = ctx.lab.get("swift.proxy_conf")
    if ini.text == node.conf_text:
        return
    ctx.edits.append(FileEdit(conf, node.conf_text, ini.text, validate=VALIDATE))
    ctx.command(restart_command(ctx, node), description=f"restart {ctx.lab.get('swift.proxy_service')} and wait "
                                                        "for /healthcheck")


@fixer("S3-1", risk="restart", checks=["test_s3_middleware_in_the_order_the_release_needs"], roles=["storage"])
def put_s3_pipeline_in_release_order(ctx):
    """Rewrite the proxy pipeline in the S3 order the installed release needs (and give s3token service credentials)"""
    node = _node(ctx)
    conf = node.paste
    # the plan depends on the middleware in the pipeline (its order and s3token), not on the release number
    verdict = paste.s3_pipeline_verdict(conf, "")
    if not verdict.middleware:
        raise FixDeclined(f"the pipeline has no S3 middleware ({_s3api_installed(ctx)}): adding an S3 API to a proxy "
                          "opens a new way in, a decision for the site, not a repair; add s3api and s3token by hand "
                          "(authtoken s3api s3token keystoneauth), or narrow stackcheck.scope if it offers no S3")
    roles = [e.role for e in conf.pipeline()]
    missing = [r for r in verdict.expected if r not in roles]
    if missing:
        raise FixDeclined(f"the pipeline lacks {', '.join(missing)} ({verdict.middleware} needs "
                          f"{' '.join(verdict.expected)}): adding middleware is not a reordering; add it by hand")
    ini = paste.IniFile(node.conf_text)
    names = conf.pipeline_names()
    stuck = ""
    if verdict.found != list(verdict.expected):
        new = paste.reorder_pipeline(names, roles, verdict.expected)
        ini.set("pipeline:main", "pipeline", " ".join(new))
    s3token = conf.filter_of_role("s3token")
    if verdict.middleware == "s3api" and s3token is not None:
        section = s3token.section
        if s3token.entry not in paste.S3TOKEN_FOR["s3api"]:
            for key in ("paste.filter_factory", "paste.filter_app_factory"):
                ini.remove(section, key)
            ini.set(section, "use", "egg:swift#s3token")
        opts = {**conf.defaults(), **conf.options(s3token)}
        authtoken = conf.options(conf.filter_of_role("authtoken"))
        if not paste.has_service_auth(opts):
            creds = paste.service_auth(authtoken)
            if paste.has_service_auth(creds):
                # the proxy's own service user (authtoken's): Keystone 22 wants service auth on /v3/s3tokens
                for key, value in creds.items():
                    ini.set(section, key, value)
                ctx.note(f"[{section}] gets the service credentials of [filter:authtoken] (user "
                         f"{creds.get('username')}); values are not shown")
            else:
                stuck = (f"[{section}] has no service credentials and [filter:authtoken] has none to copy: give "
                         f"[{section}] a service user (auth_url, username, password, project_name) by hand")
        if not opts.get("auth_uri") and paste.keystone_urls(authtoken):
            root = catalog.root_of(next(iter(paste.keystone_urls(authtoken).values())))
            ini.set(section, "auth_uri", root + "/v3")
    if stuck and ini.text == node.conf_text:
        raise FixDeclined(stuck)  # with nothing else to change, a silent no-op would hide why
    if stuck:
        ctx.note(stuck)
    _apply_conf(ctx, node, ini)


def _s3api_installed(ctx) -> str:
    """Whether Swift's s3api middleware is installed on the node, in words for a declined fix."""
    r = ctx.run("python3 -c 'import swift.common.middleware.s3api' 2>&1")
    if r.ok:
        return "Swift's s3api is installed"
    if r.rc == 1 and "No module named" in r.stdout:  # rc judged: exit 1 with Python's own words, nothing else
        return "Swift's s3api is not installed: Swift >= 2.18 ships it"
    return f"whether s3api is installed could not be read: {r.reason()}"


@fixer("SWF-3", risk="restart", checks=["test_proxy_authenticates_against_keystone"], roles=["storage"])
def point_authtoken_at_keystone(ctx):
    """Point authtoken at the inventory's Keystone, delay the auth decision, create the signing/cache dir"""
    node = _node(ctx)
    conf = node.paste
    auth_el = conf.filter_of_role("authtoken")
    roles = [e.role for e in conf.pipeline()]
    if auth_el is None or "keystoneauth" not in roles:
        raise FixDeclined("the pipeline lacks " + " and ".join(r for r in ("authtoken", "keystoneauth") if r not in roles)
                          + ": adding Keystone auth to a proxy changes who gets in, a decision for the site, not a "
                          "repair; add it by hand (... authtoken ... keystoneauth proxy-server)")
    if roles.index("authtoken") > roles.index("keystoneauth"):
        raise FixDeclined("authtoken comes after keystoneauth in the pipeline: reorder it by hand (the fixer only "
                          "edits [filter:authtoken])")
    ini = paste.IniFile(node.conf_text)
    section = auth_el.section
    opts = conf.options(auth_el)
    keystone = catalog.keystone_root(ctx.lab)
    urls = paste.keystone_urls(opts)
    answers = swift.fetch_from(ctx.transport, sorted(set(urls.values())), timeout=5)
    bad = {k: u for k, u in urls.items() if not catalog.keystone_version(*answers[u])}
    if (bad or not urls) and keystone:
        # modern option names; the Kilo-era identity_uri/auth_uri go when they are the broken ones
        for legacy in ("identity_uri", "auth_uri"):
            if legacy in bad:
                ini.remove(section, legacy)
        if not opts.get("www_authenticate_uri") or "www_authenticate_uri" in bad or "auth_uri" in bad:
            ini.set(section, "www_authenticate_uri", keystone)
        if not opts.get("auth_url") or "auth_url" in bad or "identity_uri" in bad:
            ini.set(section, "auth_url", keystone)
        ctx.note(f"Keystone taken from the inventory's cloud: {keystone}; was: "
                 + ", ".join(f"{k} = {u}" for k, u in urls.items()))
    elif bad or not urls:
        raise FixDeclined("authtoken's Keystone URLs do not answer as Keystone and the inventory names no Keystone to "
                          "point them at: set stackcheck.cloud.name (or give a host the controller role)")
    if opts.get("delay_auth_decision", "false").strip().lower() not in TRUE:
        ini.set(section, "delay_auth_decision", "true")
    cache_dir = opts.get("signing_dir") or ctx.lab.get("swift.cache_dir")
    state = swift.stat_dir(ctx.transport, cache_dir)  # CannotCheck when it cannot be looked at
    if state != "missing" and not state.endswith("directory"):
        raise FixDeclined(f"the signing/cache dir {cache_dir} exists but is not a directory ({state}): move it "
                          "away by hand (the fixer does not remove what it did not make)")
    if state == "missing":
        user = node.paste.defaults().get("user") or "swift"
        ctx.command(f"install -d -o {shlex.quote(user)} -g {shlex.quote(user)} -m 0700 {shlex.quote(cache_dir)}",
                    undo=f"rmdir {shlex.quote(cache_dir)}")
    if ini.text != node.conf_text:
        _apply_conf(ctx, node, ini)


# SWF-5 has two fixers, tried in this order: starting the proxy is a `restart`; opening its port in the firewall
# lets in sources that were refused, so it is `access` (only with --fix-access) and never hides in the restart.
@fixer("SWF-5", risk="restart", checks=["test_proxy_listens_and_healthcheck_answers"], roles=["storage"])
def start_proxy(ctx):
    """Start the Swift proxy if nothing listens on its port, and wait for /healthcheck.

    Declined when it listens on loopback only: neither a restart nor the firewall changes that."""
    node = _node(ctx)
    port = int(ctx.lab.get("swift.port"))
    if not node.listening(port):
        ctx.command(restart_command(ctx, node),
                    description=f"(re)start {ctx.lab.get('swift.proxy_service')} and wait for /healthcheck")
        return
    if _loopback_only(node, port):
        raise FixDeclined(f"the proxy listens on loopback only ({', '.join(node.listening(port))}): set bind_ip in "
                          "proxy-server.conf; no firewall change would help")


@fixer("SWF-5", risk="access", checks=["test_proxy_listens_and_healthcheck_answers"], roles=["storage"])
def open_proxy_port(ctx):
    """Let the proxy's port through the node's running firewall (an ACCEPT before the rule that refuses it).

    Risk `access`: it opens the port to sources the firewall refused until now, so it runs only with
    --fix-access. Nothing to do while the proxy does not listen beyond loopback (start_proxy's part)."""
    node = _node(ctx)
    port = int(ctx.lab.get("swift.port"))
    if not node.listening(port) or _loopback_only(node, port):
        return
    # the firewall, judged by the one evaluator: refused -> an ACCEPT before the rule that refuses (judged before
    # it is planned); uncertain -> declined, naming the rule that may match part of the traffic
    traffic = ipt.Traffic(port, interfaces=firewall.interfaces(ctx))
    rule = f"-p tcp -m tcp --dport {port} -m comment --comment stackcheck-SWF-5 -j ACCEPT"
    if firewall.open_running(ctx, firewall.running_rules(ctx), [traffic], rule, f"the firewall of {ctx.target}"):
        ctx.note("the rule is in the running firewall only: add it to the node's saved rules (/etc/sysconfig/"
                 "iptables, /etc/iptables/rules.v4, firewalld ...) so a reboot keeps it")
        return
    why = catalog.tcp_reason(ctx.target.address, port, min(5.0, float(ctx.lab.get("connect_timeout"))))
    if why is not None:
        raise FixDeclined(f"the node's firewall accepts TCP {port} from anywhere, yet a connection from here fails "
                          f"({why}): what blocks it is outside the node (security group, a firewall on the way)")


def _loopback_only(node: swift.ProxyNode, port: int) -> bool:
    return all(addr.startswith(("127.", "[::1]", "::1")) for addr in node.listening(port))
