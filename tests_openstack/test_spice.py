"""SPICE HTML5 console access (the notes' "Enable SPICE HTML5 Console Access in OpenStack Kilo"): the control
node proxies, the compute node serves, nova.conf on both says so, the firewall lets 6082 in and keeps it so."""
import pytest
import requests

from stackcheck.cloudtls import cloud_verify
from stackcheck.probes import batch, cloudapi, hostconf, ini, spice, spice_console
from stackcheck.probes import iptables as ipt
from stackcheck.verdicts import CannotCheck, Finding, need

PROXY_UNITS, PERSISTED_RULES, proxy_unit = spice.PROXY_UNITS, spice.PERSISTED_RULES, spice.proxy_unit


def nova_conf(transport, lab, evidence, extra=None):
    path = lab.get("spice.nova_conf")
    bundle = hostconf.read(transport, [path], ["nova"], extra)
    text = bundle.files[path]  # CannotCheck when it exists but cannot be read (/etc/nova is nova's, mode 750)
    if text is None:
        raise CannotCheck(f"cannot check: {path} does not exist: set stackcheck.spice.nova_conf to the file Nova reads")
    release = bundle.release("nova")
    evidence["nova"] = f"{bundle.version_text('nova')} ({release or 'release unknown'})"
    if extra:
        return ini.parse(text), release, bundle
    return ini.parse(text), release


@pytest.mark.requirement("SPC-1")
@pytest.mark.role("controller", "compute")
@pytest.mark.severity("medium")
def test_spice_enabled_and_vnc_off(target, transport, lab, evidence):
    conf, release, bundle = nova_conf(transport, lab, evidence, {"novnc": spice.NOVNC_COMMAND})
    evidence["vnc"] = spice.vnc_state(conf, release)[1]
    evidence["spice"] = (f"enabled={conf.get('spice', 'enabled')} agent_enabled={conf.get('spice', 'agent_enabled')}"
                         f" keymap={conf.get('spice', 'keymap')}")
    problems = spice.spice_problems(conf, release, lab.get("spice.keymap"))
    running = bundle.output("novnc", "whether the noVNC proxy runs (systemctl is-active)").split()
    evidence["novnc proxy"] = ",".join(running) or "not running"
    if running:
        problems.append(f"the noVNC proxy runs ({', '.join(running)}; expected stopped and disabled)")
    assert not problems, f"{lab.get('spice.nova_conf')} on {target}: " + "; ".join(problems)


@pytest.mark.requirement("SPC-2")
@pytest.mark.role("controller")
@pytest.mark.severity("medium")
def test_spice_proxy_binds_all_and_base_url_answers(target, transport, lab, evidence):
    conf, _ = nova_conf(transport, lab, evidence)
    port = lab.get("spice.proxy_port")
    names = {target.address, target.name, str(target.vars.get("ansible_host"))}
    url = spice.base_url(conf)
    evidence["html5proxy"] = f"host={conf.get('spice', 'html5proxy_host')} port={conf.get('spice', 'html5proxy_port')}"
    evidence["base_url"] = url
    problems = spice.proxy_problems(conf, names, port)
    assert not problems, f"{lab.get('spice.nova_conf')} on {target}: " + "; ".join(problems)
    try:  # from where a browser would open it: this machine, not the control node itself
        r = requests.get(url, timeout=lab.get("connect_timeout"), verify=cloud_verify(lab))
        evidence["base_url_status"] = r.status_code
    except requests.RequestException as exc:
        raise Finding(f"html5proxy_base_url {url} does not answer: {type(exc).__name__}: {str(exc)[:160]}") \
            from None
    assert r.status_code == 200, f"html5proxy_base_url {url} answered HTTP {r.status_code} (expected 200)"


@pytest.mark.requirement("SPC-2")
@pytest.mark.role("controller")
@pytest.mark.severity("medium")
def test_spice_console_of_an_instance_reaches_it(cloud, lab, evidence):
    """The console Nova hands out for a long-lived instance really reaches it: through the proxy, a SPICE link
    request gets the SPICE server's reply (the base URL's page answering proves only that the proxy serves files)."""
    names = need(lab, "cloud.long_lived_instances", "an instance whose SPICE console the check can open")
    cloudapi.require_service(cloud, "compute", "consoles are Nova's")
    active = sorted((s for s in cloud.compute.servers(all_projects=True) if s.name in names and s.status == "ACTIVE"),
                    key=lambda s: s.name)
    if not active:
        raise CannotCheck(f"cannot check a console: no long-lived instance is ACTIVE ({', '.join(names)}; see OS-5)")
    server = active[0]
    evidence["instance"] = f"{server.name} ({server.id})"
    try:
        url = cloud.compute.create_console(server, console_type="spice-html5")["url"]
    except Exception as exc:  # noqa: BLE001 - openstacksdk raises HttpException or a transport error: both findings
        raise Finding(f"Nova gave no SPICE console for {server.name}: {type(exc).__name__}: {str(exc)[:200]}",
                      remediation="see nova-api's log (RPC to nova-compute) and nova-compute's [spice] settings") \
            from None
    evidence["console"] = spice_console.without_token(url)
    reached = spice_console.reach(url, lab.get("connect_timeout"))
    evidence["answer"] = reached.detail
    assert reached.ok, f"SPICE console of {server.name} ({spice_console.without_token(url)}): {reached.detail}"


@pytest.mark.requirement("SPC-3")
@pytest.mark.role("compute")
@pytest.mark.severity("medium")
def test_spice_server_addresses_on_compute(target, transport, lab, evidence):
    conf, _ = nova_conf(transport, lab, evidence)
    internal = str(target.vars.get("stackcheck_internal_address") or target.address)
    evidence["server_listen"] = spice.substitute(conf, conf.get("spice", "server_listen"))
    evidence["server_proxyclient_address"] = spice.substitute(conf, conf.get("spice", "server_proxyclient_address"))
    problems = spice.compute_problems(conf, target.address, internal)
    assert not problems, f"{lab.get('spice.nova_conf')} on {target}: " + "; ".join(problems)


@pytest.mark.requirement("SPC-4")
@pytest.mark.role("controller")
@pytest.mark.severity("high")
def test_spice_port_open_in_running_firewall(target, transport, lab, evidence):
    port = lab.get("spice.proxy_port")
    traffic = ipt.Traffic(port, interfaces=ipt.read_interfaces(transport))
    verdict = ipt.judge_port(ipt.read_running(transport), traffic)
    evidence["running"] = verdict.describe()
    _judge_spice_port(verdict, f"the running firewall of {target}")


@pytest.mark.requirement("SPC-4")
@pytest.mark.role("controller")
@pytest.mark.severity("high")
def test_spice_port_open_in_persisted_firewall(target, transport, lab, evidence):
    port = lab.get("spice.proxy_port")
    candidates = [lab.get("spice.persisted_rules")] if lab.get("spice.persisted_rules") else list(PERSISTED_RULES)
    bundle = hostconf.read(transport, candidates)
    path, text = bundle.first(candidates)
    assert path is not None, f"{target} has no persisted firewall rules ({' or '.join(candidates)}): " \
                             f"the SPICE rule is lost at the next reboot"
    verdict = ipt.judge_port(ipt.parse_save(text), ipt.Traffic(port, interfaces=ipt.read_interfaces(transport)))
    evidence["persisted"] = f"{path}: {verdict.describe()}"
    _judge_spice_port(verdict, f"{path} on {target}", " (lost at the next reboot or reload)")


def _judge_spice_port(verdict: ipt.PortVerdict, where: str, consequence: str = "") -> None:
    """certainly accepted: pass; certainly refused: a finding naming the rule; uncertain: cannot check."""
    if verdict.uncertain:
        raise CannotCheck(verdict.cannot_judge(where))
    port = verdict.traffic.port
    assert verdict.accepted, f"{where} does not accept TCP {port} from anywhere{consequence}: {verdict.describe()}"


@pytest.mark.requirement("SPC-5")
@pytest.mark.role("controller")
@pytest.mark.severity("high")
def test_spice_proxy_service_enabled_running_listening(target, transport, lab, evidence):
    port = lab.get("spice.proxy_port")
    unit = proxy_unit(transport, lab)
    if unit is None:
        raise Finding(f"{target} has no SPICE proxy unit ({' or '.join(PROXY_UNITS)})",
                      remediation="install the SPICE proxy (Debian: nova-consoleproxy; RDO: "
                                  "openstack-nova-spicehtml5proxy), then pytest --fix enables and starts it")
    found = batch.run(transport, spice.service_command(unit, port))
    enabled, active, listening = spice.service_state(found, unit)
    evidence.update(unit=unit, enabled=enabled, active=active, listening=",".join(listening) or "nothing")
    problems = []
    if enabled != "enabled":
        problems.append(f"{unit} is {enabled} at boot (expected enabled)")
    if active != "active":
        problems.append(f"{unit} is {active} (expected active)")
    if not listening:
        problems.append(f"nothing listens on TCP {port}")
    if problems:
        raise Finding(f"{target}: " + "; ".join(problems),
                      remediation=f"{unit} is masked (switched off on purpose): systemctl unmask {unit} if it should "
                                  f"run, then pytest --fix" if enabled == "masked" else None)


@pytest.mark.requirement("SPC-5")
@pytest.mark.role("controller", "compute")
@pytest.mark.severity("low")
def test_spice_html5_installed(target, transport, evidence):
    installed, read = spice.package_state(transport.run(spice.PACKAGE_COMMAND))
    evidence["spice-html5"] = read or "not installed"
    if not installed:
        raise Finding(f"spice-html5 is not installed on {target} ({read})",
                      remediation="install spice-html5 (apt install spice-html5 / dnf install spice-html5)")
